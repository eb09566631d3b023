"""A saved variable whose value is no array (QA round 25): a list, tuple or dict of numbers or arrays, ``None`` or a
string is refused by ``save_pretrained`` (before anything is written) and by ``from_pretrained`` with a
``HubMixinTypeError`` naming the variable and the value's type, not saved as one stacked tensor that its own class
then fails to load with a raw ``AttributeError`` (or refused by numpy's raw ``ValueError`` for a ragged list). A
Python number or a numpy or JAX array keeps round-tripping, as an array of the dtype JAX gives it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from hubmixin_core.errors import HubMixinTypeError
from hubmixin_flax import FlaxModelHubMixin

NOT_ARRAYS: dict[str, tuple[Callable[[], Any], str]] = {
    "ints": (lambda: [1, 2, 3], "a list"),
    "same": (lambda: [jnp.ones(3), jnp.ones(3)], "a list"),
    "ragged": (lambda: [jnp.ones(3), jnp.ones(5)], "a list"),
    "nested": (lambda: [[1.0, 2.0], [3.0, 4.0]], "a list"),
    "empty": (lambda: [], "a list"),
    "tuple": (lambda: (jnp.ones(2), jnp.ones(2)), "a tuple"),
    "dict": (lambda: {"a": jnp.ones(2), "b": jnp.ones(3)}, "a dict"),
    "none": (lambda: None, "None"),
    "str": (lambda: "abc", "a str"),
}
ARRAYS: dict[str, Callable[[], Any]] = {
    "array": lambda: jnp.asarray([1.0, 2.0, 3.0]),
    "int": lambda: 3,
    "float": lambda: 2.5,
    "bool": lambda: True,
    "np_float64": lambda: np.float64(1.5),
    "np_array": lambda: np.arange(3, dtype=np.float32),
    "np_float64_array": lambda: np.arange(3, dtype=np.float64),
    "jax_scalar": lambda: jnp.asarray(2.0),
}
VALUES = {**{kind: make for kind, (make, _) in NOT_ARRAYS.items()}, **ARRAYS}


class Inner(nnx.Module):
    def __init__(self, kind: str) -> None:
        self.scales = nnx.Param(VALUES[kind]())


class Holder(nnx.Module, FlaxModelHubMixin):
    def __init__(self, kind: str = "array", *, rngs: nnx.Rngs) -> None:
        self.body = nnx.Linear(2, 2, rngs=rngs)
        self.inner = Inner(kind)


class Stat(nnx.Module, FlaxModelHubMixin):
    def __init__(self, kind: str = "array") -> None:
        self.count = nnx.BatchStat(VALUES[kind]())


@pytest.mark.parametrize("kind", list(NOT_ARRAYS))
def test_a_value_that_is_no_array_is_refused_at_save_before_anything_is_written(kind: str, tmp_path: Path) -> None:
    target = tmp_path / "fresh" / "model"
    held = NOT_ARRAYS[kind][1]
    expected = rf"variable 'inner\.scales' holds {held}, not an array: .*nnx\.Param\(jnp\.asarray\("
    with pytest.raises(HubMixinTypeError, match=expected):
        Holder(kind, rngs=nnx.Rngs(0)).save_pretrained(target)
    assert not target.exists()
    assert list(tmp_path.rglob("*")) in ([], [tmp_path / "fresh"])  # no file nor staging directory left


def test_an_earlier_save_is_left_as_it_was(tmp_path: Path) -> None:
    target = tmp_path / "model"
    Holder(rngs=nnx.Rngs(0)).save_pretrained(target)
    before = {path.name: path.read_bytes() for path in target.iterdir()}
    with pytest.raises(HubMixinTypeError, match=r"variable 'inner\.scales' holds a list"):
        Holder("same", rngs=nnx.Rngs(1)).save_pretrained(target)
    assert {path.name: path.read_bytes() for path in target.iterdir()} == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model"]


def test_a_batch_stat_that_is_no_array_is_refused_too(tmp_path: Path) -> None:
    with pytest.raises(HubMixinTypeError, match=r"variable 'count' holds a tuple, not an array"):
        Stat("tuple").save_pretrained(tmp_path / "model")
    assert not (tmp_path / "model").exists()


@pytest.mark.parametrize("kind", list(NOT_ARRAYS))
@pytest.mark.parametrize("strict", [True, False])
def test_loading_into_a_model_whose_variable_is_no_array_names_it(kind: str, strict: bool, tmp_path: Path) -> None:
    Holder(rngs=nnx.Rngs(0)).save_pretrained(tmp_path / "model")
    held = NOT_ARRAYS[kind][1]
    with pytest.raises(HubMixinTypeError, match=rf"variable 'inner\.scales' holds {held}, not an array"):
        Holder.from_pretrained(tmp_path / "model", model_kwargs={"kind": kind}, strict=strict)


def test_loading_a_checkpoint_lacking_the_variable_names_it(tmp_path: Path) -> None:
    Holder(rngs=nnx.Rngs(0)).save_pretrained(tmp_path / "model")  # holds no 'count'
    with pytest.raises(HubMixinTypeError, match=r"variable 'count' holds a list, not an array"):
        Stat.from_pretrained(tmp_path / "model", model_kwargs={"kind": "ints"}, strict=False)


@pytest.mark.parametrize("kind", list(ARRAYS))
def test_a_number_or_array_round_trips_as_an_array(kind: str, tmp_path: Path) -> None:
    model = Holder(kind, rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path / "model")
    loaded = Holder.from_pretrained(tmp_path / "model", strict=True)
    value = loaded.inner.scales.get_value()
    expected = jnp.asarray(VALUES[kind]())  # the dtype JAX gives it (float32, int32 without x64)
    assert isinstance(value, jax.Array)
    assert value.dtype == expected.dtype and value.shape == expected.shape
    np.testing.assert_array_equal(np.asarray(value), np.asarray(expected))
