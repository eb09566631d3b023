"""What ``__init__`` does to the Parameter objects it makes, and the plain values it reads from them, hold after
``from_pretrained`` as after huggingface_hub's normal construction; a layer the checkpoint lacks starts from the
caller's random state."""

from __future__ import annotations

import dataclasses
import logging
import weakref
from pathlib import Path

import pytest
import torch
from torch import nn

from hubmixin_torch import PyTorchModelHubMixin, _construct

_FALLBACK = "constructing normally"
"""What the log says where a model could not be built without weights."""


def _built_normally(caplog: pytest.LogCaptureFixture) -> bool:
    return any(_FALLBACK in record.getMessage() for record in caplog.records)


def _tagged(*shape: int) -> nn.Parameter:
    """A Parameter tagged by a helper, as libraries tag those their optimiser leaves out of weight decay."""
    param = nn.Parameter(torch.zeros(*shape))
    param._no_weight_decay = True  # type: ignore[attr-defined]
    return param


class Tagged(nn.Module, PyTorchModelHubMixin):
    """Tags, freezes and hooks its Parameters through the objects it made, before and after registering them."""

    def __init__(self, n: int = 3) -> None:
        super().__init__()
        self.fc = nn.Linear(n, n)
        a_log = nn.Parameter(torch.zeros(n))
        a_log._no_weight_decay = True  # type: ignore[attr-defined]  # before registering it (mamba_ssm's A_log)
        self.A_log = a_log
        bias = nn.Parameter(torch.zeros(n))
        bias.sequence_parallel = True  # type: ignore[attr-defined]  # Megatron's tag
        self.register_parameter("extra_bias", bias)
        self.scales = nn.ParameterList([_tagged(n) for _ in range(2)])
        gamma = nn.Parameter(torch.ones(n))
        self.register_parameter("gamma", gamma)
        gamma._no_weight_decay = True  # type: ignore[attr-defined]  # through the local name, after registering
        pos = nn.Parameter(torch.zeros(1, n))
        self.pos = pos
        pos.requires_grad_(False)  # frozen through the local name, after registering
        mask = nn.Parameter(torch.ones(n))
        mask.register_hook(lambda grad: grad * 0)  # type: ignore[no-untyped-call]  # a gradient mask
        mask.register_post_accumulate_grad_hook(lambda t: setattr(t, "accumulated", True))  # type: ignore[no-untyped-call]
        self.mask = mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.fc(x) * self.mask + self.A_log + self.extra_bias + self.gamma + self.pos
        return out


@pytest.fixture
def saved_tagged(tmp_path: Path) -> tuple[Tagged, Path]:
    torch.manual_seed(0)
    model = Tagged()
    with torch.no_grad():
        for param in model.parameters():
            param.uniform_()
    model.save_pretrained(tmp_path)
    return model, tmp_path


@pytest.mark.parametrize("let_go", [False, True], ids=["held", "let-go-at-each-registration"])
def test_what_init_did_through_its_parameter_objects_holds_after_loading(
    saved_tagged: tuple[Tagged, Path], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, let_go: bool
) -> None:
    if let_go:  # the Parameters only the construction holds are freed as it goes, past this many bytes
        monkeypatch.setattr(_construct, "_HELD_BYTES", 0)
    model, path = saved_tagged
    with caplog.at_level(logging.INFO, logger="hubmixin_torch"):
        loaded = Tagged.from_pretrained(path, strict=True)
    no_decay = sorted(n for n, p in loaded.named_parameters() if getattr(p, "_no_weight_decay", False))
    assert no_decay == ["A_log", "gamma", "scales.0", "scales.1"]  # was []: the tags were lost
    assert getattr(loaded.extra_bias, "sequence_parallel", False) is True
    assert loaded.pos.requires_grad is False  # was True: a parameter frozen in __init__ trained after loading
    assert all(p.requires_grad for n, p in loaded.named_parameters() if n != "pos")
    for name, param in loaded.state_dict().items():
        assert torch.equal(param, model.state_dict()[name]), name
    assert not _built_normally(caplog)  # still built without weights: nothing initialised


