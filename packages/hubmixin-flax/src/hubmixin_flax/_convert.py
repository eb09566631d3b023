"""Reader of Flax msgpack checkpoints for ``hubmixin convert`` (entry point ``hubmixin.converters:flax``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import jax
import numpy as np
from flax import nnx, serialization

from hubmixin_core._convert import ConvertProgress, ConvertRequest, source_model_class
from hubmixin_core.errors import WeightsDtypeError, WeightsFileError, WeightsShapeError
from hubmixin_core.weights import dtype_name
from hubmixin_flax._construct import construct_abstract
from hubmixin_flax._mixin import FlaxModelHubMixin
from hubmixin_flax._walk import PERSISTENT

__all__ = ["CONVERTER", "FlaxMsgpackConverter"]


class FlaxMsgpackConverter:
    """``flax.serialization.to_bytes(nnx.to_pure_dict(nnx.state(model, (nnx.Param, nnx.BatchStat))))`` files,
    loaded into ``--model``. What a checkpoint holds (parameters and batch statistics) must match the model; other
    state the file holds (RNG keys, caches) is ignored, as ``save_pretrained`` saves none."""

    framework = "flax"

    def accepts(self, source: Path) -> bool:
        """``.msgpack`` files."""
        return source.is_file() and source.suffix == ".msgpack"

    def convert(self, request: ConvertRequest, output: Path) -> None:
        """Build ``--model`` abstractly from the config, fill it from the file, write it with ``save_pretrained``."""
        why = "a Flax msgpack file has the model's own names and layouts and does not say which layer each array is"
        cls = source_model_class(request, FlaxModelHubMixin, why)
        kwargs = cls._hub_model_arguments(request.config, source=request.config_source)
        if cls._hub_init_takes("rngs") and "rngs" not in kwargs:
            kwargs["rngs"] = nnx.Rngs(0)
        model = construct_abstract(cls, kwargs)
        with ConvertProgress(request, output, reads=request.source.stat().st_size) as progress:
            try:
                data = progress.read_file(request.source)
                restored = serialization.msgpack_restore(cast(bytes, data))  # (msgpack reads any buffer: no copy)
            except Exception as error:  # msgpack raises its own errors for a corrupt file
                raise WeightsFileError(f"{request.source}: not a Flax msgpack file ({type(error).__name__})") from None
            state = nnx.state(model, PERSISTENT)
            expected = nnx.to_pure_dict(state)
            restored = _without(restored, nnx.to_pure_dict(nnx.state(model, nnx.Not(PERSISTENT))))
            _check_tree(request.source, expected, restored, "")
            nnx.replace_by_pure_dict(state, jax.tree.map(np.asarray, restored))
            nnx.update(model, state)
            model.save_pretrained(output, max_shard_size=request.max_shard_size)


def _without(found: Any, other: Any) -> Any:
    """``found`` (the file's tree) without the entries of ``other`` (the model's state no checkpoint holds), where
    the file has them; subtrees left empty are dropped."""
    if not isinstance(found, dict) or not isinstance(other, dict):
        return found
    skip = {str(key): value for key, value in other.items()}
    kept = {}
    for key, value in found.items():
        if str(key) not in skip:
            kept[key] = value
        elif isinstance(value, dict) and isinstance(skip[str(key)], dict):
            rest = _without(value, skip[str(key)])
            if rest:
                kept[key] = rest
    return kept


def _check_tree(source: Path, expected: Any, found: Any, path: str) -> None:
    """Same keys and shapes as the model, each leaf an array of a dtype hubmixin stores: a file of another model
    (or not of a model) fails here, naming the key."""
    if isinstance(expected, dict):
        if not isinstance(found, dict):
            raise WeightsFileError(f"{source}: {path or '/'} should be a mapping")
        missing, extra = set(map(str, expected)) - set(map(str, found)), set(map(str, found)) - set(map(str, expected))
        if missing or extra:
            raise WeightsFileError(
                f"{source}: keys under {path or '/'} differ from the model's (missing {sorted(missing)}, "
                f"unexpected {sorted(extra)})"
            )
        by_name = {str(k): v for k, v in found.items()}
        for key, value in expected.items():
            _check_tree(source, value, by_name[str(key)], f"{path}/{key}")
        return
    shape = tuple(getattr(expected, "shape", ()))
    if not isinstance(found, np.ndarray | np.generic) and not (shape == () and type(found) in (bool, int, float)):
        # (a msgpack array of arrays has the right ``np.shape``, and a list would reach the model as it is)
        raise WeightsFileError(f"{source}: {path!r} holds {type(found).__name__}, not an array")
    if tuple(np.shape(found)) != shape:
        raise WeightsShapeError(str(source), path, shape, np.shape(found))
    if isinstance(found, np.ndarray | np.generic):
        try:
            dtype_name(found.dtype)
        except KeyError:
            wanted = getattr(expected, "dtype", None)
            stored = f"hubmixin does not store {found.dtype}"
            raise WeightsDtypeError(str(source), path, str(wanted), str(found.dtype), detail=stored) from None


CONVERTER = FlaxMsgpackConverter()
"""The instance registered under ``hubmixin.converters``."""
