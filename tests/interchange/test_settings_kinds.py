"""A port whose layer computes another kind of thing from the same tensors (an RMS norm for a LayerNorm, a
transposed convolution for a convolution, an RNN run backwards or with its outputs kept in input order, other
merged directions, a zero attention, a residual cell, a layer norm for an instance norm, a convolution of an
input-dilated input) loads
with a ``LayerSettingsWarning`` naming the layer; files written before those settings were recorded load as
before, without new warnings."""

from __future__ import annotations

import json
import operator
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import keras
import numpy as np
import pytest
from flax import nnx
from safetensors import safe_open
from safetensors.numpy import load_file, save_file
from torch import nn

from hubmixin_core.errors import LayerSettingsWarning
from hubmixin_core.weights import SETTINGS_KEY
from hubmixin_flax import FlaxModelHubMixin
from hubmixin_keras import KerasModelHubMixin
from hubmixin_torch import PyTorchModelHubMixin

L = keras.layers
RMS_SCALING_DEPRECATED = "(?s).*You passed `rms_scaling=True`"
TORCH: dict[str, Callable[[], nn.Module]] = {
    "layer_norm": lambda: nn.LayerNorm(6, eps=1e-6, bias=False),
    "rms_norm": lambda: nn.RMSNorm(6, eps=1e-6),
    "group_norm": lambda: nn.GroupNorm(2, 6, eps=1e-6),
    "conv": lambda: nn.Conv2d(4, 4, 3, padding=1),
    "conv_transpose": lambda: nn.ConvTranspose2d(4, 4, 3, padding=1),
    "lstm": lambda: nn.LSTM(3, 4, batch_first=True),
    "rnn": lambda: nn.RNN(3, 4, batch_first=True),
    "instance_norm": lambda: nn.InstanceNorm1d(6, eps=1e-6, affine=True),
    "per_channel_group_norm": lambda: nn.GroupNorm(6, 6, eps=1e-6),
    "bi_lstm": lambda: nn.LSTM(3, 4, batch_first=True, bidirectional=True),
    "attention": lambda: nn.MultiheadAttention(8, 2, batch_first=True),
    "zero_attention": lambda: nn.MultiheadAttention(8, 2, batch_first=True, add_zero_attn=True),
}
FLAX: dict[str, Callable[[nnx.Rngs], nnx.Module]] = {
    "layer_norm": lambda r: nnx.LayerNorm(6, epsilon=1e-6, use_bias=False, rngs=r),
    "biased_layer_norm": lambda r: nnx.LayerNorm(6, epsilon=1e-6, rngs=r),
    "rms_norm": lambda r: nnx.RMSNorm(6, epsilon=1e-6, rngs=r),
    "group_norm": lambda r: nnx.GroupNorm(6, num_groups=2, epsilon=1e-6, rngs=r),
    "per_channel_group_norm": lambda r: nnx.GroupNorm(6, num_groups=None, group_size=1, epsilon=1e-6, rngs=r),
    "conv": lambda r: nnx.Conv(4, 4, (3, 3), padding="SAME", rngs=r),
    "same_lower_conv": lambda r: nnx.Conv(4, 4, (3, 3), padding="SAME_LOWER", rngs=r),
    "input_dilated_conv": lambda r: nnx.Conv(4, 4, (3, 3), padding="SAME", input_dilation=2, rngs=r),
    "conv_transpose": lambda r: nnx.ConvTranspose(4, 4, (3, 3), padding="SAME", rngs=r),
    "lstm": lambda r: nnx.RNN(nnx.LSTMCell(3, 4, rngs=r)),
    "reversed_lstm": lambda r: nnx.RNN(nnx.LSTMCell(3, 4, rngs=r), reverse=True),
    "kept_order_lstm": lambda r: nnx.RNN(nnx.LSTMCell(3, 4, rngs=r), reverse=True, keep_order=True),
    "rnn": lambda r: nnx.RNN(nnx.SimpleCell(3, 4, rngs=r)),
    "residual_rnn": lambda r: nnx.RNN(nnx.SimpleCell(3, 4, residual=True, rngs=r)),
    "attention": lambda r: nnx.MultiHeadAttention(2, 8, decode=False, rngs=r),
    "summed_bi_lstm": lambda r: _flax_bidirectional(r, jnp.add),
    "lambda_bi_lstm": lambda r: _flax_bidirectional(r, lambda a, b: a + b),
    "multiplied_bi_lstm": lambda r: _flax_bidirectional(r, operator.mul),
}


def _flax_bidirectional(rngs: nnx.Rngs, merge: Callable[[Any, Any], Any]) -> nnx.Module:
    forward, backward = (nnx.RNN(nnx.LSTMCell(3, 4, rngs=rngs)) for _ in range(2))
    return nnx.Bidirectional(forward, backward, merge_fn=merge)


