"""What ``__init__`` does beyond registering layers, and still loads as huggingface_hub's mixin loads it: tensors
computed from parameters, ties made by sharing ``.data``, a ``tie_weights`` of another meaning, devices."""

from __future__ import annotations

import weakref
from pathlib import Path

import huggingface_hub
import pytest
import torch
from torch import nn

from hubmixin_core.errors import DeviceError
from hubmixin_torch import PyTorchModelHubMixin


class Derived(nn.Module, PyTorchModelHubMixin):
    """Keeps a plain tensor computed from a parameter in ``__init__``."""

    def __init__(self, dim: int = 4) -> None:
        super().__init__()
        self.fc = nn.Linear(dim, dim)
        self.cache = self.fc.weight.detach().clone()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.fc(x) + x @ self.cache
        return out


def test_a_tensor_computed_from_a_parameter_in_init_is_real(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = Derived()
    model.save_pretrained(tmp_path)
    loaded = Derived.from_pretrained(tmp_path)  # once left on the meta device: the forward gave garbage
    assert loaded.cache.device.type == "cpu" and loaded.cache.shape == (4, 4)
    assert torch.equal(loaded.fc.weight, model.fc.weight)
    x = torch.randn(2, 4)
    assert torch.equal(loaded(x), loaded.fc(x) + x @ loaded.cache)


class DataTied(nn.Module, PyTorchModelHubMixin):
    """Ties its head to its embedding by sharing the tensor's memory (two Parameters, one storage)."""

    def __init__(self, vocab: int = 7, dim: int = 4) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.head = nn.Linear(dim, vocab, bias=False)
        self.head.weight.data = self.emb.weight.data

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.emb(ids))
        return out


class ReferenceDataTied(DataTied, huggingface_hub.PyTorchModelHubMixin):  # type: ignore[misc]
    """The same model under huggingface_hub's mixin, which saves the head once (safetensors' ``save_model``)."""


@pytest.mark.parametrize("writer", [DataTied, ReferenceDataTied])
def test_a_tie_made_by_sharing_data_is_restored(writer: type[DataTied], tmp_path: Path) -> None:
    torch.manual_seed(1)
    model = writer()
    nn.init.normal_(model.emb.weight)
    model.save_pretrained(tmp_path)
    loaded = DataTied.from_pretrained(tmp_path, strict=True)  # the head was missing: an error, or random
    assert loaded.head.weight is not loaded.emb.weight  # two Parameters, as built
    assert loaded.head.weight.data_ptr() == loaded.emb.weight.data_ptr()  # on one memory, as built
    ids = torch.tensor([[1, 2, 6]])
    assert torch.equal(loaded(ids), model(ids))


class OwnTieWeights(nn.Module, PyTorchModelHubMixin):
    """Has a ``tie_weights`` that is not transformers' (it takes an argument)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2, 2)

    def tie_weights(self, other: OwnTieWeights) -> None:
        self.fc.weight = other.fc.weight


def test_a_tie_weights_taking_arguments_is_not_called(tmp_path: Path) -> None:
    model = OwnTieWeights()
    model.save_pretrained(tmp_path)
    assert torch.equal(OwnTieWeights.from_pretrained(tmp_path).fc.weight, model.fc.weight)


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="this machine has an MPS device")
def test_a_device_this_machine_lacks_is_a_device_error(tmp_path: Path) -> None:
    Derived().save_pretrained(tmp_path)
    with pytest.raises(DeviceError, match="map_location='mps'") as info:
        Derived.from_pretrained(tmp_path, map_location="mps")
    assert isinstance(info.value, RuntimeError) and len(str(info.value)) < 400


class Recurrent(nn.Module, PyTorchModelHubMixin):
    """An LSTM and a GRU: torch's RNNs keep a list of their own parameters (``_flat_weights``)."""

    def __init__(self, dim: int = 4) -> None:
        super().__init__()
        self.lstm = nn.LSTM(dim, dim, num_layers=2, batch_first=True)
        self.gru = nn.GRU(dim, dim, bidirectional=True, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.gru(self.lstm(x)[0])[0]
        return out


def test_rnns_are_built_without_initialising_their_weights(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    torch.manual_seed(2)
    model = Recurrent().eval()
    model.save_pretrained(tmp_path)
    with caplog.at_level("INFO", logger="hubmixin_torch"):
        loaded = Recurrent.from_pretrained(tmp_path)
    assert "constructing normally" not in caplog.text  # its parameter list no longer forces a full construction
    flat = loaded.lstm._flat_weights + loaded.gru._flat_weights
    assert all(w is not None and w.device.type == "cpu" for w in flat)
    assert loaded.lstm._flat_weights[0] is loaded.lstm.weight_ih_l0  # the list follows the loaded parameters
    x = torch.randn(2, 3, 4)
    assert torch.equal(loaded(x), model(x))


class Backbone(nn.Module, PyTorchModelHubMixin):
    def __init__(self, dim: int = 8) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))


class WithPretrainedBackbone(nn.Module, PyTorchModelHubMixin):
    """Loads a pretrained part of itself in ``__init__``, as fine-tuning code does."""

    def __init__(self, backbone: str, classes: int = 3) -> None:
        super().__init__()
        self.backbone = Backbone.from_pretrained(backbone)
        self.head = nn.Linear(8, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.backbone.body(x))
        return out


