"""A default of another type than its annotation that the annotation cannot decode (``mode: Mode = "auto"``, as
transformers' ``dtype = "auto"``) is saved as it is and given back so at load (QA round 22, reg22g #3)."""

from __future__ import annotations

import enum
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from core_models import NumpyModelMixin

from hubmixin_core import ConfigError


class Mode(enum.Enum):
    FAST = "fast"
    SLOW = "slow"


class Net(NumpyModelMixin):
    def __init__(self, size: int = 2, mode: Mode = "auto") -> None:  # type: ignore[assignment]
        self.mode = mode
        self.weights = {"w": np.zeros(size, np.float32)}


def test_a_default_the_annotation_cannot_decode_comes_back_as_the_default(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Net().save_pretrained(tmp_path / "auto")
        assert json.loads((tmp_path / "auto" / "config.json").read_text())["mode"] == "auto"
        assert Net.from_pretrained(tmp_path / "auto").mode == "auto"  # type: ignore[comparison-overlap]
        Net(mode=Mode.SLOW).save_pretrained(tmp_path / "slow")
        assert Net.from_pretrained(tmp_path / "slow").mode is Mode.SLOW


def test_another_value_the_annotation_cannot_decode_is_still_refused(tmp_path: Path) -> None:
    Net().save_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"size": 2, "mode": "medium"}))
    with pytest.raises(ConfigError, match="'mode'"):
        Net.from_pretrained(tmp_path)
