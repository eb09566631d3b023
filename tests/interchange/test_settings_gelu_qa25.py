"""QA round 25 (issue 11): a GELU's approximation (``gelu``: PyTorch's ``nn.GELU``, a Keras ``Activation``, a Flax
module's attribute holding ``nnx.gelu``) is compared between frameworks at the GELU's path: a port computing the
other one loads with a ``LayerSettingsWarning`` naming it (``nnx.gelu`` is the tanh approximation by default,
PyTorch's and Keras' GELUs exact), and one computing the same loads without (and gives the same outputs)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
import torch
from flax import nnx
from settings_checks import recorded_settings, settings_warnings
from torch import nn

from hubmixin_flax import FlaxModelHubMixin
from hubmixin_keras import KerasModelHubMixin
from hubmixin_torch import PyTorchModelHubMixin

X = np.random.default_rng(0).normal(size=(2, 4)).astype(np.float32)
EXACT = "act: gelu 'exact' here, 'tanh' saved; mlp.1: gelu 'exact' here, 'tanh' saved"
TANH = "act: gelu 'tanh' here, 'exact' saved; mlp.1: gelu 'tanh' here, 'exact' saved"


class TorchMlp(nn.Module, PyTorchModelHubMixin):
    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.act = nn.GELU(approximate=approximate)
        self.mlp = nn.Sequential(nn.Linear(4, 4), nn.GELU(approximate=approximate))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.act(self.lin(x)))  # type: ignore[no-any-return]


class FlaxMlp(nnx.Module, FlaxModelHubMixin):
    """``nnx.gelu`` as it is (the tanh approximation), or exact where ``tanh`` is false."""

    def __init__(self, tanh: bool = True, *, rngs: nnx.Rngs) -> None:
        gelu = nnx.gelu if tanh else functools.partial(nnx.gelu, approximate=False)
        self.lin = nnx.Linear(4, 4, rngs=rngs)
        self.act = gelu
        self.mlp = nnx.Sequential(nnx.Linear(4, 4, rngs=rngs), gelu)

    def __call__(self, x: Any) -> Any:
        return self.mlp(self.act(self.lin(x)))


class KerasMlp(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """``Activation("gelu")`` (exact), or the tanh approximation where ``tanh`` is true."""

    def __init__(self, tanh: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        gelu = functools.partial(keras.activations.gelu, approximate=True) if tanh else "gelu"
        self.lin = keras.layers.Dense(4)
        self.act = keras.layers.Activation(gelu)
        self.mlp = keras.Sequential([keras.layers.Dense(4), keras.layers.Activation(gelu)])
        self(X)

    def call(self, x: Any) -> Any:
        return self.mlp(self.act(self.lin(x)))


def _torch_outputs(model: TorchMlp) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(X)).numpy()  # type: ignore[no-any-return]


@pytest.mark.parametrize(("approximate", "tanh_port", "found"), [("tanh", True, []), ("tanh", False, [EXACT])])
def test_a_flax_port_is_compared_with_a_torch_gelu(
    tmp_path: Path, approximate: str, tanh_port: bool, found: list[str]
) -> None:
    saved = TorchMlp(approximate)
    saved.save_pretrained(tmp_path)
    assert recorded_settings(tmp_path) == {"act": {"gelu": approximate}, "mlp.1": {"gelu": approximate}}
    assert settings_warnings(FlaxMlp, tmp_path, tanh=tanh_port) == found
    if not found:
        port = FlaxMlp.from_pretrained(tmp_path, model_kwargs={"tanh": tanh_port})
        np.testing.assert_allclose(np.asarray(port(X)), _torch_outputs(saved), rtol=1e-5, atol=1e-6)


def test_an_exact_torch_gelu_is_warned_of_in_the_default_flax_port(tmp_path: Path) -> None:
    TorchMlp().save_pretrained(tmp_path)
    assert settings_warnings(FlaxMlp, tmp_path) == [TANH]


def test_a_keras_gelu_activation_and_a_torch_gelu_agree(tmp_path: Path) -> None:
    saved = TorchMlp()
    saved.save_pretrained(tmp_path / "torch")
    assert settings_warnings(KerasMlp, tmp_path / "torch") == []
    port = KerasMlp.from_pretrained(tmp_path / "torch")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(port(X)), _torch_outputs(saved), rtol=1e-5, atol=1e-6)
    KerasMlp().save_pretrained(tmp_path / "keras")
    assert settings_warnings(TorchMlp, tmp_path / "keras") == []
    assert settings_warnings(TorchMlp, tmp_path / "keras", approximate="tanh") == [TANH]
    assert settings_warnings(FlaxMlp, tmp_path / "keras", tanh=False) == []
    assert settings_warnings(KerasMlp, tmp_path / "torch", tanh=True) == [TANH]
