"""Regressions of QA round 15 (torch): extra state, views of parameters built for real (persistent or not,
strided, conjugate or negative), float8 under ``dtype=``, tensors that hold no dense data, lazy modules the
checkpoint lacks, ``torch.device`` arguments and float4 messages."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from hubmixin_core.errors import WeightsDtypeError, WeightsError, WeightsFileError, WeightsKeyError
from hubmixin_torch import PyTorchModelHubMixin


def _round_trip(model: nn.Module, path: Path, **kwargs: Any) -> Any:
    model.save_pretrained(path)  # type: ignore[operator]
    return type(model).from_pretrained(path, **kwargs)  # type: ignore[attr-defined]


def _stored(path: Path) -> dict[str, torch.Tensor]:
    with safe_open(path / "model.safetensors", framework="pt") as file:
        return {name: file.get_tensor(name) for name in file.keys()}  # noqa: SIM118  (safe_open has no __iter__)


# F1: extra state


class Scaled(nn.Module):
    """A layer keeping a scale as extra state (TransformerEngine's fp8 metadata, a quantiser's range)."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(2, 2)
        self.scale = torch.ones(2)

    def get_extra_state(self) -> torch.Tensor:
        return self.scale

    def set_extra_state(self, state: torch.Tensor) -> None:
        self.scale = state.clone()


class WithExtra(nn.Module, PyTorchModelHubMixin):
    def __init__(self) -> None:
        super().__init__()
        self.e = Scaled()


@pytest.mark.parametrize("strict", [False, True])
def test_extra_state_is_restored(tmp_path: Path, strict: bool) -> None:
    model = WithExtra()
    model.e.scale = torch.tensor([3.0, 4.0])
    loaded = _round_trip(model, tmp_path, strict=strict)
    assert loaded.e.scale.tolist() == [3.0, 4.0]
    assert torch.equal(loaded.e.lin.weight, model.e.lin.weight)


def test_extra_state_of_another_shape_and_dtype_is_handed_over_as_stored(tmp_path: Path) -> None:
    model = WithExtra()
    model.e.scale = torch.arange(5, dtype=torch.int64)  # torch never checks extra state against the module
    loaded = _round_trip(model, tmp_path, strict=True, dtype=torch.float16)
    assert loaded.e.scale.tolist() == [0, 1, 2, 3, 4] and loaded.e.scale.dtype == torch.int64


def test_missing_extra_state_is_a_missing_key_under_strict(tmp_path: Path) -> None:
    model = WithExtra()
    save_file(
        {k: v.detach().clone() for k, v in model.e.lin.state_dict(prefix="e.lin.").items()},
        tmp_path / "model.safetensors",
    )
    with pytest.raises(WeightsKeyError) as error:
        WithExtra.from_pretrained(tmp_path, strict=True)
    assert error.value.missing == ["e._extra_state"]
    assert WithExtra.from_pretrained(tmp_path).e.scale.tolist() == [1.0, 1.0]


# F10, F9: views of a parameter or buffer built for real


