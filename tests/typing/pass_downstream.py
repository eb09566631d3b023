"""Positive typing cases as a user of the downstream example library writes them."""

from __future__ import annotations

from pathlib import Path
from typing import Any, assert_type

import jax.numpy as jnp
import torch
from huggingface_hub import CommitInfo
from tinylib import LinearRegressor, TinyClassifier
from tinylib.flax_models import TinyFlaxClassifier
from tinylib.keras_models import TinyKerasClassifier


def check(clf: TinyClassifier, flag: bool) -> None:
    assert_type(TinyClassifier.from_pretrained("u/clf", map_location="cpu", strict=True), TinyClassifier)
    assert_type(TinyClassifier.from_pretrained("u/clf", dtype=torch.bfloat16), TinyClassifier)
    assert_type(LinearRegressor.from_pretrained("u/reg", revision="main"), LinearRegressor)
    assert_type(clf.save_pretrained("out", max_shard_size="1GB"), None)
    assert_type(clf.push_to_hub("u/clf", max_shard_size=10_000_000, private=True), CommitInfo)
    assert_type(clf.save_pretrained("out", push_to_hub=flag), CommitInfo | None)
    assert_type(clf.forward(torch.zeros(1, 4)), torch.Tensor)


def check_twins(flax_clf: TinyFlaxClassifier, keras_clf: TinyKerasClassifier) -> None:
    assert_type(TinyFlaxClassifier.from_pretrained("u/clf", dtype=jnp.bfloat16, strict=True), TinyFlaxClassifier)
    assert_type(flax_clf.push_to_hub("u/clf", private=True), CommitInfo)
    assert_type(TinyKerasClassifier.from_pretrained("u/clf", dtype="float16"), TinyKerasClassifier)
    assert_type(keras_clf.save_pretrained("out", max_shard_size="1GB"), None)


class Wrapped(TinyClassifier):
    """A library author overriding the framework hooks with the framework's extra parameters."""

    def _save_pretrained(self, save_directory: Path, **kwargs: Any) -> None:  # the save extras, forwarded
        super()._save_pretrained(save_directory, **kwargs)
        (save_directory / "extra.txt").write_text("written by the library")


def check_override() -> None:
    assert_type(Wrapped.from_pretrained("u/wrapped", dtype=torch.float16), Wrapped)


class SavedTheHuggingFaceHubWay(TinyClassifier):
    """An override written for huggingface_hub's mixin, unchanged: its signature is the base's, to type checkers."""

    def _save_pretrained(self, save_directory: Path) -> None:
        super()._save_pretrained(save_directory)
        (save_directory / "extra.txt").write_text("written by the library")
