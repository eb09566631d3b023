"""Reader of Keras ``.weights.h5`` files for ``hubmixin convert`` (entry point ``hubmixin.converters:keras``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hubmixin_core._convert import ConvertError, ConvertProgress, ConvertRequest, source_model_class
from hubmixin_core._native import keras_sharded_advice
from hubmixin_core.errors import WeightsFileError, format_names
from hubmixin_keras._impl import _makes_variables
from hubmixin_keras._mixin import KerasModelHubMixin
from hubmixin_keras._walk import named_layers

__all__ = ["CONVERTER", "KerasWeightsConverter"]


class KerasWeightsConverter:
    """``model.save_weights("model.weights.h5")`` files, loaded into ``--model`` with ``load_weights``."""

    framework = "keras"

    def accepts(self, source: Path) -> bool:
        """``.weights.h5`` files."""
        return source.is_file() and source.name.endswith(".weights.h5")

    def convert(self, request: ConvertRequest, output: Path) -> None:
        """Build ``--model`` from the config, ``load_weights`` the file, write it with ``save_pretrained``."""
        if (sharded := keras_sharded_advice(request.source)) is not None:
            raise ConvertError(f"{request.source}: {sharded}")
        why = "a Keras weights file names layers, not the model's attributes, and keeps Keras layouts"
        cls = source_model_class(request, KerasModelHubMixin, why)
        kwargs = cls._hub_model_arguments(request.config, source=request.config_source)
        model: Any = cls(**kwargs)  # a keras.Model too
        if request.input_shape is not None:
            try:
                model(np.zeros(request.input_shape, np.float32))
            except Exception as error:  # whatever the model's call raises on the dummy input
                first = next((line.strip() for line in str(error).splitlines() if line.strip()), "")
                raise ConvertError(
                    f"--model {request.model}: calling it on float32 zeros of shape {request.input_shape} failed "
                    f"({type(error).__name__}: {first[:200]}); --input-shape builds a model called on one input: "
                    "for another call, give the model a build() (or call it once in __init__)"
                ) from None
        elif not model.built:
            raise ConvertError(
                f"--model {request.model}: the model has no variables until it is called: pass --input-shape"
            )
        size = request.source.stat().st_size
        with ConvertProgress(request, output, reads=size) as progress:
            _load_weights(model, request.source)
            progress.read(size)  # Keras reads the file in one call
            _check_all_loaded(model, request)
            model.save_pretrained(output, max_shard_size=request.max_shard_size)


def _check_all_loaded(model: Any, request: ConvertRequest) -> None:
    """Raise where the file holds more arrays than the model has variables (Keras' ``load_weights`` skips what
    the model lacks): layers the dummy call left unbuilt, or else a file of another model."""
    stored = _stored_arrays(request.source)
    if len(stored) <= len(model.weights):
        return
    counts = f"{request.source}: holds {len(stored)} arrays, --model {request.model} has {len(model.weights)} variables"
    unbuilt = [path for path, layer in named_layers(model) if not layer.built and _makes_variables(layer)]
    if unbuilt:
        called = "" if request.input_shape is None else f" after calling it on zeros of shape {request.input_shape}"
        raise ConvertError(
            f"{counts}: layers {format_names(unbuilt)} are not built{called}, so they hold no variables to load "
            "the file's into: give the model a build() that builds every layer"
        )
    raise WeightsFileError(f"{counts}: a file of another model (first arrays: {', '.join(stored[:3])})")


def _load_weights(model: Any, source: Path) -> None:
    """``model.load_weights(source)``, its errors as one `WeightsFileError` naming the file."""
    try:
        model.load_weights(str(source))
    except (ValueError, OSError, KeyError) as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        reason = " ".join(lines)[:400]  # Keras says what it could not load first, and why after
        raise WeightsFileError(f"{source}: {reason}") from None


def _stored_arrays(path: Path) -> list[str]:
    """The paths of the model's arrays a ``.weights.h5`` file holds (not a compiled model's optimizer's)."""
    import h5py  # type: ignore[import-untyped]  # (Keras' own dependency for this format)

    found: list[str] = []
    with h5py.File(path, "r") as file:
        file.visititems(lambda name, item: found.append(name) if isinstance(item, h5py.Dataset) else None)
    return [name for name in found if not name.startswith("optimizer/")]


CONVERTER = KerasWeightsConverter()
"""The instance registered under ``hubmixin.converters``."""
