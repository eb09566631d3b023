"""A malformed ``hubmixin.build`` record in a checkpoint's metadata (untrusted: any JSON) fails as a
:class:`WeightsError` naming the file, the layer and the record, not as the layer's own ``TypeError``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import keras
import pytest
from safetensors.numpy import load_file, save_file

from hubmixin_core.errors import WeightsError
from hubmixin_core.weights import BUILD_KEY, read_header
from hubmixin_keras import KerasModelHubMixin


class Custom(keras.layers.Layer):  # type: ignore[misc]
    """Creates its variable in ``build``, with no adapter registered."""

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.w = self.add_weight(shape=(input_shape[-1], 4), initializer="ones")

    def call(self, x: Any) -> Any:
        return x @ self.w


class WithCustom(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.c = Custom()

    def call(self, x: Any) -> Any:
        return self.c(x)


@pytest.mark.parametrize(
    ("record", "said"),
    [({"input_shape": None}, "None"), ({"shapes_dict": {"x": [1, 3]}}, "'shapes_dict'")],
    ids=["null-input-shape", "shapes-dict-of-other-names"],
)
def test_a_malformed_build_record_is_a_weights_error(tmp_path: Path, record: dict[str, Any], said: str) -> None:
    model = WithCustom()
    model(keras.ops.ones((1, 3)))
    model.save_pretrained(tmp_path)
    file = tmp_path / "model.safetensors"
    metadata = {**read_header(file).metadata, BUILD_KEY: json.dumps({"c": record})}
    save_file(load_file(file), file, metadata)
    with pytest.raises(WeightsError, match=rf"model\.safetensors: layer 'c' \(Custom\).*{said}.*its record.*TypeError"):
        WithCustom.from_pretrained(tmp_path)
