"""The settings torch records for an instance norm (what it computes, where no running statistics tell it) and a
simple RNN (never residual)."""

from __future__ import annotations

import torch
from torch import nn

from hubmixin_torch._settings import layer_settings


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
    assert layer_settings(nn.InstanceNorm1d(4)) == {"eps": 1e-5, "norm": "group", "groups": 4}


def test_an_instance_norm_with_running_statistics_records_no_kind() -> None:
    assert layer_settings(nn.InstanceNorm1d(4, track_running_stats=True)) == {"eps": 1e-5}
    assert layer_settings(nn.BatchNorm1d(4)) == {"eps": 1e-5}


def test_a_simple_rnn_records_that_it_is_not_residual() -> None:
    assert layer_settings(nn.RNN(3, 4, nonlinearity="relu")) == {"activation": "relu", "residual": False}
    assert "residual" not in layer_settings(nn.GRU(3, 4))