def test_a_load_inside_init_is_built_without_weights_too(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch.manual_seed(3)
    Backbone().save_pretrained(tmp_path / "backbone")
    model = WithPretrainedBackbone(str(tmp_path / "backbone")).eval()
    with torch.no_grad():
        first: nn.Linear = model.backbone.body[0]  # type: ignore[assignment]
        first.bias.add_(1.0)  # fine-tuned: the outer checkpoint's backbone differs from its repo's
    model.save_pretrained(tmp_path / "outer")
    initialised: list[nn.Linear] = []
    reset = nn.Linear.reset_parameters

    def counting(layer: nn.Linear) -> None:
        if not layer.weight.is_meta:
            initialised.append(layer)
        reset(layer)

    monkeypatch.setattr(nn.Linear, "reset_parameters", counting)
    with caplog.at_level("INFO", logger="hubmixin_torch"):
        loaded = WithPretrainedBackbone.from_pretrained(tmp_path / "outer")
    assert "constructing normally" not in caplog.text and not initialised  # once: 5 random initialisations
    x = torch.randn(2, 8)
    assert torch.equal(loaded(x), model(x))  # the fine-tuned weights, from the outer checkpoint


class TaggedParameter(nn.Parameter):
    """A Parameter subclass a library marks some weights with."""


class Marked(nn.Module, PyTorchModelHubMixin):
    """Marks its parameters in ``__init__`` as libraries do for their optimiser (mamba_ssm's ``_no_weight_decay``),
    hooks a gradient, keeps a list of some parameters and ties its head to its embedding."""

    def __init__(self, dim: int = 4) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(dim))
        self.scale._no_weight_decay = True  # type: ignore[attr-defined]
        self.scale.register_hook(lambda grad: grad * 0)  # type: ignore[no-untyped-call]
        self.emb = nn.Embedding(6, dim)
        self.head = nn.Linear(dim, 6, bias=False)
        self.head.weight = self.emb.weight
        self.frozen = nn.Linear(dim, dim)
        self.frozen.requires_grad_(False)
        self.tagged = TaggedParameter(torch.zeros(dim))
        self.decayed = [self.frozen.weight, self.tagged]

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.frozen(self.emb(ids)) * self.scale + self.tagged)
        return out


@pytest.mark.parametrize("load", ["from_pretrained", "_load_as_safetensor"])
def test_what_init_did_to_its_parameters_stays(load: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = Marked()
    with torch.no_grad():
        model.scale.mul_(3)
        model.tagged.add_(2)
    model.save_pretrained(tmp_path)
    if load == "from_pretrained":
        loaded = Marked.from_pretrained(tmp_path)
    else:
        loaded = Marked._load_as_safetensor(Marked(), str(tmp_path / "model.safetensors"), "cpu", True)

    assert getattr(loaded.scale, "_no_weight_decay", False) is True
    assert type(loaded.tagged) is TaggedParameter
    assert not loaded.frozen.weight.requires_grad and loaded.scale.requires_grad
    assert loaded.head.weight is loaded.emb.weight
    assert loaded.decayed[0] is loaded.frozen.weight and loaded.decayed[1] is loaded.tagged
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    ids = torch.tensor([[0, 3, 5]])
    assert torch.equal(loaded(ids), model(ids))
    loaded(ids).sum().backward()
    assert loaded.scale.grad is not None and not loaded.scale.grad.any()  # the hook ran
    assert loaded.emb.weight.grad is not None and loaded.emb.weight.grad.any()


class WeaklyRegistered(nn.Module, PyTorchModelHubMixin):
    """Keeps its weight aside in a list, and in a registry holding it weakly."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 3)
        self.decay = [self.fc.weight]
        self.registry = weakref.WeakSet([self.fc.weight])
        self.ref = weakref.ref(self.fc.bias)


def test_weakly_referenced_parameters_are_the_loaded_ones_everywhere(tmp_path: Path) -> None:
    model = WeaklyRegistered()
    model.save_pretrained(tmp_path)
    loaded = WeaklyRegistered.from_pretrained(tmp_path)
    assert loaded.decay[0] is loaded.fc.weight and list(loaded.registry) == [loaded.fc.weight]
    assert loaded.ref() is loaded.fc.bias
    assert torch.equal(loaded.decay[0], model.fc.weight)


class PersistentView(nn.Module, PyTorchModelHubMixin):
    """Saves a flat view of its weight as a (persistent) buffer."""

    flat: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 2)
        self.register_buffer("flat", self.fc.weight.data.view(-1))


def test_a_persistent_buffer_viewing_a_parameter_stays_a_view(tmp_path: Path) -> None:
    model = PersistentView()
    model.save_pretrained(tmp_path)
    loaded = PersistentView.from_pretrained(tmp_path)
    assert torch.equal(loaded.fc.weight, model.fc.weight)
    assert loaded.flat.data_ptr() == loaded.fc.weight.data_ptr()
    with torch.no_grad():
        loaded.fc.weight.add_(1)
    assert torch.equal(loaded.flat, loaded.fc.weight.view(-1))
