"""hubmixin-keras: ``KerasModelHubMixin`` for Keras 3 models, on the JAX, PyTorch and TensorFlow backends.

Examples:
    >>> from hubmixin_keras import KerasModelHubMixin
    >>> "keras_model_hub_mixin" in KerasModelHubMixin._hub_mixin_info.model_card_data.tags
    True
"""

from hubmixin_keras._layout import LAYOUTS as LAYOUTS
from hubmixin_keras._layout import KerasAdapter as KerasAdapter
from hubmixin_keras._mixin import KerasModelHubMixin as KerasModelHubMixin

__version__ = "0.1.0"

__all__ = ["LAYOUTS", "KerasAdapter", "KerasModelHubMixin", "__version__"]
