"""hubmixin-numpy, a framework package made of extras, a facade, construction and adapters: save, load, push.

Its checkpoints are canonical: a torch-saved checkpoint of the same module tree loads into it, and the other way:
each model below has a torch twin with the same attribute names and ``__init__`` arguments (the NumPy one adds
``rng``) and the same forward.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file, save_file

from hubmixin_core.errors import WeightsDtypeError, WeightsKeyError, WeightsNotFoundError, WeightsShapeError
from hubmixin_core.testing import LocalHub
from hubmixin_core.weights import SAFETENSORS_INDEX_NAME, open_checkpoint
from hubmixin_numpy import Array, Conv2d, Embed, LayerNorm, Linear, Module, MultiHeadAttention, NumpyModelHubMixin
from hubmixin_torch import PyTorchModelHubMixin

# The same small models in both frameworks: same attribute names and __init__ arguments (NumPy adds `rng`).


class NpBlock(Module):
    """Pre-norm attention then a dense residual."""

    def __init__(self, dim: int, heads: int, rng: np.random.Generator | None) -> None:
        self.norm = LayerNorm(dim)
        self.attn = MultiHeadAttention(dim, heads, rng=rng)
        self.proj = Linear(dim, dim, rng=rng)

    def __call__(self, x: Array) -> Array:
        """The block applied to ``x`` (``[batch, length, dim]``)."""
        h = self.norm(x)
        x = x + self.attn(h, h, h)
        out: Array = x + np.tanh(self.proj(x))
        return out


class NpTransformer(Module, NumpyModelHubMixin):
    """Embedding, a list of blocks, a final norm and a classifier head."""

    def __init__(
        self,
        vocab: int = 11,
        dim: int = 8,
        heads: int = 2,
        depth: int = 2,
        classes: int = 3,
        head_bias: bool = True,
        *,
        rng: np.random.Generator | None = None,
    ) -> None:
        self.embed = Embed(vocab, dim, rng=rng)
        self.blocks = [NpBlock(dim, heads, rng) for _ in range(depth)]
        self.norm = LayerNorm(dim)
        self.head = Linear(dim, classes, use_bias=head_bias, rng=rng)

    def __call__(self, ids: Array) -> Array:
        """Logits ``[batch, length, classes]`` of token ids ``[batch, length]``."""
        x = self.embed(ids)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


class TorchBlock(torch.nn.Module):
    """:class:`NpBlock` in torch."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.norm = torch.nn.LayerNorm(dim)
        self.attn = torch.nn.MultiheadAttention(dim, heads, batch_first=True)
        self.proj = torch.nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The block applied to ``x`` (``[batch, length, dim]``)."""
        h = self.norm(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + torch.tanh(self.proj(x))


class TorchTransformer(torch.nn.Module, PyTorchModelHubMixin):
    """:class:`NpTransformer` in torch."""

    def __init__(
        self, vocab: int = 11, dim: int = 8, heads: int = 2, depth: int = 2, classes: int = 3, head_bias: bool = True
    ) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, dim)
        self.blocks = torch.nn.ModuleList([TorchBlock(dim, heads) for _ in range(depth)])
        self.norm = torch.nn.LayerNorm(dim)
        self.head = torch.nn.Linear(dim, classes, bias=head_bias)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Logits ``[batch, length, classes]`` of token ids ``[batch, length]``."""
        x = self.embed(ids)
        for block in self.blocks:
            x = block(x)
        out: torch.Tensor = self.head(self.norm(x))
        return out


class NpConvNet(Module, NumpyModelHubMixin):
    """A convolution over NHWC images, mean-pooled, then a dense head."""

    def __init__(self, channels: int = 3, features: int = 4, classes: int = 2, *, rng: np.random.Generator) -> None:
        self.conv = Conv2d(channels, features, 3, rng=rng)
        self.head = Linear(features, classes, rng=rng)

    def __call__(self, images: Array) -> Array:
        """Logits of NHWC ``images``."""
        return self.head(np.tanh(self.conv(images)).mean(axis=(-3, -2)))


class TorchConvNet(torch.nn.Module, PyTorchModelHubMixin):
    """:class:`NpConvNet` in torch (NCHW images)."""

    def __init__(self, channels: int = 3, features: int = 4, classes: int = 2) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(channels, features, 3)
        self.head = torch.nn.Linear(features, classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits of NCHW ``images``."""
        out: torch.Tensor = self.head(torch.tanh(self.conv(images)).mean(dim=(-2, -1)))
        return out


class Seeded(Module, NumpyModelHubMixin):
    """A model whose ``__init__`` requires ``rng``, and counts its constructions."""

    built: ClassVar[int] = 0

    def __init__(self, features: int = 3, *, rng: np.random.Generator) -> None:
        type(self).built += 1
        self.rng = rng
        self.head = Linear(features, 2, rng=rng)


def flat_arrays(model: Module) -> dict[str, Array]:
    """Every array of ``model`` by its dotted name (``blocks.0.attn.query_kernel``)."""
    return {
        f"{path}.{name}" if path else name: array
        for path, layer in model.named_layers()
        for name, array in layer.arrays().items()
    }


def randomize(module: torch.nn.Module, seed: int = 0) -> None:
    """Give every parameter of ``module`` random values (zero biases and unit norms would hide layout bugs)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * 0.5)


