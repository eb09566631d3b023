"""Regressions of QA round 16 (torch): a ``DataParallel`` subclass loading its own save, non-dense tensors in a
legacy ``pytorch_model.bin``, ``nn.RMSNorm`` without ``eps`` under ``dtype=``, and ``map_location="meta"`` on a
tied ``pytorch_model.bin``."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from hubmixin_core.cli import main
from hubmixin_core.errors import LayerSettingsWarning, WeightsFileError, WeightsNotFoundError
from hubmixin_torch import PyTorchModelHubMixin

# F1: a DataParallel subclass with the mixin


class Wrapped(nn.DataParallel, PyTorchModelHubMixin):  # type: ignore[type-arg]
    def __init__(self, n: int = 4) -> None:
        super().__init__(nn.Sequential(nn.Linear(n, n), nn.BatchNorm1d(n)))


def _trained(model: Wrapped) -> Wrapped:
    with torch.no_grad():
        for tensor in model.state_dict().values():
            tensor.copy_(torch.randn(tensor.shape).to(tensor.dtype) if tensor.is_floating_point() else 3)
    return model


def _same_state(first: nn.Module, second: nn.Module) -> bool:
    one, two = first.state_dict(), second.state_dict()
    return one.keys() == two.keys() and all(torch.equal(one[name], two[name]) for name in one)


@pytest.mark.parametrize("strict", [False, True])
def test_a_data_parallel_subclass_loads_its_own_save(tmp_path: Path, strict: bool) -> None:
    model = _trained(Wrapped())
    model.save_pretrained(tmp_path)  # the wrapped module's names: 0.weight, ...
    loaded = Wrapped.from_pretrained(tmp_path, strict=strict)
    assert _same_state(loaded, model)
    assert not loaded.training


def test_a_data_parallel_subclass_loads_its_own_save_through_the_file_helper(tmp_path: Path) -> None:
    model = _trained(Wrapped())
    model.save_pretrained(tmp_path)
    loaded = Wrapped._load_as_safetensor(Wrapped(), str(tmp_path / "model.safetensors"), "cpu", True)
    assert _same_state(loaded, model)


def test_a_data_parallel_state_dict_with_module_prefixes_still_loads(tmp_path: Path) -> None:
    model = _trained(Wrapped())
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")  # module.0.weight, ...
    assert _same_state(Wrapped.from_pretrained(tmp_path, strict=True), model)


class Renaming(nn.DataParallel, PyTorchModelHubMixin):  # type: ignore[type-arg]
    """A wrapper whose own loading reads an older release's names (``old.*``)."""

    def __init__(self) -> None:
        super().__init__(nn.Linear(3, 3))

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        for name in [n for n in state_dict if n.startswith(f"{prefix}old.")]:
            state_dict[f"{prefix}module.{name.removeprefix(f'{prefix}old.')}"] = state_dict.pop(name)
        super()._load_from_state_dict(state_dict, prefix, *args)


def test_a_wrapper_loading_itself_is_loaded_through_its_own_code(tmp_path: Path) -> None:
    model = Renaming()
    state = {f"old.{name}": torch.randn(t.shape) for name, t in model.module.state_dict().items()}
    save_file(state, tmp_path / "model.safetensors")
    (tmp_path / "config.json").write_text("{}")
    loaded = Renaming.from_pretrained(tmp_path)
    assert torch.equal(loaded.module.weight, state["old.weight"])


