"""QA round 17, regressions: a layer making its own variables in build() and holding sub-layers, loaded from a
checkpoint without its build record; no false causes logged beside the unbuilt-layer warning, nor its tensors
listed twice; on the PyTorch backend, a tensor read from a safetensors file is not copied again."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

from hubmixin_core.weights import Checkpoint
from hubmixin_keras import KerasModelHubMixin
from hubmixin_keras._impl import _backend_tensor

L = keras.layers
X = np.random.default_rng(0).standard_normal((2, 5, 6)).astype("float32")


class Block(keras.layers.Layer):  # type: ignore[misc]
    """Keras' textbook layer: sub-layers made in __init__, a variable of its own made in build."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lstm = L.LSTM(4, return_sequences=True)
        self.fc = L.Dense(3)

    def build(self, shape: Any) -> None:
        self.scale = self.add_weight(shape=(shape[-1],), initializer="ones", name="scale")

    def call(self, x: Any) -> Any:
        return self.fc(self.lstm(x * self.scale))


class WithBlock(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.block = Block()

    def call(self, x: Any) -> Any:
        return self.block(x)


def _rewritten(source: Path, target: Path, drop: tuple[str, ...] = (), metadata: dict[str, str] | None = None) -> Path:
    """A copy of the saved ``source`` directory, its weights file without the tensors ``drop`` and with
    ``metadata`` (``None``: none)."""
    target.mkdir()
    for item in source.iterdir():
        if item.name != "model.safetensors":
            (target / item.name).write_bytes(item.read_bytes())
    tensors = {k: v for k, v in load_file(source / "model.safetensors").items() if k not in drop}
    save_file(tensors, target / "model.safetensors", metadata=metadata)
    return target


def _metadata(directory: Path) -> dict[str, str]:
    with safe_open(directory / "model.safetensors", "np") as f:
        return dict(f.metadata())


@pytest.fixture
def saved_block(tmp_path: Path) -> tuple[WithBlock, Path]:
    model = WithBlock()
    model.block.build(X.shape)
    model.block.scale.assign(np.arange(1, 7, dtype="float32"))  # not the initializer's ones
    model(X)
    model.save_pretrained(tmp_path / "saved")
    return model, tmp_path / "saved"


def test_a_layer_with_its_own_build_and_sub_layers_loads_from_its_save(saved_block: tuple[WithBlock, Path]) -> None:
    model, directory = saved_block
    loaded = WithBlock.from_pretrained(directory, strict=True)
    assert np.allclose(keras.ops.convert_to_numpy(loaded(X)), keras.ops.convert_to_numpy(model(X)), atol=1e-6)


class Body(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, kind: str = "bi", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kind = kind
        if kind == "bi":
            self.body = L.Bidirectional(L.LSTM(2, return_sequences=True))
        else:
            self.body = keras.Sequential([L.LSTM(4)])

    def call(self, x: Any) -> Any:
        return self.body(x)


@pytest.mark.parametrize(
    ("kind", "drop"),
    [("bi", ("body.weight_ih_l0", "body.weight_ih_l0_reverse")), ("seq", ("body.0.weight_ih_l0",))],
)
def test_a_nested_layer_lacking_its_shape_keys_is_logged_once_with_its_cause(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, kind: str, drop: tuple[str, ...]
) -> None:
    model = Body(kind=kind)
    model(X[..., :3])
    model.save_pretrained(tmp_path / "saved")
    directory = _rewritten(tmp_path / "saved", tmp_path / "partial", drop, _metadata(tmp_path / "saved"))
    with caplog.at_level(logging.WARNING, logger="hubmixin_keras"):
        Body.from_pretrained(directory)(X[..., :3])
    text = caplog.text
    assert "does not walk" not in text  # (was: an unbuilt Bidirectional's cells, 'lstm_cell', 'lstm_cell')
    assert "records no build" not in text  # (was: the Sequential, 'not written by hubmixin-keras')
    assert f"(missing keys [{', '.join(map(repr, drop))}])" in text  # both directions of the Bidirectional
    assert "are not used by the model" not in text  # the tensors left unloaded are named once, by the warning


class Conv(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conv = L.Conv1D(2, 3)
        self.extra = L.Dense(2)

    def call(self, x: Any) -> Any:
        return self.extra(self.conv(x))


def test_one_tensor_left_unloaded_is_singular_and_other_unused_tensors_are_still_listed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = Conv()
    model(X)
    model.save_pretrained(tmp_path / "saved")
    tensors = {k: v for k, v in load_file(tmp_path / "saved" / "model.safetensors").items() if k != "conv.weight"}
    tensors["stray"] = np.zeros(2, "float32")
    save_file(tensors, tmp_path / "saved" / "model.safetensors", metadata=_metadata(tmp_path / "saved"))
    with caplog.at_level(logging.WARNING, logger="hubmixin_keras"):
        Conv.from_pretrained(tmp_path / "saved")
    assert "so the 1 tensor the checkpoint holds under its path is not loaded: 'conv.bias'" in caplog.text
    assert "1 tensor of" in caplog.text and "is not used by the model: 'stray'" in caplog.text


def test_a_fresh_aligned_array_is_not_copied_again_on_the_torch_backend(tmp_path: Path) -> None:
    if keras.backend.backend() != "torch":
        pytest.skip("torch tensors on the PyTorch backend")
    from hubmixin_core.weights._read import aligned_empty

    value = aligned_empty((256, 16), np.dtype("float32"))
    value[...] = 1.0
    assert _backend_tensor(value, fresh=True).data_ptr() == value.ctypes.data  # its memory, not a copy
    assert _backend_tensor(value).data_ptr() != value.ctypes.data  # another reader's: maybe held elsewhere
    np.save(tmp_path / "a.npy", value)
    mapped = np.load(tmp_path / "a.npy", mmap_mode="c")  # a private (writable) mapping of a file
    tensor = _backend_tensor(mapped, fresh=True)
    assert tensor.data_ptr() != mapped.ctypes.data and tensor.data_ptr() % 64 == 0


def test_a_tensor_not_transposed_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Table(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.table = L.Embedding(50, 8)

        def call(self, x: Any) -> Any:
            return self.table(x)

    ids = np.arange(10).reshape(2, 5)
    model = Table()
    model(ids)
    model.save_pretrained(tmp_path)
    reads: list[list[str]] = []
    read = Checkpoint.read

    def counted(self: Checkpoint, names: Any, **kwargs: Any) -> dict[str, Any]:
        reads.append(list(names))
        return read(self, names, **kwargs)

    monkeypatch.setattr(Checkpoint, "read", counted)
    loaded = Table.from_pretrained(tmp_path, strict=True)
    assert reads == []  # (was: read whole by read_stored(), then again by read())
    assert np.array_equal(keras.ops.convert_to_numpy(loaded(ids)), keras.ops.convert_to_numpy(model(ids)))


class Gate(keras.layers.Layer):  # type: ignore[misc]
    """A variable of its own made in __init__, a build that only builds its sub-layer."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fc = L.Dense(3)
        self.g = self.add_weight(shape=(3,), initializer="ones", name="g")

    def build(self, shape: Any) -> None:
        self.fc.build(shape)

    def call(self, x: Any) -> Any:
        return self.fc(x) * self.g


class WithGate(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gate = Gate()

    def call(self, x: Any) -> Any:
        return self.gate(x)


def test_a_layer_whose_own_variables_exist_before_build_still_counts_as_built(tmp_path: Path) -> None:
    model = WithGate()
    model(X)
    model.gate.g.assign(np.array([1.0, 2.0, 3.0], "float32"))
    model.save_pretrained(tmp_path / "saved")
    directory = _rewritten(tmp_path / "saved", tmp_path / "bare")  # no build record: its tensors load all the same
    loaded = WithGate.from_pretrained(directory, strict=True)
    assert np.allclose(keras.ops.convert_to_numpy(loaded(X)), keras.ops.convert_to_numpy(model(X)), atol=1e-6)
