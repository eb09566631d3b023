"""Loads that keep what ``__init__`` built, as huggingface_hub's in-place copy does: parameter layouts, devices and
views taken from parameters, modules kept out of the tree or given to ``__init__``, modules' own load hooks, lazy
modules, and the CPU named any way torch names it."""

from __future__ import annotations

import collections
import dataclasses
import functools
import json
import logging
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from hubmixin_core.errors import WeightsError, WeightsKeyError, WeightsShapeError
from hubmixin_torch import PyTorchModelHubMixin


def _round_trip(model: nn.Module, path: Path, **kwargs: Any) -> Any:
    model.save_pretrained(path)  # type: ignore[operator]
    return type(model).from_pretrained(path, **kwargs)  # type: ignore[attr-defined]


class Laid(nn.Module, PyTorchModelHubMixin):
    """A transposed weight and a channels_last convolution, as ``__init__`` lays them out."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(7, 1000).t())
        self.conv = nn.Conv2d(3, 8, 3).to(memory_format=torch.channels_last)  # type: ignore[call-overload]

    def forward(self, x: torch.Tensor, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x @ self.w, self.conv(image)


def test_parameters_keep_the_layout_init_gave_them(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = Laid().eval()
    loaded = _round_trip(model, tmp_path)
    assert loaded.w.stride() == model.w.stride() == (1, 1000)
    assert loaded.conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert loaded.w.data_ptr() % 64 == 0 and loaded.conv.weight.data_ptr() % 64 == 0
    x, image = torch.randn(1, 1000), torch.randn(1, 3, 9, 9).to(memory_format=torch.channels_last)
    with torch.no_grad():
        for expected, got in zip(model(x, image), loaded(x, image), strict=True):
            assert torch.equal(expected, got) and expected.stride() == got.stride()


class WithDevice(nn.Module, PyTorchModelHubMixin):
    """Keeps the device of its parameters, and a frozen helper module out of its tree."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 3)
        self.device = self.fc.weight.device
        helper = nn.Linear(3, 3, bias=False)
        with torch.no_grad():
            helper.weight.copy_(torch.eye(3) * 2)
        self._frozen = [helper]  # not a sub-module: never saved, built by __init__ alone

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.fc(self._frozen[0](x.to(self.device)))
        return out


def test_devices_and_modules_out_of_the_tree_are_built_for_real(tmp_path: Path) -> None:
    model = WithDevice().eval()
    loaded = _round_trip(model, tmp_path)
    assert loaded.device == torch.device("cpu")
    assert torch.equal(loaded._frozen[0].weight, torch.eye(3) * 2)
    x = torch.randn(2, 3)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


class Views(nn.Module, PyTorchModelHubMixin):
    """Views of a parameter taken in ``__init__``: a non-persistent buffer and (with ``attribute``) a plain one."""

    def __init__(self, attribute: bool = False) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 2)
        self.register_buffer("flat", self.fc.weight.detach().view(-1), persistent=False)
        if attribute:
            self.rows = self.fc.weight.detach()[0]


@pytest.mark.parametrize("attribute", [False, True])
def test_views_of_parameters_see_the_loaded_values(attribute: bool, tmp_path: Path) -> None:
    model = Views(attribute=attribute)
    loaded = _round_trip(model, tmp_path)
    assert torch.equal(loaded.fc.weight, model.fc.weight)
    assert torch.equal(loaded.flat, model.fc.weight.detach().view(-1))
    assert loaded.flat.data_ptr() == loaded.fc.weight.data_ptr()
    if attribute:
        assert torch.equal(loaded.rows, model.fc.weight[0])


class TiedToGiven(nn.Module, PyTorchModelHubMixin):
    """Ties its output head to an embedding given to ``__init__``."""

    def __init__(self, encoder: nn.Embedding, vocab: int = 11) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(4, vocab, bias=False)
        self.head.weight = self.encoder.weight


