"""Missing, unexpected and mis-shaped tensors: typed errors naming the keys, or the model's own init."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch_models import Net

from hubmixin_core.errors import WeightsDtypeError, WeightsKeyError, WeightsNotFoundError, WeightsShapeError


def _rewrite(saved: Path, change: dict[str, torch.Tensor | None]) -> None:
    tensors = load_file(saved / "model.safetensors")
    for key, value in change.items():
        if value is None:
            del tensors[key]
        else:
            tensors[key] = value
    save_file({k: v.clone() for k, v in tensors.items()}, saved / "model.safetensors", metadata={"format": "pt"})


def test_missing_and_unexpected_keys_are_named_when_strict(saved: Path) -> None:
    _rewrite(saved, {"lstm.bias_hh_l0": None, "norm.bias": None, "extra.weight": torch.zeros(2)})
    with pytest.raises(WeightsKeyError) as info:
        Net.from_pretrained(saved, strict=True)
    assert info.value.missing == ["lstm.bias_hh_l0", "norm.bias"]
    assert info.value.unexpected == ["extra.weight"]
    assert "model.safetensors: missing keys ['lstm.bias_hh_l0', 'norm.bias']; unexpected keys" in str(info.value)


def test_missing_weights_get_the_model_init_and_a_warning(
    net: Net, saved: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _rewrite(saved, {"lstm.bias_hh_l0": None, "extra.weight": torch.zeros(2)})
    with caplog.at_level(logging.WARNING, logger="hubmixin_torch"):
        loaded = Net.from_pretrained(saved)
    assert "1 weight is not in" in caplog.text and "'lstm.bias_hh_l0'" in caplog.text
    assert "1 tensor of" in caplog.text and "'extra.weight'" in caplog.text
    bias = loaded.get_parameter("lstm.bias_hh_l0")
    assert not bias.is_meta and bias.requires_grad and torch.isfinite(bias).all()
    assert bias.abs().max() <= 1 / 8**0.5  # LSTM's own uniform(-1/sqrt(hidden), 1/sqrt(hidden))
    assert torch.equal(loaded.get_parameter("lstm.weight_hh_l0"), net.get_parameter("lstm.weight_hh_l0"))
    loaded(torch.randint(0, 11, (1, 3)))  # the LSTM uses the new bias


def test_a_missing_tied_weight_gets_one_init_and_stays_tied(saved: Path) -> None:
    _rewrite(saved, {"embed.weight": None})
    loaded = Net.from_pretrained(saved)
    assert loaded.head.weight is loaded.embed.weight
    assert not loaded.embed.weight.is_meta


def test_a_shape_mismatch_always_raises_naming_key_file_and_shapes(saved: Path) -> None:
    _rewrite(saved, {"norm.weight": torch.ones(9)})
    for strict in (False, True):
        with pytest.raises(WeightsShapeError) as info:
            Net.from_pretrained(saved, strict=strict)
        assert (info.value.key, info.value.expected, info.value.found) == ("norm.weight", (8,), (9,))
        assert str(saved / "model.safetensors") in str(info.value)


def test_no_weights_at_all_names_the_files_looked_for(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(
        WeightsNotFoundError, match=r"model\.safetensors, model\.safetensors\.index\.json and pytorch_model\.bin"
    ):
        Net.from_pretrained(tmp_path)


def test_every_shape_mismatch_is_named_in_one_error_with_the_keys_when_strict(saved: Path) -> None:
    _rewrite(saved, {"norm.weight": torch.ones(9), "norm.bias": torch.ones(9), "frozen": torch.ones(3).half()})
    _rewrite(saved, {"lstm.bias_hh_l0": None, "extra.weight": torch.zeros(2)})
    for strict in (False, True):
        with pytest.raises(WeightsShapeError) as info:  # a RuntimeError, listing all as torch's load_state_dict
            Net.from_pretrained(saved, strict=strict)
        error = info.value
        assert (error.key, error.expected, error.found) == ("norm.bias", (8,), (9,))  # the first, as before
        named = [(type(m), m.key) for m in error.mismatches]
        shapes = [(WeightsShapeError, "norm.bias"), (WeightsShapeError, "norm.weight")]
        assert named == shapes + ([(WeightsDtypeError, "frozen")] if strict else [])
        assert (error.missing, error.unexpected) == ((["lstm.bias_hh_l0"], ["extra.weight"]) if strict else ([], []))
        message = str(error)
        assert "tensor 'norm.weight' has shape (9,), the model expects (8,)" in message
        assert ("missing keys ['lstm.bias_hh_l0']" in message) is strict
        assert ("unexpected keys ['extra.weight']" in message) is strict


def test_every_dtype_mismatch_is_named_in_one_error(saved: Path) -> None:
    tensors = load_file(saved / "model.safetensors")
    _rewrite(saved, {name: tensors[name].half() for name in ("norm.weight", "norm.bias", "frozen")})
    with pytest.raises(WeightsDtypeError) as info:
        Net.from_pretrained(saved, strict=True)
    assert [m.key for m in info.value.mismatches] == ["frozen", "norm.bias", "norm.weight"]
    assert str(info.value).count("has dtype F16, the model expects F32") == 3


class NetLoadingItself(Net):
    """Loaded through its own ``load_state_dict``, as torch loads: torch's size mismatches are translated."""

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
        return super().load_state_dict(state_dict, strict=strict, assign=assign)


def test_every_shape_mismatch_torch_reports_is_named(saved: Path) -> None:
    _rewrite(saved, {"norm.weight": torch.ones(9), "norm.bias": torch.ones(9)})
    with pytest.raises(WeightsShapeError) as info:
        NetLoadingItself.from_pretrained(saved)
    assert [(m.key, m.expected, m.found) for m in info.value.mismatches] == [
        ("norm.bias", (8,), (9,)),
        ("norm.weight", (8,), (9,)),
    ]
