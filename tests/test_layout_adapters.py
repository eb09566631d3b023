"""hubmixin-numpy's layout adapters: round trips on arrays and on shapes, equality with torch's layers, the registry."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hubmixin_core.errors import LayoutError
from hubmixin_core.weights import IDENTITY, LayoutRegistry, MappedAdapter, TensorInfo, TensorRule, dtype_name
from hubmixin_numpy import LAYOUTS, Array, Conv2d, Embed, LayerNorm, Linear, Module, MultiHeadAttention

RNG = np.random.default_rng(0)

PAIRS: dict[str, tuple[Callable[[], Module], Callable[[], torch.nn.Module]]] = {
    "linear": (lambda: Linear(4, 3, rng=RNG), lambda: torch.nn.Linear(4, 3)),
    "linear-no-bias": (lambda: Linear(4, 3, use_bias=False, rng=RNG), lambda: torch.nn.Linear(4, 3, bias=False)),
    "layer-norm": (lambda: LayerNorm(5), lambda: torch.nn.LayerNorm(5)),
    "embed": (lambda: Embed(7, 4, rng=RNG), lambda: torch.nn.Embedding(7, 4)),
    "conv": (lambda: Conv2d(3, 4, 3, rng=RNG), lambda: torch.nn.Conv2d(3, 4, 3)),
    "attention": (lambda: MultiHeadAttention(8, 2, rng=RNG), lambda: torch.nn.MultiheadAttention(8, 2)),
}
"""A NumPy layer and the torch layer of the same configuration, by name."""


def _canonical(layer: Module) -> dict[str, Array]:
    return LAYOUTS.find(layer).to_canonical(layer, "layer", layer.arrays())


def _load_into(reference: torch.nn.Module, layer: Module) -> None:
    """Load ``layer``'s canonical arrays into ``reference`` (every key, exactly)."""
    state = {name: torch.from_numpy(array) for name, array in _canonical(layer).items()}
    reference.load_state_dict(state, strict=True)


@pytest.mark.parametrize("name", PAIRS)
def test_round_trip_on_arrays_and_on_shapes(name: str) -> None:
    make_layer, make_reference = PAIRS[name]
    layer = make_layer()
    adapter = LAYOUTS.find(layer)
    arrays = layer.arrays()
    canonical = adapter.to_canonical(layer, "layer", arrays)
    back = adapter.from_canonical(layer, "layer", canonical)
    assert back.keys() == arrays.keys()
    for key, array in arrays.items():
        np.testing.assert_array_equal(back[key], array, err_msg=key)

    infos = {key: TensorInfo(array.shape, dtype_name(array.dtype)) for key, array in arrays.items()}
    canonical_infos = adapter.to_canonical(layer, "layer", infos)
    assert canonical_infos == {key: TensorInfo(a.shape, dtype_name(a.dtype)) for key, a in canonical.items()}
    assert adapter.from_canonical(layer, "layer", canonical_infos) == infos
    torch_shapes = {key: tuple(t.shape) for key, t in make_reference().state_dict().items()}
    assert {key: info.shape for key, info in canonical_infos.items()} == torch_shapes


