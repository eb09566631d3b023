"""The canonical (PyTorch) layout on disk: names, shapes and axis orders of every layer's tensors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np
from flax import nnx
from flax_models import Net, Port, randomize
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

from hubmixin_flax import FlaxModelHubMixin


def _read(directory: Path) -> tuple[dict[str, np.ndarray[Any, Any]], dict[str, str]]:
    with safe_open(str(directory / "model.safetensors"), framework="numpy") as f:
        keys: list[str] = f.keys()
        return {k: f.get_tensor(k) for k in keys}, f.metadata() or {}


def _np(variable: nnx.Variable[Any] | None) -> np.ndarray[Any, Any]:
    assert variable is not None
    return np.asarray(variable.get_value())


def test_metadata_is_format_pt(saved: Path) -> None:
    _, metadata = _read(saved)
    settings = json.loads(metadata.pop("hubmixin.settings"))
    assert metadata == {"format": "pt", "hubmixin.layout": "1", "hubmixin.framework": "flax"}
    assert settings["bn"] == {"eps": 1e-5}
    assert settings["conv"] == {"dilation": [1], "groups": 1, "padding": [[1, 1]], "stride": [1]}


def test_linear_embed_and_norms(net: Net, saved: Path) -> None:
    tensors, _ = _read(saved)
    linear = net.blocks[0].linear
    assert tensors["blocks.0.linear.weight"].shape == (4, 4)
    np.testing.assert_array_equal(tensors["blocks.0.linear.weight"], _np(linear.kernel).T)  # [out, in]
    np.testing.assert_array_equal(tensors["blocks.0.linear.bias"], _np(linear.bias))
    assert tensors["head.weight"].shape == (11, 4)  # out=vocab, in=dim
    assert tensors["head.weight"].dtype == _np(net.head.kernel).dtype  # bfloat16 stays bfloat16
    np.testing.assert_array_equal(tensors["head.weight"], _np(net.head.kernel).T)
    np.testing.assert_array_equal(tensors["embed.weight"], _np(net.embed.embedding))  # [num, features]
    norm = net.blocks[1].norm
    np.testing.assert_array_equal(tensors["blocks.1.norm.weight"], _np(norm.scale))
    np.testing.assert_array_equal(tensors["blocks.1.norm.bias"], _np(norm.bias))
    np.testing.assert_array_equal(tensors["blocks.1.offsets"], _np(net.blocks[1].offsets))
    assert tensors["blocks.1.offsets"].dtype == np.int32


def test_batch_norm(net: Net, saved: Path) -> None:
    tensors, _ = _read(saved)
    assert sorted(k for k in tensors if k.startswith("bn.")) == [
        "bn.bias",
        "bn.running_mean",
        "bn.running_var",
        "bn.weight",
    ]
    np.testing.assert_array_equal(tensors["bn.weight"], _np(net.bn.scale))
    np.testing.assert_array_equal(tensors["bn.bias"], _np(net.bn.bias))
    np.testing.assert_array_equal(tensors["bn.running_mean"], _np(net.bn.mean))
    np.testing.assert_array_equal(tensors["bn.running_var"], _np(net.bn.var))


def test_conv_1d(net: Net, saved: Path) -> None:
    tensors, _ = _read(saved)
    kernel = _np(net.conv.kernel)
    assert kernel.shape == (3, 4, 5)  # (k, in, out)
    assert tensors["conv.weight"].shape == (5, 4, 3)  # (out, in, k)
    np.testing.assert_array_equal(tensors["conv.weight"], kernel.transpose(2, 1, 0))
    np.testing.assert_array_equal(tensors["conv.bias"], _np(net.conv.bias))


def test_conv_2d_with_a_rectangular_kernel(tmp_path: Path) -> None:
    port = Port(rngs=nnx.Rngs(0))
    randomize(port)
    port.save_pretrained(tmp_path)
    tensors, _ = _read(tmp_path)
    kernel = _np(port.conv.kernel)
    assert kernel.shape == (3, 2, 5, 4)  # (kh, kw, in, out)
    assert tensors["conv.weight"].shape == (4, 5, 3, 2)  # (out, in, kh, kw)
    for o, i, h, w in [(0, 0, 0, 0), (3, 4, 2, 1), (1, 2, 0, 1), (2, 3, 1, 0)]:
        assert tensors["conv.weight"][o, i, h, w] == kernel[h, w, i, o]
    np.testing.assert_array_equal(tensors["conv.weight"], kernel.transpose(3, 2, 0, 1))
    assert sorted(tensors) == [
        *("bn.bias", "bn.running_mean", "bn.running_var", "bn.weight"),
        *("conv.bias", "conv.weight", "embed.weight"),
        *("fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"),
        *("norm.bias", "norm.weight"),
    ]


class NormalizedAttention(nnx.Module, FlaxModelHubMixin):
    def __init__(self, dim: int = 8, *, rngs: nnx.Rngs) -> None:
        self.attn = nnx.MultiHeadAttention(2, dim, decode=False, normalize_qk=True, rngs=rngs)


def test_files_naming_a_composites_sub_modules_as_before_still_load(tmp_path: Path) -> None:
    model = NormalizedAttention(rngs=nnx.Rngs(0))
    norm: Any = model.attn.query_ln
    norm.scale.set_value(jnp.full((4,), 3.0))
    model.save_pretrained(tmp_path)
    tensors = load_file(tmp_path / "model.safetensors")
    assert "attn.query_ln.weight" in tensors
    old = {k.replace("_ln.weight", "_ln.scale"): v for k, v in tensors.items()}  # as 0.1.0 named them
    save_file(old, tmp_path / "model.safetensors", metadata={"format": "pt"})
    loaded = NormalizedAttention.from_pretrained(tmp_path, strict=True)
    loaded_norm: Any = loaded.attn.query_ln
    np.testing.assert_array_equal(np.asarray(loaded_norm.scale[...]), np.full((4,), 3.0))
