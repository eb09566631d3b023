"""The hand-written side of ``NumpyModelHubMixin``: ``_save_pretrained`` and ``_from_pretrained``.

Everything about files, shards, checks and layouts is core's (:func:`~hubmixin_core.weights.save_canonical`,
:func:`~hubmixin_core.weights.load_canonical`); this module only walks a :class:`Module` and sets its arrays.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

import numpy as np

from hubmixin_core import DownloadOptions, ModelHubMixin
from hubmixin_core.weights import (
    LayerTensors,
    TensorInfo,
    dtype_name,
    floating_dtype_name,
    is_floating,
    load_canonical,
    numpy_dtype,
    open_checkpoint,
    save_canonical,
)
from hubmixin_numpy._extras import EXTRAS
from hubmixin_numpy._layout import LAYOUTS
from hubmixin_numpy._module import Array, Module

__all__ = ["NumpyHubMixinBase"]

logger = logging.getLogger("hubmixin_numpy")


def _as_module(obj: object) -> Module:
    if not isinstance(obj, Module):
        raise TypeError(f"{type(obj).__qualname__} uses NumpyModelHubMixin but is not a hubmixin_numpy.Module")
    return obj


def _layers(module: Module) -> list[LayerTensors[Array]]:
    """Each layer of ``module`` with its own arrays."""
    return [LayerTensors(path, layer, layer.arrays()) for path, layer in module.named_layers()]


def _infos(module: Module) -> list[LayerTensors[TensorInfo]]:
    """Each layer of ``module`` with the shape and dtype of its own arrays."""
    return [
        LayerTensors(g.path, g.layer, {n: TensorInfo(a.shape, dtype_name(a.dtype)) for n, a in g.tensors.items()})
        for g in _layers(module)
    ]


def _cast(module: Module, dtype: str) -> None:
    """Convert every floating array of ``module`` to the safetensors dtype ``dtype``."""
    for group in _layers(module):
        for name, array in group.tensors.items():
            if is_floating(dtype_name(array.dtype)):
                setattr(group.layer, name, array.astype(numpy_dtype(dtype)))


class NumpyHubMixinBase(ModelHubMixin):
    """Hand-written core of :class:`hubmixin_numpy.NumpyModelHubMixin`; use that class, not this one."""

    _hub_builds_from_arguments = True  # _from_pretrained calls cls(**model_kwargs): core checks them first

    def _save_pretrained(
        self,
        save_directory: Path,
        *,
        max_shard_size: int | str | None = EXTRAS.defaults["max_shard_size"],
        dtype: str | None = EXTRAS.defaults["dtype"],
    ) -> None:
        """Write the model's arrays in the canonical layout: one ``model.safetensors``, or shards and an index."""
        layers = _layers(_as_module(self))
        save_canonical(layers, LAYOUTS, save_directory, max_shard_size=max_shard_size, dtype=floating_dtype_name(dtype))

    @classmethod
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        download: DownloadOptions,
        model_kwargs: dict[str, Any],
        strict: bool = EXTRAS.defaults["strict"],
        key_mapping: Mapping[str, str] | None = EXTRAS.defaults["key_mapping"],
        dtype: str | None = EXTRAS.defaults["dtype"],
    ) -> Self:
        """Open the checkpoint (a repository without weights fails first), build the model, set its arrays."""
        target = floating_dtype_name(dtype)
        checkpoint = open_checkpoint(model_id, download).renamed(key_mapping)
        if cls._hub_init_takes("rng") and "rng" not in model_kwargs:
            model_kwargs = {**model_kwargs, "rng": np.random.default_rng()}
        model = cls(**model_kwargs)
        module = _as_module(model)
        if target is not None:  # arrays the checkpoint lacks end up in ``dtype`` too
            _cast(module, target)
        load = load_canonical(_infos(module), checkpoint, LAYOUTS, strict=strict, convert_floating=target is not None)
        for group, arrays in load:
            for name, array in arrays.items():
                setattr(group.layer, name, array)
        load.report.log(logger, cls.__qualname__, checkpoint.description)
        return model