class RowView(nn.Module, PyTorchModelHubMixin):
    """Non-persistent buffers viewing a row 16 bytes into a parameter, and its diagonal."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.arange(16.0).view(4, 4))
        self.register_buffer("row", self.weight.data[1], persistent=False)
        self.register_buffer("diag", self.weight.data.diagonal(), persistent=False)


def test_non_persistent_view_neither_overwrites_the_loaded_weight_nor_keeps_init_values(tmp_path: Path) -> None:
    model = RowView()
    model.weight.data.mul_(2)
    loaded = _round_trip(model, tmp_path, strict=True)
    assert torch.equal(loaded.weight, model.weight)
    assert loaded.row.tolist() == [8.0, 10.0, 12.0, 14.0] and loaded.diag.tolist() == [0.0, 10.0, 20.0, 30.0]
    with torch.no_grad():
        loaded.weight.add_(1)
    assert loaded.row.tolist() == [9.0, 11.0, 13.0, 15.0]  # still a view


def test_non_persistent_view_takes_the_loaded_values_under_dtype(tmp_path: Path) -> None:
    model = RowView()
    model.weight.data.mul_(2)
    loaded = _round_trip(model, tmp_path, dtype=torch.float16)
    assert loaded.row.dtype == torch.float16 and loaded.row.tolist() == [8.0, 10.0, 12.0, 14.0]
    assert torch.equal(loaded.weight, model.weight.half())


class StridedViews(nn.Module, PyTorchModelHubMixin):
    """Persistent buffers that are strided views: a column, the diagonal, the real part of a complex parameter."""

    def __init__(self) -> None:
        super().__init__()
        self.p = nn.Parameter(torch.randn(4, 4))
        self.z = nn.Parameter(torch.randn(3, dtype=torch.complex64))
        self.register_buffer("col", self.p.data[:, 1])
        self.register_buffer("diag", self.p.data.diagonal())
        self.register_buffer("re", self.z.data.real)


def test_strided_views_stay_views(tmp_path: Path) -> None:
    model = StridedViews()
    loaded = _round_trip(model, tmp_path, strict=True)
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in model.state_dict().items())
    with torch.no_grad():
        loaded.p.add_(1)
        loaded.z.add_(1)
    assert torch.equal(loaded.col, loaded.p[:, 1]) and torch.equal(loaded.diag, loaded.p.diagonal())
    assert torch.equal(loaded.re, loaded.z.real)


# F8: conjugate and negative views


class Conj(nn.Module, PyTorchModelHubMixin):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor([1 + 2j, 3 - 4j], dtype=torch.complex64))
        self.register_buffer("w_conj", self.w.data.conj())
        self.register_buffer("neg_im", self.w.data.conj().imag)


def test_conj_and_neg_views_are_stored_with_their_own_values(tmp_path: Path) -> None:
    model = Conj()
    model.w.data.mul_(2)
    loaded = _round_trip(model, tmp_path, strict=True)
    stored = _stored(tmp_path)
    assert sorted(stored) == ["neg_im", "w", "w_conj"]
    assert stored["w_conj"].tolist() == [2 - 4j, 6 + 8j] and stored["neg_im"].tolist() == [-4.0, 8.0]
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in model.state_dict().items())


class LoneConj(nn.Module, PyTorchModelHubMixin):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("twiddle", torch.tensor([1 + 1j, 2 - 3j], dtype=torch.complex64).conj())


def test_a_lone_conj_view_saves_its_values(tmp_path: Path) -> None:
    loaded = _round_trip(LoneConj(), tmp_path, strict=True)
    assert _stored(tmp_path)["twiddle"].tolist() == [1 - 1j, 2 + 3j]
    assert loaded.twiddle.tolist() == [1 - 1j, 2 + 3j]


# F6: float8 under dtype=


class Fp8(nn.Module, PyTorchModelHubMixin):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.tensor([0.5, 1.0]).to(torch.float8_e4m3fn), requires_grad=False)
        self.register_buffer("scale", torch.tensor([2.0**20, 2.0**-30]).to(torch.float8_e8m0fnu))
        self.bias = nn.Parameter(torch.zeros(2))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_dtype_leaves_float8_alone_on_load(tmp_path: Path, dtype: torch.dtype) -> None:
    loaded = _round_trip(Fp8(), tmp_path, dtype=dtype)
    assert loaded.weight.dtype == torch.float8_e4m3fn and loaded.scale.dtype == torch.float8_e8m0fnu
    assert loaded.scale.float().tolist() == [2.0**20, 2.0**-30]
    assert loaded.bias.dtype == dtype


def test_dtype_leaves_float8_alone_on_save(tmp_path: Path) -> None:
    Fp8().save_pretrained(tmp_path, dtype=torch.float16)
    stored = _stored(tmp_path)
    assert stored["scale"].dtype == torch.float8_e8m0fnu and stored["scale"].float().tolist() == [2.0**20, 2.0**-30]
    assert stored["weight"].dtype == torch.float8_e4m3fn and stored["bias"].dtype == torch.float16


# F4: tensors that hold no dense data


class Lazy(nn.Module, PyTorchModelHubMixin):
    def __init__(self) -> None:
        super().__init__()
        self.l = nn.LazyLinear(2)


class Sparse(nn.Module, PyTorchModelHubMixin):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 3)
        self.register_buffer("adjacency", torch.eye(3).to_sparse())


def test_saving_a_lazy_module_not_yet_called_is_a_weights_error(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match=r"^Lazy: cannot save tensors 'l.weight', 'l.bias': .*forward pass"):
        Lazy().save_pretrained(tmp_path)
    assert not (tmp_path / "model.safetensors").exists()


def test_saving_a_sparse_buffer_is_a_weights_error(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match=r"^Sparse: cannot save tensors 'adjacency': .*dense"):
        Sparse().save_pretrained(tmp_path)


# F7: a lazy module the checkpoint lacks


class LazyHead(nn.Module, PyTorchModelHubMixin):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Linear(3, 3)
        self.head = nn.LazyLinear(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.backbone(x))
        return out


@pytest.mark.parametrize("dtype", [None, torch.float16])
def test_a_lazy_module_the_checkpoint_lacks_stays_lazy(
    tmp_path: Path, dtype: torch.dtype | None, caplog: pytest.LogCaptureFixture
) -> None:
    backbone = nn.Linear(3, 3)
    save_file(
        {k: v.detach().clone() for k, v in backbone.state_dict(prefix="backbone.").items()},
        tmp_path / "model.safetensors",
    )
    with caplog.at_level(logging.INFO, logger="hubmixin_torch"):
        loaded = LazyHead.from_pretrained(tmp_path, dtype=dtype)
    assert "'head.bias', 'head.weight'" in caplog.text
    assert isinstance(loaded.head.weight, nn.parameter.UninitializedParameter)
    assert torch.equal(loaded.backbone.weight, backbone.weight.to(dtype or torch.float32))
    out = loaded(torch.randn(1, 3, dtype=dtype or torch.float32))
    assert out.shape == (1, 2) and out.dtype == (dtype or torch.float32)


# F5: torch.device arguments


class OnDevice(nn.Module, PyTorchModelHubMixin):
    def __init__(self, dim: int = 3, device: torch.device | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.lin = nn.Linear(dim, dim, device=device, dtype=dtype)


def test_a_torch_device_argument_round_trips(tmp_path: Path, recwarn: pytest.WarningsRecorder) -> None:
    model = OnDevice(device=torch.device("cpu"), dtype=torch.float64)
    loaded = _round_trip(model, tmp_path, strict=True)
    assert not recwarn.list
    assert json.loads((tmp_path / "config.json").read_text()) == {"dim": 3, "device": "cpu", "dtype": "float64"}
    assert loaded.lin.weight.dtype == torch.float64 and torch.equal(loaded.lin.weight, model.lin.weight)


# F3: float4 is refused with a message naming hubmixin, not torch or safetensors


@pytest.mark.skipif(not hasattr(torch, "float4_e2m1fn_x2"), reason="this torch has no float4")
def test_float4_is_refused_by_hubmixin(tmp_path: Path) -> None:
    class Codes(nn.Module, PyTorchModelHubMixin):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("codes", torch.tensor([18, 52], dtype=torch.uint8).view(torch.float4_e2m1fn_x2))

    with pytest.raises(WeightsError, match=r"'codes': hubmixin does not store its dtype torch\.float4_e2m1fn_x2"):
        Codes().save_pretrained(tmp_path / "ours")
    codes: torch.Tensor = Codes().get_buffer("codes")
    save_file({"codes": codes}, tmp_path / "model.safetensors")
    with pytest.raises(WeightsFileError, match=r"'codes' has dtype F4, which hubmixin does not load into torch"):
        Codes.from_pretrained(tmp_path)


class Positions(nn.Module, PyTorchModelHubMixin):
    """Position ids as PyTorch keeps them (int64), or as a JAX port without 64-bit mode saves them (int32)."""

    def __init__(self, wide: bool = True) -> None:
        super().__init__()
        self.register_buffer("ids", torch.arange(5, dtype=torch.int64 if wide else torch.int32) * 3)


def test_integers_widening_without_loss_load_under_strict(tmp_path: Path) -> None:
    Positions(wide=False).save_pretrained(tmp_path / "narrow")
    loaded = Positions.from_pretrained(tmp_path / "narrow", strict=True, model_kwargs={"wide": True})
    ids = loaded.get_buffer("ids")
    assert ids.dtype == torch.int64 and ids.tolist() == [0, 3, 6, 9, 12]
    Positions(wide=True).save_pretrained(tmp_path / "wide")
    with pytest.raises(WeightsDtypeError, match=r"'ids'.*I32.*I64|'ids'.*I64.*I32"):
        Positions.from_pretrained(tmp_path / "wide", strict=True, model_kwargs={"wide": False})
