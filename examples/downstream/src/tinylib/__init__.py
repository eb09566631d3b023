"""tinylib: an example library whose models get Hub support from hubmixin.

``TinyClassifier`` (PyTorch) has twins in ``tinylib.flax_models`` and ``tinylib.keras_models`` (extras
``tinylib[flax]``, ``tinylib[keras]``; imported on demand, so that torch users need neither).

Example:
    >>> from tinylib import TinyClassifier
    >>> TinyClassifier(features=4, classes=2)._hub_mixin_config
    {'features': 4, 'classes': 2, 'hidden': 16}
"""

from tinylib.linear import LinearRegressor as LinearRegressor
from tinylib.torch_models import TinyClassifier as TinyClassifier

__all__ = ["LinearRegressor", "TinyClassifier"]
