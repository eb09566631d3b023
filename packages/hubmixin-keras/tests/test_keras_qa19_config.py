"""A Keras model's ``config: dict | None = None`` left at ``None`` comes back ``None``: Keras gives its
``**kwargs`` no config key, so a file holding only the other arguments is one saved without a config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np

from hubmixin_keras import KerasModelHubMixin

DEFAULTS = {"hidden": 3}


class Net(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, config: dict[str, int] | None = None, depth: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.given = config
        self.dense = keras.layers.Dense((config or DEFAULTS)["hidden"] * depth)

    def call(self, x: Any) -> Any:
        return self.dense(x)


def test_a_dict_config_left_at_none_comes_back_none(tmp_path: Path) -> None:
    model = Net(depth=4)
    model(np.ones((1, 2), "float32"))
    model.save_pretrained(tmp_path)
    loaded = Net.from_pretrained(tmp_path)  # (was config={"depth": 4}: KeyError 'hidden')
    assert loaded.given is None
    assert Net.from_config(model.get_config()).given is None
