"""On the PyTorch backend, a loaded model's variables registered as the torch parameters Keras would register.

A Keras layer is a ``torch.nn.Module`` there: once built, it registers its variables as parameters
(``_torch_params``, what ``state_dict()``, ``load_state_dict``, ``.to()`` and ``.double()`` reach), unless it is
built inside a stateless scope (``TorchLayer._post_build``). ``from_pretrained`` builds every layer inside one, so
after the load the layers are registered as in the same model constructed, then built by its first call: those
Keras built at their construction (a ``Dropout``, a ``Sequential`` given its input), the model itself, and the
sub-layers of a layer with a ``build`` of its own that such a call builds (its ``build`` builds them, or its call
runs them eagerly). A layer without its own ``build`` builds its sub-layers by a symbolic call, inside a stateless
scope, where Keras registers none; the layers the load built from the checkpoint stand in for those builds.
A layer registers the variables it holds at the end of its build: a model whose ``build`` makes some of its
sub-layers' variables, not the others' (made at its first call), registers only those.
"""

from __future__ import annotations

import weakref
from collections.abc import Collection
from typing import Any

import keras
from keras.src.backend.common.stateless_scope import in_stateless_scope

from hubmixin_keras._walk import has_own_build

__all__ = ["built_layers", "note_build", "note_load_builds", "register_torch_params"]

_BUILT_BY_LOAD: weakref.WeakSet[Any] = weakref.WeakSet()
"""The layers a load built (from the checkpoint's shapes or its build records), not their construction, until
the load registers the variables."""
_LEFT_TO_ENCLOSING: weakref.WeakSet[Any] = weakref.WeakSet()
"""The layers a load inside a stateless scope (a model's ``__init__`` loading a part of itself) would have
registered, for the enclosing load to register."""
_AT_BUILD: weakref.WeakKeyDictionary[Any, set[int]] = weakref.WeakKeyDictionary()
"""The ids of the variables a layer held right after the load ran its own ``build`` (from its build record)."""


def _on_torch() -> bool:
    return bool(keras.backend.backend() == "torch")


def _sub_layers(layer: keras.Layer) -> list[keras.Layer]:
    """The layers ``layer`` holds directly: those Keras tracks and the torch sub-modules that are layers (a
    ``Sequential``'s ``_functional``, which ``state_dict()`` reaches and Keras' own walk does not)."""
    held = {id(sub): sub for sub in layer._flatten_layers(include_self=False, recursive=False)}
    held.update((id(sub), sub) for sub in layer.children() if isinstance(sub, keras.Layer))
    return list(held.values())


def _layers(model: keras.Layer) -> list[keras.Layer]:
    """``model`` and every layer under it, each once."""
    found: dict[int, keras.Layer] = {}
    stack = [model]
    while stack:
        layer = stack.pop()
        if id(layer) not in found:
            found[id(layer)] = layer
            stack.extend(_sub_layers(layer))
    return list(found.values())


def built_layers(model: Any) -> set[int]:
    """The ids of the layers of ``model`` built now (none off the torch backend, where nothing is registered)."""
    if not _on_torch() or not isinstance(model, keras.Layer):
        return set()
    return {id(layer) for layer in _layers(model) if layer.built}


def note_load_builds(model: Any, constructed: Collection[int]) -> None:
    """Remember the layers of ``model`` built now that were not at its construction (``constructed``: their ids,
    from :func:`built_layers`): the load built them."""
    if _on_torch() and isinstance(model, keras.Layer):
        _BUILT_BY_LOAD.update(layer for layer in _layers(model) if layer.built and id(layer) not in constructed)


def note_build(layer: keras.Layer) -> None:
    """Remember the variables ``layer`` holds right after the load ran its ``build``: those Keras registers for it
    (its sub-layers built later, at its first call, register theirs themselves)."""
    if _on_torch():
        _AT_BUILD[layer] = {id(variable) for variable in layer.variables}


def _ran_build(layer: keras.Layer) -> bool:
    """Whether Keras ran ``layer``'s build (which records its shapes) or built it at construction
    (``_build_at_init``, which locks its state): either registers its variables outside a stateless scope; a layer
    marked built by neither (a ``TorchModuleWrapper``) registers none."""
    locked = getattr(getattr(layer, "_tracker", None), "locked", False)
    return bool(layer.built and (getattr(layer, "_build_shapes_dict", None) is not None or locked))


def _registered_by_a_call(model: keras.Layer) -> list[keras.Layer]:
    """The built layers of ``model`` whose variables Keras registers in a model constructed, then built by its
    first call: those whose build Keras ran at construction, not registered yet (one built earlier, given to the
    model, registered them then), those a load inside the construction left to this one, and of the layers the
    load built, the model and, under a layer such a call builds that has a ``build`` of its own, its sub-layers
    (again for theirs)."""
    found = {
        id(layer): layer
        for layer in _layers(model)
        if not hasattr(layer, "_torch_params")
        and (layer in _LEFT_TO_ENCLOSING or (layer not in _BUILT_BY_LOAD and _ran_build(layer)))
    }
    eager, seen = [model], set()
    while eager:
        layer = eager.pop()
        if id(layer) in seen or layer in _LEFT_TO_ENCLOSING:  # (that load decided for its layers)
            continue
        seen.add(id(layer))
        if layer.built and layer in _BUILT_BY_LOAD:
            found[id(layer)] = layer
        if has_own_build(layer):
            eager.extend(_sub_layers(layer))
    return list(found.values())


def _register(layer: keras.Layer) -> None:
    """Register ``layer``'s variables as Keras does at the end of its build: those it held then, where the load
    ran its build (:func:`note_build`), else all."""
    layer._track_variables()
    at_build = _AT_BUILD.get(layer)
    if at_build is not None:
        kept = {variable.path for variable in layer.variables if id(variable) in at_build}
        for path in [path for path in layer._torch_params if path not in kept]:
            layer._torch_params.pop(path)


def register_torch_params(model: keras.Layer) -> None:
    """On the torch backend, once ``model`` is loaded, register its layers' variables as torch parameters as Keras
    does for the model built by its first call (module docstring). The other layers the load built are left
    unregistered: where the load could not defer the variables, so built its layers outside any scope, the
    registrations Keras made then are taken back.

    Inside a stateless scope Keras registers nothing: the layers are left to the enclosing load.
    """
    if not _on_torch():
        return
    layers = _layers(model)
    registered = _registered_by_a_call(model)
    if in_stateless_scope():
        _LEFT_TO_ENCLOSING.update(registered)
        return
    chosen = {id(layer) for layer in registered}
    for layer in layers:
        if layer in _BUILT_BY_LOAD and id(layer) not in chosen and hasattr(layer, "_torch_params"):
            del layer._torch_params
    for layer in registered:
        _register(layer)
    for layer in layers:
        _BUILT_BY_LOAD.discard(layer)
        _LEFT_TO_ENCLOSING.discard(layer)
        _AT_BUILD.pop(layer, None)