def _rms_scaling() -> Any:
    """Keras' ``LayerNormalization(rms_scaling=True)``: deprecated, as it divides by the standard deviation."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", RMS_SCALING_DEPRECATED, UserWarning)
        return L.LayerNormalization(epsilon=1e-6, center=False, rms_scaling=True)


KERAS: dict[str, Callable[[], Any]] = {
    "layer_norm": lambda: L.LayerNormalization(epsilon=1e-6, center=False),
    "biased_layer_norm": lambda: L.LayerNormalization(epsilon=1e-6),
    "rms_scaling": _rms_scaling,
    "rms_norm": lambda: L.RMSNormalization(epsilon=1e-6),
    "group_norm": lambda: L.GroupNormalization(2, epsilon=1e-6),
    "per_channel_group_norm": lambda: L.GroupNormalization(-1, epsilon=1e-6),
    "conv": lambda: L.Conv2D(4, 3, padding="same"),
    "conv_transpose": lambda: L.Conv2DTranspose(4, 3, padding="same"),
    "lstm": lambda: L.LSTM(4, return_sequences=True),
    "backwards_lstm": lambda: L.LSTM(4, return_sequences=True, go_backwards=True),
    "rnn": lambda: L.SimpleRNN(4, return_sequences=True),
    "bi_lstm": lambda: L.Bidirectional(L.LSTM(4, return_sequences=True)),
    "summed_bi_lstm": lambda: L.Bidirectional(L.LSTM(4, return_sequences=True), merge_mode="sum"),
    "multiplied_bi_lstm": lambda: L.Bidirectional(L.LSTM(4, return_sequences=True), merge_mode="mul"),
    "attention": lambda: L.MultiHeadAttention(2, 4),
}
KERAS_INPUTS = {"conv": (1, 5, 5, 4), "conv_transpose": (1, 5, 5, 4), "attention": (1, 3, 8)}
"""The input shapes that build a Keras layer saved first (norms: (1, 6); recurrent layers: (1, 5, 3))."""


class TorchNet(nn.Module, PyTorchModelHubMixin):
    def __init__(self, case: str = "layer_norm") -> None:
        super().__init__()
        self.layer = TORCH[case]()


class FlaxNet(nnx.Module, FlaxModelHubMixin):
    def __init__(self, case: str = "layer_norm", *, rngs: nnx.Rngs) -> None:
        self.layer = FLAX[case](rngs)


class KerasNet(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, case: str = "layer_norm", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.layer = KERAS[case]()


PORTS: dict[str, Any] = {"torch": TorchNet, "flax": FlaxNet, "keras": KerasNet}


def _saved(framework: str, case: str, path: Path) -> Path:
    if framework == "flax":
        FlaxNet(case, rngs=nnx.Rngs(0)).save_pretrained(path)
    elif framework == "keras":
        model = KerasNet(case)
        x = np.zeros(KERAS_INPUTS.get(case, (1, 5, 3) if "rnn" in case or "lstm" in case else (1, 6)), np.float32)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", RMS_SCALING_DEPRECATED, UserWarning)
            model.layer(*(x, x) if case == "attention" else (x,))
        model.save_pretrained(path)
    else:
        TorchNet(case).save_pretrained(path)
    return path


def _warnings(port: str, case: str, path: Path) -> list[str]:
    """The ``LayerSettingsWarning`` messages of loading ``path`` into ``port``'s ``case`` (from the layer's path
    on), the model built as ``case``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        PORTS[port].from_pretrained(path, strict=True, model_kwargs={"case": case})
    return [str(w.message).split("differ: ", 1)[1] for w in caught if issubclass(w.category, LayerSettingsWarning)]


