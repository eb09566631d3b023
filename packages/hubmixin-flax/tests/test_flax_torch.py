"""Interchange with PyTorch: a torch model and its Flax port (same module tree) read each other's checkpoints.

Layout differences the comparison accounts for: images are NCHW in torch and NHWC in Flax; the port sets
torch's epsilons, VALID padding, exact GELU, and BatchNorm on its running statistics (torch's eval mode).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import huggingface_hub
import jax.numpy as jnp
import numpy as np
import pytest
from flax_models import Port
from safetensors import safe_open

pytest.importorskip("torch")
pytest.importorskip("hubmixin_torch")

import torch
from torch import nn

from hubmixin_torch import PyTorchModelHubMixin


class PortLayers(nn.Module):
    """What ``flax_models.Port`` computes, in torch."""

    def __init__(self, channels: int = 5, features: int = 4, vocab: int = 7) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, features, kernel_size=(3, 2))
        self.bn = nn.BatchNorm2d(features)
        self.embed = nn.Embedding(vocab, features)
        self.norm = nn.LayerNorm(features)
        self.fc1 = nn.Linear(features, 2 * features)
        self.fc2 = nn.Linear(2 * features, vocab)

    def forward(self, image: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        h = nn.functional.gelu(self.bn(self.conv(image))).mean(dim=(2, 3))
        h = self.norm(h + self.embed(ids))
        out: torch.Tensor = self.fc2(nn.functional.gelu(self.fc1(h)))
        return out


class TorchPort(PortLayers, PyTorchModelHubMixin):
    """With hubmixin's mixin."""


class RefTorchPort(PortLayers, huggingface_hub.PyTorchModelHubMixin):
    """With huggingface_hub's mixin (the reference)."""


MIXINS: list[type[PortLayers]] = [TorchPort, RefTorchPort]


L = TypeVar("L", bound=PortLayers)


def _trained(cls: type[L]) -> L:
    """A torch model in eval mode whose parameters and BatchNorm statistics all differ from their init."""
    torch.manual_seed(0)
    model = cls()
    with torch.no_grad():
        for param in model.parameters():
            param.uniform_(-1, 1)
        assert model.bn.running_mean is not None and model.bn.running_var is not None
        assert model.bn.num_batches_tracked is not None
        model.bn.running_mean.uniform_(-1, 1)
        model.bn.running_var.uniform_(0.5, 2)
        model.bn.num_batches_tracked.add_(7)
    return model.eval()


def _inputs() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return torch.randn(2, 5, 6, 7, generator=generator), torch.tensor([1, 6])


def _torch_out(model: PortLayers) -> np.ndarray[Any, Any]:
    image, ids = _inputs()
    with torch.no_grad():
        out: np.ndarray[Any, Any] = model(image, ids).numpy()
    return out


def _flax_out(model: Port) -> np.ndarray[Any, Any]:
    image, ids = _inputs()
    return np.asarray(model(jnp.asarray(image.numpy().transpose(0, 2, 3, 1)), jnp.asarray(ids.numpy())))


@pytest.mark.parametrize("cls", MIXINS, ids=["hubmixin_torch", "huggingface_hub"])
def test_a_torch_checkpoint_loads_strictly_into_the_flax_port(
    cls: type[PortLayers], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = _trained(cls)
    assert isinstance(model, TorchPort | RefTorchPort)
    model.save_pretrained(tmp_path)
    port = Port.from_pretrained(tmp_path, strict=True)  # num_batches_tracked in the file is not "unexpected"
    assert port._hub_mixin_config == {"channels": 5, "features": 4, "vocab": 7}
    np.testing.assert_allclose(_flax_out(port), _torch_out(model), rtol=0, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(port.bn.mean.get_value()), model.bn.running_mean)
    capsys.readouterr()


def _flax_port(tmp_path: Path) -> tuple[Port, Path]:
    port = Port.from_pretrained(_saved_torch(tmp_path))  # trained values, through the torch checkpoint
    port.save_pretrained(tmp_path / "flax")
    return port, tmp_path / "flax"


def _saved_torch(tmp_path: Path) -> Path:
    _trained(TorchPort).save_pretrained(tmp_path / "torch")
    return tmp_path / "torch"


@pytest.mark.parametrize(
    "cls",
    [
        pytest.param(TorchPort, id="hubmixin_torch"),
        pytest.param(RefTorchPort, id="huggingface_hub"),
    ],
)
def test_a_flax_checkpoint_loads_strictly_into_torch(
    cls: type[PortLayers], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port, directory = _flax_port(tmp_path)
    assert isinstance(cls, type) and issubclass(cls, TorchPort | RefTorchPort)
    model = cls.from_pretrained(directory, strict=True)
    capsys.readouterr()
    assert isinstance(model, PortLayers) and not model.training
    np.testing.assert_allclose(_torch_out(model), _flax_out(port), rtol=0, atol=1e-5)


def test_a_flax_checkpoint_loads_into_hubmixin_torch(tmp_path: Path) -> None:
    port, directory = _flax_port(tmp_path)
    model = TorchPort.from_pretrained(directory)
    assert not model.training
    np.testing.assert_allclose(_torch_out(model), _flax_out(port), rtol=0, atol=1e-5)
    kernel = np.asarray(port.conv.kernel.get_value())  # (kh, kw, in, out)
    assert torch.equal(model.conv.weight.detach(), torch.tensor(kernel.transpose(3, 2, 0, 1)))


class GatedTorch(nn.MultiheadAttention):
    """An attention with one more layer of its own, in torch."""

    def __init__(self, dim: int) -> None:
        super().__init__(dim, 2, batch_first=True)
        self.gate = nn.Linear(dim, dim)


class TorchGated(nn.Module, PyTorchModelHubMixin):
    def __init__(self, dim: int = 8) -> None:
        super().__init__()
        self.attn = GatedTorch(dim)


def test_a_layer_inside_an_attention_maps_by_its_own_type(tmp_path: Path) -> None:
    from flax import nnx

    from hubmixin_flax import FlaxModelHubMixin

    class GatedFlax(nnx.MultiHeadAttention):
        def __init__(self, dim: int, *, rngs: nnx.Rngs) -> None:
            super().__init__(2, dim, decode=False, normalize_qk=True, rngs=rngs)
            self.gate = nnx.Linear(dim, dim, rngs=rngs)

    class FlaxGated(nnx.Module, FlaxModelHubMixin):
        def __init__(self, dim: int = 8, *, rngs: nnx.Rngs) -> None:
            self.attn = GatedFlax(dim, rngs=rngs)

    torch.manual_seed(0)
    source = TorchGated()
    source.save_pretrained(tmp_path / "torch")
    port = FlaxGated.from_pretrained(tmp_path / "torch")
    expected = source.attn.gate.weight.detach().numpy().T
    np.testing.assert_array_equal(np.asarray(port.attn.gate.kernel[...]), expected)
    port.save_pretrained(tmp_path / "flax")
    with safe_open(tmp_path / "flax" / "model.safetensors", "np") as file:
        keys = set(file.keys())
    assert {"attn.gate.weight", "attn.gate.bias", "attn.query_ln.weight", "attn.in_proj_weight"} <= keys
