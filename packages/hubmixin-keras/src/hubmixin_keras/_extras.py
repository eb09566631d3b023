"""The extra parameters ``hubmixin_keras`` adds to the generated public methods.

``python -m codegen`` loads this file on its own (it must import only ``hubmixin_core.params``, never keras) and
writes ``_generated/_methods.py`` from it. Each parameter is documented once, here.
"""

from hubmixin_core.params import KEY_MAPPING, MAX_SHARD_SIZE, STRICT, FrameworkExtras, Param

__all__ = ["EXTRAS"]

_DTYPE = ("from numpy.typing import DTypeLike",)  # what Keras takes; numpy comes with Keras

EXTRAS = FrameworkExtras(
    package="hubmixin_keras",
    class_name="KerasModelHubMixinMethods",
    base="hubmixin_keras._impl:KerasHubMixinBase",
    load=(
        STRICT,
        KEY_MAPPING,
        Param(
            "dtype",
            "DTypeLike | None",
            "None",
            'Floating-point dtype to load the model in (`"bfloat16"`, `"float16"`, `np.float16`, ...; the '
            "backend's own `torch.float16` works at run time too, but type checkers take numpy's `DTypeLike` "
            "only): the model is built under that Keras dtype policy, "
            "so the floating variables (and computations) of layers left at the default policy use it (a layer "
            "given its own `dtype` keeps it, as under `keras.config.set_dtype_policy`); integer variables are left "
            "as they are. `None` keeps the model's own dtype policy.",
            _DTYPE,
        ),
    ),
    save=(
        MAX_SHARD_SIZE,
        Param(
            "dtype",
            "DTypeLike | None",
            "None",
            'Floating-point dtype to save the weights as (`"bfloat16"`, `"float16"`, `np.float16`, ...); integer '
            "variables are saved as they are. The model itself is not changed. `None` saves each variable in its "
            "own dtype.",
            _DTYPE,
        ),
    ),
    runtime_args=("name", "dtype", "trainable"),
)
"""The load and save extras of :class:`hubmixin_keras.KerasModelHubMixin`."""
