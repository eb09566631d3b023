"""The package's public surface."""

from __future__ import annotations

import hubmixin_keras
from hubmixin_core import ModelHubMixin


def test_public_names() -> None:
    assert issubclass(hubmixin_keras.KerasModelHubMixin, ModelHubMixin)
    assert hubmixin_keras.KerasModelHubMixin._hub_mixin_runtime_args == {"name", "dtype", "trainable"}
    assert hubmixin_keras.__all__ == ["LAYOUTS", "KerasAdapter", "KerasModelHubMixin", "__version__"]