WARNED = [
    ("torch", "layer_norm", "flax", "rms_norm", "layer: norm 'rms' here, 'layer' saved"),
    ("torch", "layer_norm", "keras", "rms_norm", "layer: norm 'rms' here, 'layer' saved"),
    ("torch", "layer_norm", "keras", "rms_scaling", "layer: norm 'rms_scaling' here, 'layer' saved"),
    ("torch", "rms_norm", "keras", "layer_norm", "layer: norm 'layer' here, 'rms' saved"),
    ("torch", "rms_norm", "flax", "layer_norm", "layer: norm 'layer' here, 'rms' saved"),
    ("torch", "group_norm", "flax", "biased_layer_norm", "layer: norm 'layer' here, 'group' saved"),
    ("keras", "rms_scaling", "torch", "layer_norm", "layer: norm 'layer' here, 'rms_scaling' saved"),
    ("keras", "layer_norm", "flax", "rms_norm", "layer: norm 'rms' here, 'layer' saved"),
    ("torch", "conv", "flax", "conv_transpose", "layer: transposed True here, False saved"),
    ("torch", "conv", "keras", "conv_transpose", "layer: transposed True here, False saved"),
    ("torch", "conv_transpose", "flax", "conv", "layer: transposed False here, True saved"),
    ("torch", "lstm", "keras", "backwards_lstm", "layer: reverse True here, False saved"),
    ("torch", "lstm", "flax", "reversed_lstm", "layer: reverse True here, False saved"),
    ("flax", "reversed_lstm", "torch", "lstm", "layer: reverse False here, True saved"),
    ("torch", "bi_lstm", "keras", "summed_bi_lstm", "layer: merge 'sum' here, 'concat' saved"),
    ("torch", "zero_attention", "flax", "attention", "layer: add_zero_attn False here, True saved"),
    ("flax", "attention", "torch", "zero_attention", "layer: add_zero_attn True here, False saved"),
    ("keras", "attention", "torch", "zero_attention", "layer: add_zero_attn True here, False saved"),
    ("torch", "bi_lstm", "flax", "summed_bi_lstm", "layer: merge 'sum' here, 'concat' saved"),
    ("keras", "summed_bi_lstm", "flax", "multiplied_bi_lstm", "layer: merge 'mul' here, 'sum' saved"),
    ("torch", "lstm", "flax", "kept_order_lstm", "layer: reverse 'keep_order' here, False saved"),
    ("keras", "backwards_lstm", "flax", "kept_order_lstm", "layer: reverse 'keep_order' here, True saved"),
    ("flax", "kept_order_lstm", "keras", "backwards_lstm", "layer: reverse True here, 'keep_order' saved"),
    ("flax", "kept_order_lstm", "flax", "reversed_lstm", "layer: reverse True here, 'keep_order' saved"),
    ("torch", "rnn", "flax", "residual_rnn", "layer: residual True here, False saved"),
    ("keras", "rnn", "flax", "residual_rnn", "layer: residual True here, False saved"),
    ("flax", "residual_rnn", "torch", "rnn", "layer: residual False here, True saved"),
    ("flax", "residual_rnn", "keras", "rnn", "layer: residual False here, True saved"),
    ("flax", "residual_rnn", "flax", "rnn", "layer: residual False here, True saved"),
    ("torch", "instance_norm", "flax", "biased_layer_norm", "layer: norm 'layer' here, 'group' saved"),
    ("torch", "instance_norm", "keras", "biased_layer_norm", "layer: norm 'layer' here, 'group' saved"),
    ("flax", "biased_layer_norm", "torch", "instance_norm", "layer: norm 'group' here, 'layer' saved"),
    (
        "torch",
        "conv",
        "flax",
        "input_dilated_conv",
        "layer: padding [[1, 1, 1], [1, 1, 1]] here, [[1, 1], [1, 1]] saved",
    ),
    (
        "flax",
        "input_dilated_conv",
        "keras",
        "conv",
        "layer: padding [[1, 1], [1, 1]] here, [[1, 1, 1], [1, 1, 1]] saved",
    ),
    (
        "flax",
        "input_dilated_conv",
        "flax",
        "conv",
        "layer: padding [[1, 1], [1, 1]] here, [[1, 1, 1], [1, 1, 1]] saved",
    ),
]


@pytest.mark.parametrize(("source", "saved_as", "port", "case", "message"), WARNED)
def test_a_port_computing_another_kind_of_layer_is_warned_of(
    tmp_path: Path, source: str, saved_as: str, port: str, case: str, message: str
) -> None:
    assert _warnings(port, case, _saved(source, saved_as, tmp_path)) == [message]


SAME = [
    ("torch", "layer_norm", "flax", "layer_norm"),
    ("torch", "layer_norm", "keras", "layer_norm"),
    ("torch", "rms_norm", "flax", "rms_norm"),
    ("torch", "rms_norm", "keras", "rms_norm"),
    ("torch", "group_norm", "keras", "group_norm"),
    ("torch", "conv_transpose", "keras", "conv_transpose"),
    ("torch", "lstm", "flax", "lstm"),
    ("keras", "backwards_lstm", "keras", "backwards_lstm"),
    ("keras", "summed_bi_lstm", "keras", "summed_bi_lstm"),
    ("torch", "attention", "keras", "attention"),
    ("keras", "attention", "torch", "attention"),
    ("keras", "summed_bi_lstm", "flax", "summed_bi_lstm"),  # Keras' "sum" is jnp.add
    ("keras", "multiplied_bi_lstm", "flax", "multiplied_bi_lstm"),
    ("flax", "summed_bi_lstm", "keras", "summed_bi_lstm"),
    ("keras", "summed_bi_lstm", "flax", "lambda_bi_lstm"),  # a lambda's merge is not compared
    ("flax", "lambda_bi_lstm", "keras", "summed_bi_lstm"),
    ("keras", "backwards_lstm", "flax", "reversed_lstm"),  # keep_order=False: outputs in processing order
    ("flax", "reversed_lstm", "keras", "backwards_lstm"),
    ("flax", "kept_order_lstm", "flax", "kept_order_lstm"),
    ("torch", "rnn", "flax", "rnn"),
    ("torch", "rnn", "keras", "rnn"),
    ("keras", "rnn", "flax", "rnn"),
    ("flax", "rnn", "torch", "rnn"),
    ("flax", "residual_rnn", "flax", "residual_rnn"),
    ("torch", "instance_norm", "flax", "per_channel_group_norm"),  # InstanceNorm(C, affine=True): GroupNorm(C, C)
    ("torch", "instance_norm", "keras", "per_channel_group_norm"),
    ("torch", "instance_norm", "torch", "per_channel_group_norm"),
    ("flax", "per_channel_group_norm", "torch", "instance_norm"),
    ("keras", "per_channel_group_norm", "torch", "instance_norm"),
    ("torch", "conv", "flax", "same_lower_conv"),  # SAME_LOWER of an odd kernel at stride 1: symmetric
    ("flax", "same_lower_conv", "keras", "conv"),
    ("flax", "input_dilated_conv", "flax", "input_dilated_conv"),
]