class TiedInner(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(5, 3)
        self.head = nn.Linear(3, 5, bias=False)

    def tie_weights(self) -> None:
        self.head.weight = self.emb.weight


class WrappedTied(nn.DataParallel, PyTorchModelHubMixin):  # type: ignore[type-arg]
    def __init__(self) -> None:
        super().__init__(TiedInner())  # tied by tie_weights() after construction, as transformers ties


def test_the_wrapped_modules_tie_weights_is_called(tmp_path: Path) -> None:
    model = WrappedTied()
    model.module.tie_weights()
    model.save_pretrained(tmp_path)
    loaded = WrappedTied.from_pretrained(tmp_path)
    assert loaded.module.head.weight is loaded.module.emb.weight


# F2: tensors that are not dense in a pytorch_model.bin


class Graph(nn.Module, PyTorchModelHubMixin):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.register_buffer("adj", torch.eye(4))


_NOT_DENSE = {
    "sparse coo": lambda: torch.eye(4).to_sparse(),
    "sparse csr": lambda: torch.eye(4).to_sparse_csr(),
    "quantized": lambda: torch.quantize_per_tensor(torch.eye(4), 0.1, 0, torch.qint8),
}


@pytest.mark.filterwarnings("ignore:TypedStorage is deprecated:UserWarning")  # torch.load of a quantized tensor
@pytest.mark.parametrize("kind", _NOT_DENSE)
def test_a_bin_holding_a_tensor_that_is_not_dense_is_refused_naming_file_and_key(tmp_path: Path, kind: str) -> None:
    state = Graph().state_dict()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's: CSR support in beta, quantized tensors deprecated
        state["adj"] = _NOT_DENSE[kind]()  # a GNN's adjacency saved sparse
    torch.save(state, tmp_path / "pytorch_model.bin")
    with pytest.raises(WeightsFileError, match=rf"pytorch_model\.bin: entry 'adj' is a {kind}") as caught:
        Graph.from_pretrained(tmp_path)
    assert "dense tensors only" in str(caught.value)


def test_converting_a_bin_holding_a_sparse_tensor_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    torch.save({"a.weight": torch.eye(3), "adj": torch.eye(3).to_sparse()}, tmp_path / "sparse.bin")
    assert main(["convert", str(tmp_path / "sparse.bin"), str(tmp_path / "out"), "--to", "torch", "--quiet"]) == 1
    assert "sparse.bin: entry 'adj' is a sparse coo tensor" in capsys.readouterr().err


# F3: nn.RMSNorm without eps under dtype=


class Normed(nn.Module, PyTorchModelHubMixin):
    def __init__(self, eps: float | None = None) -> None:
        super().__init__()
        self.norm = nn.RMSNorm(8, eps=eps)
        self.lin = nn.Linear(8, 8)


@pytest.mark.parametrize("saved_as", [None, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("loaded_as", [None, torch.bfloat16, torch.float16])
def test_rms_norm_without_eps_is_not_warned_of_in_another_dtype(
    tmp_path: Path, saved_as: torch.dtype | None, loaded_as: torch.dtype | None
) -> None:
    Normed().save_pretrained(tmp_path, dtype=saved_as)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = Normed.from_pretrained(tmp_path, dtype=loaded_as)
        Normed.from_pretrained(tmp_path, dtype=loaded_as, strict=loaded_as == saved_as)
    assert loaded.norm.weight.dtype == (loaded_as or torch.float32)


def test_rms_norm_with_another_eps_than_the_saved_default_is_still_warned_of(tmp_path: Path) -> None:
    Normed().save_pretrained(tmp_path, dtype=torch.bfloat16)
    with pytest.warns(LayerSettingsWarning, match=r"norm: eps 1e-06 here, 0\.0078125 saved"):
        Normed.from_pretrained(tmp_path, model_kwargs={"eps": 1e-6})
    Normed(eps=1e-6).save_pretrained(tmp_path / "explicit")
    with pytest.warns(LayerSettingsWarning, match=r"norm: eps 0\.0078125 here, 1e-06 saved"):
        Normed.from_pretrained(tmp_path / "explicit", model_kwargs={"eps": None}, dtype=torch.bfloat16)


# F4: map_location="meta" on a tied pytorch_model.bin


class TiedLM(nn.Module, PyTorchModelHubMixin):
    def __init__(self) -> None:
        super().__init__()
        self.wte = nn.Embedding(10, 4)
        self.head = nn.Linear(4, 10, bias=False)
        self.head.weight = self.wte.weight


@pytest.mark.parametrize("strict", [False, True])
def test_a_tied_bin_loads_on_the_meta_device(tmp_path: Path, strict: bool) -> None:
    torch.save(TiedLM().state_dict(), tmp_path / "pytorch_model.bin")  # both tied names, one storage
    loaded = TiedLM.from_pretrained(tmp_path, map_location="meta", strict=strict)
    assert loaded.wte.weight.is_meta
    assert loaded.head.weight is loaded.wte.weight


class Plain(nn.Module, PyTorchModelHubMixin):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 2)


def test_a_folder_holding_a_torch_save_names_how_to_convert_it(tmp_path: Path) -> None:
    Plain().save_pretrained(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    torch.save(Plain().state_dict(), tmp_path / "model.pt")
    with pytest.raises(WeightsNotFoundError, match=r"model\.pt\): convert it with `hubmixin convert .*model\.pt DST"):
        Plain.from_pretrained(tmp_path)
