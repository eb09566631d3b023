"""`hubmixin convert`: a torch state_dict file and a Flax msgpack file become checkpoints the other side loads."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx, serialization
from flax_models import Configured, Noisy, Port, SeesConfig, Sizes
from test_flax_torch import PortLayers, TorchPort, _flax_out, _torch_out, _trained

from hubmixin_core.cli import main
from hubmixin_core.weights import read_header

pytest.importorskip("torch")
pytest.importorskip("hubmixin_torch")

import torch


def test_a_torch_state_dict_file_converts_for_flax(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = _trained(PortLayers)
    torch.save(model.state_dict(), tmp_path / "port.pt")
    (tmp_path / "config.json").write_text(json.dumps({"channels": 5, "features": 4, "vocab": 7}))
    assert main(["convert", str(tmp_path / "port.pt"), str(tmp_path / "out"), "--to", "flax"]) == 0
    header = read_header(tmp_path / "out" / "model.safetensors")
    assert header.metadata["format"] == "pt" and header.metadata["hubmixin.framework"] == "torch"
    port = Port.from_pretrained(tmp_path / "out", strict=True)
    np.testing.assert_allclose(_flax_out(port), _torch_out(model), rtol=0, atol=1e-5)
    assert "from_pretrained" in capsys.readouterr().out


def test_a_flax_msgpack_file_converts_for_torch(tmp_path: Path) -> None:
    port = Port.from_pretrained(_saved(tmp_path))
    (tmp_path / "native").mkdir()
    (tmp_path / "native" / "port.msgpack").write_bytes(serialization.to_bytes(nnx.to_pure_dict(nnx.state(port))))
    (tmp_path / "native" / "config.json").write_text(json.dumps({"channels": 5, "features": 4, "vocab": 7}))
    src, out = str(tmp_path / "native" / "port.msgpack"), str(tmp_path / "out")
    assert main(["convert", src, out, "--to", "torch", "--model", "flax_models:Port", "--quiet"]) == 0
    loaded = TorchPort.from_pretrained(out, strict=True)
    np.testing.assert_allclose(_torch_out(loaded), _flax_out(port), rtol=0, atol=1e-5)
    sharded = str(tmp_path / "sharded")
    args = ["convert", src, sharded, "--to", "torch", "--model", "flax_models:Port", "--max-shard-size", "200B"]
    assert main([*args, "--quiet"]) == 0
    assert (tmp_path / "sharded" / "model.safetensors.index.json").is_file()
    np.testing.assert_allclose(_torch_out(TorchPort.from_pretrained(sharded, strict=True)), _flax_out(port), atol=1e-5)


def test_formats_that_need_the_model_say_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "port.msgpack").write_bytes(b"\x80")
    assert main(["convert", str(tmp_path / "port.msgpack"), str(tmp_path / "out"), "--to", "flax"]) == 1
    assert "--model" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


class _Exploit:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("PWNED",))


def test_a_pickle_with_code_is_refused_without_running_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch.save({"fc.weight": torch.zeros(2), "evil": _Exploit()}, tmp_path / "evil.pt", pickle_module=pickle)
    assert main(["convert", str(tmp_path / "evil.pt"), str(tmp_path / "out"), "--to", "flax"]) == 1
    captured = capsys.readouterr()
    assert "PWNED" not in captured.out and "evil.pt" in captured.err
    assert "weights_only=False" not in captured.err
    assert not (tmp_path / "out").exists()


def _saved(tmp_path: Path) -> Path:
    _trained(TorchPort).save_pretrained(tmp_path / "torch")
    return tmp_path / "torch"


def _key_data(value: Any) -> Any:
    return jax.random.key_data(value) if jnp.issubdtype(value.dtype, jax.dtypes.prng_key) else value


@pytest.mark.parametrize("written", ["parameters", "with_rng_key_data"])
def test_a_msgpack_of_a_model_holding_rng_state_converts(written: str, tmp_path: Path) -> None:
    model = Noisy(rngs=nnx.Rngs(3))
    if written == "parameters":  # docs/cli.md's recipe
        state = nnx.to_pure_dict(nnx.state(model, (nnx.Param, nnx.BatchStat)))
    else:  # the whole state, its RNG keys as raw key data (msgpack cannot hold typed keys)
        state = jax.tree.map(_key_data, nnx.to_pure_dict(nnx.state(model)))
    (tmp_path / "noisy.msgpack").write_bytes(serialization.to_bytes(state))
    (tmp_path / "config.json").write_text(json.dumps({"features": 3}))
    args = ["convert", str(tmp_path / "noisy.msgpack"), str(tmp_path / "out"), "--to", "flax"]
    assert main([*args, "--model", "flax_models:Noisy", "--quiet"]) == 0
    loaded = Noisy.from_pretrained(tmp_path / "out", strict=True)
    for (path, saved), (_, got) in zip(nnx.iter_graph(model), nnx.iter_graph(loaded), strict=True):
        if isinstance(saved, nnx.Param):
            np.testing.assert_array_equal(np.asarray(got.get_value()), np.asarray(saved.get_value()), err_msg=str(path))


def test_the_source_model_is_built_from_its_config_as_from_pretrained_builds_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = Configured(Sizes(din=5, dout=2), rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path / "saved")  # config.json: {"din": 5, "dout": 2}, the dataclass's fields
    (tmp_path / "saved" / "state.msgpack").write_bytes(serialization.to_bytes(nnx.to_pure_dict(nnx.state(model))))
    src, args = str(tmp_path / "saved" / "state.msgpack"), ["--to", "flax", "--model", "flax_models:Configured"]
    assert main(["convert", src, str(tmp_path / "out"), *args, "--quiet"]) == 0
    loaded = Configured.from_pretrained(tmp_path / "out", strict=True)
    np.testing.assert_array_equal(np.asarray(loaded.fc.kernel[...]), np.asarray(model.fc.kernel[...]))
    (tmp_path / "saved" / "config.json").write_text(json.dumps({"din": "five", "dout": 2}))
    assert main(["convert", src, str(tmp_path / "bad"), *args, "--quiet"]) == 1
    assert "'din'" in capsys.readouterr().err and not (tmp_path / "bad").exists()


def test_a_model_whose_from_pretrained_takes_the_config_converts(tmp_path: Path) -> None:
    model = SeesConfig(din=4, rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path / "saved")
    (tmp_path / "saved" / "state.msgpack").write_bytes(serialization.to_bytes(nnx.to_pure_dict(nnx.state(model))))
    src, args = str(tmp_path / "saved" / "state.msgpack"), ["--to", "flax", "--model", "flax_models:SeesConfig"]
    assert main(["convert", src, str(tmp_path / "out"), *args, "--quiet"]) == 0
    loaded = SeesConfig.from_pretrained(tmp_path / "out", strict=True)
    np.testing.assert_array_equal(np.asarray(loaded.lin.kernel[...]), np.asarray(model.lin.kernel[...]))
