"""The settings torch records for an instance norm (what it computes, where no running statistics tell it) and a
simple RNN (never residual)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import cast

import pytest
import torch
from torch import nn

from hubmixin_core.errors import LayerSettingsWarning
from hubmixin_core.weights._settings import differences
from hubmixin_torch import PyTorchModelHubMixin
from hubmixin_torch._settings import layer_settings, model_settings


def test_an_instance_norm_without_running_statistics_records_the_group_norm_it_computes() -> None:
    norm = nn.InstanceNorm2d(4, eps=1e-3, affine=True)
    group = nn.GroupNorm(4, 4, eps=1e-3)
    assert layer_settings(norm) == layer_settings(group) == {"eps": 1e-3, "norm": "group", "groups": 4}
    with torch.no_grad():
        group.weight.copy_(torch.randn(4))
        group.bias.copy_(torch.randn(4))
    norm.load_state_dict(group.state_dict())
    x = torch.randn(2, 4, 5, 3)
    torch.testing.assert_close(norm(x), group(x))
    assert layer_settings(nn.InstanceNorm1d(4)) == {"eps": 1e-5, "norm": "group"}  # no weights: any C alike


def test_an_instance_norm_with_running_statistics_records_no_kind() -> None:
    assert layer_settings(nn.InstanceNorm1d(4, track_running_stats=True)) == {"eps": 1e-5}
    assert layer_settings(nn.BatchNorm1d(4)) == {"eps": 1e-5}


def test_a_simple_rnn_records_that_it_is_not_residual() -> None:
    assert layer_settings(nn.RNN(3, 4, nonlinearity="relu")) == {"activation": "relu", "residual": False}
    assert "residual" not in layer_settings(nn.GRU(3, 4))


def test_an_instance_norm_without_weights_records_no_number_of_groups() -> None:
    one, four = nn.InstanceNorm1d(1), nn.InstanceNorm1d(4)
    x = torch.randn(2, 4, 5)
    with pytest.warns(UserWarning, match="not used because affine=False"):
        torch.testing.assert_close(one(x), four(x))
    assert differences(model_settings(four), model_settings(one), "torch") == []
    assert differences(model_settings(four), model_settings(nn.LayerNorm(4, elementwise_affine=False)), "torch")
    lazy = nn.LazyInstanceNorm1d(track_running_stats=False)
    assert layer_settings(lazy) == {"eps": 1e-5, "norm": "group"}  # C unknown before its first call
    affine = model_settings(nn.InstanceNorm1d(4, affine=True))
    assert differences(affine, model_settings(nn.GroupNorm(2, 4)), "torch") == ["(model): groups 2 here, 4 saved"]


class LazyNorm(nn.Module, PyTorchModelHubMixin):
    def __init__(self, affine: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv1d(2, 4, 3)
        self.norm = nn.LazyInstanceNorm1d(affine=affine, track_running_stats=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return cast("torch.Tensor", self.norm(self.conv(x)))


@pytest.mark.parametrize("affine", [True, False])
def test_a_lazy_instance_norm_reloads_its_own_file_without_warning(affine: bool, tmp_path: Path) -> None:
    model = LazyNorm(affine)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # affine=False: torch's, of num_features unused
        model(torch.randn(1, 2, 8))
    model.save_pretrained(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LayerSettingsWarning)
        LazyNorm.from_pretrained(tmp_path, model_kwargs={"affine": affine})
