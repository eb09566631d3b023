"""Negative typing cases for framework parameters: each `# E: <code>` line must fail mypy."""

from __future__ import annotations

from tinylib import TinyClassifier
from tinylib.flax_models import TinyFlaxClassifier
from tinylib.keras_models import TinyKerasClassifier


def misspelled_and_mistyped(clf: TinyClassifier) -> None:
    TinyClassifier.from_pretrained("u/clf", map_locaton="cpu")  # E: call-arg
    TinyClassifier.from_pretrained("u/clf", strict="yes")  # E: arg-type
    TinyClassifier.from_pretrained("u/clf", dtype="float16")  # E: arg-type
    clf.save_pretrained("out", max_shard_size=1.5)  # E: call-overload
    clf.push_to_hub("u/clf", max_shard_sise="1GB")  # E: call-arg


def twins_misspelled() -> None:
    TinyFlaxClassifier.from_pretrained("u/clf", shardng=None)  # E: call-arg
    TinyKerasClassifier.from_pretrained("u/clf", strict="no")  # E: arg-type
