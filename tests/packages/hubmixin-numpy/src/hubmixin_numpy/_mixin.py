"""``NumpyModelHubMixin``: the public class."""

from __future__ import annotations

from hubmixin_numpy._generated._methods import NumpyModelHubMixinMethods

__all__ = ["NumpyModelHubMixin"]


class NumpyModelHubMixin(NumpyModelHubMixinMethods, tags=["numpy_model_hub_mixin"]):
    """Give a :class:`~hubmixin_numpy.Module` subclass ``save_pretrained``, ``from_pretrained`` and ``push_to_hub``.

    Arrays are saved in the canonical (PyTorch) names and layouts through :data:`~hubmixin_numpy.LAYOUTS`, so a
    checkpoint saved by ``hubmixin_torch`` for the same module tree loads here, and the other way round. An
    ``rng`` argument of ``__init__`` is never written to ``config.json``; ``from_pretrained`` supplies a fresh one.

    Example:
        >>> import tempfile
        >>> import numpy as np
        >>> from hubmixin_numpy import Linear, Module, NumpyModelHubMixin
        >>> class Probe(Module, NumpyModelHubMixin):
        ...     def __init__(self, features: int = 4, *, rng: np.random.Generator | None = None) -> None:
        ...         self.head = Linear(features, 2, rng=rng)
        >>> probe = Probe(features=3, rng=np.random.default_rng(0))
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     probe.save_pretrained(tmp)
        ...     loaded = Probe.from_pretrained(tmp, dtype="bfloat16")
        >>> probe._hub_mixin_config, loaded.head.kernel.shape, loaded.head.kernel.dtype.name
        ({'features': 3}, (3, 2), 'bfloat16')
    """