@pytest.mark.parametrize(("source", "saved_as", "port", "case"), SAME)
def test_a_port_of_the_same_kind_loads_without_warning(
    tmp_path: Path, source: str, saved_as: str, port: str, case: str
) -> None:
    assert _warnings(port, case, _saved(source, saved_as, tmp_path)) == []


NEW = ("norm", "reverse", "merge", "add_zero_attn", "residual")


def _as_before(path: Path) -> Path:
    """``path``'s checkpoint as written before the settings of :data:`NEW` were recorded."""
    file = str(path / "model.safetensors")
    with safe_open(file, "np") as opened:
        metadata = dict(opened.metadata())
    settings = json.loads(metadata[SETTINGS_KEY])
    old = {layer: {k: v for k, v in values.items() if k not in NEW} for layer, values in settings.items()}
    assert old != settings
    save_file(load_file(file), file, {**metadata, SETTINGS_KEY: json.dumps(old)})
    return path


OLD_UNWARNED = [
    ("torch", "layer_norm", "flax", "rms_norm"),  # the file could be an RMS norm's
    ("torch", "rms_norm", "flax", "rms_norm"),
    ("torch", "rms_norm", "keras", "rms_norm"),
    ("keras", "backwards_lstm", "keras", "backwards_lstm"),
    ("keras", "summed_bi_lstm", "keras", "summed_bi_lstm"),
    ("torch", "zero_attention", "torch", "zero_attention"),
    ("torch", "rnn", "flax", "residual_rnn"),  # the file could be a residual cell's
]


@pytest.mark.parametrize(("source", "saved_as", "port", "case"), OLD_UNWARNED)
def test_a_file_written_before_the_kinds_were_recorded_loads_without_new_warnings(
    tmp_path: Path, source: str, saved_as: str, port: str, case: str
) -> None:
    assert _warnings(port, case, _as_before(_saved(source, saved_as, tmp_path))) == []


def test_older_files_are_still_compared_where_their_settings_tell_the_kind(tmp_path: Path) -> None:
    group = _as_before(_saved("torch", "group_norm", tmp_path / "group"))  # its groups say it is a group norm
    assert _warnings("flax", "biased_layer_norm", group) == ["layer: norm 'layer' here, 'group' saved"]
    conv = _saved("torch", "conv", tmp_path / "conv")  # a convolution has always recorded its padding
    assert _warnings("keras", "conv_transpose", conv) == ["layer: transposed True here, False saved"]
    lstm = _saved("torch", "lstm", tmp_path / "lstm")  # recorded as before: no torch RNN runs backwards
    assert _warnings("keras", "backwards_lstm", lstm) == ["layer: reverse True here, False saved"]


class FlaxRenamed(nnx.Module, FlaxModelHubMixin):
    """An RMS norm port of ``TorchNet("layer_norm")`` naming its layer ``ln``."""

    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.ln = nnx.RMSNorm(6, epsilon=1e-6, rngs=rngs)


@pytest.mark.parametrize("key_mapping", [{r"^layer\.": "ln."}, {r"^layer\.weight$": "ln.weight"}])
def test_settings_are_compared_under_the_names_a_key_mapping_gives_whole_tensor_names(
    tmp_path: Path, key_mapping: dict[str, str]
) -> None:
    path = _saved("torch", "layer_norm", tmp_path)
    with pytest.warns(LayerSettingsWarning, match=r"differ: ln: norm 'rms' here, 'layer' saved"):
        FlaxRenamed.from_pretrained(path, strict=True, key_mapping=key_mapping)
