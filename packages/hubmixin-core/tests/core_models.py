"""Small numpy models built on ModelHubMixin, shared by core's tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import numpy as np
from numpy.typing import NDArray
from safetensors.numpy import load_file, save_file

from hubmixin_core import DownloadOptions, ModelHubMixin
from hubmixin_core.weights import (
    TensorInfo,
    check_tensors,
    read_tensor_infos,
    resolve_weight_files,
    save_safetensors,
)

Array = NDArray[Any]

_DTYPES = {np.dtype("float32"): "F32", np.dtype("float64"): "F64", np.dtype("int64"): "I64"}


class NumpyModelMixin(ModelHubMixin, library_name="numpy-models", tags=["numpy"]):
    """A minimal framework integration: weights are a dict of numpy arrays."""

    weights: dict[str, Array]
    max_shard_size: int | str | None = None

    def _save_pretrained(self, save_directory: Path) -> None:
        save_safetensors(
            self.weights,
            save_directory,
            save_file=save_file,
            nbytes=lambda a: int(a.nbytes),
            max_shard_size=self.max_shard_size,
        )

    @classmethod
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        revision: str | None,
        cache_dir: str | Path | None,
        force_download: bool,
        local_files_only: bool,
        token: str | bool | None,
        endpoint: str | None = None,
        max_workers: int = 8,
        **model_kwargs: Any,
    ) -> Self:
        model = cls(**model_kwargs)
        options = DownloadOptions(
            revision=revision,
            cache_dir=cache_dir,
            force_download=force_download,
            local_files_only=local_files_only,
            token=token,
            endpoint=endpoint,
            max_workers=max_workers,
        )
        files = resolve_weight_files(model_id, options)
        found = {name: info for name, (info, _) in read_tensor_infos(files).items()}
        expected = {k: TensorInfo(tuple(v.shape), _DTYPES[v.dtype]) for k, v in model.weights.items()}
        check_tensors(expected, found, source=model_id)
        loaded: dict[str, Array] = {}
        for path in files.files:
            loaded.update(load_file(str(path)))
        model.weights = loaded
        return model


class MLP(NumpyModelMixin):
    """Two dense layers with seeded random weights."""

    def __init__(self, in_features: int = 4, hidden: int = 8, *, activation: str = "relu", seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.in_features, self.hidden, self.activation = in_features, hidden, activation
        self.weights = {
            "fc1.weight": rng.standard_normal((hidden, in_features)).astype(np.float32),
            "fc1.bias": rng.standard_normal(hidden).astype(np.float32),
            "fc2.weight": rng.standard_normal((1, hidden)).astype(np.float32),
        }
