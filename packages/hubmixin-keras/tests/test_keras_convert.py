"""`hubmixin convert` of a Keras ``.weights.h5`` file: loaded into ``--model``, written in the canonical layout."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import keras
import numpy as np
import pytest
from keras_models import Mlp

from hubmixin_core.cli import main
from hubmixin_core.weights import read_header

_TO_TORCH = pytest.mark.skipif(importlib.util.find_spec("hubmixin_torch") is None, reason="converts --to torch")

X = np.random.default_rng(3).standard_normal((2, 4)).astype("float32")


def test_a_keras_weights_file_converts(tmp_path: Path) -> None:
    model = Mlp(units=4, depth=2)
    expected = keras.ops.convert_to_numpy(model(X))
    model.save_weights(str(tmp_path / "mlp.weights.h5"))
    (tmp_path / "config.json").write_text(json.dumps({"units": 4, "depth": 2}))
    src, out = str(tmp_path / "mlp.weights.h5"), str(tmp_path / "out")
    args = ["convert", src, out, "--to", "keras", "--model", "keras_models:Mlp", "--input-shape", "2,4", "--quiet"]
    assert main(args) == 0
    header = read_header(tmp_path / "out" / "model.safetensors")
    assert header.tensors["head.weight"].shape == (1, 4)  # torch's [out, in], not Keras' kernel [in, out]
    assert header.metadata["format"] == "pt"
    loaded = Mlp.from_pretrained(out)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(X)), expected, rtol=0, atol=1e-6)
    assert main([*args[:2], str(tmp_path / "sharded"), *args[3:], "--max-shard-size", "40B"]) == 0
    assert (tmp_path / "sharded" / "model.safetensors.index.json").is_file()
    sharded = Mlp.from_pretrained(tmp_path / "sharded", strict=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(sharded(X)), expected, rtol=0, atol=1e-6)


@_TO_TORCH
def test_an_unbuilt_model_needs_an_input_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = Mlp(units=4, depth=1)
    model(X)
    model.save_weights(str(tmp_path / "mlp.weights.h5"))
    src, out = str(tmp_path / "mlp.weights.h5"), str(tmp_path / "out")
    assert main(["convert", src, out, "--to", "torch", "--model", "keras_models:Mlp"]) == 1
    assert "--input-shape" in capsys.readouterr().err
    assert main(["convert", src, out, "--to", "torch"]) == 1
    assert "--model" in capsys.readouterr().err
    assert main(["convert", src, out, "--to", "torch", "--model", "keras_models:Mlp", "--input-shape", "4"]) == 1
    err = capsys.readouterr().err  # the model's call fails on that input: one line, no traceback
    assert err.startswith("hubmixin: error: --model keras_models:Mlp: calling it on float32 zeros of shape (4,)")
    assert "Traceback" not in err and "build()" in err
    assert not (tmp_path / "out").exists()


@_TO_TORCH
def test_a_weights_file_of_another_model_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = Mlp(units=4, depth=1)  # one hidden layer; the model given below has two
    other(X)
    other.save_weights(str(tmp_path / "mlp.weights.h5"))
    (tmp_path / "config.json").write_text(json.dumps({"units": 4, "depth": 2}))
    src, out = str(tmp_path / "mlp.weights.h5"), str(tmp_path / "out")
    args = ["convert", src, out, "--to", "torch", "--model", "keras_models:Mlp", "--input-shape", "2,4"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "mlp.weights.h5" in err and len(err.splitlines()) == 1
    assert "expected 2 variables, but received 0" in err  # Keras' reason, after its first line
    assert not (tmp_path / "out").exists()


@_TO_TORCH
def test_a_weights_file_of_a_larger_model_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = Mlp(units=4, depth=2)  # two hidden layers; the model given below has one: load_weights skips the rest
    other(X)
    other.save_weights(str(tmp_path / "mlp.weights.h5"))
    (tmp_path / "config.json").write_text(json.dumps({"units": 4, "depth": 1}))
    src, out = str(tmp_path / "mlp.weights.h5"), str(tmp_path / "out")
    args = ["convert", src, out, "--to", "torch", "--model", "keras_models:Mlp", "--input-shape", "2,4"]
    assert main(args) == 1
    assert "a file of another model" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_weights_file_of_a_trained_model_converts(tmp_path: Path) -> None:
    model = Mlp(units=4, depth=1)
    model.compile(optimizer="adam", loss="mse")
    model.fit(X, np.zeros((2, 1), "float32"), epochs=1, verbose=0)  # save_weights also writes the optimizer's
    model.save_weights(str(tmp_path / "mlp.weights.h5"))
    (tmp_path / "config.json").write_text(json.dumps({"units": 4, "depth": 1}))
    src, out = str(tmp_path / "mlp.weights.h5"), str(tmp_path / "out")
    args = ["convert", src, out, "--to", "keras", "--model", "keras_models:Mlp", "--input-shape", "2,4", "--quiet"]
    assert main(args) == 0
    loaded = Mlp.from_pretrained(out, strict=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(X)), keras.ops.convert_to_numpy(model(X)), atol=1e-6)
