"""Keras' own sharded ``save_weights`` named with the call that loads it, and a save of variables sharded over
several JAX devices reading each through a transient array (QA round 22, lowmem #2 and #4)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import huggingface_hub
import keras
import numpy as np
import pytest
from huggingface_hub import HfApi
from keras_models import Net, assert_same_variables, make_net

from hubmixin_core._native import native_file_advice
from hubmixin_core.cli import main
from hubmixin_core.errors import WeightsNotFoundError
from hubmixin_core.testing import LocalHub
from hubmixin_core.weights._resolve import native_checkpoint_hint

TINY_SHARDS = 2e-7  # GB (Keras' unit), about 200 bytes: several shards


def _keras_sharded(net: Net, directory: Path, name: str = "model.weights.json") -> list[str]:
    """``net.save_weights(directory / name, max_shard_size=...)`` with a config.json beside; the shards' names."""
    directory.mkdir(parents=True)
    net.save_weights(directory / name, max_shard_size=TINY_SHARDS)
    (directory / "config.json").write_text(json.dumps({"units": 4}))
    shards = sorted(p.name for p in directory.glob("*.weights.h5"))
    assert len(shards) > 1
    return shards


def test_a_keras_sharded_save_weights_folder_is_refused_naming_load_weights_of_its_index(
    net: Net, tmp_path: Path
) -> None:
    directory = tmp_path / "keras"
    shards = _keras_sharded(net, directory)
    with pytest.raises(WeightsNotFoundError) as info:
        Net.from_pretrained(directory)
    message = str(info.value)
    call = f"model.load_weights({str(directory / 'model.weights.json')!r})"
    assert call in message and shards[0] in message
    assert "hubmixin convert" not in message.replace("hubmixin convert reads no shard", "")
    loaded = make_net(seed=3)
    loaded.load_weights(str(directory / "model.weights.json"))  # the call named works
    assert_same_variables(loaded, net)


@pytest.mark.parametrize("revision", [None, "v2"])
def test_a_keras_sharded_save_weights_repo_is_refused_naming_a_call_that_loads_it(
    net: Net, tmp_path: Path, local_hub: LocalHub, revision: str | None
) -> None:
    directory = tmp_path / "keras"
    _keras_sharded(net, directory)
    (directory / "unrelated.bin").write_bytes(b"\0")  # (not downloaded by the call named)
    repo_id = f"{local_hub.username}/keras-sharded"
    HfApi().create_repo(repo_id)
    if revision is not None:  # (the files on that branch only: the call must fetch them from it)
        HfApi().create_branch(repo_id, branch=revision)
    HfApi().upload_folder(folder_path=directory, repo_id=repo_id, revision=revision)
    with pytest.raises(WeightsNotFoundError) as info:
        Net.from_pretrained(repo_id, revision=revision)
    message = str(info.value)
    start = message.index("model.load_weights(") + len("model.load_weights(")
    expression = message[start : message.index(" (hubmixin convert reads no shard")][:-1]
    assert "snapshot_download" in expression and repo_id in expression
    path = eval(expression, {"os": os, "huggingface_hub": huggingface_hub})  # noqa: S307  (the message's call)
    assert not (Path(path).parent / "unrelated.bin").exists()
    loaded = make_net(seed=3)
    loaded.load_weights(path)
    assert_same_variables(loaded, net)


def test_core_names_a_keras_index_of_any_name_not_one_of_its_shards(net: Net, tmp_path: Path) -> None:
    # What hubmixin-torch's and -flax's from_pretrained add (core's hint), and `hubmixin inspect SHARD`'s advice.
    directory = tmp_path / "keras"
    shards = _keras_sharded(net, directory, name="net.weights.json")
    hint = native_checkpoint_hint(directory)
    assert f"model.load_weights({str(directory / 'net.weights.json')!r})" in hint
    assert "`hubmixin convert" not in hint
    advice = native_file_advice(directory / shards[1])
    assert advice is not None and "a shard of Keras' sharded save_weights (net.weights.json" in advice
    assert "`hubmixin convert" not in advice
    (directory / "net.weights.json").unlink()  # a lone .weights.h5 file: hubmixin convert reads it
    assert "`hubmixin convert" in native_checkpoint_hint(directory)


