"""Keras' own saving (``model.save("m.keras")``, ``keras.saving.load_model``, ``clone_model``) of a mixin model.

What Keras cannot know without the mixin, given to a class that keeps Keras' defaults for it:

- its config: Keras' automatic config of a ``keras.Model`` subclass holds the ``__init__`` defaults, not the
  arguments given (``Model.__new__`` does not pass them on), so a ``.keras`` file rebuilt another architecture;
  the mixin's captured ``__init__`` arguments are the config, decoded by the class's coders on the way back;
- its build config: ``from_pretrained`` builds each layer from the checkpoint's shapes, not by calling the model,
  so Keras records no input shape and would leave the layers unbuilt at load (their weights not loaded), and
  Keras cannot rebuild a model of several inputs by a call either; the model's build config holds each built
  layer's own too, by attribute path, and the layers are built from those;
- the dtype policy ``from_pretrained(dtype=...)`` built it under, in its config: Keras records a model's own
  ``dtype`` only, and does not pass it to the layers its ``__init__`` makes; the model is made and built under it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import keras

from hubmixin_core._capture import get_beside, get_unsaved
from hubmixin_core.errors import HubMixinValueError
from hubmixin_keras._construct import (
    any_rank,
    dtype_policy_name,
    dtype_policy_scope,
    in_scopes_of,
    mark_containers_built,
    pending_cleared_on_error,
)
from hubmixin_keras._walk import has_own_build, named_layers

__all__ = [
    "ARGUMENTS_KEY",
    "DTYPE_POLICY_KEY",
    "LAYERS_KEY",
    "keep_keras_saving",
    "keras_build_config",
    "record_dtype_policy",
]

LAYERS_KEY = "hubmixin_layers"
"""The key of a mixin model's Keras build config holding its layers' own, by attribute path."""
ARGUMENTS_KEY = "hubmixin_config"
"""The key of a mixin model's Keras config holding its captured arguments, where one of them (a field of a
dataclass or dict ``config``) is named like a Keras key; else they sit beside Keras' keys, as Keras puts them."""
DTYPE_POLICY_KEY = "hubmixin_dtype_policy"
"""The key of a mixin model's Keras config holding the dtype policy ``from_pretrained(dtype=...)`` built it under."""
_KERAS_KEYS = ("name", "trainable", "dtype")  # Layer's own keywords: never in the mixin's config
_MIXIN_KEYS = (ARGUMENTS_KEY, DTYPE_POLICY_KEY)
_POLICY_ATTRIBUTE = "_hub_dtype_policy"


def record_dtype_policy(model: Any, policy: str | None) -> None:
    """Remember on ``model`` the dtype policy (a name) its layers were made under, for its Keras config."""
    if policy is not None:
        object.__setattr__(model, _POLICY_ATTRIBUTE, policy)  # (not a tracked attribute)


def _recorded_policy(model: Any) -> str | None:
    policy: str | None = getattr(model, _POLICY_ATTRIBUTE, None)
    return policy


@contextlib.contextmanager
def _built_under(model: keras.Layer, policy: str | None) -> Iterator[None]:
    """Under ``model``'s recorded dtype policy, plainly, as Keras builds (a value a layer assigns in ``build`` is
    kept). Where that fails under a 16-bit policy (Keras cannot compute Orthogonal's QR, an LSTM's or GRU's recurrent
    initialiser, in 16 bits), the error says to load with ``from_pretrained(dtype=...)``, which never runs them."""
    half = policy is not None and keras.dtype_policies.get(policy).variable_dtype in ("bfloat16", "float16")
    try:
        with pending_cleared_on_error(), dtype_policy_scope(policy):
            yield
    except HubMixinValueError:
        raise
    except Exception as error:
        if not half:
            raise
        reason = " ".join(str(error).split())  # (TensorFlow's messages span lines)
        raise HubMixinValueError(
            f"{type(model).__qualname__}: Keras failed to build its layers under dtype policy {policy!r} (recorded by "
            f"from_pretrained(dtype=...)): {type(error).__name__}: {reason}; Keras cannot run some initialisers in 16 "
            f"bits (Orthogonal, of LSTM and GRU): load it with from_pretrained(dtype={policy!r}) instead"
        ) from error


