"""The extra parameters ``hubmixin_numpy`` adds to the generated public methods.

``python -m codegen`` loads this file on its own (it imports only ``hubmixin_core.params``) and writes
``_generated/_methods.py`` from it.
"""

from hubmixin_core.params import FrameworkExtras, Param

__all__ = ["EXTRAS"]

EXTRAS = FrameworkExtras(
    package="hubmixin_numpy",
    class_name="NumpyModelHubMixinMethods",
    base="hubmixin_numpy._impl:NumpyHubMixinBase",
    load=(
        Param(
            "strict",
            "bool",
            "False",
            "Whether the checkpoint must match the model exactly. If `True`, missing or unexpected keys raise "
            "`WeightsKeyError` and a dtype other than the model's raises `WeightsDtypeError` (unless `dtype` is "
            "given); if `False`, missing arrays keep the model's own initialisation and both lists are logged as a "
            "warning. A shape mismatch raises `WeightsShapeError` either way.",
        ),
        Param(
            "dtype",
            "str | None",
            "None",
            'Floating-point numpy dtype name to load the model in (`"float16"`, `"bfloat16"`, ...): every floating '
            "array is converted, the others are left as they are. `None` keeps the dtypes `__init__` gives them.",
        ),
    ),
    save=(
        Param(
            "max_shard_size",
            "int | str | None",
            "None",
            'Largest weights file to write, in bytes or as a string (`"5GB"`); a larger model is written as '
            "shards plus `model.safetensors.index.json`. `None` always writes a single `model.safetensors`.",
        ),
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
