"""Hostile repositories for torch: pickles, configs asking for huge models, config values of the wrong type."""

from __future__ import annotations

import json
import os
import pickle
import random
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn
from torch_models import Net

from hubmixin_core import DownloadOptions
from hubmixin_core.errors import ConfigTypeError, HubMixinError, WeightsFileError, WeightsKeyError, WeightsShapeError
from hubmixin_torch import PyTorchModelHubMixin
from hubmixin_torch._checkpoint import locate_torch_weights, open_torch_weights


class Wide(nn.Module, PyTorchModelHubMixin):
    """A body and a head, as wide as its config says."""

    def __init__(self, dim: int = 4, classes: int = 2) -> None:
        super().__init__()
        self.body = nn.Linear(dim, dim)
        self.head = nn.Linear(dim, classes)


def _empty_checkpoint(directory: Path, config: dict[str, object]) -> Path:
    directory.mkdir(exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config))
    (directory / "model.safetensors").write_bytes(struct.pack("<Q", 2) + b"{}")
    return directory


class _Exploit:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("never",))


@pytest.mark.parametrize("zip_format", [True, False])
def test_pickle_refusal_does_not_suggest_weights_only_false(tmp_path: Path, zip_format: bool) -> None:
    path = tmp_path / "pytorch_model.bin"
    if zip_format:
        torch.save({"embed.weight": _Exploit()}, path)
    else:
        path.write_bytes(pickle.dumps({"embed.weight": _Exploit()}, protocol=2))
    with pytest.raises(WeightsFileError) as info:
        Net.from_pretrained(tmp_path)
    message = str(info.value)
    assert str(path) in message and "refusing to load" in message
    assert "weights_only" not in message and "weights_only" not in str(info.value.__cause__ or "")


def test_a_pickled_module_is_refused_without_advice_to_allow_list_it(tmp_path: Path) -> None:
    torch.save({"embed": torch.nn.Linear(2, 2)}, tmp_path / "pytorch_model.bin")
    with pytest.raises(WeightsFileError, match=r"holds more than tensors \(.*Unsupported global.*Linear") as info:
        Net.from_pretrained(tmp_path)
    assert "safe_globals" not in str(info.value)  # trusting the class is trusting the file


_PROBE = textwrap.dedent(
    """
    import resource, sys, time
    from torch import nn
    from hubmixin_torch import PyTorchModelHubMixin

    class Huge(nn.Module, PyTorchModelHubMixin):
        def __init__(self, dim: int = 4) -> None:
            super().__init__()
            self.fc = nn.Linear(dim, dim)

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    try:
        Huge.from_pretrained(sys.argv[1])
    except Exception as error:
        print(type(error).__name__, error)
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
    print("GROWN", grown, "SECONDS", time.monotonic() - start)
    """
)


# 10 GB of float32 weights (an allocation Linux grants, untouched), and 16 TB (one no machine grants: torch's
# `empty` itself fails, so __init__ is run again on the meta device before the header is checked).
@pytest.mark.parametrize(("dim", "size"), [(50_000, "10000200000 bytes"), (2_000_000, "16000008000000 bytes")])
def test_huge_config_with_an_empty_checkpoint_is_refused_before_allocating(tmp_path: Path, dim: int, size: str) -> None:
    directory = _empty_checkpoint(tmp_path / "huge", {"dim": dim})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(directory)], capture_output=True, text=True, timeout=120, env=env
    )
    output = done.stdout + done.stderr
    assert "WeightsKeyError" in output and "'fc.weight'" in output and size in output, output
    grown = int(output.split("GROWN ")[1].split()[0])
    assert grown < 500 * 2**20, output


def test_a_huge_config_with_small_tensors_is_a_shape_error(tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "config.json").write_text(json.dumps({"dim": 2_000_000, "classes": 2}))  # 16 TB: torch cannot allocate
    small = Wide()
    save_file({k: v.detach() for k, v in small.state_dict().items()}, tmp_path / "model.safetensors")
    with pytest.raises(WeightsShapeError, match=r"body\.\w+' has shape \(4"):
        Wide.from_pretrained(tmp_path)


def test_a_checkpoint_lacking_most_of_a_huge_model_is_refused(tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "config.json").write_text(json.dumps({"dim": 20_000, "classes": 2}))
    save_file({"head.bias": torch.zeros(2)}, tmp_path / "model.safetensors")
    with pytest.raises(WeightsKeyError) as info:
        Wide.from_pretrained(tmp_path)
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, HubMixinError)
    assert info.value.missing == ["body.bias", "body.weight", "head.weight"]


def test_a_small_missing_head_is_initialised_without_strict(tmp_path: Path) -> None:
    body = nn.Linear(4, 4)
    Wide().save_pretrained(tmp_path)
    save_file({"body.weight": body.weight.detach(), "body.bias": body.bias.detach()}, tmp_path / "model.safetensors")
    loaded = Wide.from_pretrained(tmp_path, strict=False)
    assert torch.equal(loaded.body.weight, body.weight)
    assert loaded.head.weight.shape == (2, 4) and not loaded.head.weight.is_meta
    with pytest.raises(WeightsKeyError, match=r"head\.weight"):
        Wide.from_pretrained(tmp_path, strict=True)


def test_config_value_of_the_wrong_type_is_named_before_the_model_is_built(tmp_path: Path) -> None:
    directory = _empty_checkpoint(tmp_path / "bad", {"dim": "abc"})
    with pytest.raises(ConfigTypeError) as info:
        Wide.from_pretrained(directory)
    assert isinstance(info.value, TypeError) and info.value.key == "dim" and info.value.expected == "int"
    assert str(directory / "config.json") in str(info.value) and "'abc'" in str(info.value)


@pytest.mark.parametrize("zip_format", [True, False])
def test_corrupt_legacy_checkpoints_are_weights_file_errors(tmp_path: Path, zip_format: bool) -> None:
    path = tmp_path / "pytorch_model.bin"
    torch.save({"w": torch.zeros(4)}, path, _use_new_zipfile_serialization=zip_format)
    good = path.read_bytes()
    rng = random.Random(0)
    for _ in range(40):
        data = bytearray(good[: rng.randint(0, len(good))] if rng.random() < 0.3 else good)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        path.write_bytes(bytes(data))
        try:
            open_torch_weights(locate_torch_weights(str(tmp_path), DownloadOptions()), torch.device("cpu"))
        except Exception as error:  # which type it is, is the point
            assert isinstance(error, WeightsFileError), repr(error)
            assert str(path) in str(error) and "weights_only" not in str(error)
