"""`hubmixin convert` of a tied ``state_dict`` writes each shared tensor once and records the dropped names, as
``save_pretrained`` does, so ports that tie through the embedding load it strictly; equal values are no tie."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from hubmixin_core.cli import main
from hubmixin_core.weights import read_header
from hubmixin_torch import PyTorchModelHubMixin

IDS = np.array([[1, 5, 10, 0]])


class TiedLM(nn.Module, PyTorchModelHubMixin):
    def __init__(self, vocab: int = 11, dim: int = 6) -> None:
        super().__init__()
        self.wte = nn.Embedding(vocab, dim)
        self.lm_head = nn.Linear(dim, vocab, bias=False)
        self.lm_head.weight = self.wte.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.lm_head(torch.tanh(self.wte(ids)))
        return out


def _convert(tmp_path: Path, state: dict[str, torch.Tensor], to: str) -> Path:
    source, out = tmp_path / "weights.pt", tmp_path / f"out-{to}"
    torch.save(state, source)
    assert main(["convert", str(source), str(out), "--to", to, "--quiet"]) == 0
    return out / "model.safetensors"


def _flax_port(out: Path, expected: np.ndarray) -> None:
    import jax.numpy as jnp
    from flax import nnx

    from hubmixin_flax import FlaxModelHubMixin

    class FlaxTiedLM(nnx.Module, FlaxModelHubMixin):  # the head ties through the embedding: no lm_head
        def __init__(self, vocab: int = 11, dim: int = 6, *, rngs: nnx.Rngs) -> None:
            self.wte = nnx.Embed(vocab, dim, rngs=rngs)

        def __call__(self, ids: jnp.ndarray) -> jnp.ndarray:
            out: jnp.ndarray = self.wte.attend(jnp.tanh(self.wte(ids)))
            return out

    port = FlaxTiedLM.from_pretrained(out, strict=True)
    np.testing.assert_allclose(np.asarray(port(jnp.asarray(IDS))), expected, rtol=0, atol=1e-6)


def _keras_port(out: Path, expected: np.ndarray) -> None:
    import keras

    from hubmixin_keras import KerasModelHubMixin

    class KerasTiedLM(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
        def __init__(self, vocab: int = 11, dim: int = 6, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.wte = keras.layers.Embedding(vocab, dim)

        def call(self, ids: Any) -> Any:
            hidden = keras.ops.tanh(self.wte(ids))
            return keras.ops.matmul(hidden, keras.ops.transpose(self.wte.embeddings))

    port = KerasTiedLM.from_pretrained(out, strict=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(port(IDS)), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("to", ["torch", "flax", "keras"])
def test_a_tied_state_dict_converts_as_save_pretrained_writes_it(tmp_path: Path, to: str) -> None:
    if to != "torch":
        pytest.importorskip(f"hubmixin_{to}")  # (--to needs it installed)
    torch.manual_seed(0)
    model = TiedLM().eval()
    model.save_pretrained(tmp_path / "saved")
    saved = read_header(tmp_path / "saved" / "model.safetensors")
    converted = read_header(_convert(tmp_path, model.state_dict(), to))
    assert list(converted.tensors) == list(saved.tensors) == ["lm_head.weight"]  # the first name, sorted
    assert converted.metadata["wte.weight"] == saved.metadata["wte.weight"] == "lm_head.weight"
    with torch.no_grad():
        expected = model(torch.from_numpy(IDS)).numpy()
    out = tmp_path / f"out-{to}"
    (out / "config.json").write_text((tmp_path / "saved" / "config.json").read_text())
    if to == "torch":
        loaded = TiedLM.from_pretrained(out, strict=True)
        assert loaded.lm_head.weight is loaded.wte.weight
        with torch.no_grad():
            np.testing.assert_array_equal(loaded(torch.from_numpy(IDS)).numpy(), expected)
    elif to == "flax":
        _flax_port(out, expected)
    else:
        _keras_port(out, expected)


def test_equal_values_on_separate_memory_stay_two_tensors(tmp_path: Path) -> None:
    weight = torch.randn(5, 3)
    whole = torch.randn(4, 3)
    state = {"a.weight": weight, "b.weight": weight.clone(), "whole": whole, "row": whole[1]}  # row: a part only
    header = read_header(_convert(tmp_path, state, "torch"))
    assert sorted(header.tensors) == ["a.weight", "b.weight", "row", "whole"]
    assert header.metadata.keys().isdisjoint(state)
