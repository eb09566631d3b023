"""Interchange with PyTorch: a torch model and its Keras port (same module tree) read each other's checkpoints.

Layout differences the comparison accounts for: images are NCHW in torch and NHWC in Keras; the port sets
torch's epsilons, VALID padding, exact GELU, and BatchNorm on its running statistics (torch's eval mode).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import huggingface_hub
import keras
import numpy as np
import pytest
from keras_models import Port, numpy, outputs
from safetensors.numpy import load_file

from hubmixin_keras import KerasModelHubMixin

pytest.importorskip("torch")
pytest.importorskip("hubmixin_torch")

import torch
from torch import nn

from hubmixin_torch import PyTorchModelHubMixin


class TorchBlock(nn.Module):
    def __init__(self, features: int) -> None:
        super().__init__()
        self.dense = nn.Linear(features, features)
        self.norm = nn.BatchNorm1d(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.norm(self.dense(x))
        return out


class PortLayers(nn.Module):
    """What ``keras_models.Port`` computes, in torch."""

    def __init__(self, channels: int = 5, features: int = 4, vocab: int = 7, depth: int = 2) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, features, kernel_size=(3, 2))
        self.bn = nn.BatchNorm1d(features)
        self.embed = nn.Embedding(vocab, features)
        self.norm = nn.LayerNorm(features)
        self.blocks = nn.ModuleList([TorchBlock(features) for _ in range(depth)])
        self.fc1 = nn.Linear(features, 2 * features)
        self.fc2 = nn.Linear(2 * features, vocab)

    def forward(self, image: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        h = nn.functional.gelu(self.conv(image)).mean(dim=(2, 3))
        h = self.norm(self.bn(h) + self.embed(ids))
        for block in self.blocks:
            h = block(h)
        out: torch.Tensor = self.fc2(nn.functional.gelu(self.fc1(h)))
        return out


class TorchPort(PortLayers, PyTorchModelHubMixin):
    """With hubmixin's mixin."""


class RefTorchPort(PortLayers, huggingface_hub.PyTorchModelHubMixin):
    """With huggingface_hub's mixin (the reference)."""


MIXINS = [pytest.param(TorchPort, id="hubmixin_torch"), pytest.param(RefTorchPort, id="huggingface_hub")]
CONFIG = {"channels": 5, "features": 4, "vocab": 7, "depth": 2}

L = TypeVar("L", bound=PortLayers)


def _trained(cls: type[L]) -> L:
    """A torch model in eval mode whose parameters and BatchNorm statistics all differ from their init."""
    torch.manual_seed(0)
    model = cls()
    with torch.no_grad():
        for param in model.parameters():
            param.uniform_(-1, 1)
        for module in model.modules():
            if isinstance(module, nn.BatchNorm1d):
                assert module.running_mean is not None and module.running_var is not None
                assert module.num_batches_tracked is not None
                module.running_mean.uniform_(-1, 1)
                module.running_var.uniform_(0.5, 2)
                module.num_batches_tracked.add_(7)
    return model.eval()


def _inputs() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return torch.randn(2, 5, 6, 7, generator=generator), torch.tensor([1, 6])


def _torch_out(model: nn.Module) -> np.ndarray[Any, Any]:
    image, ids = _inputs()
    with torch.no_grad():
        out: np.ndarray[Any, Any] = model(image, ids).numpy()
    return out


def _keras_out(model: Port) -> np.ndarray[Any, Any]:
    image, ids = _inputs()
    return outputs(model, image.numpy().transpose(0, 2, 3, 1), ids.numpy())[0]


