"""Small models shared by the hubmixin-torch tests (a few KB of weights each)."""

from __future__ import annotations

from typing import ClassVar, TypeVar

import huggingface_hub
import torch
from torch import nn

from hubmixin_torch import PyTorchModelHubMixin

__all__ = [
    "Backbone",
    "Net",
    "NetLayers",
    "RefNet",
    "RecordingLinear",
    "RecordingNet",
    "TiedByMethod",
    "assert_same_tensors",
    "trained_net",
]


class NetLayers(nn.Module):
    """Embedding tied to the output head, BatchNorm (int64 buffer), LSTM, buffers that are not saved."""

    positions: torch.Tensor
    steps: torch.Tensor

    def __init__(self, dim: int = 8, vocab: int = 11) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.norm = nn.BatchNorm1d(dim)
        self.lstm = nn.LSTM(dim, dim, batch_first=True)
        self.head = nn.Linear(dim, vocab, bias=False)
        self.head.weight = self.embed.weight
        self.frozen = nn.Parameter(torch.ones(3), requires_grad=False)
        self.register_buffer("positions", torch.arange(5, dtype=torch.float32) * 2, persistent=False)
        self.register_buffer("steps", torch.zeros((), dtype=torch.int64), persistent=False)
        self.mask = torch.tril(torch.ones(3, 3))  # a plain attribute, not in the state dict

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x)
        h = self.norm(h.transpose(1, 2)).transpose(1, 2)
        h, _ = self.lstm(h)
        out: torch.Tensor = self.head(h)
        return out


class Net(NetLayers, PyTorchModelHubMixin, license="mit"):
    """``NetLayers`` with hubmixin's mixin."""


class RefNet(NetLayers, huggingface_hub.PyTorchModelHubMixin, license="mit"):
    """``NetLayers`` with huggingface_hub's mixin (the reference)."""


N = TypeVar("N", bound=NetLayers)


def trained_net(cls: type[N], dim: int = 8) -> N:
    """A model whose buffers differ from their initial values."""
    torch.manual_seed(0)
    model = cls(dim=dim)
    with torch.no_grad():
        model.get_buffer("norm.running_mean").uniform_()
        model.get_buffer("norm.running_var").uniform_(1, 2)
        model.get_buffer("norm.num_batches_tracked").add_(7)
    return model


class RecordingLinear(nn.Linear):
    """A Linear that records the device of its weight each time it is initialised."""

    devices: ClassVar[list[str]] = []

    def reset_parameters(self) -> None:
        RecordingLinear.devices.append(self.weight.device.type)
        super().reset_parameters()


class RecordingNet(nn.Module, PyTorchModelHubMixin):
    def __init__(self, dim: int = 4, read_values: bool = False) -> None:
        super().__init__()
        self.a = RecordingLinear(dim, dim)
        self.b = RecordingLinear(dim, dim)
        if read_values and self.a.weight.detach().sum().item() > 1e9:  # data-dependent: impossible on meta
            raise AssertionError("unreachable")


class TiedByMethod(nn.Module, PyTorchModelHubMixin):
    """Ties its weights in ``tie_weights()``, as transformers models do, not in ``__init__``."""

    def __init__(self, dim: int = 4) -> None:
        super().__init__()
        self.encoder = nn.Linear(dim, dim, bias=False)
        self.decoder = nn.Linear(dim, dim, bias=False)

    def tie_weights(self) -> None:
        self.decoder.weight = self.encoder.weight


class Backbone(nn.Module, PyTorchModelHubMixin):
    def __init__(self, dim: int = 4) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        self.register_buffer("scale", torch.full((dim,), 3.0), persistent=False)


def assert_same_tensors(a: nn.Module, b: nn.Module) -> None:
    """Every parameter and buffer (saved or not) is equal, with the same dtype, in ``a`` and ``b``."""
    left = {**dict(a.named_parameters(remove_duplicate=False)), **dict(a.named_buffers(remove_duplicate=False))}
    right = {**dict(b.named_parameters(remove_duplicate=False)), **dict(b.named_buffers(remove_duplicate=False))}
    assert left.keys() == right.keys()
    for name, tensor in left.items():
        other = right[name]
        assert tensor.dtype == other.dtype, name
        assert tensor.shape == other.shape, name
        assert torch.equal(tensor, other.to(tensor.device)), name
