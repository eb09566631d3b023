"""Small numpy models built on ModelHubMixin, shared by core's tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import numpy as np
from numpy.typing import NDArray
from safetensors.numpy import save_file

from hubmixin_core import DownloadOptions, ModelHubMixin
from hubmixin_core.weights import TensorInfo, check_checkpoint, dtype_name, open_checkpoint, save_safetensors

Array = NDArray[Any]


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
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        checkpoint = open_checkpoint(model_id, download)
        model = cls(**model_kwargs)
        expected = {k: TensorInfo(tuple(v.shape), dtype_name(v.dtype)) for k, v in model.weights.items()}
        check_checkpoint(expected, checkpoint, strict=True)
        model.weights = checkpoint.read(list(checkpoint.infos))
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
