"""Save and load: files, equality of every tensor, eval mode, construction without initialisation."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import pytest
import torch
from torch import nn
from torch_models import Backbone, Net, RecordingLinear, RecordingNet, assert_same_tensors

from hubmixin_core import LoaderOptionWarning, ModelHubMixin
from hubmixin_core.errors import WeightsError, WeightsShapeError
from hubmixin_torch import PyTorchModelHubMixin


def test_files_are_those_of_huggingface_hub(saved: Path) -> None:
    assert sorted(p.name for p in saved.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    assert json.loads((saved / "config.json").read_text()) == {"dim": 8, "vocab": 11}
    readme = (saved / "README.md").read_text()
    assert "pytorch_model_hub_mixin" in readme
    assert "model_hub_mixin" in readme
    assert "license: mit" in readme


def test_round_trip_restores_every_parameter_and_buffer(net: Net, saved: Path) -> None:
    loaded = Net.from_pretrained(saved)
    assert_same_tensors(net, loaded)
    net.eval()
    x = torch.randint(0, 11, (2, 4))
    assert torch.equal(net(x), loaded(x))


def test_loaded_model_is_in_eval_mode_on_cpu_with_its_config(saved: Path) -> None:
    loaded = Net.from_pretrained(saved)
    assert isinstance(loaded, Net)
    assert isinstance(loaded, ModelHubMixin)
    assert not any(m.training for m in loaded.modules())
    assert {t.device.type for t in [*loaded.parameters(), *loaded.buffers()]} == {"cpu"}
    assert loaded._hub_mixin_config == {"dim": 8, "vocab": 11}


def test_requires_grad_is_kept(saved: Path) -> None:
    loaded = Net.from_pretrained(saved)
    assert not loaded.frozen.requires_grad
    assert loaded.embed.weight.requires_grad
    assert all(isinstance(p, nn.Parameter) for p in loaded.parameters())


def test_buffers_and_attributes_not_in_the_checkpoint_keep_their_init_values(saved: Path) -> None:
    loaded = Net.from_pretrained(saved)
    assert torch.equal(loaded.positions, torch.arange(5, dtype=torch.float32) * 2)
    assert loaded.steps.dtype == torch.int64
    assert torch.equal(loaded.mask, torch.tril(torch.ones(3, 3)))


def test_model_kwargs_override_the_config(tmp_path: Path) -> None:
    Backbone(dim=4).save_pretrained(tmp_path)
    with pytest.raises(WeightsShapeError, match=r"'proj.bias' has shape \(4,\), the model expects \(5,\)"):
        Backbone.from_pretrained(tmp_path, model_kwargs={"dim": 5})


def test_parameters_are_never_initialised_on_load(tmp_path: Path) -> None:
    RecordingNet().save_pretrained(tmp_path)
    RecordingLinear.devices.clear()
    loaded = RecordingNet.from_pretrained(tmp_path)
    assert RecordingLinear.devices == ["meta", "meta"]
    assert not any(p.is_meta for p in loaded.parameters())


def test_init_that_reads_parameter_values_falls_back_to_normal_construction(tmp_path: Path) -> None:
    model = RecordingNet(read_values=True)
    model.save_pretrained(tmp_path)
    loaded = RecordingNet.from_pretrained(tmp_path)
    assert_same_tensors(model, loaded)


def test_construction_elsewhere_is_not_affected(saved: Path) -> None:
    Net.from_pretrained(saved)
    assert not nn.Linear(2, 2).weight.is_meta
    seen: list[bool] = []
    thread = threading.Thread(target=lambda: seen.append(nn.Linear(2, 2).weight.is_meta))
    thread.start()
    thread.join()
    assert seen == [False]


def test_from_pretrained_inside_init_loads_the_inner_model(tmp_path: Path) -> None:
    inner = Backbone()
    inner.save_pretrained(tmp_path / "backbone")

    class Outer(nn.Module, PyTorchModelHubMixin):
        def __init__(self, backbone: str = "") -> None:
            super().__init__()
            self.backbone = Backbone.from_pretrained(backbone)
            assert not self.backbone.proj.weight.is_meta
            self.head = nn.Linear(4, 2)

    outer = Outer(backbone=str(tmp_path / "backbone"))
    outer.save_pretrained(tmp_path / "outer")
    loaded = Outer.from_pretrained(tmp_path / "outer")
    assert_same_tensors(outer, loaded)
    assert torch.equal(loaded.backbone.proj.weight, inner.proj.weight)


def test_in_place_updates_never_write_to_the_file(saved: Path) -> None:
    before = hashlib.sha256((saved / "model.safetensors").read_bytes()).hexdigest()
    loaded = Net.from_pretrained(saved)
    with torch.no_grad():
        for param in loaded.parameters():
            param.add_(1)
    assert hashlib.sha256((saved / "model.safetensors").read_bytes()).hexdigest() == before


def test_map_location_meta_reads_no_data(net: Net, saved: Path) -> None:
    loaded = Net.from_pretrained(saved, map_location="meta")
    tensors = [*loaded.parameters(), *loaded.buffers()]
    assert all(t.is_meta for t in tensors)
    assert loaded.lstm.weight_ih_l0.shape == net.lstm.weight_ih_l0.shape


def test_map_location_accepts_a_torch_device(net: Net, saved: Path) -> None:
    assert_same_tensors(net, Net.from_pretrained(saved, map_location=torch.device("cpu")))


def test_a_bad_map_location_is_a_value_error(saved: Path) -> None:
    with pytest.raises(ValueError, match="not-a-device"):
        Net.from_pretrained(saved, map_location="not-a-device")


def test_saving_a_model_on_meta_names_the_tensor(saved: Path, tmp_path: Path) -> None:
    on_meta = Net.from_pretrained(saved, map_location="meta")
    with pytest.raises(WeightsError, match=r"cannot save tensors 'frozen', 'embed.weight', .* \(\+2 more\)"):
        on_meta.save_pretrained(tmp_path / "again")
    assert not (tmp_path / "again").exists()


def test_a_non_module_subclass_is_a_type_error(tmp_path: Path) -> None:
    class NotAModule(PyTorchModelHubMixin):
        pass

    with pytest.raises(TypeError, match=r"not a torch\.nn\.Module"):
        NotAModule().save_pretrained(tmp_path)


def test_saving_again_after_loading_round_trips(net: Net, saved: Path, tmp_path: Path) -> None:
    loaded = Net.from_pretrained(saved)
    loaded.save_pretrained(tmp_path / "again")
    assert_same_tensors(net, Net.from_pretrained(tmp_path / "again"))


class OptionNamedNet(nn.Module, PyTorchModelHubMixin):
    """``__init__`` parameters named like the loader's options."""

    def __init__(
        self, dtype: str = "float32", strict: bool = False, map_location: str = "cpu", revision: str = "v1"
    ) -> None:
        super().__init__()
        self.args = (dtype, strict, map_location, revision)
        self.linear = nn.Linear(2, 3, dtype=getattr(torch, dtype))


def test_init_parameters_named_like_loader_options(tmp_path: Path) -> None:
    net = OptionNamedNet(dtype="float64", strict=True, map_location="meta", revision="v2")
    net.save_pretrained(tmp_path)
    loaded = OptionNamedNet.from_pretrained(tmp_path, strict=True)
    assert loaded.args == ("float64", True, "meta", "v2")
    assert torch.equal(loaded.linear.weight, net.linear.weight) and loaded.linear.weight.device.type == "cpu"
    with pytest.warns(LoaderOptionWarning, match=r"dtype= is the loader's option, not the 'dtype' argument"):
        converted = OptionNamedNet.from_pretrained(tmp_path, dtype=torch.float16, model_kwargs={"revision": "v3"})
    assert converted.args == ("float64", True, "meta", "v3")  # the model's dtype argument is untouched
    assert converted.linear.weight.dtype == torch.float16
