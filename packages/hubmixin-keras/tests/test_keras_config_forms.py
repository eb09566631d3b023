"""A non-dict ``config`` argument (a preset name, as keras-hub's ``from_preset`` style models take) is saved like
any other argument: in ``config.json`` and in ``get_config()`` (so a ``.keras`` file keeps it too)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import keras
import numpy as np

from hubmixin_keras import KerasModelHubMixin

PRESETS = {"small": 4, "large": 6}


class PresetNet(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, config: str = "small", classes: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.preset = config
        self.proj = keras.layers.Dense(PRESETS[config])
        self.head = keras.layers.Dense(classes)

    def call(self, x: Any) -> Any:
        return self.head(self.proj(x))


def test_a_preset_name_config_is_saved_and_rebuilds_the_model(tmp_path: Path) -> None:
    net = PresetNet(config="large", classes=3)
    net(np.ones((1, 3), "float32"))
    net.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == {"config": "large", "classes": 3}
    assert net.get_config()["config"] == "large"
    loaded = PresetNet.from_pretrained(tmp_path)
    assert loaded.preset == "large" and loaded.proj.kernel.shape == (3, 6)
