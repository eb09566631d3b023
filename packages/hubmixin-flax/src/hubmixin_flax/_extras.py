"""The extra parameters ``hubmixin_flax`` adds to the generated public methods.

``python -m codegen`` loads this file on its own (it must import only ``hubmixin_core.params``, never jax) and
writes ``_generated/_methods.py`` from it. Each parameter is documented once, here.
"""

from hubmixin_core.params import KEY_MAPPING, MAX_SHARD_SIZE, STRICT, FrameworkExtras, Param

__all__ = ["EXTRAS"]

_DTYPE = ("from jax.typing import DTypeLike",)

EXTRAS = FrameworkExtras(
    package="hubmixin_flax",
    class_name="FlaxModelHubMixinMethods",
    base="hubmixin_flax._impl:FlaxHubMixinBase",
    load=(
        Param(
            "sharding",
            "ShardingSpec | None",
            "None",
            "Where each parameter goes: a `jax.sharding.Sharding` for all of them; a mapping from parameter path "
            '(`"blocks.0.linear.kernel"`) to a `Sharding`; a callable of the path returning a `Sharding` (or '
            "`None` for the default device); in either, a `PartitionSpec` under the caller's `jax.set_mesh` "
            "places on that mesh; or a `jax.sharding.Mesh`, which resolves the model's own "
            "`nnx.with_partitioning` annotations against it (unannotated parameters are replicated). Each "
            "device receives only its slice, read from the file by slice. `None` puts everything on the default "
            "device, or, under the caller's `jax.set_mesh`, where a construction there puts it. A model annotated "
            "with `nnx.with_partitioning` (which Flax builds under a mesh only) loaded outside a mesh with `None`, "
            "or with a mapping or callable giving no `NamedSharding`, raises `HubMixinValueError`.",
            ("from hubmixin_flax._sharding import ShardingSpec",),
        ),
        STRICT,
        KEY_MAPPING,
        Param(
            "dtype",
            "DTypeLike | None",
            "None",
            'Floating-point dtype to load the model in (`jnp.bfloat16`, `"float16"`, ...): every floating '
            "`nnx.Param` and `nnx.BatchStat` is converted, integer ones are left as they are. `None` keeps the "
            "dtypes the model's `__init__` gives them.",
            _DTYPE,
        ),
    ),
    save=(
        MAX_SHARD_SIZE,
        Param(
            "dtype",
            "DTypeLike | None",
            "None",
            "Floating-point dtype to save the weights as (`jnp.bfloat16`, ...); integer tensors are saved as they "
            "are. The model itself is not changed. `None` saves each variable in its current dtype.",
            _DTYPE,
        ),
    ),
    runtime_args=("rngs",),
)
"""The load and save extras of :class:`hubmixin_flax.FlaxModelHubMixin`."""
