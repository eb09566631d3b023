"""The settings Flax records for options no PyTorch or Keras layer has: a residual ``SimpleCell``, a
convolution's ``input_dilation``, a reversed ``nnx.RNN`` keeping its outputs in input order; and
``padding="SAME_LOWER"`` as the pads it applies, older Flax files of such convolutions loading as before."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax import lax
from safetensors import safe_open
from safetensors.numpy import save_file

from hubmixin_core.errors import LayerSettingsWarning
from hubmixin_core.weights import FRAMEWORK_KEY, SETTING_NAMES, SETTINGS_KEY, settings_metadata
from hubmixin_flax import FlaxModelHubMixin
from hubmixin_flax._settings import layer_settings


@pytest.mark.parametrize(("kernel", "dilation"), [(1, 1), (2, 1), (3, 1), (4, 1), (3, 2), (4, 3)])
def test_same_lower_at_stride_1_records_the_pads_it_applies(kernel: int, dilation: int) -> None:
    conv = nnx.Conv(1, 1, (kernel,), padding="SAME_LOWER", kernel_dilation=dilation, rngs=nnx.Rngs(0))
    pads = lax.padtype_to_pads((8,), ((kernel - 1) * dilation + 1,), (1,), "SAME_LOWER")
    assert layer_settings(conv)["padding"] == [list(pair) for pair in pads]
    explicit = nnx.Conv(1, 1, (kernel,), padding=pads, kernel_dilation=dilation, rngs=nnx.Rngs(0))
    np.testing.assert_array_equal(np.asarray(explicit.kernel[...]), np.asarray(conv.kernel[...]))  # same seed
    x = jnp.asarray(np.random.default_rng(0).normal(size=(1, 8, 1)), jnp.float32)
    np.testing.assert_array_equal(np.asarray(conv(x)), np.asarray(explicit(x)))


def test_same_lower_at_a_larger_stride_is_recorded_by_mode() -> None:
    conv = nnx.Conv(1, 1, (3,), strides=2, padding="SAME_LOWER", rngs=nnx.Rngs(0))
    assert layer_settings(conv)["padding"] == "same_lower"  # its pads depend on the input's size


def test_an_input_dilation_is_recorded_as_interior_padding() -> None:
    rngs = nnx.Rngs(0)
    assert layer_settings(nnx.Conv(2, 3, (3, 2), padding=[(0, 0), (1, 0)], input_dilation=(2, 1), rngs=rngs)) == {
        "stride": [1, 1],
        "dilation": [1, 1],
        "padding": [[0, 0, 1], [1, 0, 0]],
        "groups": 1,
    }
    circular = nnx.Conv(2, 3, (3,), padding="CIRCULAR", input_dilation=3, rngs=rngs)
    assert layer_settings(circular)["padding"] == {"mode": "circular", "padding": [[1, 1, 2]]}
    assert layer_settings(nnx.Conv(2, 3, (3,), padding="SAME", input_dilation=1, rngs=rngs))["padding"] == [[1, 1]]


def test_recurrent_options_no_other_framework_has_are_recorded() -> None:
    rngs = nnx.Rngs(0)
    residual = nnx.RNN(nnx.SimpleCell(3, 4, residual=True, rngs=rngs))
    assert layer_settings(residual) == {"activation": "tanh", "residual": True}
    assert layer_settings(nnx.RNN(nnx.SimpleCell(3, 4, rngs=rngs)))["residual"] is False
    assert "residual" not in layer_settings(nnx.RNN(nnx.GRUCell(3, 4, rngs=rngs)))
    kept = nnx.RNN(nnx.LSTMCell(3, 4, rngs=rngs), reverse=True, keep_order=True)
    assert layer_settings(kept)["reverse"] == "keep_order"
    assert layer_settings(nnx.RNN(nnx.LSTMCell(3, 4, rngs=rngs), reverse=True))["reverse"] is True
    assert "reverse" not in layer_settings(nnx.RNN(nnx.LSTMCell(3, 4, rngs=rngs), keep_order=True))
    both = nnx.Bidirectional(nnx.RNN(nnx.LSTMCell(3, 4, rngs=rngs)), kept)  # runs its backward RNN kept itself
    assert "reverse" not in layer_settings(both)


class Dilated(nnx.Module, FlaxModelHubMixin):
    def __init__(self, padding: Any = 1, dilate: int = 2, kernel: int = 3, *, rngs: nnx.Rngs) -> None:
        self.layer = nnx.Conv(2, 3, (kernel,), padding=padding, input_dilation=dilate, rngs=rngs)


def _as_older(directory: Path, padding: Any, framework: str = "flax") -> None:
    """Rewrite the saved file as older code (or another framework) records ``layer``'s padding."""
    path = directory / "model.safetensors"
    with safe_open(str(path), "np") as handle:
        metadata = dict(handle.metadata())
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118
    settings = json.loads(metadata[SETTINGS_KEY])
    settings["layer"]["padding"] = padding
    save_file(tensors, str(path), {**metadata, SETTINGS_KEY: json.dumps(settings), FRAMEWORK_KEY: framework})


