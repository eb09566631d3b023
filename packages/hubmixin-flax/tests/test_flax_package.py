"""The package's public surface."""

from __future__ import annotations

import hubmixin_flax
from hubmixin_core import ModelHubMixin


def test_public_names() -> None:
    assert issubclass(hubmixin_flax.FlaxModelHubMixin, ModelHubMixin)
    assert hubmixin_flax.FlaxModelHubMixin._hub_mixin_runtime_args == {"rngs"}
    assert hubmixin_flax.__all__ == ["LAYOUTS", "FlaxModelHubMixin", "ShardingSpec", "__version__"]