@pytest.mark.filterwarnings("ignore::hubmixin_core.errors.ConfigEncodingWarning")  # the module: given at load
def test_a_tie_to_a_given_module_stays_one_parameter(tmp_path: Path) -> None:
    model = TiedToGiven(encoder=nn.Embedding(11, 4))
    model.save_pretrained(tmp_path)
    loaded = TiedToGiven.from_pretrained(tmp_path, model_kwargs={"encoder": nn.Embedding(11, 4)})
    assert loaded.head.weight is loaded.encoder.weight
    assert len(list(loaded.parameters())) == 1
    assert torch.equal(loaded.encoder.weight, model.encoder.weight)


class Renaming(nn.Linear):
    """Version 2 renamed ``w``/``b`` to ``weight``/``bias``; it still reads version 1's checkpoints."""

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        for old, new in (("w", "weight"), ("b", "bias")):
            if prefix + old in state_dict:
                state_dict[prefix + new] = state_dict.pop(prefix + old)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class Versioned(nn.Module, PyTorchModelHubMixin):
    def __init__(self, hooked: bool = False) -> None:
        super().__init__()
        self.fc = Renaming(3, 2)
        self.out = nn.Linear(2, 2)
        if hooked:  # the same rename as a pre-hook, for the second layer
            self.out.register_load_state_dict_pre_hook(_rename_out)  # type: ignore[no-untyped-call]