IDS = np.array([[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]])


def _model(seed: int = 0, depth: int = 2) -> NpTransformer:
    return NpTransformer(depth=depth, rng=np.random.default_rng(seed))


def _assert_same_arrays(a: dict[str, Array], b: dict[str, Array]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].dtype == b[name].dtype, name
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    """A seeded :class:`NpTransformer` saved by ``save_pretrained``."""
    _model().save_pretrained(tmp_path / "model")
    return tmp_path / "model"


def test_round_trip_keeps_every_array_and_writes_canonical_names(saved: Path) -> None:
    loaded = NpTransformer.from_pretrained(saved)
    _assert_same_arrays(flat_arrays(loaded), flat_arrays(_model()))
    np.testing.assert_array_equal(loaded(IDS), _model()(IDS))
    config = json.loads((saved / "config.json").read_text())
    assert config == {"vocab": 11, "dim": 8, "heads": 2, "depth": 2, "classes": 3, "head_bias": True}
    checkpoint = open_checkpoint(saved)
    assert checkpoint.metadata == {"format": "pt", "hubmixin.layout": "1"}
    assert checkpoint.infos["blocks.1.attn.in_proj_weight"].shape == (24, 8)
    assert checkpoint.infos["blocks.1.attn.out_proj.weight"].shape == (8, 8)
    assert checkpoint.infos["head.weight"].shape == (3, 8)
    assert {"embed.weight", "norm.weight", "norm.bias"} <= checkpoint.infos.keys()


def test_rng_is_supplied_at_load_unless_given(tmp_path: Path) -> None:
    Seeded(features=4, rng=np.random.default_rng(0)).save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == {"features": 4}
    loaded = Seeded.from_pretrained(tmp_path)
    assert isinstance(loaded.rng, np.random.Generator) and loaded.head.kernel.shape == (4, 2)
    mine = np.random.default_rng(1)
    assert Seeded.from_pretrained(tmp_path, model_kwargs={"rng": mine}).rng is mine


def test_no_weights_fails_before_the_model_is_built(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"features": 4}')
    built = Seeded.built
    with pytest.raises(WeightsNotFoundError):
        Seeded.from_pretrained(tmp_path)
    assert Seeded.built == built


def test_sharded_save_and_load(tmp_path: Path) -> None:
    model = _model(depth=3)
    model.save_pretrained(tmp_path, max_shard_size=1000)
    shards = sorted(p.name for p in tmp_path.glob("model-*.safetensors"))
    assert len(shards) > 1 and (tmp_path / SAFETENSORS_INDEX_NAME).exists()
    assert not (tmp_path / "model.safetensors").exists()
    loaded = NpTransformer.from_pretrained(tmp_path, strict=True)
    _assert_same_arrays(flat_arrays(loaded), flat_arrays(model))


def test_save_dtype_converts_the_file_not_the_model(tmp_path: Path) -> None:
    model = _model()
    model.save_pretrained(tmp_path, dtype="float16")
    assert {info.dtype for info in open_checkpoint(tmp_path).infos.values()} == {"F16"}
    assert model.head.kernel.dtype == np.float32
    loaded = NpTransformer.from_pretrained(tmp_path)  # not strict: converted to the model's float32
    assert loaded.head.kernel.dtype == np.float32
    np.testing.assert_allclose(loaded.head.kernel, model.head.kernel, atol=1e-3)
    with pytest.raises(WeightsDtypeError, match="F16"):
        NpTransformer.from_pretrained(tmp_path, strict=True)


def test_load_dtype_converts_every_floating_array(saved: Path) -> None:
    loaded = NpTransformer.from_pretrained(saved, dtype="bfloat16", strict=True)
    assert {array.dtype.name for array in flat_arrays(loaded).values()} == {"bfloat16"}
    np.testing.assert_allclose(loaded.head.kernel.astype(np.float32), _model().head.kernel, atol=1e-2)
    with pytest.raises(TypeError, match="int32"):
        NpTransformer.from_pretrained(saved, dtype="int32")
    with pytest.raises(TypeError, match="int8"):
        _model().save_pretrained(saved.parent / "other", dtype="int8")


