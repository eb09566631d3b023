"""A Keras model whose ``__init__`` forgets ``super().__init__()`` is named at save and at load (QA round 23,
firstuse #9: a bare ``AttributeError: ... no attribute 'built'``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from hubmixin_core.errors import HubMixinTypeError
from hubmixin_keras import KerasModelHubMixin


class NoSuper(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, units: int = 4) -> None:  # (no super().__init__())
        self.lin = keras.layers.Dense(units)

    def call(self, x: Any) -> Any:
        return self.lin(x)


class WithSuper(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, units: int = 4, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lin = keras.layers.Dense(units)

    def call(self, x: Any) -> Any:
        return self.lin(x)


@pytest.mark.skipif(keras.backend.backend() == "torch", reason="torch's Module refuses the layer's first attribute")
def test_a_model_without_super_init_is_named_at_save_and_load(tmp_path: Path) -> None:
    with pytest.raises(HubMixinTypeError, match=r"NoSuper\.__init__ did not call super\(\)\.__init__"):
        NoSuper().save_pretrained(tmp_path / "no-super")
    assert not (tmp_path / "no-super").exists()
    good = WithSuper()
    good(np.zeros((1, 3), "float32"))
    good.save_pretrained(tmp_path / "good")
    with pytest.raises(HubMixinTypeError, match=r"NoSuper\.__init__ did not call super\(\)\.__init__"):
        NoSuper.from_pretrained(tmp_path / "good")
