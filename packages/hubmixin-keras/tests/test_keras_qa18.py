"""QA round 18: LoRA on the projections inside a ``MultiHeadAttention`` is saved merged and loads as for a
``Dense``; QLoRA (LoRA on a quantized layer) loads back the factors it saves apart; layer-settings warnings point
at the user's ``from_pretrained`` line."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

from hubmixin_core.errors import LayerSettingsWarning
from hubmixin_keras import KerasModelHubMixin

X = np.random.default_rng(0).normal(size=(2, 5, 8)).astype(np.float32)


def _randomize_lora(model: keras.Model, seed: int) -> None:
    """Non-zero LoRA factors: the update changes the outputs."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        if "lora" in variable.path:
            variable.assign(rng.normal(size=tuple(variable.shape)).astype(np.float32))


class Attention(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """A ``MultiHeadAttention``, its query and value projections LoRA-enabled in ``__init__`` when ``rank`` is
    given (with non-zero factors), as KerasHub's ``enable_lora`` does."""

    def __init__(self, rank: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.attn = keras.layers.MultiHeadAttention(2, 4)
        self(np.zeros((1, 5, 8), np.float32))
        if rank:
            self.attn._query_dense.enable_lora(rank)
            self.attn._value_dense.enable_lora(rank)
            _randomize_lora(self, 1)

    def call(self, x: Any) -> Any:
        return self.attn(x, x)


def _keys(directory: Path) -> dict[str, str]:
    with safe_open(str(directory / "model.safetensors"), "np") as f:
        return {name: f.get_slice(name).get_dtype() for name in f.keys()}  # noqa: SIM118


def _out(model: keras.Model, x: np.ndarray[Any, Any] = X) -> np.ndarray[Any, Any]:
    return np.asarray(keras.ops.convert_to_numpy(model(x)))


@pytest.mark.parametrize("rank", [0, 2])
def test_lora_in_attention_projections_is_saved_merged(rank: int, tmp_path: Path) -> None:
    model = Attention(rank=2)
    expected = _out(model)
    model.save_pretrained(tmp_path, config={"rank": rank})
    assert not [name for name in _keys(tmp_path) if "lora" in name]
    loaded = Attention.from_pretrained(tmp_path, strict=True)  # plain (rank 0) or LoRA-enabled (rank 2)
    np.testing.assert_allclose(_out(loaded), expected, rtol=1e-5, atol=1e-5)


def test_a_plain_checkpoint_loads_strictly_into_lora_enabled_attention(tmp_path: Path) -> None:
    plain = Attention()
    expected = _out(plain)
    plain.save_pretrained(tmp_path)
    loaded = Attention.from_pretrained(tmp_path, strict=True, rank=2)  # type: ignore[call-arg]  # factors random in __init__
    np.testing.assert_allclose(_out(loaded), expected, rtol=1e-5, atol=1e-5)
    for part in (loaded.attn._query_dense, loaded.attn._value_dense):
        assert part.lora_enabled and not keras.ops.convert_to_numpy(part.lora_kernel_b).any()
        assert keras.ops.convert_to_numpy(part.lora_kernel_a).any()  # still trainable


class QLoRA(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """A ``Dense`` quantized in ``__init__``, then LoRA-enabled (with non-zero factors) when ``rank`` is given."""

    def __init__(self, mode: str = "int8", rank: int = 0, seed: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fc = keras.layers.Dense(8)
        self(np.zeros((1, 8), np.float32))
        self.fc.quantize(mode)
        if rank:
            self.fc.enable_lora(rank)
            _randomize_lora(self, seed)

    def call(self, x: Any) -> Any:
        return self.fc(x)


@pytest.mark.parametrize("mode", ["int8", "int4"])
@pytest.mark.parametrize("strict", [True, False])
def test_qlora_factors_saved_apart_load_back(mode: str, strict: bool, tmp_path: Path) -> None:
    x = X[:, 0]
    model = QLoRA(mode, rank=2)
    expected = _out(model, x)
    model.save_pretrained(tmp_path)
    keys = _keys(tmp_path)
    assert keys["fc.weight"] == "I8" and {"fc.lora_kernel_a", "fc.lora_kernel_b"} <= keys.keys()
    loaded = QLoRA.from_pretrained(tmp_path, strict=strict, seed=2)  # type: ignore[call-arg]  # other factors until loaded
    np.testing.assert_array_equal(_out(loaded, x), expected)
    for name in ("lora_kernel_a", "lora_kernel_b"):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(getattr(loaded.fc, name)), keras.ops.convert_to_numpy(getattr(model.fc, name))
        )


def test_a_quantized_base_loads_strictly_into_qlora(tmp_path: Path) -> None:
    x = X[:, 0]
    base = QLoRA("int8")
    expected = _out(base, x)
    base.save_pretrained(tmp_path)
    loaded = QLoRA.from_pretrained(tmp_path, strict=True, rank=2)  # type: ignore[call-arg]
    np.testing.assert_array_equal(_out(loaded, x), expected)
    assert not keras.ops.convert_to_numpy(loaded.fc.lora_kernel_b).any()


class Norm(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, epsilon: float = 1e-3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.norm = keras.layers.LayerNormalization(epsilon=epsilon)
        self(np.zeros((1, 4), np.float32))

    def call(self, x: Any) -> Any:
        return self.norm(x)


def test_settings_warnings_point_at_the_from_pretrained_line(tmp_path: Path) -> None:
    Norm(epsilon=1e-5).save_pretrained(tmp_path)
    path = tmp_path / "model.safetensors"
    with safe_open(str(path), "np") as f:
        metadata = f.metadata()
    for category, said in ((LayerSettingsWarning, "set differently"), (UserWarning, "is not JSON")):
        if category is UserWarning:  # settings that are not JSON: not compared, and said so
            save_file(load_file(str(path)), str(path), {**metadata, "hubmixin.settings": "{"})
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            Norm.from_pretrained(tmp_path, epsilon=1e-3)  # type: ignore[call-arg]
        found = [w for w in caught if issubclass(w.category, category) and said in str(w.message)]
        assert found and all(w.filename == __file__ for w in found), [(w.filename, w.lineno) for w in found]
