"""``PyTorchModelHubMixin``: the public class."""

from __future__ import annotations

from typing import Any

import torch

from hubmixin_core._capture import get_config, set_config
from hubmixin_core.typing import DataclassInstance
from hubmixin_torch._generated._methods import PyTorchModelHubMixinMethods

__all__ = ["PyTorchModelHubMixin"]


class PyTorchModelHubMixin(PyTorchModelHubMixinMethods, tags=["pytorch_model_hub_mixin"]):
    """Give a ``torch.nn.Module`` subclass ``save_pretrained``, ``from_pretrained`` and ``push_to_hub``.

    A drop-in replacement of ``huggingface_hub.PyTorchModelHubMixin``: the same files (``model.safetensors``,
    ``config.json``, ``README.md`` tagged ``pytorch_model_hub_mixin``), the same ``map_location`` and ``strict``,
    and each reads the other's checkpoints. On top of it:

    - ``from_pretrained`` builds the model with its parameters on the meta device (no random initialisation,
      no memory committed) and assigns the tensors memory-mapped from the file: about one copy of the weights in
      memory, and no time spent initialising. Buffers the checkpoint lacks (non-persistent ones) keep their ``__init__``
      values; parameters it lacks (``strict=False``) get the model's own initialisation, and are logged.
    - ``save_pretrained(max_shard_size="5GB")`` writes shards and ``model.safetensors.index.json`` as
      transformers does; ``from_pretrained`` reads one file or shards, local or from the Hub (in parallel).
    - ``dtype=`` loads (or saves) floating-point weights in another dtype; ``map_location`` puts the whole model
      on that device; ``strict=True`` raises :class:`~hubmixin_core.errors.WeightsKeyError`,
      :class:`~hubmixin_core.errors.WeightsShapeError` or :class:`~hubmixin_core.errors.WeightsDtypeError`
      naming the keys. Tied weights are stored once and restored tied.
    - A legacy ``pytorch_model.bin`` is read only through ``torch.load(weights_only=True)``.

    The model is returned in eval mode; call ``model.train()`` to train it.

    Examples:
        >>> import tempfile
        >>> import torch
        >>> from hubmixin_torch import PyTorchModelHubMixin
        >>> class MyModel(torch.nn.Module, PyTorchModelHubMixin, license="mit"):
        ...     def __init__(self, hidden_size: int = 8, num_classes: int = 2) -> None:
        ...         super().__init__()
        ...         self.encoder = torch.nn.Linear(hidden_size, hidden_size)
        ...         self.head = torch.nn.Linear(hidden_size, num_classes)
        ...     def forward(self, x: torch.Tensor) -> torch.Tensor:
        ...         return self.head(torch.relu(self.encoder(x)))
        >>> model = MyModel(hidden_size=16)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     model.save_pretrained(tmp)
        ...     loaded = MyModel.from_pretrained(tmp, dtype=torch.bfloat16)
        >>> loaded.encoder.in_features, loaded.head.weight.dtype, loaded.training
        (16, torch.bfloat16, False)
    """

    # TorchScript compiles every property of a module it scripts; the configuration is Python-only (in
    # huggingface_hub it is a plain attribute), so ``torch.jit.script(model)`` must leave it out.
    @property
    @torch.jit.unused
    def _hub_mixin_config(self) -> dict[str, Any] | DataclassInstance | None:
        """The configuration captured from ``__init__`` (or set by ``from_pretrained``); ``None`` if none."""
        config: dict[str, Any] | DataclassInstance | None = get_config(self)
        return config

    @_hub_mixin_config.setter
    def _hub_mixin_config(self, config: dict[str, Any] | DataclassInstance | None) -> None:
        set_config(self, config)