def test_strict_names_missing_and_unexpected_keys(saved: Path) -> None:
    with pytest.raises(WeightsKeyError) as missing:
        NpTransformer.from_pretrained(saved, strict=True, model_kwargs={"depth": 3})
    assert "blocks.2.attn.in_proj_weight" in missing.value.missing and not missing.value.unexpected
    with pytest.raises(WeightsKeyError) as unexpected:
        NpTransformer.from_pretrained(saved, strict=True, model_kwargs={"depth": 1, "head_bias": False})
    assert {"blocks.1.proj.weight", "head.bias"} <= set(unexpected.value.unexpected)


def test_not_strict_logs_and_keeps_the_models_own_arrays(saved: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="hubmixin_numpy"):
        loaded = NpTransformer.from_pretrained(saved, model_kwargs={"depth": 3, "rng": np.random.default_rng(7)})
    assert "blocks.2.attn.in_proj_weight" in caplog.text
    fresh = NpTransformer(depth=3, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(loaded.blocks[2].attn.query_kernel, fresh.blocks[2].attn.query_kernel)
    np.testing.assert_array_equal(loaded.blocks[1].attn.query_kernel, _model().blocks[1].attn.query_kernel)


def test_a_missing_fused_tensor_leaves_only_its_parts_out(saved: Path, caplog: pytest.LogCaptureFixture) -> None:
    tensors = load_file(saved / "model.safetensors")
    del tensors["blocks.0.attn.in_proj_bias"]
    save_file(tensors, saved / "model.safetensors", metadata={"format": "pt"})
    with caplog.at_level(logging.WARNING, logger="hubmixin_numpy"):
        loaded = NpTransformer.from_pretrained(saved, model_kwargs={"rng": np.random.default_rng(7)})
    assert "'blocks.0.attn.in_proj_bias'" in caplog.text
    attn, saved_attn, fresh_attn = loaded.blocks[0].attn, _model().blocks[0].attn, _model(7).blocks[0].attn
    for name in ("query_kernel", "key_kernel", "value_kernel", "out_kernel", "out_bias"):
        np.testing.assert_array_equal(getattr(attn, name), getattr(saved_attn, name), err_msg=name)
    for name in ("query_bias", "key_bias", "value_bias"):
        np.testing.assert_array_equal(getattr(attn, name), getattr(fresh_attn, name), err_msg=name)


def test_shape_mismatch_names_the_key_and_the_file(saved: Path) -> None:
    with pytest.raises(WeightsShapeError, match=r"model\.safetensors: tensor 'head\.bias'") as error:
        NpTransformer.from_pretrained(saved, model_kwargs={"classes": 5})  # even without strict
    assert (error.value.key, error.value.expected, error.value.found) == ("head.bias", (5,), (3,))
    with pytest.raises(WeightsShapeError, match=r"model\.safetensors: tensor 'head\.weight'") as error:
        NpTransformer.from_pretrained(saved, model_kwargs={"classes": 5, "head_bias": False})
    assert (error.value.expected, error.value.found) == ((5, 8), (3, 8))  # the canonical layout's shapes


def test_push_to_and_load_from_the_hub(local_hub: LocalHub) -> None:
    model = _model(depth=3)
    repo = f"{local_hub.username}/np-transformer"
    model.push_to_hub(repo, max_shard_size=1000)
    loaded = NpTransformer.from_pretrained(repo, strict=True)
    _assert_same_arrays(flat_arrays(loaded), flat_arrays(model))
    assert len(loaded.blocks) == 3


CROSS: dict[str, tuple[type[NpTransformer | NpConvNet], type[TorchTransformer | TorchConvNet], Array, bool]] = {
    "transformer": (NpTransformer, TorchTransformer, IDS, False),
    "conv": (NpConvNet, TorchConvNet, np.random.default_rng(0).standard_normal((2, 6, 5, 3)).astype(np.float32), True),
}
"""Twin models with an input (NHWC images are permuted to NCHW for torch where the flag says so)."""


@pytest.mark.parametrize("source", ["torch", "numpy"])
@pytest.mark.parametrize("name", CROSS)
def test_checkpoints_cross_between_torch_and_numpy(name: str, source: str, tmp_path: Path) -> None:
    """A torch-saved checkpoint loads into the NumPy twin, a NumPy-saved one into torch, both strictly."""
    numpy_class, torch_class, x, channels_last = CROSS[name]
    if source == "torch":
        torch_model = torch_class()
        randomize(torch_model)
        torch_model.save_pretrained(tmp_path)
        numpy_model = numpy_class.from_pretrained(tmp_path, strict=True)
    else:
        numpy_model = numpy_class(rng=np.random.default_rng(3))
        numpy_model.save_pretrained(tmp_path)
        torch_model = torch_class.from_pretrained(tmp_path, strict=True)
    torch_input = torch.from_numpy(x).permute(0, 3, 1, 2) if channels_last else torch.from_numpy(x)
    with torch.no_grad():
        expected = torch_model.eval()(torch_input).numpy()
    np.testing.assert_allclose(numpy_model(x), expected, rtol=1e-5, atol=1e-5)
