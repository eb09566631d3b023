"""QA round 25 (issue 11): a GELU ``Activation`` layer (``"gelu"``, exact by default, or a ``functools.partial``
of Keras' ``gelu`` giving ``approximate``) records its approximation (``gelu``) though it holds no weights, as a
PyTorch port's ``nn.GELU`` does, so a model loading a file saved with the other one is warned, naming it."""

from __future__ import annotations

import functools
import json
import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np
from safetensors import safe_open

from hubmixin_core.errors import LayerSettingsWarning
from hubmixin_core.weights import SETTINGS_KEY
from hubmixin_keras import KerasModelHubMixin
from hubmixin_keras._settings import layer_settings, model_settings

X = np.zeros((1, 4), np.float32)


def _activation(approximate: bool | None) -> Any:
    """``"gelu"`` (``None``: Keras' default, exact), or Keras' ``gelu`` with ``approximate`` given."""
    return "gelu" if approximate is None else functools.partial(keras.activations.gelu, approximate=approximate)


class Mlp(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """A GELU as an attribute (``act``) and one inside a ``Sequential`` (``mlp.1``)."""

    def __init__(self, approximate: bool | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lin = keras.layers.Dense(4)
        self.act = keras.layers.Activation(_activation(approximate))
        self.mlp = keras.Sequential([keras.layers.Dense(4), keras.layers.Activation(_activation(approximate))])
        self(X)

    def call(self, x: Any) -> Any:
        return self.mlp(self.act(self.lin(x)))


class Relu(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """:class:`Mlp`'s weights, without a GELU."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lin = keras.layers.Dense(4)
        self.act = keras.layers.Activation("relu")
        self.mlp = keras.Sequential([keras.layers.Dense(4), keras.layers.Activation("relu")])
        self(X)

    def call(self, x: Any) -> Any:
        return self.mlp(self.act(self.lin(x)))


def _settings_warnings(model: Any, path: Path, **kwargs: Any) -> list[str]:
    """The ``LayerSettingsWarning`` messages (from the layers on) of a strict load of ``path``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.from_pretrained(path, strict=True, model_kwargs=kwargs)
    return [str(w.message).split("differ: ", 1)[1] for w in caught if issubclass(w.category, LayerSettingsWarning)]


def _recorded(path: Path) -> dict[str, Any]:
    with safe_open(str(path / "model.safetensors"), "np") as opened:
        return dict(json.loads(opened.metadata().get(SETTINGS_KEY) or "{}"))


def test_a_gelu_activation_records_its_approximation() -> None:
    assert layer_settings(keras.layers.Activation("gelu")) == {"gelu": "exact"}
    assert layer_settings(keras.layers.Activation(_activation(True))) == {"gelu": "tanh"}
    assert layer_settings(keras.layers.Activation(keras.ops.gelu)) == {"gelu": "tanh"}  # the op's default
    assert layer_settings(keras.layers.Activation("relu")) == {}


def test_a_weightless_gelu_is_recorded_only_given_the_model() -> None:
    model = Mlp()
    assert model_settings([]) == {}
    assert model_settings([], model) == {"act": {"gelu": "exact"}, "mlp.1": {"gelu": "exact"}}
    assert model_settings([], Relu()) == {}


def test_a_file_of_the_other_approximation_is_warned_of_naming_each_path(tmp_path: Path) -> None:
    Mlp(True).save_pretrained(tmp_path)
    assert _recorded(tmp_path) == {"act": {"gelu": "tanh"}, "mlp.1": {"gelu": "tanh"}}
    found = _settings_warnings(Mlp, tmp_path, approximate=None)
    assert found == ["act: gelu 'exact' here, 'tanh' saved; mlp.1: gelu 'exact' here, 'tanh' saved"]
    assert _settings_warnings(Mlp, tmp_path, approximate=True) == []


def test_models_without_gelus_are_not_compared(tmp_path: Path) -> None:
    Mlp(True).save_pretrained(tmp_path / "gelu")
    assert _settings_warnings(Relu, tmp_path / "gelu") == []
    Relu().save_pretrained(tmp_path / "relu")
    assert "act" not in _recorded(tmp_path / "relu")
    assert _settings_warnings(Mlp, tmp_path / "relu") == []