def _rename_out(module: nn.Module, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
    if prefix + "kernel" in state_dict:
        state_dict[prefix + "weight"] = state_dict.pop(prefix + "kernel")


def _old_checkpoint(
    path: Path, weight_shape: tuple[int, int] = (2, 3), **extra: torch.Tensor
) -> dict[str, torch.Tensor]:
    """A checkpoint of version 1 (``fc.w``, ``out.kernel``), with tensors ``extra`` beside."""
    tensors = {
        "fc.w": torch.arange(6.0).reshape(weight_shape),
        "fc.b": torch.tensor([7.0, 8.0]),
        "out.kernel": torch.eye(2),
        "out.bias": torch.zeros(2),
        **extra,
    }
    path.mkdir()
    save_file(tensors, path / "model.safetensors")
    (path / "config.json").write_text(json.dumps({"hooked": True}))
    return tensors


@pytest.mark.parametrize("strict", [False, True])
def test_load_hooks_that_rename_keys_read_older_checkpoints(strict: bool, tmp_path: Path) -> None:
    tensors = _old_checkpoint(tmp_path / "v1")
    loaded = Versioned.from_pretrained(tmp_path / "v1", strict=strict)
    assert torch.equal(loaded.fc.weight, tensors["fc.w"]) and torch.equal(loaded.fc.bias, tensors["fc.b"])
    assert torch.equal(loaded.out.weight, tensors["out.kernel"])
    assert loaded.fc.weight.data_ptr() % 64 == 0


def test_keys_no_hook_takes_are_still_reported(tmp_path: Path) -> None:
    _old_checkpoint(tmp_path / "v1", stray=torch.ones(1))
    with pytest.raises(WeightsKeyError) as caught:
        Versioned.from_pretrained(tmp_path / "v1", strict=True)
    assert caught.value.unexpected == ["stray"] and caught.value.missing == []
    assert isinstance(caught.value, RuntimeError)
    loaded = Versioned.from_pretrained(tmp_path / "v1")  # without strict: loaded, the stray tensor reported
    assert torch.equal(loaded.fc.bias, torch.tensor([7.0, 8.0]))


def test_a_renamed_tensor_of_another_shape_is_a_shape_error(tmp_path: Path) -> None:
    _old_checkpoint(tmp_path / "v1", weight_shape=(3, 2))
    with pytest.raises(WeightsShapeError) as caught:
        Versioned.from_pretrained(tmp_path / "v1")
    assert caught.value.key == "fc.weight" and caught.value.found == (3, 2) and caught.value.expected == (2, 3)
    assert isinstance(caught.value, RuntimeError)


class Lazy(nn.Module, PyTorchModelHubMixin):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.LazyLinear(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.fc(x)
        return out


@pytest.mark.parametrize("strict", [False, True])
def test_lazy_modules_take_the_checkpoint_shapes(strict: bool, tmp_path: Path) -> None:
    model = Lazy()
    x = torch.randn(2, 5)
    expected = model(x)
    loaded = _round_trip(model, tmp_path, strict=strict)
    assert loaded.fc.weight.shape == (4, 5)
    with torch.no_grad():
        assert torch.equal(loaded(x), expected)


@pytest.mark.parametrize("map_location", [None, "cpu:0", torch.device("cpu", 0)])
@pytest.mark.parametrize("legacy", [False, True])
def test_the_cpu_by_any_name(map_location: Any, legacy: bool, tmp_path: Path) -> None:
    model = Views()
    model.save_pretrained(tmp_path)
    if legacy:  # a pytorch_model.bin, read by torch.load
        torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
        (tmp_path / "model.safetensors").unlink()
    loaded = Views.from_pretrained(tmp_path, map_location=map_location)
    assert loaded.fc.weight.device == torch.device("cpu")
    assert torch.equal(loaded.fc.weight, model.fc.weight)


class OwnLoad(nn.Module, PyTorchModelHubMixin):
    """Overrides ``load_state_dict`` with the signature of torch before 2.1, mapping version 1's ``dense`` keys."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def load_state_dict(self, state_dict: Any, strict: bool = True) -> Any:  # type: ignore[override]
        renamed = {k.replace("dense.", "fc."): v for k, v in state_dict.items()}
        return super().load_state_dict(renamed, strict=strict)


class OwnStateDict(nn.Module, PyTorchModelHubMixin):
    """Overrides ``state_dict`` and ``named_parameters`` with narrower signatures than torch's."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def state_dict(self) -> Any:  # type: ignore[override]
        return super().state_dict()

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Any:  # type: ignore[override]
        return super().named_parameters(prefix=prefix, recurse=recurse)


def test_a_models_own_load_state_dict_is_called(tmp_path: Path) -> None:
    model = OwnLoad()
    loaded = _round_trip(model, tmp_path / "own")
    assert torch.equal(loaded.fc.weight, model.fc.weight)
    (tmp_path / "v1").mkdir()
    save_file({"dense.weight": torch.ones(2, 3), "dense.bias": torch.zeros(2)}, tmp_path / "v1" / "model.safetensors")
    (tmp_path / "v1" / "config.json").write_text("{}")
    loaded = OwnLoad.from_pretrained(tmp_path / "v1", strict=True)
    assert torch.equal(loaded.fc.weight, torch.ones(2, 3))


def test_narrower_state_dict_and_named_parameters_overrides_load(tmp_path: Path) -> None:
    model = OwnStateDict()
    loaded = _round_trip(model, tmp_path, strict=True)
    assert torch.equal(loaded.fc.weight, model.fc.weight) and torch.equal(loaded.fc.bias, model.fc.bias)


class SavedAsWeight(nn.Module):
    """Keeps ``w`` but saves it as ``weight``, through torch's public state-dict hooks."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(3))
        self.register_state_dict_post_hook(_save_as_weight)  # type: ignore[no-untyped-call]
        self.register_load_state_dict_pre_hook(_load_from_weight)  # type: ignore[no-untyped-call]


def _save_as_weight(module: nn.Module, state_dict: dict[str, Any], prefix: str, metadata: Any) -> None:
    state_dict[prefix + "weight"] = state_dict.pop(prefix + "w")


def _load_from_weight(module: nn.Module, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
    if prefix + "weight" in state_dict:
        state_dict[prefix + "w"] = state_dict.pop(prefix + "weight")


class CopiesInPlace(nn.Linear):
    """Reads its tensors itself, copying them into its parameters (as layers unpacking a stored format do)."""

    def _load_from_state_dict(
        self, state_dict: dict[str, Any], prefix: str, metadata: Any, strict: bool, missing: list[str], *args: Any
    ) -> None:
        for name in ("weight", "bias"):
            if prefix + name not in state_dict:
                missing.append(prefix + name)
            elif name == "weight":
                with torch.no_grad():
                    self.weight.copy_(state_dict[prefix + name])
            else:
                self.bias.data = state_dict[prefix + name].clone()


class Hooked(nn.Module, PyTorchModelHubMixin):
    def __init__(self) -> None:
        super().__init__()
        self.scale = SavedAsWeight()
        self.fc = CopiesInPlace(3, 2)


@pytest.mark.parametrize("strict", [False, True])
def test_modules_with_state_dict_hooks_and_their_own_loading_round_trip(strict: bool, tmp_path: Path) -> None:
    model = Hooked()
    loaded = _round_trip(model, tmp_path, strict=strict)
    assert torch.equal(loaded.scale.w, model.scale.w)
    assert torch.equal(loaded.fc.weight, model.fc.weight) and torch.equal(loaded.fc.bias, model.fc.bias)


_SHARED = nn.Embedding(11, 4)


class TiedToDefault(nn.Module, PyTorchModelHubMixin):
    """Ties its head to an embedding it takes from a default argument (a process-wide module)."""

    def __init__(self, vocab: int = 11, encoder: nn.Embedding = _SHARED) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(4, vocab, bias=False)
        self.head.weight = self.encoder.weight


def test_a_tie_to_a_module_made_before_stays_one_parameter(tmp_path: Path) -> None:
    loaded = _round_trip(TiedToDefault(), tmp_path)
    assert loaded.head.weight is loaded.encoder.weight
    assert len(list(loaded.parameters())) == 1


class TorchsOwnHooks(nn.Module, PyTorchModelHubMixin):
    """torch layers whose state-dict hooks or loaders are torch's own: loaded by assignment all the same."""

    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(4)
        self.instance = nn.InstanceNorm1d(4, affine=True)
        self.lazy = nn.LazyLinear(4)
        self.normed = nn.utils.parametrizations.weight_norm(nn.Linear(4, 4))
        self.spectral = nn.utils.spectral_norm(nn.Linear(4, 4))


def test_torchs_own_hooks_keep_the_fast_load(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    model = TorchsOwnHooks()
    model.lazy(torch.randn(2, 3))
    caplog.set_level(logging.INFO, logger="hubmixin_torch")
    loaded = _round_trip(model, tmp_path, strict=True)
    assert "loads itself" not in caplog.text
    for (name, expected), got in zip(model.state_dict().items(), loaded.state_dict().values(), strict=True):
        assert torch.equal(expected, got), name


class LegacyNorm(nn.Module, PyTorchModelHubMixin):
    """Weight norm as torch.nn.utils.weight_norm writes it (``weight_g``/``weight_v``), or as its successor."""

    def __init__(self, legacy: bool = False) -> None:
        super().__init__()
        conv = nn.Conv1d(4, 4, 3, padding=1)
        if legacy:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                self.conv = nn.utils.weight_norm(conv)
        else:
            self.conv = nn.utils.parametrizations.weight_norm(conv)


@pytest.mark.parametrize("strict", [False, True])
def test_an_older_weight_norm_checkpoint_loads_through_torchs_hook(strict: bool, tmp_path: Path) -> None:
    old = LegacyNorm(legacy=True).eval()
    old.save_pretrained(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    new = LegacyNorm.from_pretrained(tmp_path, strict=strict)
    x = torch.randn(1, 4, 16)
    with torch.no_grad():
        assert torch.equal(new.conv(x), old.conv(x))


class Helper:
    """A plain object (not a module or a container) given what ``__init__`` computed from a parameter."""

    def __init__(self, device: torch.device, table: torch.Tensor) -> None:
        self.device, self.table = device, table


@dataclasses.dataclass
class Held:
    table: torch.Tensor


@dataclasses.dataclass(slots=True)
class SlottedHeld:
    table: torch.Tensor


class PlainHolders(nn.Module, PyTorchModelHubMixin):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(5, 3)
        self.helper = Helper(self.emb.weight.device, self.emb.weight.detach() * 2)
        self.held = Held(self.emb.weight.detach() + 1)
        table = self.emb.weight.detach() - 1
        self.shift = functools.partial(torch.add, other=table)
        self.scale = lambda x: x * table


def test_what_plain_objects_hold_of_the_parameters_is_real(tmp_path: Path) -> None:
    loaded = _round_trip(PlainHolders(), tmp_path)
    assert loaded.helper.device == torch.device("cpu") and not loaded.helper.table.is_meta
    assert not loaded.held.table.is_meta
    x = torch.ones(3)
    assert not loaded.shift(x).is_meta and not loaded.scale(x).is_meta


class Kept(nn.Module, PyTorchModelHubMixin):
    """Keeps a tensor computed from a parameter in a deque, a slotted dataclass or a function's default."""

    def __init__(self, holder: str = "deque") -> None:
        super().__init__()
        self.emb = nn.Embedding(5, 3)
        table = self.emb.weight.detach() - 1
        makers: dict[str, Callable[[], Any]] = {
            "deque": lambda: collections.deque([table], maxlen=2),
            "slots": lambda: SlottedHeld(table),
            "default": lambda: lambda t=table: t,
        }
        self.kept = makers[holder]()


@pytest.mark.parametrize("holder", ["deque", "slots", "default"])
def test_tensors_in_deques_slots_and_defaults_are_real(tmp_path: Path, holder: str) -> None:
    loaded = _round_trip(Kept(holder), tmp_path)
    table = {"deque": lambda k: k[0], "slots": lambda k: k.table, "default": lambda k: k()}[holder](loaded.kept)
    assert not table.is_meta


class Grouped(nn.Module, PyTorchModelHubMixin):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(5, 3)
        self.groups = [[self.emb.weight]]  # the model's own parameter: loaded in place, no normal construction
        graph: list[list[Any]] = [[] for _ in range(200)]  # containers reaching each other along many paths
        for i, node in enumerate(graph):
            node.extend(graph[(i + k) % 200] for k in range(1, 8))
        self.graph = graph


def test_lists_of_the_models_parameters_keep_the_fast_load(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    model = Grouped()
    caplog.set_level(logging.INFO, logger="hubmixin_torch")
    loaded = _round_trip(model, tmp_path)
    assert "constructing normally" not in caplog.text
    assert loaded.groups[0][0] is loaded.emb.weight and torch.equal(loaded.emb.weight, model.emb.weight)


class KeptAside(nn.Module, PyTorchModelHubMixin):
    """Registers a Parameter it also keeps in a list (a parameter group) and marks."""

    def __init__(self) -> None:
        super().__init__()
        scale = nn.Parameter(torch.ones(3))
        scale.no_weight_decay = True  # type: ignore[attr-defined]
        self.scale = scale
        self.no_decay = [scale]


def test_a_parameter_kept_aside_in_init_is_the_loaded_one(tmp_path: Path) -> None:
    model = KeptAside()
    with torch.no_grad():
        model.scale.mul_(3)
    loaded = _round_trip(model, tmp_path)
    assert loaded.no_decay[0] is loaded.scale and torch.equal(loaded.scale, model.scale)
    assert loaded.scale.no_weight_decay


class OwnLoadTied(nn.Module, PyTorchModelHubMixin):
    """A tied model that loads itself; its own load_state_dict forgets to return torch's result."""

    def __init__(self, vocab: int = 7) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, 3)
        self.head = nn.Linear(3, vocab, bias=False)
        self.head.weight = self.emb.weight

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> None:
        super().load_state_dict(state_dict, strict=strict, assign=assign)


def test_a_model_that_loads_itself_keeps_the_checks(tmp_path: Path) -> None:
    model = OwnLoadTied()
    tensors = {"emb.weight": torch.ones(7, 3), "head.weight": torch.zeros(7, 3)}  # tied names apart, unequal
    (tmp_path / "apart").mkdir()
    save_file(tensors, tmp_path / "apart" / "model.safetensors")
    (tmp_path / "apart" / "config.json").write_text("{}")
    with pytest.raises(WeightsError, match="tied"):
        OwnLoadTied.from_pretrained(tmp_path / "apart", strict=True)
    assert torch.equal(OwnLoadTied.from_pretrained(tmp_path / "apart").emb.weight, torch.ones(7, 3))  # the source
    (tmp_path / "short").mkdir()
    save_file({"emb.weight": torch.ones(7, 3)}, tmp_path / "short" / "model.safetensors")  # nothing missing: tied
    (tmp_path / "short" / "config.json").write_text('{"vocab": 70}')  # a config of another model
    with pytest.raises(WeightsShapeError, match=r"emb\.weight"):
        OwnLoadTied.from_pretrained(tmp_path / "short")
    model.save_pretrained(tmp_path / "own")
    assert torch.equal(OwnLoadTied.from_pretrained(tmp_path / "own", strict=True).emb.weight, model.emb.weight)


_FIRST_LOAD = """
import sys, tempfile, torch
from torch import nn
from hubmixin_torch import PyTorchModelHubMixin

class Embedded(nn.Module, PyTorchModelHubMixin):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 4)
        self.fc = nn.Linear(4, 4)
        nn.init.trunc_normal_(self.fc.weight)

with tempfile.TemporaryDirectory() as d:
    Embedded().save_pretrained(d)
    assert "torch._dynamo" not in sys.modules
    loaded = Embedded.from_pretrained(d)
    assert not loaded.emb.weight.is_meta
    print("dynamo" if "torch._dynamo" in sys.modules else "no dynamo")
"""


def test_initialisers_of_meta_parameters_do_not_run() -> None:
    # On the meta device they do nothing, but torch's first use imports torch._dynamo (half a second per process).
    result = subprocess.run([sys.executable, "-c", _FIRST_LOAD], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "no dynamo", result.stderr


class SharedBuffers(nn.Module, PyTorchModelHubMixin):
    """One rotary table used by every block, one BatchNorm at two places (ALBERT-style), one mask in every block."""

    def __init__(self) -> None:
        super().__init__()
        self.rotary = nn.Module()
        self.rotary.register_buffer("inv_freq", torch.arange(4.0), persistent=False)
        self.bn = nn.BatchNorm1d(4)
        self.blocks = nn.ModuleList([self.bn, self.bn])
        mask = torch.ones(4)
        self.heads = nn.ModuleList(nn.Module() for _ in range(3))
        for head in self.heads:
            head.register_buffer("mask", mask)
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        out: torch.Tensor = self.fc(x) * self.rotary.inv_freq * self.heads[2].mask
        return out


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_dtype_converts_shared_buffers(tmp_path: Path, dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    model = SharedBuffers()
    model(torch.randn(8, 4))  # running statistics of the shared BatchNorm
    model.eval()
    loaded = _round_trip(model, tmp_path, dtype=dtype)
    expected = model.to(dtype)
    for name, got in loaded.named_buffers(remove_duplicate=False):
        assert got.dtype == (dtype if got.is_floating_point() else torch.int64), name
    assert loaded.rotary.inv_freq.dtype == dtype and loaded.bn.running_mean.dtype == dtype
    assert loaded.heads[0].mask is loaded.heads[1].mask is loaded.heads[2].mask
    x = torch.randn(2, 4, dtype=dtype)
    with torch.no_grad():
        assert torch.equal(loaded(x), expected(x))


class Scripted(nn.Module, PyTorchModelHubMixin):
    """A ``torch.jit.script``ed submodule (its ``_parameters`` is a wrapper without ``.get``)."""

    def __init__(self) -> None:
        super().__init__()
        self.block = torch.jit.script(nn.Linear(4, 4))
        self.out = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.out(self.block(x))
        return out


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch deprecates TorchScript; models still use it
def test_a_scripted_submodule_loads(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = Scripted().eval()
    loaded = _round_trip(model, tmp_path)
    x = torch.randn(2, 4)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


class CompatLinear(nn.Linear):
    """Reads checkpoints of an older release, which stored the weight transposed."""

    def _load_from_state_dict(self, state: Any, prefix: str, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        weight = state.get(prefix + "weight")
        if weight is not None and weight.shape == self.weight.shape[::-1] != self.weight.shape:
            state[prefix + "weight"] = weight.t().contiguous()
        super()._load_from_state_dict(state, prefix, *args, **kwargs)


class Compat(nn.Module, PyTorchModelHubMixin):
    def __init__(self) -> None:
        super().__init__()
        self.proj = CompatLinear(4, 6)


def test_a_layer_reshaping_what_it_reads_loads_and_a_real_mismatch_is_typed(tmp_path: Path) -> None:
    torch.manual_seed(0)
    reference = Compat()
    weights = {"proj.weight": reference.proj.weight.detach().t().contiguous(), "proj.bias": reference.proj.bias}
    save_file({k: v.detach() for k, v in weights.items()}, tmp_path / "model.safetensors")
    (tmp_path / "config.json").write_text("{}")
    loaded = Compat.from_pretrained(tmp_path, strict=True)
    assert torch.equal(loaded.proj.weight, reference.proj.weight)
    save_file({"proj.weight": torch.zeros(5, 4), "proj.bias": torch.zeros(6)}, tmp_path / "model.safetensors")
    with pytest.raises(WeightsShapeError, match=r"proj\.weight"):
        Compat.from_pretrained(tmp_path)


class DrawsThenReads(nn.Module, PyTorchModelHubMixin):
    """Draws random numbers, then reads a parameter's values in ``__init__`` (so it is built normally)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("noise", torch.randn(3), persistent=False)
        self.fc = nn.Linear(3, 3)
        self.start = self.fc.weight.detach().clone()


def test_a_normal_construction_after_a_meta_one_draws_from_the_callers_state(tmp_path: Path) -> None:
    DrawsThenReads().save_pretrained(tmp_path)
    torch.manual_seed(0)
    expected = DrawsThenReads()
    torch.manual_seed(0)
    loaded = DrawsThenReads.from_pretrained(tmp_path)
    after_load = torch.rand(2)
    assert torch.equal(loaded.get_buffer("noise"), expected.get_buffer("noise"))
    torch.manual_seed(0)
    DrawsThenReads()
    assert torch.equal(after_load, torch.rand(2))  # the generator where a plain construction leaves it


class Adapter(nn.Module, PyTorchModelHubMixin):
    """A frozen base built in ``__init__`` (from elsewhere: random here) and a small adapter, the only part its
    ``state_dict`` saves (the PEFT pattern); counts its constructions."""

    builds = 0

    def __init__(self, base_width: int = 2048, rank: int = 4) -> None:
        super().__init__()
        Adapter.builds += 1
        self.base = nn.Linear(base_width, base_width).requires_grad_(False)
        self.lora = nn.Linear(base_width, rank, bias=False)

    def state_dict(self, *args: Any, **kwargs: Any) -> Any:
        return {k: v for k, v in super().state_dict(*args, **kwargs).items() if k.startswith("lora.")}

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
        return super().load_state_dict(state_dict, strict=False, assign=assign)


def test_a_model_saving_part_of_itself_loads_building_once(tmp_path: Path) -> None:
    model = Adapter()
    model.save_pretrained(tmp_path)  # 32 KB of adapter; the 16 MB base is not saved
    Adapter.builds = 0
    loaded = Adapter.from_pretrained(tmp_path)
    assert torch.equal(loaded.lora.weight, model.lora.weight)
    assert Adapter.builds == 1  # built as huggingface_hub builds it: __init__ may have side effects


class _Scalars(nn.Module, PyTorchModelHubMixin):
    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(1.0))
        self.norm = nn.BatchNorm1d(2)
        self.register_buffer("temperature", torch.tensor(0.5))


@pytest.mark.parametrize("strict", [False, True])
def test_scalars_saved_as_one_element_load_as_torch_loads_them(strict: bool, tmp_path: Path) -> None:
    """torch's load_state_dict takes a 0-d tensor stored as shape (1,) (PyTorch < 0.4, converters); so does ours."""
    state = {k: v.detach().clone() for k, v in _Scalars().state_dict().items()}
    state |= {"scale": torch.tensor([3.0]), "temperature": torch.tensor([2.0])}
    state["norm.num_batches_tracked"] = torch.tensor([7])
    save_file(state, str(tmp_path / "model.safetensors"))
    loaded = _Scalars.from_pretrained(tmp_path, strict=strict)
    expected = _Scalars()
    expected.load_state_dict(state)
    for name, tensor in expected.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    assert loaded.scale.shape == () and loaded.state_dict()["norm.num_batches_tracked"].shape == ()
    assert isinstance(loaded.scale, nn.Parameter) and loaded.scale.detach().item() == 3.0


def test_a_longer_tensor_for_a_scalar_is_still_a_shape_error(tmp_path: Path) -> None:
    state = {k: v.detach().clone() for k, v in _Scalars().state_dict().items()} | {"scale": torch.tensor([3.0, 4.0])}
    save_file(state, str(tmp_path / "model.safetensors"))
    with pytest.raises(WeightsShapeError, match=r"'scale' has shape \(2,\), the model expects \(\)"):
        _Scalars.from_pretrained(tmp_path)
