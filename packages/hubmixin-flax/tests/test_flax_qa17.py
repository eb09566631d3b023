"""Integer values JAX (without 64-bit types) cannot hold are refused at save, not wrapped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from flax import nnx

from hubmixin_core.errors import HubMixinValueError
from hubmixin_flax import FlaxModelHubMixin


class Counts(nnx.Module, FlaxModelHubMixin):
    def __init__(self, values: list[int], kind: str = "int64") -> None:
        self.steps = nnx.BatchStat(np.array(values, np.dtype(kind)))


@pytest.mark.parametrize(("values", "kind"), [([2**40, 7], "int64"), ([2**63], "uint64"), ([-(2**31) - 1], "int64")])
def test_integers_out_of_32_bit_range_are_refused_at_save(tmp_path: Path, values: list[int], kind: str) -> None:
    with pytest.raises(HubMixinValueError, match=rf"variable 'steps' holds {kind} values .*jax_enable_x64"):
        Counts(values, kind).save_pretrained(tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_integers_in_range_are_saved_as_jax_holds_them(tmp_path: Path) -> None:
    Counts([2**31 - 1, -(2**31), 7]).save_pretrained(tmp_path)
    loaded = Counts.from_pretrained(tmp_path, strict=True)
    assert np.asarray(loaded.steps.get_value()).tolist() == [2**31 - 1, -(2**31), 7]
