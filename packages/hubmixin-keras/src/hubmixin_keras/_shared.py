"""Variables held by several layers (a tied embedding and output projection): each saved once, by its creator.

Keras tracks a variable in every layer that holds it in an attribute, so a walk finds a tied variable in each of
them. It belongs to the layer that created it (the one its Keras path names: ``lm/embedding/embeddings`` is
``embedding``'s; else the first holder in the walk); every other holder records it as a tied name under the
attribute holding it (``head.weight``), as PyTorch's tied weights are, so a PyTorch port with the same tie
(``self.head.weight = self.emb.weight``) reads the file strictly, and the file holds the tensor once. A holder
whose layer lays the variable out otherwise (a ``Dense`` kernel held raw, ``[in, out]``, by a layer of no adapter)
saves it too, under its own path in its own layout: a tied name cannot say to transpose.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import keras

from hubmixin_keras._layout import LAYOUTS
from hubmixin_keras._walk import held_variables, named_layers, own_variables

__all__ = ["Tie", "layer_variables"]


class Tie(NamedTuple):
    """``variable``, which ``layer`` (at ``path``) holds under ``name`` and ``owner`` (at ``owner_path``) saves as
    ``owner_name``."""

    path: str
    layer: keras.Layer
    name: str
    owner_path: str
    owner: keras.Layer
    owner_name: str
    variable: Any


def _creator(variable: Any) -> str | None:
    """The name of the layer that created ``variable``, from its Keras path (``lm/embedding/embeddings``)."""
    parts = str(getattr(variable, "path", "")).split("/")
    return parts[-2] if len(parts) > 1 else None


def layer_variables(model: keras.Layer) -> tuple[list[tuple[str, keras.Layer, dict[str, Any]]], list[Tie]]:
    """Each walked layer of ``model`` with the variables it saves (by name; a tied one only in its owner's), and
    the ties of the others that hold one."""
    walked = [(path, layer, own_variables(layer)) for path, layer in named_layers(model)]
    holders: dict[int, list[tuple[int, str]]] = {}
    for index, (_, _, variables) in enumerate(walked):
        for name, variable in variables.items():
            holders.setdefault(id(variable), []).append((index, name))
    owners: dict[int, tuple[int, str]] = {}
    for key, found in holders.items():
        if len(found) > 1:
            variable = walked[found[0][0]][2][found[0][1]]
            creator = _creator(variable)
            owners[key] = next((h for h in found if walked[h[0]][1].name == creator), found[0])
    groups: list[tuple[str, keras.Layer, dict[str, Any]]] = []
    ties: list[Tie] = []
    for index, (path, layer, variables) in enumerate(walked):
        kept: dict[str, Any] = {}
        for name, variable in variables.items():
            owner = owners.get(id(variable), (index, name))
            if owner == (index, name):
                kept[name] = variable
                continue
            held = held_variables(layer).get(id(variable), name)  # the attribute holding it: ``head.weight``
            owner_path, owner_layer, _ = walked[owner[0]]
            if not _same_layout(layer, held, owner_layer, owner[1]):
                kept[held if held not in variables else name] = variable
                continue
            ties.append(Tie(path, layer, held, owner_path, owner_layer, owner[1], variable))
        groups.append((path, layer, kept))
    return groups, ties


def _same_layout(layer: keras.Layer, name: str, owner: keras.Layer, owner_name: str) -> bool:
    """Whether ``layer``'s variable ``name`` and ``owner``'s ``owner_name`` are saved in one layout (taken as so
    where an adapter has no rule for one of them: it maps only its whole set of tensors)."""
    rule = LAYOUTS.find(layer).rule_for(layer, name)
    owner_rule = LAYOUTS.find(owner).rule_for(owner, owner_name)
    return rule is None or owner_rule is None or _moved(rule.axes) == _moved(owner_rule.axes)


def _moved(axes: tuple[int, ...] | None) -> tuple[int, ...]:
    """A rule's transpose, ``()`` where it moves no axis."""
    return () if axes is None or tuple(axes) == tuple(range(len(axes))) else tuple(axes)
