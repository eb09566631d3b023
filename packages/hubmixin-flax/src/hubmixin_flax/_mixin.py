"""``FlaxModelHubMixin``: the public class."""

from __future__ import annotations

from hubmixin_flax._generated._methods import FlaxModelHubMixinMethods

__all__ = ["FlaxModelHubMixin"]


class FlaxModelHubMixin(FlaxModelHubMixinMethods, tags=["flax_model_hub_mixin"]):
    """Give a Flax NNX ``nnx.Module`` subclass ``save_pretrained``, ``from_pretrained`` and ``push_to_hub``.

    - The ``__init__`` arguments are captured into ``config.json``, except ``rngs`` (and any ``runtime_args``
      the class names, such as a mesh): ``from_pretrained`` supplies ``nnx.Rngs(0)`` when ``__init__`` takes
      ``rngs`` and none is given.
    - Weights are safetensors in the canonical (PyTorch) layout: ``nnx.Linear`` kernels stored as ``weight``
      ``[out, in]``, ``nnx.Conv`` as ``[out, in, *k]``, norms' ``scale`` as ``weight``, ``nnx.BatchNorm``'s
      statistics as ``running_mean``/``running_var``, ``nnx.Embed`` as ``weight``; ``nnx.Param`` and
      ``nnx.BatchStat`` are saved, RNG state is not. A PyTorch model with the same module tree loads into the
      Flax port, and back. Adapters for other layers: ``hubmixin_flax.LAYOUTS.register(...)``.
    - ``from_pretrained`` builds the model abstractly (``nnx.eval_shape``: no random initialisation), then
      fills each variable from the file, one at a time, straight onto its devices: with ``sharding=`` (a
      ``Sharding``, a mapping or callable of the parameter path, or a ``Mesh`` for the model's own
      ``nnx.with_partitioning`` annotations) each device receives only its slice, read from the file by slice.
    - ``dtype=`` loads (or saves) floating weights in another dtype; ``max_shard_size=`` writes shards and
      ``model.safetensors.index.json``; ``strict=True`` raises core's errors naming the keys.

    Examples:
        >>> import tempfile
        >>> import jax.numpy as jnp
        >>> from flax import nnx
        >>> from hubmixin_flax import FlaxModelHubMixin
        >>> class MLP(nnx.Module, FlaxModelHubMixin, license="mit"):
        ...     def __init__(self, din: int = 4, dout: int = 2, *, rngs: nnx.Rngs) -> None:
        ...         self.hidden = nnx.Linear(din, 8, rngs=rngs)
        ...         self.head = nnx.Linear(8, dout, rngs=rngs)
        ...     def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        ...         return self.head(nnx.relu(self.hidden(x)))
        >>> model = MLP(din=3, rngs=nnx.Rngs(0))
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     model.save_pretrained(tmp)
        ...     loaded = MLP.from_pretrained(tmp, dtype=jnp.bfloat16)
        >>> loaded.hidden.in_features, loaded.head.kernel.get_value().dtype, loaded._hub_mixin_config
        (3, dtype(bfloat16), {'din': 3, 'dout': 2})
    """
