"""hubmixin-flax: ``FlaxModelHubMixin`` for Flax NNX modules, loaded abstractly and straight onto a device mesh.

Examples:
    >>> from hubmixin_flax import FlaxModelHubMixin
    >>> "flax_model_hub_mixin" in FlaxModelHubMixin._hub_mixin_info.model_card_data.tags
    True
"""

from hubmixin_flax._layout import LAYOUTS as LAYOUTS
from hubmixin_flax._mixin import FlaxModelHubMixin as FlaxModelHubMixin
from hubmixin_flax._sharding import ShardingSpec as ShardingSpec

__version__ = "0.1.0"

__all__ = ["LAYOUTS", "FlaxModelHubMixin", "ShardingSpec", "__version__"]
