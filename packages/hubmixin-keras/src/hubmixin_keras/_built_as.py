"""How layers no adapter can build from tensor shapes were built: recorded at save, replayed at load.

An ``EinsumDense``, a ``PReLU`` or a custom layer creating its variables in ``build`` holds tensors whose shapes
do not say what input it was built for; a layer creating its sub-layers in ``build`` holds none, and an attention
layer's do not say the rank of its inputs. ``save_pretrained`` records such a layer's own Keras build config
(``{"input_shape": [null, 6]}``) in the checkpoint's metadata (``hubmixin.build``, by layer path), and
``from_pretrained`` builds the layer from it, so its tensors load.

A layer built from its layers (a model without a ``build`` of its own, called once; a custom layer holding
layers) makes nothing to rebuild, but Keras recorded the input shape its first call built it for, which
``model.export`` and TensorFlow's serving signature read: its build config is recorded too, and the load marks
the layer built with it once its layers are (``mark_containers_built``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import keras

from hubmixin_core.weights import BUILD_KEY
from hubmixin_keras._keras_saving import keras_build_config
from hubmixin_keras._layout import LAYOUTS, builds_from_shapes
from hubmixin_keras._walk import built_from_its_layers, has_own_build, keras_container, named_layers, own_variables

__all__ = ["build_metadata", "recorded_builds"]

logger = logging.getLogger("hubmixin_keras")


def _needs_record(layer: keras.Layer) -> bool:
    """A built layer whose own ``build`` made what its tensors' shapes cannot rebuild: variables its adapter
    cannot build from their shapes, or sub-layers (a custom layer, or a model, creating its layers in ``build``;
    Keras' own containers are built from their layers'); or one its adapter asks to record (attention on inputs
    of another rank). A layer without a ``build`` of its own made everything in ``__init__``: it needs none."""
    if not layer.built or not has_own_build(layer):
        return False
    asks = getattr(LAYOUTS.find(layer), "records_build", None)
    if asks is not None:
        return bool(asks(layer))
    if builds_from_shapes(layer):
        return False
    if own_variables(layer):
        return True
    return not keras_container(layer) and len(named_layers(layer)) > 1


def _called_config(layer: keras.Layer) -> dict[str, Any] | None:
    """The Keras build config of a built layer built from its layers, holding the input shape Keras recorded
    when it built it (``{"input_shape": [2, 3]}``: its first call's); ``None`` where it recorded none (a
    functional model: its graph holds its inputs)."""
    if not layer.built or not built_from_its_layers(layer) or len(named_layers(layer)) < 2:
        return None
    config = keras.Layer.get_build_config(layer)  # Keras' own record, whatever the class's build config holds
    return config if config and None not in config.values() else None


def _build_config(layer: keras.Layer) -> Any:
    """The layer's Keras build config, without what ``_keras_saving`` adds to a mixin model's (its layers')."""
    config = layer.get_build_config()
    return keras_build_config(config) if isinstance(config, dict) else config


def build_metadata(model: keras.Layer) -> dict[str, str]:
    """The checkpoint metadata recording the build configs of ``model``'s layers that need one, and of those built
    from their layers that Keras recorded an input shape for (none: ``{}``)."""
    configs: dict[str, Any] = {}
    for path, layer in named_layers(model):
        config = _build_config(layer) if _needs_record(layer) else _called_config(layer)
        try:
            json.dumps(config)
        except (TypeError, ValueError):  # not JSON: the layer is left to be built at its first call
            continue
        if config:
            configs[path] = config
    return {BUILD_KEY: json.dumps(configs, sort_keys=True, separators=(",", ":"))} if configs else {}


def recorded_builds(metadata: Mapping[str, str], source: str) -> dict[str, dict[str, Any]]:
    """The build configs ``metadata`` records, by layer path (``{}`` if none, or if the record is malformed)."""
    text = metadata.get(BUILD_KEY)
    if text is None:
        return {}
    try:
        configs = json.loads(text)
    except (ValueError, RecursionError):
        configs = None
    if not isinstance(configs, dict) or not all(isinstance(c, dict) for c in configs.values()):
        logger.warning("%s: its %s metadata is not a JSON object of build configs: ignored", source, BUILD_KEY)
        return {}
    return configs
