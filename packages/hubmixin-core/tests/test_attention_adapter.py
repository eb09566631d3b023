"""MultiHeadAttentionAdapter: per-head projections as torch.nn.MultiheadAttention's tensors, and back."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from hubmixin_core.errors import LayoutError
from hubmixin_core.weights import MultiHeadAttentionAdapter, TensorInfo

Array = NDArray[Any]
rng = np.random.default_rng(0)


class Heads:
    """A stand-in layer: ``num_heads`` heads of ``dims`` (query, key, value)."""

    def __init__(self, num_heads: int, dims: tuple[int, int, int]) -> None:
        self.num_heads = num_heads
        self.dims = dims


class Adapter(MultiHeadAttentionAdapter):
    def __init__(self) -> None:
        super().__init__(("q", "k", "v", "o"))

    def heads(self, layer: Any) -> tuple[int, tuple[int, int, int]]:
        return layer.num_heads, layer.dims


def _tensors(width: int, heads: int, dims: tuple[int, int, int], kv_width: int | None = None) -> dict[str, Array]:
    widths = (width, kv_width or width, kv_width or width)
    tensors = {}
    for part, in_width, dim in zip("qkv", widths, dims, strict=True):
        tensors[f"{part}.kernel"] = rng.standard_normal((in_width, heads, dim)).astype(np.float32)
        tensors[f"{part}.bias"] = rng.standard_normal((heads, dim)).astype(np.float32)
    tensors["o.kernel"] = rng.standard_normal((heads, dims[2], width)).astype(np.float32)
    tensors["o.bias"] = rng.standard_normal((width,)).astype(np.float32)
    tensors["q_ln.scale"] = rng.standard_normal((dims[0],)).astype(np.float32)
    return tensors


def test_fused_projections_match_torch_layout_and_come_back() -> None:
    layer, tensors = Heads(2, (4, 4, 4)), _tensors(8, 2, (4, 4, 4))
    canonical = Adapter().to_canonical(layer, "attn", tensors)
    assert sorted(canonical) == ["in_proj_bias", "in_proj_weight", "out_proj.bias", "out_proj.weight", "q_ln.scale"]
    # torch: rows [0, E) of in_proj_weight are W_q with W_q @ x == einsum(x, kernel) per head
    x = rng.standard_normal(8).astype(np.float32)
    np.testing.assert_allclose(
        canonical["in_proj_weight"][:8] @ x, np.einsum("e,ehd->hd", x, tensors["q.kernel"]).ravel(), rtol=1e-5
    )
    heads = rng.standard_normal((2, 4)).astype(np.float32)  # the heads' outputs, concatenated for torch
    expected = np.einsum("hd,hde->e", heads, tensors["o.kernel"])
    np.testing.assert_allclose(canonical["out_proj.weight"] @ heads.ravel(), expected, rtol=1e-5)
    back = Adapter().from_canonical(layer, "attn", canonical)
    assert sorted(back) == sorted(tensors)
    for name, array in tensors.items():
        np.testing.assert_array_equal(back[name], array)


def test_other_key_and_value_widths_and_value_head_size() -> None:
    layer, tensors = (
        Heads(
            2,
            (3, 3, 5),
        ),
        _tensors(6, 2, (3, 3, 5), kv_width=7),
    )
    canonical = Adapter().to_canonical(layer, "attn", tensors)
    assert {n: canonical[n].shape for n in MultiHeadAttentionAdapter.PROJECTIONS} == {
        "q_proj_weight": (6, 6),
        "k_proj_weight": (6, 7),
        "v_proj_weight": (10, 7),
    }
    assert canonical["in_proj_bias"].shape == (22,)
    back = Adapter().from_canonical(layer, "attn", canonical)
    for name, array in tensors.items():
        np.testing.assert_array_equal(back[name], array)


def test_shapes_alone_map_like_arrays() -> None:
    layer = Heads(2, (4, 4, 4))
    infos = {n: TensorInfo(a.shape, "F32") for n, a in _tensors(8, 2, (4, 4, 4)).items()}
    canonical = Adapter().to_canonical(layer, "attn", infos)
    assert canonical["in_proj_weight"] == TensorInfo((24, 8), "F32")
    assert Adapter().from_canonical(layer, "attn", canonical)["o.kernel"] == TensorInfo((2, 4, 8), "F32")


def test_a_layer_with_other_heads_than_the_checkpoint_is_named() -> None:
    canonical = Adapter().to_canonical(Heads(2, (4, 4, 4)), "attn", _tensors(8, 2, (4, 4, 4)))

    class Named(Adapter):
        SETTINGS = "num_heads or head_dim"

    with pytest.raises(
        LayoutError, match=r"'in_proj_weight' of shape \(24, 8\).*\[12, 12, 12\].*num_heads or head_dim"
    ):
        Named().from_canonical(Heads(3, (4, 4, 4)), "attn", canonical)
