"""A PyTorch model integrated through ``PyTorchModelHubMixin``."""

from __future__ import annotations

import torch
from torch import nn

from hubmixin_torch import PyTorchModelHubMixin


class TinyClassifier(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="tinylib",
    tags=["classification"],
    repo_url="https://example.org/tinylib",
):
    """A two-layer perceptron."""

    def __init__(self, features: int, classes: int, hidden: int = 16) -> None:
        super().__init__()
        self.body = nn.Linear(features, hidden)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits for a batch of feature vectors."""
        logits: torch.Tensor = self.head(torch.relu(self.body(x)))
        return logits
