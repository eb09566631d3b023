"""Regressions of QA round 23: a ``Dense`` subclass adding a variable named ``weight`` (the kernel's canonical
name) is refused at save, and a file of that name is not loaded into both (the kernel was dropped silently and a
strict load gave both from the extra variable)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from safetensors.numpy import save_file

from hubmixin_core.errors import LayoutError
from hubmixin_keras import KerasModelHubMixin


class GatedDense(keras.layers.Dense):  # type: ignore[misc]
    def build(self, input_shape: Any) -> None:
        super().build(input_shape)
        self.weight = self.add_weight(
            name="weight", shape=(self.units, input_shape[-1]), initializer=keras.initializers.Constant(7.0)
        )

    def call(self, x: Any) -> Any:
        return super().call(x) * keras.ops.sum(self.weight, axis=-1)


class Gated(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, d: int = 3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lin = GatedDense(2)

    def call(self, x: Any) -> Any:
        return self.lin(x)


def test_a_subclass_variable_named_like_the_kernels_canonical_name_is_refused(tmp_path: Path) -> None:
    model = Gated()
    model(np.ones((1, 3), np.float32))
    with pytest.raises(LayoutError) as info:
        model.save_pretrained(tmp_path / "gated")
    assert "layer 'lin' (GatedDense): its tensors 'kernel' and 'weight' are both stored as 'weight'" in str(info.value)
    assert not (tmp_path / "gated" / "model.safetensors").exists()
    # A file as the save wrote before (the kernel dropped): refused, not loaded into both.
    directory = tmp_path / "old"
    directory.mkdir()
    (directory / "config.json").write_text('{"d": 3}')
    tensors = {"lin.weight": np.ones((2, 3), np.float32), "lin.bias": np.zeros(2, np.float32)}
    save_file(tensors, directory / "model.safetensors")
    with pytest.raises(LayoutError, match="'kernel' and 'weight' are both stored as 'weight'"):
        Gated.from_pretrained(directory, strict=True)
