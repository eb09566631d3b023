"""Bad input for torch: float8/float4/complex dtypes, nested layer settings, CUDA asked for without CUDA."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from huggingface_hub import HfApi
from safetensors.torch import save_file
from torch import nn

from hubmixin_core.errors import (
    DeviceError,
    HubMixinOSError,
    HubMixinTypeError,
    HubMixinValueError,
    MissingArgumentError,
    WeightsError,
)
from hubmixin_core.testing import LocalHub
from hubmixin_core.weights import read_header
from hubmixin_core.weights._settings import SETTINGS_KEY
from hubmixin_torch import PyTorchModelHubMixin


class Scaled(nn.Module, PyTorchModelHubMixin):
    """A linear layer and a buffer of the dtype its config names."""

    scale: torch.Tensor

    def __init__(self, kind: str = "float32") -> None:
        super().__init__()
        self.fc = nn.Linear(2, 2)
        if kind == "float4_e2m1fn_x2":
            scale = torch.zeros(4, dtype=torch.uint8).view(torch.float4_e2m1fn_x2)
        else:
            scale = torch.ones(4).to(getattr(torch, kind))
        self.register_buffer("scale", scale)


@pytest.mark.parametrize(("kind", "name"), [("float8_e4m3fnuz", "F8_E4M3FNUZ"), ("float8_e5m2fnuz", "F8_E5M2FNUZ")])
def test_fnuz_float8_buffers_round_trip(tmp_path: Path, kind: str, name: str) -> None:
    model = Scaled(kind)
    model.scale.copy_(torch.tensor([0.5, -1.0, 2.0, 0.0]).to(model.scale.dtype))
    model.save_pretrained(tmp_path)
    assert read_header(tmp_path / "model.safetensors").tensors["scale"].dtype == name
    loaded = Scaled.from_pretrained(tmp_path)
    assert loaded.scale.dtype == getattr(torch, kind)
    assert torch.equal(loaded.scale.float(), model.scale.float())


@pytest.mark.parametrize("kind", ["float4_e2m1fn_x2", "complex128", "complex32"])
def test_dtypes_safetensors_lacks_are_refused_naming_the_tensor(tmp_path: Path, kind: str) -> None:
    with pytest.warns(UserWarning) if kind == "complex32" else _nothing():  # torch: ComplexHalf is experimental
        model = Scaled(kind)
    with pytest.raises(WeightsError) as info:
        model.save_pretrained(tmp_path)
    assert "'scale'" in str(info.value) and kind in str(info.value)
    assert not (tmp_path / "model.safetensors").exists()


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: object) -> None:
        return None


def test_deeply_nested_settings_warn_at_load(tmp_path: Path) -> None:
    Scaled().save_pretrained(tmp_path)
    state = {k: v.contiguous() for k, v in Scaled().state_dict().items()}
    deep = "[" * 100_000 + "]" * 100_000
    save_file(state, str(tmp_path / "model.safetensors"), {"format": "pt", SETTINGS_KEY: deep})
    with pytest.warns(UserWarning, match=SETTINGS_KEY):
        Scaled.from_pretrained(tmp_path)
    with pytest.warns(UserWarning, match=SETTINGS_KEY):
        Scaled.from_pretrained(tmp_path, key_mapping={"^fc": "fc"})


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("location", ["cuda", "cuda:0", torch.device("cuda", 1)])
def test_cuda_without_cuda_is_a_typed_error(tmp_path: Path, location: str | torch.device) -> None:
    Scaled().save_pretrained(tmp_path)
    with pytest.raises(DeviceError) as info:
        Scaled.from_pretrained(tmp_path, map_location=location)
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, HubMixinValueError)  # torch's, and ours
    assert "CUDA is not available" in str(info.value) and "cuda" in str(info.value)


@pytest.mark.parametrize("location", ["gpu", "cpu:x", "not a device"])
def test_a_location_that_is_no_device_is_a_device_error(tmp_path: Path, location: str) -> None:
    Scaled().save_pretrained(tmp_path)
    with pytest.raises(RuntimeError, match=rf"map_location={location!r} is not a torch device") as info:
        Scaled.from_pretrained(tmp_path, map_location=location)
    assert isinstance(info.value, DeviceError)


class Required(nn.Module, PyTorchModelHubMixin):
    """An ``__init__`` argument without a default."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.fc = nn.Linear(hidden, hidden)


@pytest.mark.parametrize("config", [None, "{}", '{"hiden": 3}'])
def test_a_required_argument_no_config_gives_is_named(config: str | None, tmp_path: Path) -> None:
    Required(hidden=3).save_pretrained(tmp_path)
    if config is None:
        (tmp_path / "config.json").unlink()
    else:
        (tmp_path / "config.json").write_text(config)
    with pytest.raises(MissingArgumentError) as caught:
        Required.from_pretrained(tmp_path)
    assert isinstance(caught.value, TypeError) and caught.value.missing == ["hidden"]
    assert "model_kwargs={'hidden': ...}" in str(caught.value)
    assert ("'hiden'" in str(caught.value)) == (config == '{"hiden": 3}')
    assert Required.from_pretrained(tmp_path, model_kwargs={"hidden": 3}).fc.in_features == 3


def test_a_required_argument_is_asked_for_before_the_weights_download(local_hub: LocalHub, tmp_path: Path) -> None:
    repo_id = f"{local_hub.username}/required"
    Required(hidden=3).save_pretrained(tmp_path)
    (tmp_path / "config.json").unlink()
    HfApi().create_repo(repo_id)
    HfApi().upload_folder(repo_id=repo_id, folder_path=tmp_path)
    with pytest.raises(MissingArgumentError):
        Required.from_pretrained(repo_id, cache_dir=tmp_path / "cache")
    assert not list((tmp_path / "cache").rglob("model.safetensors"))


@pytest.mark.parametrize(
    ("directory", "named"),
    [
        ("x" * 300, r"cannot save into \S+x{300}: File name too long"),  # the name is longer than file systems take
        ("/proc/model", r"cannot save into /proc/model: cannot create a directory in /proc \("),  # proc takes none
    ],
)
def test_os_failures_to_save_are_typed_and_name_the_directory(directory: str, named: str, tmp_path: Path) -> None:
    if directory.startswith("/proc") and not Path("/proc/self").is_dir():
        pytest.skip("no /proc")
    with pytest.raises(HubMixinOSError, match=named) as raised:
        Scaled().save_pretrained(directory if directory.startswith("/") else tmp_path / directory)
    assert ".tmp" not in str(raised.value)  # not the staging directory's name


def test_a_key_mapping_that_is_no_mapping_is_a_typed_error(tmp_path: Path) -> None:
    Scaled().save_pretrained(tmp_path)
    with pytest.raises(HubMixinTypeError, match="key_mapping must be a mapping of regular expressions"):
        Scaled.from_pretrained(tmp_path, key_mapping=[("fc", "proj")])  # type: ignore[arg-type]