def test_a_json_beside_that_is_no_keras_index_leaves_the_weights_file_named(net: Net, tmp_path: Path) -> None:
    directory = tmp_path / "keras"
    directory.mkdir()
    net.save_weights(directory / "model.weights.h5")
    (directory / "model.weights.json").write_text(json.dumps({"weight_map": {"a": "model.safetensors"}}))
    assert "hubmixin convert" in native_checkpoint_hint(directory)
    with pytest.raises(WeightsNotFoundError, match=r"model\.load_weights\(.*model\.weights\.h5"):
        Net.from_pretrained(directory)


_MESH_SAVE = """
import sys
import tracemalloc
from pathlib import Path
import keras
import numpy as np
from hubmixin_keras import KerasModelHubMixin

class Deep(keras.Model, KerasModelHubMixin):
    def __init__(self, depth=6, width=256, **kwargs):
        super().__init__(**kwargs)
        self.dense = [keras.layers.Dense(width) for _ in range(depth)]
        self.norm = keras.layers.LayerNormalization()
    def call(self, x):
        for layer in self.dense:
            x = layer(x)
        return self.norm(x)

root = Path(sys.argv[1])
mesh = keras.distribution.DeviceMesh((2, 4), ["batch", "model"], keras.distribution.list_devices())
layouts = keras.distribution.LayoutMap(mesh)
layouts[".*dense.*kernel"] = (None, "model")
keras.distribution.set_distribution(keras.distribution.ModelParallel(layout_map=layouts, batch_dim_name="batch"))
model, other = Deep(), Deep()
for each in (model, other):
    each(np.zeros((2, 256), np.float32))
arrays = [v.value for v in model.weights]
assert all(len(a.sharding.device_set) == 8 for a in arrays[:-2])
model.save_pretrained(root / "mesh", max_shard_size="300KB")
cached = sum(getattr(a, "_npy_value", None) is not None for a in arrays)
assert cached == 0, f"{cached} of {len(arrays)} variables keep a host copy after the save"
tracemalloc.start()
other.save_pretrained(root / "other")  # (a second save of one model would reuse a cached copy)
peak = tracemalloc.get_traced_memory()[1] / (256 * 256 * 4)
tracemalloc.stop()
assert peak < 3, f"{peak:.1f} kernels on the host at the save's peak (the model: 6)"  # 13 when all read first
keras.distribution.set_distribution(None)
Deep.from_pretrained(root / "mesh", strict=True).save_pretrained(root / "cpu", max_shard_size="300KB")
print("ok")
"""


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="JAX arrays sharded over devices")
def test_a_model_sharded_over_jax_devices_is_saved_layer_by_layer_keeping_no_host_copy(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
    result = subprocess.run(
        [sys.executable, "-c", _MESH_SAVE, str(tmp_path)], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-3000:]
    saved = {p.name: p.read_bytes() for p in sorted((tmp_path / "mesh").iterdir()) if p.suffix != ".md"}
    again = {p.name: p.read_bytes() for p in sorted((tmp_path / "cpu").iterdir()) if p.suffix != ".md"}
    assert len(saved) > 3 and saved == again


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="the JAX backend's arrays")
def test_a_variable_on_one_cpu_device_is_read_in_place() -> None:
    from hubmixin_keras._impl import _numpy

    variable = keras.Variable(np.arange(12.0, dtype=np.float32).reshape(3, 4))
    array = _numpy(variable)
    assert np.shares_memory(array, np.asarray(variable.value))
    np.testing.assert_array_equal(array, np.arange(12.0).reshape(3, 4))


_TO_TORCH = pytest.mark.skipif(importlib.util.find_spec("hubmixin_torch") is None, reason="converts --to torch")


@pytest.mark.parametrize("command", ["inspect", pytest.param("convert", marks=_TO_TORCH)])
def test_the_cli_names_load_weights_for_a_keras_index_and_its_shards(
    net: Net, tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "keras"
    shards = _keras_sharded(net, directory)
    call = f"model.load_weights({str(directory / 'model.weights.json')!r})"
    for name in ("model.weights.json", shards[1]):
        convert = ["convert", str(directory / name), str(tmp_path / "out"), "--to", "torch"]
        args = [*convert, "--model", "keras_models:Net"] if command == "convert" else ["inspect", str(directory / name)]
        assert main(args) == 1
        err = capsys.readouterr().err
        assert call in err, (name, err)
        assert "`hubmixin convert" not in err
        assert not (tmp_path / "out").exists()
