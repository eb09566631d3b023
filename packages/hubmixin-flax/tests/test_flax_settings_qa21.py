"""The settings Flax records for options no PyTorch or Keras layer has: a residual ``SimpleCell``, a
convolution's ``input_dilation``, a reversed ``nnx.RNN`` keeping its outputs in input order; and
``padding="SAME_LOWER"`` as the pads it applies."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax import lax

from hubmixin_flax._settings import layer_settings


@pytest.mark.parametrize(("kernel", "dilation"), [(1, 1), (2, 1), (3, 1), (4, 1), (3, 2), (4, 3)])
def test_same_lower_at_stride_1_records_the_pads_it_applies(kernel: int, dilation: int) -> None:
    conv = nnx.Conv(1, 1, (kernel,), padding="SAME_LOWER", kernel_dilation=dilation, rngs=nnx.Rngs(0))
    pads = lax.padtype_to_pads((8,), ((kernel - 1) * dilation + 1,), (1,), "SAME_LOWER")
    assert layer_settings(conv)["padding"] == [list(pair) for pair in pads]
    explicit = nnx.Conv(1, 1, (kernel,), padding=pads, kernel_dilation=dilation, rngs=nnx.Rngs(0))
    np.testing.assert_array_equal(np.asarray(explicit.kernel[...]), np.asarray(conv.kernel[...]))  # same seed
    x = jnp.asarray(np.random.default_rng(0).normal(size=(1, 8, 1)), jnp.float32)
    np.testing.assert_array_equal(np.asarray(conv(x)), np.asarray(explicit(x)))


def test_same_lower_at_a_larger_stride_is_recorded_by_mode() -> None:
    conv = nnx.Conv(1, 1, (3,), strides=2, padding="SAME_LOWER", rngs=nnx.Rngs(0))
    assert layer_settings(conv)["padding"] == "same_lower"  # its pads depend on the input's size


def test_an_input_dilation_is_recorded_as_interior_padding() -> None:
    rngs = nnx.Rngs(0)
    assert layer_settings(nnx.Conv(2, 3, (3, 2), padding=[(0, 0), (1, 0)], input_dilation=(2, 1), rngs=rngs)) == {
        "stride": [1, 1],
        "dilation": [1, 1],
        "padding": [[0, 0, 1], [1, 0, 0]],
        "groups": 1,
    }
    circular = nnx.Conv(2, 3, (3,), padding="CIRCULAR", input_dilation=3, rngs=rngs)
    assert layer_settings(circular)["padding"] == {"mode": "circular", "padding": [[1, 1, 2]]}
    assert layer_settings(nnx.Conv(2, 3, (3,), padding="SAME", input_dilation=1, rngs=rngs))["padding"] == [[1, 1]]


def test_recurrent_options_no_other_framework_has_are_recorded() -> None:
    rngs = nnx.Rngs(0)
    residual = nnx.RNN(nnx.SimpleCell(3, 4, residual=True, rngs=rngs))
    assert layer_settings(residual) == {"activation": "tanh", "residual": True}
    assert layer_settings(nnx.RNN(nnx.SimpleCell(3, 4, rngs=rngs)))["residual"] is False
    assert "residual" not in layer_settings(nnx.RNN(nnx.GRUCell(3, 4, rngs=rngs)))
    kept = nnx.RNN(nnx.LSTMCell(3, 4, rngs=rngs), reverse=True, keep_order=True)
    assert layer_settings(kept)["reverse"] == "keep_order"
    assert layer_settings(nnx.RNN(nnx.LSTMCell(3, 4, rngs=rngs), reverse=True))["reverse"] is True
    assert "reverse" not in layer_settings(nnx.RNN(nnx.LSTMCell(3, 4, rngs=rngs), keep_order=True))
    both = nnx.Bidirectional(nnx.RNN(nnx.LSTMCell(3, 4, rngs=rngs)), kept)  # runs its backward RNN kept itself
    assert "reverse" not in layer_settings(both)
