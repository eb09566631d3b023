"""On the PyTorch backend, a loaded model's variables registered as torch parameters, as Keras registers them.

A Keras layer is a ``torch.nn.Module`` there: once built, it registers its variables as parameters
(``_torch_params``: what ``state_dict()``, ``load_state_dict``, ``.to()`` and ``.double()`` reach), unless it is
built inside a stateless scope (``TorchLayer._post_build``). ``from_pretrained`` builds every layer inside one,
so the loaded model registers its variables once the load is done, as Keras registers a model's at the end of its
build (and as its ``named_parameters()`` does for a model that registered none).
"""

from __future__ import annotations

from typing import Any

import keras
from keras.src.backend.common.stateless_scope import in_stateless_scope

__all__ = ["register_torch_params"]


def register_torch_params(model: Any) -> None:
    """On the torch backend, register the variables of the loaded ``model`` as its torch parameters, where it has
    registered none; nothing inside a stateless scope (a load in another model's construction), as in Keras."""
    if keras.backend.backend() != "torch" or in_stateless_scope() or not isinstance(model, keras.Layer):
        return
    if not hasattr(model, "_torch_params"):
        model._track_variables()
