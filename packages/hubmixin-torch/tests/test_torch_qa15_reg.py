"""Regressions of QA round 15's torch fixes: non-persistent tensors without one storage under ``dtype=``, extra
state under ``save_pretrained(dtype=)``, extra state that is no tensor and saved devices this machine lacks."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors import safe_open
from torch import nn

from hubmixin_core.errors import DeviceError, MissingArgumentError, WeightsError, WeightsNotFoundError
from hubmixin_torch import PyTorchModelHubMixin

# F6: a non-persistent sparse or nested buffer (what the save error advises) under from_pretrained(dtype=)


def _storageless(kind: str) -> torch.Tensor:
    if kind == "coo":
        return torch.eye(3).to_sparse()
    if kind == "csr":
        return torch.eye(3).to_sparse_csr()
    return torch.nested.nested_tensor([torch.ones(2), torch.ones(3)])


class Graph(nn.Module, PyTorchModelHubMixin):
    def __init__(self, kind: str = "coo") -> None:
        super().__init__()
        self.lin = nn.Linear(3, 3)
        self.register_buffer("adj", _storageless(kind), persistent=False)  # rebuilt by __init__


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta:UserWarning")
@pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors is in prototype:UserWarning")
@pytest.mark.parametrize("kind", ["coo", "csr", "nested"])
@pytest.mark.parametrize("strict", [False, True])
def test_storageless_non_persistent_buffer_loads_in_dtype(tmp_path: Path, kind: str, strict: bool) -> None:
    Graph(kind).save_pretrained(tmp_path)
    loaded = Graph.from_pretrained(tmp_path, dtype=torch.float16, strict=strict)
    assert loaded.lin.weight.dtype == torch.float16
    assert loaded.adj.dtype == torch.float16
    assert loaded.adj.layout == _storageless(kind).layout
    assert loaded.adj.is_nested == (kind == "nested")


# F3: a torch.device argument saved on a machine with a device this one lacks


class OnDevice(nn.Module, PyTorchModelHubMixin):
    def __init__(self, dim: int = 3, device: torch.device | None = None) -> None:
        super().__init__()
        self.lin = nn.Linear(dim, dim, device=device)


def _saved_on(path: Path, device: str) -> None:
    OnDevice(device=torch.device("cpu")).save_pretrained(path)
    config = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**config, "device": device}))  # as that machine writes it


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_saved_device_this_machine_lacks_is_refused_naming_the_key_and_the_fix(tmp_path: Path) -> None:
    _saved_on(tmp_path, "cuda:0")
    fix = re.escape("model_kwargs={'device': 'cpu'}")
    with pytest.raises(DeviceError, match=rf"config\.json: key 'device'.*CUDA is not available.*{fix}"):
        OnDevice.from_pretrained(tmp_path, map_location="cpu")
    assert OnDevice.from_pretrained(tmp_path, model_kwargs={"device": "cpu"}).lin.weight.device.type == "cpu"


# F8: a checkpoint written before torch.device had a coder


def test_an_unsaved_device_of_an_older_save_says_a_save_now_holds_it(tmp_path: Path) -> None:
    OnDevice().save_pretrained(tmp_path)
    older = {"_hub_mixin_unsaved": {"device": "device"}, "dim": 3}  # hubmixin's config.json before the coder
    (tmp_path / "config.json").write_text(json.dumps(older))
    with pytest.raises(MissingArgumentError, match=r"written before a device could be saved") as caught:
        OnDevice.from_pretrained(tmp_path)
    assert "coders=" not in str(caught.value) and "JSON cannot hold" not in str(caught.value)
    model = OnDevice.from_pretrained(tmp_path, model_kwargs={"device": "cpu"})
    model.save_pretrained(tmp_path / "again")
    assert json.loads((tmp_path / "again" / "config.json").read_text())["device"] == "cpu"


# F5, F9: extra state under save_pretrained(dtype=), and extra state that is no tensor


class Calibrated(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(2, 2)
        self.scale = torch.tensor([1.0 + 2**-20], dtype=torch.float64)  # calibration state, not a weight

    def get_extra_state(self) -> torch.Tensor:
        return self.scale

    def set_extra_state(self, state: torch.Tensor) -> None:
        self.scale = state


class Counter(nn.Module):
    def get_extra_state(self) -> dict[str, int]:
        return {"steps": 3}  # torch's own example returns a dict

    def set_extra_state(self, state: dict[str, int]) -> None:
        self.steps = state["steps"]


class WithExtra(nn.Module, PyTorchModelHubMixin):
    def __init__(self, counting: bool = False) -> None:
        super().__init__()
        self.block = Counter() if counting else Calibrated()


def test_extra_state_is_saved_in_its_own_dtype_under_save_dtype(tmp_path: Path) -> None:
    WithExtra().save_pretrained(tmp_path, dtype=torch.float16)
    with safe_open(tmp_path / "model.safetensors", framework="pt") as file:
        assert file.get_slice("block.lin.weight").get_dtype() == "F16"
    loaded: Any = WithExtra.from_pretrained(tmp_path)
    assert loaded.block.scale.dtype == torch.float64 and loaded.block.scale.item() == 1.0 + 2**-20


def test_extra_state_that_is_no_tensor_is_refused_naming_the_module_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match=r"extra state of module 'block' \(Counter\).* is a dict.*return a tensor"):
        WithExtra(counting=True).save_pretrained(tmp_path)


def test_sharded_pytorch_bin_files_are_named_with_how_to_convert_them(tmp_path: Path) -> None:
    class Two(nn.Module, PyTorchModelHubMixin):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(2, 2), nn.Linear(2, 2)

    state = Two().state_dict()
    shards = {
        "pytorch_model-00001-of-00002.bin": ["a.weight", "a.bias"],
        "pytorch_model-00002-of-00002.bin": ["b.weight", "b.bias"],
    }
    for shard, names in shards.items():
        torch.save({name: state[name] for name in names}, tmp_path / shard)
    weight_map = {name: shard for shard, names in shards.items() for name in names}
    (tmp_path / "pytorch_model.bin.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    (tmp_path / "config.json").write_text("{}")
    legacy = r"pytorch_model\.bin\.index\.json.*hubmixin convert .*not its shards"
    with pytest.raises(WeightsNotFoundError, match=legacy):
        Two.from_pretrained(tmp_path)


_LOAD_ONLY = """
import sys
from torch import nn
from hubmixin_torch import PyTorchModelHubMixin

class Net(nn.Module, PyTorchModelHubMixin):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3).to(memory_format=__import__("torch").channels_last)
        self.lin = nn.Linear(4, 2)

Net().save_pretrained(sys.argv[1])
before = "sympy" in sys.modules
Net.from_pretrained(sys.argv[1])
print(before, "sympy" in sys.modules)
"""


def test_a_load_imports_no_symbolic_shape_machinery(tmp_path: Path) -> None:
    # torch.empty_like on the meta device imports sympy (~0.3 s, most of a 1 GB load's time): never on the way
    out = subprocess.run([sys.executable, "-c", _LOAD_ONLY, str(tmp_path)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
