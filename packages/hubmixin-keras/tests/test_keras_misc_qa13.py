"""Integer variables whose width Keras gives by backend (``Normalization``'s ``count``) are written and read
backend-independently; ``dtype=`` beside Keras' own ``dtype`` keyword is refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

from hubmixin_core.errors import WeightsDtypeError
from hubmixin_keras import KerasModelHubMixin


class Scaler(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, classes: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.norm = keras.layers.Normalization()
        self.head = keras.layers.Dense(classes)

    def call(self, x: Any) -> Any:
        return self.head(self.norm(x))


def _saved(path: Path) -> Path:
    model = Scaler()
    model.norm.adapt(np.arange(40, dtype="float32").reshape(10, 4))
    model(np.ones((1, 4), "float32"))
    model.save_pretrained(path)
    return path / "model.safetensors"


def _rewrite_count(file: Path, count: np.ndarray[Any, Any]) -> None:
    """The file as another backend (or an older release) wrote it: ``norm.count`` in another width."""
    with safe_open(str(file), "np") as handle:
        keys: list[str] = handle.keys()
        tensors = {key: handle.get_tensor(key) for key in keys}
        metadata = handle.metadata()
    save_file({**tensors, "norm.count": count}, str(file), metadata=metadata)


def _dtypes(file: Path) -> dict[str, str]:
    with safe_open(str(file), "np") as handle:
        keys: list[str] = handle.keys()
        return {key: handle.get_slice(key).get_dtype() for key in keys}


def test_an_int_variable_is_written_as_i64_on_every_backend(tmp_path: Path) -> None:
    assert _dtypes(_saved(tmp_path / "m"))["norm.count"] == "I64"


@pytest.mark.parametrize("width", [np.int32, np.int64])
def test_either_integer_width_loads_strictly(tmp_path: Path, width: type[np.integer[Any]]) -> None:
    file = _saved(tmp_path / "m")
    _rewrite_count(file, np.asarray(10, dtype=width))
    loaded = Scaler.from_pretrained(tmp_path / "m", strict=True)
    assert int(keras.ops.convert_to_numpy(loaded.norm.count)) == 10
    again = _dtypes(_saved(tmp_path / "again"))
    loaded.save_pretrained(tmp_path / "re")
    assert _dtypes(tmp_path / "re" / "model.safetensors") == again


@pytest.mark.skipif(keras.backend.backend() == "tensorflow", reason="count is int64 on TensorFlow: any value fits")
@pytest.mark.parametrize("strict", [True, False])
def test_an_i64_value_an_int32_variable_cannot_hold_is_refused(tmp_path: Path, strict: bool) -> None:
    file = _saved(tmp_path / "m")
    _rewrite_count(file, np.asarray(2**40, dtype=np.int64))
    with pytest.raises(WeightsDtypeError, match=r"'norm\.count' has dtype I64, the model expects I32 \(its values"):
        Scaler.from_pretrained(tmp_path / "m", strict=strict)


def test_dtype_given_both_as_option_and_in_model_kwargs_is_the_options_for_the_whole_model(tmp_path: Path) -> None:
    _saved(tmp_path / "m")
    both = Scaler.from_pretrained(tmp_path / "m", dtype="bfloat16", model_kwargs={"dtype": "float16"})
    assert both.dtype_policy.name == "bfloat16" and both.head.kernel.dtype == "bfloat16"
    assert both.head.dtype_policy.name == "bfloat16"
    one = Scaler.from_pretrained(tmp_path / "m", model_kwargs={"dtype": "float16"})
    assert one.dtype_policy.name == "float16"
    other = Scaler.from_pretrained(tmp_path / "m", dtype="bfloat16")
    assert other.head.kernel.dtype == "bfloat16"


class Ported(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """Names Keras' ``dtype`` among its arguments, as a port of a PyTorch model saving a ``dtype`` may."""

    def __init__(self, units: int = 3, dtype: str | None = None) -> None:
        super().__init__(dtype=dtype)
        self.head = keras.layers.Dense(units)

    def call(self, x: Any) -> Any:
        return self.head(x)


def test_dtype_option_wins_over_a_dtype_config_json_holds(tmp_path: Path) -> None:
    model = Ported()
    model(np.ones((1, 4), "float32"))
    model.save_pretrained(tmp_path)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "dtype": "float32"}))
    loaded = Ported.from_pretrained(tmp_path, dtype="bfloat16")
    assert loaded.dtype_policy.name == "bfloat16" and loaded.head.kernel.dtype == "bfloat16"
