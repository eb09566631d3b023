"""A checkpoint saved under one Keras backend loads under another, with equal outputs.

The backend is fixed per process: the next backend in ``BACKENDS`` (jax -> torch -> tensorflow -> jax) runs
``keras_models.py`` in a subprocess that saves its own ``make_net(seed=7)`` and loads the one saved here. The
three runs of this folder (one per backend) thus cover every ordered pair of backends, one subprocess each.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from keras_models import Net, assert_same_variables, canonical, make_net, outputs
from safetensors.numpy import load_file

BACKENDS = ["jax", "torch", "tensorflow"]
HERE = keras.backend.backend()
OTHER = BACKENDS[(BACKENDS.index(HERE) + 1) % len(BACKENDS)]
MODELS = Path(__file__).with_name("keras_models.py")


def _outputs(file: Path) -> list[np.ndarray[Any, Any]]:
    with np.load(file) as arrays:
        return [arrays[f"arr_{i}"] for i in range(len(arrays.files))]


@pytest.fixture(scope="module")
def exchange(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``<root>/<backend>/``: a checkpoint saved here and one saved under ``OTHER``, each loaded by the other."""
    if importlib.util.find_spec(OTHER) is None:
        pytest.skip(f"KERAS_BACKEND={OTHER} needs {OTHER}, which is not installed")
    root = tmp_path_factory.mktemp("backends")
    net = make_net(seed=7)
    net.save_pretrained(root / HERE)
    np.savez(root / HERE / "outputs.npz", *outputs(net))
    result = subprocess.run(
        [sys.executable, str(MODELS), "save", str(root / OTHER), "load", str(root / HERE)],
        env={**os.environ, "KERAS_BACKEND": OTHER, "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"KERAS_BACKEND={OTHER}:\n{result.stdout}\n{result.stderr}"
    return root


def test_the_other_backend_is_another_one() -> None:
    assert HERE in BACKENDS and OTHER in BACKENDS and OTHER != HERE


def test_a_checkpoint_saved_under_another_backend_loads_here(exchange: Path) -> None:
    directory = exchange / OTHER
    file, ours = load_file(directory / "model.safetensors"), load_file(exchange / HERE / "model.safetensors")
    assert file.keys() == ours.keys()
    for key, tensor in file.items():  # the same numpy draws give the same file under every backend
        assert (tensor.dtype, tensor.shape, tensor.tobytes()) == (ours[key].dtype, ours[key].shape, ours[key].tobytes())
    loaded = Net.from_pretrained(directory, strict=True)
    assert_same_variables(loaded, make_net(seed=7))
    for key, value in canonical(loaded).items():
        assert value.tobytes() == file[key].tobytes(), key
    for got, expected in zip(outputs(loaded), _outputs(directory / "outputs.npz"), strict=True):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


def test_a_checkpoint_saved_here_loads_under_another_backend(exchange: Path) -> None:
    expected = _outputs(exchange / HERE / "outputs.npz")
    got = _outputs(exchange / HERE / f"outputs-{OTHER}.npz")
    assert len(got) == len(expected) == 3
    for theirs, ours in zip(got, expected, strict=True):
        np.testing.assert_allclose(theirs, ours, rtol=0, atol=1e-5)