def test_gradient_hooks_registered_on_a_parameter_before_registering_it_run_after_loading(
    saved_tagged: tuple[Tagged, Path],
) -> None:
    _, path = saved_tagged
    loaded = Tagged.from_pretrained(path)
    loaded(torch.ones(1, 3)).sum().backward()
    assert loaded.mask.grad is not None and torch.equal(loaded.mask.grad, torch.zeros(3))  # was the gradient
    assert getattr(loaded.mask, "accumulated", False) is True  # the post-accumulate hook ran


class Filled(nn.Module, PyTorchModelHubMixin):
    """Fills its Parameters in ``__init__``, and tells which of those it made first are still alive at the end."""

    def __init__(self, n: int = 4) -> None:
        super().__init__()
        made = []
        for i in range(3):
            param = nn.Parameter(torch.randn(n))
            made.append(weakref.ref(param))
            self.register_parameter(f"p{i}", param)
        del param
        self.last = nn.Parameter(torch.randn(n))
        self.alive = [ref() is not None for ref in made]


@pytest.mark.parametrize("limit", [0, 1 << 30])
def test_parameters_only_the_construction_holds_are_freed_past_a_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    Filled().save_pretrained(tmp_path)
    monkeypatch.setattr(_construct, "_HELD_BYTES", limit)
    loaded = Filled.from_pretrained(tmp_path, strict=True)
    assert loaded.alive == [limit > 0] * 3  # held to the end below the limit (a change through them counts)


class Embedded(nn.Module, PyTorchModelHubMixin):
    """Ties its head to an embedding given to ``__init__`` and freezes it through the module."""

    def __init__(self, emb: nn.Embedding | None = None) -> None:
        super().__init__()
        self.emb = emb if emb is not None else nn.Embedding(5, 3)
        self.head = nn.Linear(3, 5, bias=False)
        self.head.weight = self.emb.weight
        self.head.weight.requires_grad_(False)
        self.head.weight.frozen_by = "init"  # type: ignore[attr-defined]


def test_a_given_parameter_tied_in_init_stays_the_callers_with_what_init_did_to_it(tmp_path: Path) -> None:
    torch.manual_seed(0)
    Embedded().save_pretrained(tmp_path)
    given = nn.Embedding(5, 3)
    loaded = Embedded.from_pretrained(tmp_path, model_kwargs={"emb": given})
    assert loaded.head.weight is given.weight is loaded.emb.weight
    assert given.weight.requires_grad is False and getattr(given.weight, "frozen_by", None) == "init"


class NewHead(nn.Module, PyTorchModelHubMixin):
    """Draws a random buffer in ``__init__`` besides its layers; ``head`` is not in the checkpoint."""

    def __init__(self, head: bool = False) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 3)
        if head:
            self.head = nn.Linear(3, 2)
        self.register_buffer("perm", torch.randperm(3), persistent=False)


def test_a_layer_the_checkpoint_lacks_starts_as_a_plain_construction_from_the_same_seed(tmp_path: Path) -> None:
    NewHead().save_pretrained(tmp_path)
    torch.manual_seed(123)
    loaded = NewHead.from_pretrained(tmp_path, model_kwargs={"head": True})
    after_load = torch.random.get_rng_state()
    torch.manual_seed(123)
    plain = NewHead(head=True)
    assert torch.equal(loaded.head.weight, plain.head.weight)  # was drawn from the meta construction's state
    assert torch.equal(loaded.head.bias, plain.head.bias)
    assert torch.equal(after_load, torch.random.get_rng_state())  # as after huggingface_hub's one construction


