"""``__init__`` arguments that are torch dtypes are saved by name and come back as dtypes."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

from hubmixin_core.errors import ConfigError
from hubmixin_torch import PyTorchModelHubMixin


class Typed(nn.Module, PyTorchModelHubMixin):
    def __init__(self, dim: int = 4, dtype: torch.dtype = torch.float32, accumulate=torch.float16) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.settings = (dtype, accumulate)
        self.linear = nn.Linear(dim, dim, dtype=dtype)


def test_dtype_arguments_round_trip(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ConfigEncodingWarning: the dtypes are saved
        model = Typed(dtype=torch.bfloat16, accumulate=torch.float64)
        model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config == {"dim": 4, "dtype": "bfloat16", "accumulate": "float64"}
    loaded = Typed.from_pretrained(tmp_path, strict=True)
    assert loaded.settings == (torch.bfloat16, torch.float64)  # the unannotated one by its default's type
    assert loaded.linear.weight.dtype == torch.bfloat16
    assert torch.equal(loaded.linear.weight, model.linear.weight)


def test_a_name_that_is_no_torch_dtype_is_a_config_error(tmp_path: Path) -> None:
    Typed().save_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"dim": 4, "dtype": "float99"}))
    with pytest.raises(ConfigError, match=r"'dtype'.*'float99' is not a torch dtype"):
        Typed.from_pretrained(tmp_path)
