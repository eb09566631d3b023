"""``hubmixin convert`` of an untrusted Flax msgpack file: a leaf that is not an array of a dtype hubmixin stores
fails with one line naming the file and the key, and leaves no ``DST``."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import msgpack  # type: ignore[import-untyped]
import numpy as np
import pytest
from flax import nnx

from hubmixin_core.cli import main
from hubmixin_flax import FlaxModelHubMixin


def _ext(array: np.ndarray[Any, Any]) -> msgpack.ExtType:
    """``array`` as Flax's msgpack writes an ndarray (its ext type 1: shape, dtype name, raw bytes)."""
    return msgpack.ExtType(1, msgpack.packb((list(array.shape), array.dtype.str, array.tobytes())))


_TO_TORCH = pytest.mark.skipif(importlib.util.find_spec("hubmixin_torch") is None, reason="converts --to torch")


class Lin(nnx.Module, FlaxModelHubMixin):
    def __init__(self, width: int = 4, *, rngs: nnx.Rngs) -> None:
        self.fc = nnx.Linear(width, width, rngs=rngs)


@_TO_TORCH
@pytest.mark.parametrize(
    ("kernel", "said"),
    [
        ([[0.0] * 4] * 4, r"'/fc/kernel' holds list, not an array"),  # a msgpack array of arrays: its np.shape fits
        (
            _ext(np.zeros((4, 4), "S4")),
            r"tensor '/fc/kernel' has dtype \|S4, the model expects float32 .*does not store",
        ),
        (_ext(np.zeros((4, 4), "V4")), r"tensor '/fc/kernel' has dtype \|V4"),
        (_ext(np.zeros((4, 4), "M8[s]")), r"tensor '/fc/kernel' has dtype datetime64\[s\]"),
    ],
    ids=["list", "bytes", "void", "datetime"],
)
def test_a_leaf_that_is_no_stored_array_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kernel: Any, said: str
) -> None:
    state = {"fc": {"kernel": kernel, "bias": _ext(np.zeros(4, np.float32))}}
    source = tmp_path / "state.msgpack"
    source.write_bytes(msgpack.packb(state, use_bin_type=True))
    (tmp_path / "config.json").write_text(json.dumps({"width": 4}))
    args = ["convert", str(source), str(tmp_path / "out"), "--to", "torch", "--model", f"{__name__}:Lin"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith(f"hubmixin: error: {source}: ")
    assert re.search(said, err), err
    assert not (tmp_path / "out").exists()