class DeviceAware(nn.Module, PyTorchModelHubMixin):
    """Reads its weight's device type in ``__init__`` for later use, as ``torch.autocast(device_type=...)``."""

    def __init__(self, n: int = 3) -> None:
        super().__init__()
        self.fc = nn.Linear(n, n)
        self.device_type = self.fc.weight.device.type

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.fc(x) + torch.zeros(x.shape[-1], device=self.device_type)
        return out


class DeviceInSettings(nn.Module, PyTorchModelHubMixin):
    """Keeps its weight's device, as a string, deep in a structure."""

    def __init__(self, n: int = 3) -> None:
        super().__init__()
        self.fc = nn.Linear(n, n)
        self.settings = {"run": [("devices", [str(self.fc.weight.device)])]}


def test_a_device_type_read_from_a_parameter_in_init_is_the_loaded_ones(tmp_path: Path) -> None:
    DeviceAware().save_pretrained(tmp_path / "aware")
    loaded = DeviceAware.from_pretrained(tmp_path / "aware")
    assert loaded.device_type == "cpu"  # was "meta"
    assert loaded(torch.ones(1, 3)).device.type == "cpu"  # failed: a meta tensor added to a CPU one
    DeviceInSettings().save_pretrained(tmp_path / "settings")
    assert DeviceInSettings.from_pretrained(tmp_path / "settings").settings == {"run": [("devices", ["cpu"])]}


class DeviceFlags(nn.Module, PyTorchModelHubMixin):
    """Keeps flags read from its weight in ``__init__``."""

    def __init__(self, n: int = 3) -> None:
        super().__init__()
        self.fc = nn.Linear(n, n)
        self.use_cpu_path = self.fc.weight.is_cpu
        self.on_cuda = self.fc.weight.is_cuda


def test_device_flags_read_from_a_parameter_in_init_tell_its_device(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    DeviceFlags().save_pretrained(tmp_path)
    with caplog.at_level(logging.INFO, logger="hubmixin_torch"):
        loaded = DeviceFlags.from_pretrained(tmp_path)
    assert (loaded.use_cpu_path, loaded.on_cuda) == (True, False)  # use_cpu_path was False
    assert loaded.fc.weight.is_cpu and not loaded.fc.weight.is_meta
    assert not _built_normally(caplog)


class Resized(nn.Module, PyTorchModelHubMixin):
    """Gives registered Parameters other data through ``__init__``'s own names for them."""

    def __init__(self) -> None:
        super().__init__()
        table = nn.Parameter(torch.zeros(4))
        self.table = table
        table.data = torch.arange(6.0)  # resized once its real size is known
        scale = nn.Parameter(torch.ones(3))
        self.scale = scale
        scale.data = scale.data.double()


@pytest.mark.parametrize("strict", [False, True])
def test_data_given_through_inits_own_name_after_registering_loads(strict: bool, tmp_path: Path) -> None:
    Resized().save_pretrained(tmp_path)
    loaded = Resized.from_pretrained(tmp_path, strict=strict)
    assert torch.equal(loaded.table, torch.arange(6.0))
    assert loaded.scale.dtype == torch.float64 and torch.equal(loaded.scale, torch.ones(3, dtype=torch.float64))


@dataclasses.dataclass(eq=False)
class DataclassNet(nn.Module, PyTorchModelHubMixin):
    """A dataclass model: ``torch.nn.Module`` has an ``__init__`` of its own, the dataclass makes the model's."""

    width: int = 3
    out: int = 2

    def __post_init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(self.width, self.out)


def test_a_dataclass_module_is_built_by_its_dataclass_init(tmp_path: Path) -> None:
    model = DataclassNet(5, out=4)
    assert model.fc.weight.shape == (4, 5) and model._hub_mixin_config == {"width": 5, "out": 4}
    model.save_pretrained(tmp_path)
    loaded = DataclassNet.from_pretrained(tmp_path, strict=True)
    assert (loaded.width, loaded.out) == (5, 4) and torch.equal(loaded.fc.weight, model.fc.weight)
