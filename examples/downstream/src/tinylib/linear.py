"""A numpy model integrated through the framework-neutral ``ModelHubMixin``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np
from numpy.typing import NDArray
from safetensors.numpy import save_file

from hubmixin_core import DownloadOptions, ModelHubMixin
from hubmixin_core.weights import TensorInfo, check_checkpoint, dtype_name, open_checkpoint, save_safetensors


@dataclass
class RegressorConfig:
    """Hyper-parameters of :class:`LinearRegressor`."""

    features: int = 3
    l2: float = 0.0


class LinearRegressor(ModelHubMixin, library_name="tinylib", tags=["tabular"], license="mit"):
    """Least-squares linear regression whose coefficients live in safetensors."""

    def __init__(self, config: RegressorConfig) -> None:
        self.config = config
        self.coef: NDArray[np.float64] = np.zeros(config.features)

    def fit(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> Self:
        """Fit the coefficients by (ridge) least squares."""
        gram = x.T @ x + self.config.l2 * np.eye(x.shape[1])
        self.coef = np.asarray(np.linalg.solve(gram, x.T @ y), dtype=np.float64)
        return self

    def predict(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """Predictions for the rows of ``x``."""
        return x @ self.coef

    def _save_pretrained(self, save_directory: Path) -> None:
        save_safetensors({"coef": self.coef}, save_directory, save_file=save_file, nbytes=lambda a: int(a.nbytes))

    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        checkpoint = open_checkpoint(model_id, download)  # before building: no weights, no model
        model = cls(**model_kwargs)
        expected = {"coef": TensorInfo(model.coef.shape, dtype_name(model.coef.dtype))}
        check_checkpoint(expected, checkpoint, strict=True)
        model.coef = checkpoint.read(["coef"])["coef"]
        return model