def test_linear_equals_torch() -> None:
    layer, reference = Linear(4, 3, rng=RNG), torch.nn.Linear(4, 3)
    _load_into(reference, layer)
    x = RNG.standard_normal((2, 4)).astype(np.float32)
    with torch.no_grad():
        expected = reference(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(layer(x), expected, rtol=1e-6, atol=1e-6)


def test_layer_norm_embed_and_conv_equal_torch() -> None:
    norm, embed, conv = LayerNorm(5), Embed(7, 4, rng=RNG), Conv2d(3, 4, 3, rng=RNG)
    norm.scale, norm.bias = (RNG.standard_normal(5).astype(np.float32) for _ in range(2))
    pairs = [(norm, torch.nn.LayerNorm(5)), (embed, torch.nn.Embedding(7, 4)), (conv, torch.nn.Conv2d(3, 4, 3))]
    for layer, reference in pairs:
        _load_into(reference, layer)
    x, ids, images = RNG.standard_normal((2, 5)), np.array([[0, 6, 3]]), RNG.standard_normal((2, 6, 5, 3))
    with torch.no_grad():
        torch_norm = pairs[0][1](torch.from_numpy(x.astype(np.float32))).numpy()
        torch_embed = pairs[1][1](torch.from_numpy(ids)).numpy()
        torch_conv = pairs[2][1](torch.from_numpy(images.astype(np.float32)).permute(0, 3, 1, 2)).numpy()
    np.testing.assert_allclose(norm(x.astype(np.float32)), torch_norm, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(embed(ids), torch_embed)
    np.testing.assert_allclose(conv(images.astype(np.float32)), torch_conv.transpose(0, 2, 3, 1), atol=1e-5)


def test_attention_projections_equal_torchs_fused_in_projection() -> None:
    layer = MultiHeadAttention(8, 2, rng=RNG)
    canonical = _canonical(layer)
    x = RNG.standard_normal((2, 5, 8)).astype(np.float32)
    weight, bias = torch.from_numpy(canonical["in_proj_weight"]), torch.from_numpy(canonical["in_proj_bias"])
    fused = F.linear(torch.from_numpy(x), weight, bias).chunk(3, dim=-1)
    for part, expected in zip(layer.project(x, x, x), fused, strict=True):
        np.testing.assert_allclose(part, expected.reshape(2, 5, 2, 4).numpy(), rtol=1e-5, atol=1e-5)


def test_attention_equals_torch() -> None:
    layer, reference = MultiHeadAttention(8, 2, rng=RNG), torch.nn.MultiheadAttention(8, 2, batch_first=True)
    _load_into(reference, layer)
    q, k, v = (RNG.standard_normal((2, 5, 8)).astype(np.float32) for _ in range(3))
    with torch.no_grad():
        expected = reference(*(torch.from_numpy(a) for a in (q, k, v)), need_weights=False)[0].numpy()
    np.testing.assert_allclose(layer(q, k, v), expected, rtol=1e-5, atol=1e-5)


def test_attention_maps_only_the_parts_it_has() -> None:
    layer = MultiHeadAttention(8, 2, rng=RNG)
    adapter = LAYOUTS.find(layer)
    canonical = _canonical(layer)
    partial = {name: canonical[name] for name in ("in_proj_weight", "out_proj.bias")}
    assert set(adapter.from_canonical(layer, "attn", partial)) == {
        "query_kernel",
        "key_kernel",
        "value_kernel",
        "out_bias",
    }
    arrays = {name: array for name, array in layer.arrays().items() if name != "key_bias"}
    assert set(adapter.to_canonical(layer, "attn", arrays)) == {"in_proj_weight", "out_proj.weight", "out_proj.bias"}


def test_registering_a_second_adapter_for_a_type_is_an_error() -> None:
    registry = LayoutRegistry("test")
    dense = MappedAdapter(TensorRule("kernel", "weight", (1, 0)))
    registry.register(Linear, dense)
    registry.register(Linear, dense)  # the same adapter again is no conflict
    other = MappedAdapter(TensorRule("kernel", "weight"))
    with pytest.raises(LayoutError, match="Linear already has the layout adapter"):
        registry.register(Linear, other)
    assert registry.find(Linear(2, 2)) is dense
    registry.register(Linear, other, replace=True)
    assert registry.find(Linear(2, 2)) is other
    with pytest.raises(LayoutError, match="hubmixin_numpy: MultiHeadAttention"):
        LAYOUTS.register(MultiHeadAttention, IDENTITY)


def test_the_nearest_registered_class_wins() -> None:
    class Dense(Linear):
        pass

    class Special(Dense):
        pass

    assert LAYOUTS.find(Special(2, 2)) is LAYOUTS.find(Linear(2, 2))
    registry = LayoutRegistry("test")
    dense, special = MappedAdapter(TensorRule("kernel", "weight", (1, 0))), MappedAdapter()
    registry.register(Linear, dense)
    assert registry.find(Special(2, 2)) is dense
    registry.register(Dense, special)
    assert registry.find(Special(2, 2)) is special and registry.find(Linear(2, 2)) is dense
    assert registry.find(LayerNorm(2)) is IDENTITY