def keras_build_config(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` (a layer's build config) without what a mixin model's adds: its layers' own."""
    return {key: value for key, value in config.items() if key != LAYERS_KEY}


def _layer_build_configs(model: keras.Layer) -> dict[str, Any]:
    configs = {}
    for path, layer in named_layers(model)[1:]:
        config = layer.get_build_config() if layer.built else None
        if config:
            configs[path] = config
    return configs


def _build_layers(model: keras.Layer, configs: dict[str, Any]) -> None:
    pending = dict(configs)
    while pending:  # again while building a layer brings new ones (a layer that makes its sub-layers in build)
        layers = dict(named_layers(model))
        found = sorted(pending.keys() & layers.keys(), key=lambda path: path.count("."))  # parents first,
        for path in found:  # as a call builds them: a layer's own build may build the sub-layers it holds
            layer = layers[path]
            if not layer.built and has_own_build(layer):
                with in_scopes_of(layers, path):
                    layer.build_from_config(pending[path])
                any_rank(layer)
            del pending[path]
        if not found:
            break
    mark_containers_built(model, configs)


def _keep_build_config(cls: Any) -> None:
    keras_build_from_config = cls.build_from_config

    def get_build_config(self: keras.Layer) -> dict[str, Any] | None:
        config: dict[str, Any] = keras.Layer.get_build_config(self) or {}
        layers = _layer_build_configs(self) if self.built else {}
        return {**config, LAYERS_KEY: layers} if layers else config or None

    def build_from_config(self: keras.Layer, config: dict[str, Any]) -> None:
        with _built_under(self, _recorded_policy(self)):
            _build_from_config(self, config)

    def _build_from_config(self: keras.Layer, config: dict[str, Any]) -> None:
        if not config or LAYERS_KEY not in config:
            keras_build_from_config(self, config)
            return
        if has_own_build(self):  # its own build makes layers: it runs first
            keras_build_from_config(self, keras_build_config(config))
        _build_layers(self, config[LAYERS_KEY])  # each layer as it was: no call, whatever the model's inputs
        if "input_shape" in config:  # Keras' own record, kept for the next save
            self._build_shapes_dict = {"input_shape": config["input_shape"]}
        elif "shapes_dict" in config:
            self._build_shapes_dict = config["shapes_dict"]

    cls.get_build_config = get_build_config
    cls.build_from_config = build_from_config


def _keep_config(cls: Any) -> None:
    def get_config(self: Any) -> dict[str, Any]:
        unsaved = get_unsaved(self)
        if unsaved:  # as Keras' own automatic config does for arguments it cannot serialize
            raise NotImplementedError(
                f"{type(self).__qualname__}: __init__ arguments {sorted(unsaved)} cannot be put in a Keras config "
                "(JSON cannot hold them): define get_config and from_config, or declare coders= on the class"
            )
        beside = get_beside(self)
        if beside:  # config.json leaves them out as huggingface_hub does; a Keras config must rebuild this model
            raise NotImplementedError(
                f"{type(self).__qualname__}: __init__ arguments {beside} given beside a dataclass `config` are not in "
                "its config: move them into the dataclass, or define get_config and from_config"
            )
        config: dict[str, Any] = keras.Layer.get_config(self)  # name, trainable, dtype: Keras' own
        accepted = type(self)._hub_keyword_parameters()  # named, or Layer's through **kwargs
        config = {key: value for key, value in config.items() if key in accepted}
        policy = _recorded_policy(self)
        if policy is not None:
            config[DTYPE_POLICY_KEY] = policy
        arguments = self._hub_config_dict(self._hub_mixin_config) or {}
        if arguments.keys() & {*_KERAS_KEYS, *_MIXIN_KEYS}:  # merged, one would overwrite the other
            return {**config, ARGUMENTS_KEY: arguments}
        return {**config, **arguments}

    def from_config(cls: Any, config: dict[str, Any], custom_objects: Any = None) -> Any:
        keras_part = {key: config[key] for key in _KERAS_KEYS if key in config}
        policy = dtype_policy_name(config.get(DTYPE_POLICY_KEY))
        model_kwargs: dict[str, Any] = {}
        raw = _arguments(config)
        cls._hub_apply_config(raw, model_kwargs, source=f"the Keras config of {cls.__qualname__}")
        with dtype_policy_scope(policy):  # the layers its __init__ makes take it, as in from_pretrained
            model = cls(**keras_part, **model_kwargs)
        record_dtype_policy(model, policy)
        return model

    cls.get_config = get_config
    cls.from_config = classmethod(from_config)


def _arguments(config: dict[str, Any]) -> dict[str, Any]:
    """The captured arguments in a mixin model's Keras config: nested, or beside Keras' own keys."""
    nested = config.get(ARGUMENTS_KEY)
    if isinstance(nested, dict):
        return nested
    return {key: value for key, value in config.items() if key not in (*_KERAS_KEYS, *_MIXIN_KEYS)}


def keep_keras_saving(cls: Any) -> None:
    """Give ``cls`` (a ``keras.Model`` subclass using the mixin) the config and build config Keras' saving needs.

    Each only where ``cls`` keeps Keras' default: a class's own ``get_config``/``from_config`` or
    ``get_build_config`` wins; a model built by a call keeps Keras' build config as it is.
    """
    if not issubclass(cls, keras.Layer) or any("_hub_keras_saving" in vars(base) for base in cls.__mro__):
        return  # not a layer, or inherited from a class already given them
    cls._hub_keras_saving = True
    keras_from_config = getattr(cls.from_config, "__func__", None)
    if getattr(cls.get_config, "_is_default", False) and keras_from_config is keras.Model.from_config.__func__:
        _keep_config(cls)
    if cls.get_build_config is keras.Layer.get_build_config:
        _keep_build_config(cls)
