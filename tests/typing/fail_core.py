"""Negative typing cases: every line marked `# E: <code>` must be reported by mypy with that error code."""

from __future__ import annotations

from pass_core import Model


def misspelled_and_mistyped(model: Model) -> None:
    Model.from_pretrained("user/model", revison="main")  # E: call-arg
    Model.from_pretrained("user/model", revision=1)  # E: arg-type
    Model.from_pretrained("user/model", force_download="yes")  # E: arg-type
    Model.from_pretrained("user/model", max_workers="8")  # E: arg-type
    model.save_pretrained("out", privat=True)  # E: call-overload
    model.save_pretrained(123)  # E: call-overload
    model.push_to_hub("u/m", brnach="dev")  # E: call-arg
    model.push_to_hub("u/m", create_pr="yes")  # E: arg-type
    model.push_to_hub(repo_id=None)  # E: arg-type
    wrong: str = Model.from_pretrained("user/model")  # E: assignment


def misspelled_and_mistyped_class_keywords() -> None:  # in a function: importing this file defines no class
    class MisspelledKeyword(Model, licence="mit"):  # E: call-arg
        pass

    class RuntimeArgsAsOneString(Model, runtime_args="rng"):  # E: arg-type
        pass

    class TagsAsOneString(Model, tags="vision"):  # E: arg-type
        pass
