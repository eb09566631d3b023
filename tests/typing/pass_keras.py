"""Positive typing cases for hubmixin_keras: checked by mypy --strict and pyright (no errors allowed).

Keras ships no type information: mypy sees ``keras.Model`` as ``Any`` and, under ``--strict``
(``disallow_subclassing_any``), flags a class deriving from it; hence the targeted ``# type: ignore[misc]`` on
the class line. The mixin's methods keep their full signatures and return the subclass.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, assert_type

import keras
import numpy as np
from huggingface_hub import CommitInfo

from hubmixin_keras import KerasModelHubMixin


class MyKerasModel(keras.Model, KerasModelHubMixin, license="mit"):  # type: ignore[misc]
    def __init__(self, hidden: int = 8, classes: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(hidden, activation="relu")
        self.head = keras.layers.Dense(classes)

    def call(self, x: Any) -> Any:
        return self.head(self.hidden(x))


class SubModel(MyKerasModel):
    pass


def check(model: MyKerasModel, flag: bool) -> None:
    assert_type(MyKerasModel.from_pretrained("user/model"), MyKerasModel)
    assert_type(MyKerasModel.from_pretrained("u/m", dtype="bfloat16", strict=True), MyKerasModel)
    assert_type(MyKerasModel.from_pretrained(Path("dir"), strict=False, dtype=None), MyKerasModel)
    assert_type(MyKerasModel.from_pretrained("u/m", dtype=np.float16), MyKerasModel)
    assert_type(MyKerasModel.from_pretrained("u/m", model_kwargs={"name": "mine", "hidden": 4}), MyKerasModel)
    assert_type(SubModel.from_pretrained("u/m", revision="main", max_workers=2), SubModel)
    assert_type(model.save_pretrained("out", max_shard_size="1GB", dtype="bfloat16"), None)
    assert_type(model.save_pretrained("out", push_to_hub=True, repo_id="u/m", max_shard_size=10_000), CommitInfo)
    assert_type(model.save_pretrained("out", push_to_hub=flag), CommitInfo | None)
    assert_type(model.push_to_hub("u/m", max_shard_size=10_000, dtype="float16", private=True), CommitInfo)


class SavedTheHuggingFaceHubWay(MyKerasModel):
    """An override written for huggingface_hub's mixin, unchanged: its signature is the base's, to type checkers."""

    def _save_pretrained(self, save_directory: Path) -> None:
        super()._save_pretrained(save_directory)
        (save_directory / "extra.txt").write_text("written by the library")
