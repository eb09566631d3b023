"""Negative typing cases for hubmixin_keras: every line marked `# E: <code>` must be reported by mypy with that code.

``MyKerasModel`` derives from ``keras.Model``, which mypy sees as ``Any``: an instance is then assignable to any
type, so a wrong annotation for what ``from_pretrained`` returns goes unnoticed; the arguments are all checked.
"""

from __future__ import annotations

from pass_keras import MyKerasModel


def misspelled_and_mistyped(model: MyKerasModel) -> None:
    MyKerasModel.from_pretrained("u/m", stict=True)  # E: call-arg
    MyKerasModel.from_pretrained("u/m", strict="yes")  # E: arg-type
    MyKerasModel.from_pretrained("u/m", dtype=1.5)  # E: arg-type
    MyKerasModel.from_pretrained("u/m", name="mine")  # E: call-arg
    MyKerasModel.from_pretrained("u/m", map_location="cpu")  # E: call-arg
    MyKerasModel.from_pretrained("u/m", model_kwargs=["hidden"])  # E: arg-type
    model.save_pretrained("out", max_shard_size=1.5)  # E: call-overload
    model.save_pretrained("out", dtpye="bfloat16")  # E: call-overload
    model.push_to_hub("u/m", strict=True)  # E: call-arg
    model.push_to_hub("u/m", dtype=1.5)  # E: arg-type
    wrong: str = model.save_pretrained("out")  # E: assignment


def misspelled_class_keyword() -> None:  # in a function: importing this file defines no class
    class MisspelledKeyword(MyKerasModel, librayr_name="mine"):  # E: call-arg
        pass
