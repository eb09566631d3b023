"""The extra parameters ``hubmixin_numpy`` adds to the generated public methods.

``python -m codegen`` loads this file on its own (it imports only ``hubmixin_core.params``) and writes
``_generated/_methods.py`` from it.
"""

from hubmixin_core.params import KEY_MAPPING, MAX_SHARD_SIZE, STRICT, FrameworkExtras, Param

__all__ = ["EXTRAS"]

EXTRAS = FrameworkExtras(
    package="hubmixin_numpy",
    class_name="NumpyModelHubMixinMethods",
    base="hubmixin_numpy._impl:NumpyHubMixinBase",
    load=(
        STRICT,
        KEY_MAPPING,
        Param(
            "dtype",
            "str | None",
            "None",
            'Floating-point numpy dtype name to load the model in (`"float16"`, `"bfloat16"`, ...): every floating '
            "array is converted, the others are left as they are. `None` keeps the dtypes `__init__` gives them.",
        ),
    ),
    save=(
        MAX_SHARD_SIZE,
        Param(
            "dtype",
            "str | None",
            "None",
            'Floating-point numpy dtype name to save the arrays as (`"float16"`, `"bfloat16"`, ...); the model '
            "itself is not changed. `None` saves each array in its own dtype.",
        ),
    ),
    runtime_args=("rng",),
)
"""The load and save extras of :class:`hubmixin_numpy.NumpyModelHubMixin`; ``rng`` is never in config.json."""
