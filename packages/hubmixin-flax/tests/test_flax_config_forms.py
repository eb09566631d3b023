"""Flax's ``nnx.Initializer`` (a union of jax's ``Initializer`` Protocol and ``Callable``) given a declared coder:
decoded by that coder at load, as an ``__init__`` argument and as a dataclass config field (flax's lm1b example)."""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flax import nnx

from hubmixin_flax import FlaxModelHubMixin

INITS = {"xavier_uniform": nnx.initializers.xavier_uniform(), "ones": nnx.initializers.ones}
NAMES = {id(v): k for k, v in INITS.items()}
CODERS = {types.FunctionType: (lambda f: NAMES[id(f)], INITS.__getitem__)}


@dataclasses.dataclass
class TransformerConfig:
    features: int = 4
    kernel_init: nnx.Initializer = INITS["xavier_uniform"]


class FieldInit(nnx.Module, FlaxModelHubMixin, coders=CODERS):
    def __init__(self, config: TransformerConfig, *, rngs: nnx.Rngs) -> None:
        self.config = config
        self.linear = nnx.Linear(3, config.features, kernel_init=config.kernel_init, rngs=rngs)


class ArgInit(nnx.Module, FlaxModelHubMixin, coders=CODERS):
    def __init__(self, kernel_init: nnx.Initializer = INITS["xavier_uniform"], *, rngs: nnx.Rngs) -> None:
        self.kernel_init = kernel_init
        self.linear = nnx.Linear(3, 2, kernel_init=kernel_init, rngs=rngs)


def test_an_initializer_field_is_decoded_by_its_coder(tmp_path: Path) -> None:
    FieldInit(TransformerConfig(kernel_init=INITS["ones"]), rngs=nnx.Rngs(0)).save_pretrained(tmp_path)
    assert FieldInit.from_pretrained(tmp_path).config.kernel_init is INITS["ones"]


def test_an_initializer_argument_is_decoded_by_its_coder(tmp_path: Path) -> None:
    ArgInit(kernel_init=INITS["ones"], rngs=nnx.Rngs(0)).save_pretrained(tmp_path)
    assert ArgInit.from_pretrained(tmp_path).kernel_init is INITS["ones"]


class NamedActivation(nnx.Module, FlaxModelHubMixin):
    """An argument annotated ``Callable`` given an activation's name, resolved in ``__init__``."""

    def __init__(self, din: int = 2, act: Callable[..., Any] = "relu", *, rngs: nnx.Rngs) -> None:  # type: ignore[assignment]
        self.act_name: Any = act
        self.act: Any = getattr(nnx, act) if isinstance(act, str) else act
        self.lin = nnx.Linear(din, din, rngs=rngs)


def test_a_callable_argument_given_a_name_comes_back_that_name(tmp_path: Path) -> None:
    NamedActivation(din=3, act="gelu", rngs=nnx.Rngs(0)).save_pretrained(tmp_path)  # type: ignore[arg-type]
    loaded = NamedActivation.from_pretrained(tmp_path)
    assert loaded.act_name == "gelu" and loaded.act is nnx.gelu  # (no dtype coder took the name)
