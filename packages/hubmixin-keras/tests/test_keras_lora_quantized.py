"""LoRA-enabled and quantized layers: a checkpoint holds what the layer computes with (LoRA merged, as Keras'
own ``save_weights`` writes it), and integer codes never load into floating variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from safetensors import safe_open

from hubmixin_core.errors import WeightsDtypeError
from hubmixin_keras import KerasModelHubMixin

X = np.random.default_rng(0).integers(0, 10, (3, 4))


class Tuned(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """An embedding and a dense head, LoRA-enabled in ``__init__`` when ``rank`` is given."""

    def __init__(self, rank: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.emb = keras.layers.Embedding(10, 6)
        self.fc = keras.layers.Dense(5)
        if rank:
            self.emb.build((None,))
            self.fc.build((None, 6))
            self.emb.enable_lora(rank)
            self.fc.enable_lora(rank)

    def call(self, ids: Any) -> Any:
        return self.fc(self.emb(ids))


def _tuned() -> tuple[Tuned, np.ndarray[Any, Any]]:
    model = Tuned(rank=2)
    model(X)
    rng = np.random.default_rng(1)
    for variable in model.weights:  # non-zero factors: the update changes the outputs
        variable.assign(rng.uniform(-0.5, 0.5, tuple(variable.shape)).astype(np.float32))
    return model, keras.ops.convert_to_numpy(model(X))


@pytest.mark.parametrize("rank", [0, 3])
def test_a_lora_update_is_saved_merged_and_loads_into_any_model(rank: int, tmp_path: Path) -> None:
    model, expected = _tuned()
    model.save_pretrained(tmp_path, config={"rank": rank})
    with safe_open(str(tmp_path / "model.safetensors"), "np") as f:
        assert sorted(f.keys()) == ["emb.weight", "fc.bias", "fc.weight"]  # no lora_* tensors
    loaded = Tuned.from_pretrained(tmp_path, strict=True)  # plain (rank 0) or LoRA-enabled (rank 3)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(X)), expected, rtol=1e-5, atol=1e-5)
    if rank:
        assert loaded.fc.lora_enabled and not keras.ops.convert_to_numpy(loaded.fc.lora_kernel_b).any()
        assert keras.ops.convert_to_numpy(loaded.fc.lora_kernel_a).any()  # still trainable: a keeps its init


class Plain(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fc = keras.layers.Dense(5)

    def call(self, x: Any) -> Any:
        return self.fc(x)


@pytest.mark.parametrize("strict", [True, False])
def test_quantized_codes_never_load_into_a_floating_model(strict: bool, tmp_path: Path) -> None:
    x = np.ones((2, 6), np.float32)
    model = Plain()
    model(x)
    model.fc.quantize("int8")
    model.save_pretrained(tmp_path)
    with pytest.raises(WeightsDtypeError, match=r"'fc\.weight' has dtype I8, the model expects F32 \(integer"):
        Plain.from_pretrained(tmp_path, strict=strict)
