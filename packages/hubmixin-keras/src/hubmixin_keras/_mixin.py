"""``KerasModelHubMixin``: the public class."""

from __future__ import annotations

from hubmixin_keras._generated._methods import KerasModelHubMixinMethods

__all__ = ["KerasModelHubMixin"]


class KerasModelHubMixin(KerasModelHubMixinMethods, tags=["keras_model_hub_mixin"]):
    """Give a subclassed ``keras.Model`` ``save_pretrained``, ``from_pretrained`` and ``push_to_hub``.

    - The ``__init__`` arguments are captured into ``config.json``; Keras' own keywords (``name``, ``dtype``,
      ``trainable``) are not: they configure this instance, and go to ``from_pretrained(model_kwargs=...)``.
    - Weights are safetensors in the canonical (PyTorch) layout, keyed by attribute path
      (``encoder.blocks.0.dense.weight``), never by Keras' auto-generated layer names: ``Dense`` kernels are
      stored as ``weight`` ``[out, in]``, ``Conv`` kernels as ``[out, in, *k]``, ``BatchNormalization``'s
      gamma/beta/moving statistics as ``weight``/``bias``/``running_mean``/``running_var``, ``Embedding`` as
      ``weight``. A PyTorch or Flax model with the same module tree exchanges weights with it. Optimizer state
      is not saved. Adapters for other layers: ``hubmixin_keras.LAYOUTS.register(...)``.
    - ``from_pretrained`` builds the model's layers from the checkpoint's shapes (no ``build`` call, no forward
      pass) with every variable's initialisation deferred, then gives each variable its value from the file:
      no random initialisation for the weights it holds. ``dtype=`` loads under another dtype policy.
    - Works on the JAX, PyTorch and TensorFlow backends; a checkpoint saved on one loads on the others.

    Examples:
        >>> import tempfile
        >>> import keras
        >>> import numpy as np
        >>> from hubmixin_keras import KerasModelHubMixin
        >>> class MLP(keras.Model, KerasModelHubMixin, license="mit"):
        ...     def __init__(self, hidden: int = 8, classes: int = 2, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.hidden = keras.layers.Dense(hidden, activation="relu")
        ...         self.head = keras.layers.Dense(classes)
        ...     def call(self, x):
        ...         return self.head(self.hidden(x))
        >>> model = MLP(hidden=4, name="mlp")
        >>> x = np.ones((1, 3), "float32")
        >>> y = keras.ops.convert_to_numpy(model(x))
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     model.save_pretrained(tmp)
        ...     loaded = MLP.from_pretrained(tmp)
        >>> loaded._hub_mixin_config, bool(np.allclose(keras.ops.convert_to_numpy(loaded(x)), y))
        ({'hidden': 4, 'classes': 2}, True)
    """
