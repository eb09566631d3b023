"""Regressions of QA round 23: an ``nnx.Linear`` subclass holding its own ``weight`` (named like the kernel's
canonical name) is refused at save, and a file of that name is not loaded into both (the kernel was dropped
silently and a strict load gave both from the gate); a checkpoint whose every key carries a prefix says which
``key_mapping`` loads it."""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from safetensors.numpy import load_file, save_file

from hubmixin_core.errors import LayoutError, WeightsKeyError
from hubmixin_flax import FlaxModelHubMixin


class GatedLinear(nnx.Linear):
    def __init__(self, i: int, o: int, *, rngs: nnx.Rngs) -> None:
        super().__init__(i, o, rngs=rngs)
        self.weight = nnx.Param(jnp.full((o, i), 7.0))  # a gate shaped like torch's weight


class Gated(nnx.Module, FlaxModelHubMixin):
    def __init__(self, d: int = 3, *, rngs: nnx.Rngs) -> None:
        self.lin = GatedLinear(d, 2, rngs=rngs)


class Plain(nnx.Module, FlaxModelHubMixin):
    def __init__(self, d: int = 3, *, rngs: nnx.Rngs) -> None:
        self.lin = nnx.Linear(d, 2, rngs=rngs)


def test_a_subclass_tensor_named_like_the_kernels_canonical_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LayoutError) as info:
        Gated(rngs=nnx.Rngs(0)).save_pretrained(tmp_path / "gated")
    assert "layer 'lin' (GatedLinear): its tensors 'kernel' and 'weight' are both stored as 'weight'" in str(info.value)
    assert not (tmp_path / "gated" / "model.safetensors").exists()
    # A file as the save wrote before (the kernel dropped): refused, not loaded into both.
    directory = tmp_path / "old"
    directory.mkdir()
    (directory / "config.json").write_text('{"d": 3}')
    save_file(
        {"lin.weight": np.ones((2, 3), np.float32), "lin.bias": np.zeros(2, np.float32)},
        directory / "model.safetensors",
    )
    with pytest.raises(LayoutError, match="'kernel' and 'weight' are both stored as 'weight'"):
        Gated.from_pretrained(directory, strict=True)


def test_every_key_under_a_prefix_names_the_key_mapping(tmp_path: Path) -> None:
    Plain(rngs=nnx.Rngs(0)).save_pretrained(tmp_path)
    tensors = load_file(tmp_path / "model.safetensors")
    save_file({f"model.{k}": v for k, v in tensors.items()}, tmp_path / "model.safetensors")
    with pytest.raises(WeightsKeyError, match=r'key_mapping=\{r"\^model\\\.": ""\}'):
        Plain.from_pretrained(tmp_path, strict=True)
    Plain.from_pretrained(tmp_path, strict=True, key_mapping={r"^model\.": ""})


class LearnedInitRNN(nnx.RNN):
    """An RNN holding a parameter of its own beside its cell (its cell's adapter gives it back by another name)."""

    def __init__(self, cell: nnx.RNNCellBase) -> None:
        super().__init__(cell)
        self.h0 = nnx.Param(jnp.zeros((4,)))


class WithLearnedInit(nnx.Module, FlaxModelHubMixin):
    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.rnn = LearnedInitRNN(nnx.GRUCell(3, 4, rngs=rngs))


def test_an_rnn_subclass_with_its_own_parameter_saves_and_loads_it(tmp_path: Path) -> None:
    # (reg23c #4 of round 23: refused as a collision at save and load)
    model = WithLearnedInit(rngs=nnx.Rngs(0))
    model.rnn.h0.set_value(jnp.arange(4.0) + 1)
    model.save_pretrained(tmp_path)
    loaded = WithLearnedInit.from_pretrained(tmp_path, strict=True, model_kwargs={"rngs": nnx.Rngs(1)})
    np.testing.assert_array_equal(np.asarray(loaded.rnn.h0.get_value()), np.arange(4.0) + 1)