@pytest.mark.parametrize("cls", MIXINS)
def test_a_torch_checkpoint_loads_strictly_into_the_keras_port(
    cls: type[PortLayers], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = _trained(cls)
    assert isinstance(model, TorchPort | RefTorchPort)
    model.save_pretrained(tmp_path)
    assert "bn.num_batches_tracked" in load_file(tmp_path / "model.safetensors")
    port = Port.from_pretrained(tmp_path, strict=True)  # num_batches_tracked in the file is not "unexpected"
    assert port._hub_mixin_config == CONFIG
    np.testing.assert_allclose(_keras_out(port), _torch_out(model), rtol=0, atol=1e-5)
    np.testing.assert_array_equal(numpy(port.bn.moving_mean), model.get_buffer("bn.running_mean").numpy())
    dense = model.get_parameter("blocks.1.dense.weight").detach().numpy()
    np.testing.assert_array_equal(numpy(port.blocks[1].dense.kernel), dense.T)
    capsys.readouterr()


def _keras_port(tmp_path: Path) -> tuple[Port, Path]:
    """A Keras port with trained values (through a torch checkpoint), saved by Keras."""
    _trained(TorchPort).save_pretrained(tmp_path / "torch")
    port = Port.from_pretrained(tmp_path / "torch")
    port.save_pretrained(tmp_path / "keras")
    return port, tmp_path / "keras"


@pytest.mark.parametrize("cls", MIXINS)
def test_a_keras_checkpoint_loads_strictly_into_torch(
    cls: type[PortLayers], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port, directory = _keras_port(tmp_path)
    assert not any("num_batches_tracked" in key for key in load_file(directory / "model.safetensors"))
    assert isinstance(cls, type) and issubclass(cls, TorchPort | RefTorchPort)
    model = cls.from_pretrained(directory, strict=True)
    capsys.readouterr()
    assert isinstance(model, PortLayers) and not model.training
    np.testing.assert_allclose(_torch_out(model), _keras_out(port), rtol=0, atol=1e-5)
    kernel = numpy(port.conv.kernel)  # (kh, kw, in, out)
    assert torch.equal(model.conv.weight.detach(), torch.tensor(kernel.transpose(3, 2, 0, 1)))


class TorchConvNorm(nn.Module, PyTorchModelHubMixin):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.bn(self.conv(x))
        return out


class KerasConvNorm(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv2D(4, 3)
        self.bn = keras.layers.BatchNormalization(epsilon=1e-5)

    def call(self, x: Any) -> Any:
        return self.bn(self.conv(x), training=False)


def test_a_torch_batch_norm_2d_loads_into_keras(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = TorchConvNorm().eval()
    assert model.bn.running_var is not None
    with torch.no_grad():
        model.bn.running_var.uniform_(0.5, 2)
    model.save_pretrained(tmp_path)
    port = KerasConvNorm.from_pretrained(tmp_path, strict=True)
    image = torch.randn(2, 3, 5, 5, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = model(image).numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(outputs(port, image.numpy().transpose(0, 2, 3, 1))[0], expected, rtol=0, atol=1e-5)


def _wrapped_block() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5))


class TorchWrapping(nn.Module, PyTorchModelHubMixin):
    def __init__(self) -> None:
        super().__init__()
        self.net = _wrapped_block()
        self.head = nn.Linear(5, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.net(x))
        return out


class KerasWrapping(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """A torch module inside a Keras model (``TorchModuleWrapper``: PyTorch backend only)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.net = keras.layers.TorchModuleWrapper(_wrapped_block())
        self.head = keras.layers.Dense(3)

    def call(self, x: Any, training: bool | None = None) -> Any:
        return self.head(self.net(x, training=training))


@pytest.mark.skipif(keras.backend.backend() != "torch", reason="TorchModuleWrapper runs on the PyTorch backend")
def test_a_wrapped_torch_module_saves_its_state_dict_under_torch_names(tmp_path: Path) -> None:
    model = KerasWrapping()
    x = np.random.default_rng(0).standard_normal((8, 4)).astype("float32")
    model(x, training=True)  # BatchNorm's running statistics move away from their initial values
    model.save_pretrained(tmp_path / "keras")
    expected = {"net.0.weight", "net.0.bias", "net.1.weight", "net.1.bias", "net.1.running_mean"}
    expected |= {"net.1.running_var", "net.1.num_batches_tracked", "head.weight", "head.bias"}
    assert set(load_file(tmp_path / "keras" / "model.safetensors")) == expected
    loaded = KerasWrapping.from_pretrained(tmp_path / "keras", strict=True)
    for name, tensor in model.net.module.state_dict().items():
        assert torch.equal(loaded.net.module.state_dict()[name], tensor), name
    np.testing.assert_array_equal(outputs(loaded, x, training=False)[0], outputs(model, x, training=False)[0])

    torch_model = TorchWrapping.from_pretrained(tmp_path / "keras", strict=True).eval()  # and the torch port
    np.testing.assert_allclose(
        torch_model(torch.from_numpy(x)).detach().numpy(), outputs(model, x, training=False)[0], atol=1e-6
    )
    torch_model.save_pretrained(tmp_path / "torch")
    again = KerasWrapping.from_pretrained(tmp_path / "torch", strict=True)
    np.testing.assert_array_equal(outputs(again, x, training=False)[0], outputs(model, x, training=False)[0])


class TiedHead(keras.layers.Layer):  # type: ignore[misc]
    """Projects onto the vocabulary with the embedding matrix it is given."""

    def tie(self, variable: Any) -> None:
        self.weight = variable

    def call(self, h: Any) -> Any:
        return keras.ops.matmul(h, keras.ops.transpose(self.weight))


class TiedLM(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, vocab: int = 10, dim: int = 4) -> None:
        super().__init__()
        self.emb = keras.layers.Embedding(vocab, dim)
        self.head = TiedHead()
        self.emb.build((None,))
        self.head.tie(self.emb.embeddings)

    def call(self, ids: Any) -> Any:
        return self.head(self.emb(ids))


class TorchTiedLM(nn.Module, PyTorchModelHubMixin):
    def __init__(self, vocab: int = 10, dim: int = 4) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.head = nn.Linear(dim, vocab, bias=False)
        self.head.weight = self.emb.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.emb(ids))
        return out


def test_a_variable_two_layers_hold_is_saved_once_as_torch_ties_it(tmp_path: Path) -> None:
    ids = np.array([[1, 2, 3]])
    model = TiedLM()
    model.emb.embeddings.assign(np.random.default_rng(0).standard_normal((10, 4)).astype(np.float32))
    model.save_pretrained(tmp_path / "keras")
    assert list(load_file(tmp_path / "keras" / "model.safetensors")) == ["emb.weight"]
    loaded = TiedLM.from_pretrained(tmp_path / "keras", strict=True)
    assert loaded.head.weight is loaded.emb.embeddings
    np.testing.assert_array_equal(numpy(loaded(ids)), numpy(model(ids)))

    port = TorchTiedLM.from_pretrained(tmp_path / "keras", strict=True)
    with torch.no_grad():
        np.testing.assert_allclose(port(torch.as_tensor(ids)).numpy(), numpy(model(ids)), rtol=1e-6, atol=1e-6)
        port.emb.weight.mul_(2)
    port.save_pretrained(tmp_path / "torch")
    back = TiedLM.from_pretrained(tmp_path / "torch", strict=True)
    np.testing.assert_array_equal(numpy(back.head.weight), port.emb.weight.detach().numpy())


def test_a_wrapped_layer_sharing_its_kernel_saves_it_in_each_layout(tmp_path: Path) -> None:
    """The wrapper holds the ``Dense`` kernel raw (``[in, out]``), the ``Dense`` as PyTorch's ``Linear``: a tied
    name cannot say to transpose, so it is saved under each path in its layout."""

    class Normalized(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.sn = keras.layers.SpectralNormalization(keras.layers.Dense(3))

        def call(self, x: Any) -> Any:
            return self.sn(x)

    x = np.ones((2, 4), np.float32)
    model = Normalized()
    model(x)
    model.save_pretrained(tmp_path)
    tensors = load_file(tmp_path / "model.safetensors")
    np.testing.assert_array_equal(tensors["sn.kernel"], tensors["sn.layer.weight"].T)
    loaded = Normalized.from_pretrained(tmp_path, strict=True)
    assert [numpy(v).tobytes() for v in loaded.weights] == [numpy(v).tobytes() for v in model.weights]


class AliasedBlocks(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """Holds its first block at two paths: Keras names it ``first`` (a layer attribute comes before a list)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.blocks = [keras.layers.Dense(3), keras.layers.Dense(3)]
        self.first = self.blocks[0]
        self.also = {"x": self.blocks[0]}  # a third path

    def call(self, x: Any) -> Any:
        return self.blocks[1](self.blocks[0](x))


class TorchBlocks(nn.Module, PyTorchModelHubMixin):
    """The same blocks, named once (``blocks.0``)."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([nn.Linear(3, 3), nn.Linear(3, 3)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.blocks[1](self.blocks[0](x))
        return out


def test_a_layer_held_at_two_paths_exchanges_with_a_port_naming_it_once(tmp_path: Path) -> None:
    x = np.random.default_rng(0).random((2, 3)).astype("float32")
    torch_model = TorchBlocks().eval()
    torch_model.save_pretrained(tmp_path / "torch")
    ported = AliasedBlocks.from_pretrained(tmp_path / "torch", strict=True)
    with torch.no_grad():
        expected = torch_model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(numpy(ported(x)), expected, rtol=1e-6, atol=1e-6)

    keras_model = AliasedBlocks()
    keras_model(x)
    keras_model.save_pretrained(tmp_path / "keras")
    back = TorchBlocks.from_pretrained(tmp_path / "keras", strict=True)
    with torch.no_grad():
        np.testing.assert_allclose(back(torch.from_numpy(x)).numpy(), numpy(keras_model(x)), rtol=1e-6, atol=1e-6)