def _warned(cls: type[Any], directory: Path, **kwargs: Any) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cls.from_pretrained(directory, model_kwargs=kwargs, strict=True)
    return [str(w.message) for w in caught if issubclass(w.category, LayerSettingsWarning)]


@pytest.mark.parametrize("padding", [1, [[1, 1]]])
def test_an_older_flax_file_of_an_input_dilated_convolution_loads_as_before(padding: Any, tmp_path: Path) -> None:
    Dilated(padding, rngs=nnx.Rngs(0)).save_pretrained(tmp_path)
    assert _warned(Dilated, tmp_path, padding=padding) == []
    _as_older(tmp_path, [[1, 1]])  # before the interior padding was recorded
    assert _warned(Dilated, tmp_path, padding=padding) == []
    assert "padding [[2, 2, 1]] here, [[1, 1]] saved" in _warned(Dilated, tmp_path, padding=2)[0]
    for framework in ("torch", "keras-jax"):  # which never dilate their input
        _as_older(tmp_path, [[1, 1]], framework)
        assert "padding [[1, 1, 1]] here, [[1, 1]] saved" in _warned(Dilated, tmp_path, padding=padding)[0]


class Lower(nnx.Module, FlaxModelHubMixin):
    def __init__(self, padding: Any = "SAME_LOWER", kernel: int = 3, stride: int = 1, *, rngs: nnx.Rngs) -> None:
        self.layer = nnx.Conv(2, 3, (kernel,), strides=stride, padding=padding, rngs=rngs)


@pytest.mark.parametrize(("kernel", "stride"), [(3, 1), (4, 1), (1, 2), (3, 2)])
def test_an_older_flax_file_of_same_lower_loads_as_before(kernel: int, stride: int, tmp_path: Path) -> None:
    Lower(kernel=kernel, stride=stride, rngs=nnx.Rngs(0)).save_pretrained(tmp_path)
    _as_older(tmp_path, "same_lower")  # before its pads were recorded
    assert _warned(Lower, tmp_path, kernel=kernel, stride=stride) == []
    if stride == 1:  # an explicit padding of the same pads is named, as before
        pads = [list(pair) for pair in layer_settings(Lower(kernel=kernel, rngs=nnx.Rngs(0)).layer)["padding"]]
        assert _warned(Lower, tmp_path, padding=pads, kernel=kernel)


def test_the_older_record_is_not_written() -> None:
    conv = nnx.Conv(2, 3, (4,), padding="SAME_LOWER", input_dilation=2, rngs=nnx.Rngs(0))
    assert json.loads(settings_metadata({"layer": layer_settings(conv)})[SETTINGS_KEY]) == {
        "layer": {"dilation": [1], "groups": 1, "padding": [[2, 1, 1]], "stride": [1]}
    }


def test_a_residual_simple_cell_adds_its_previous_state_before_its_activation() -> None:
    cells = [nnx.SimpleCell(2, 3, activation_fn=lambda x: x, residual=r, rngs=nnx.Rngs(0)) for r in (False, True)]
    state, x = jnp.full((1, 3), 5.0), jnp.zeros((1, 2))
    (plain, _), (residual, _) = (cell(state, x) for cell in cells)
    np.testing.assert_allclose(np.asarray(residual - plain), np.asarray(state))
    assert "previous state" in SETTING_NAMES["residual"] and "its input" not in SETTING_NAMES["residual"]
