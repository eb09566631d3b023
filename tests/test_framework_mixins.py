"""A framework package's mixin on another framework's model class is refused when the class is defined, naming the
mixin to use; a library's own intermediate mixin (no model class yet) is accepted."""

from __future__ import annotations

import keras
import pytest
import torch
from flax import nnx

from hubmixin_core.errors import HubMixinTypeError
from hubmixin_flax import FlaxModelHubMixin
from hubmixin_keras import KerasModelHubMixin
from hubmixin_torch import PyTorchModelHubMixin


@pytest.mark.parametrize(
    ("base", "mixin", "found", "use"),
    [
        (torch.nn.Module, FlaxModelHubMixin, "torch.nn.Module", "hubmixin_torch.PyTorchModelHubMixin"),
        (torch.nn.Module, KerasModelHubMixin, "torch.nn.Module", "hubmixin_torch.PyTorchModelHubMixin"),
        (nnx.Module, PyTorchModelHubMixin, "flax.nnx.Module", "hubmixin_flax.FlaxModelHubMixin"),
        (keras.Model, FlaxModelHubMixin, "keras.Model", "hubmixin_keras.KerasModelHubMixin"),
    ],
)
def test_another_frameworks_model_class_is_refused_at_definition(base: type, mixin: type, found: str, use: str) -> None:
    with pytest.raises(HubMixinTypeError, match=rf"^Net is a {found} subclass, but .* use {use} \(class Net\("):
        type("Net", (base, mixin), {})


def test_an_intermediate_mixin_and_its_model_classes_are_accepted() -> None:
    class LibMixin(PyTorchModelHubMixin):
        pass

    class Net(torch.nn.Module, LibMixin):
        pass

    class KerasNet(keras.Model, KerasModelHubMixin):  # type: ignore[misc]  # (on PyTorch, a torch.nn.Module too)
        pass

    assert Net().save_pretrained is not None and KerasNet().save_pretrained is not None
    with pytest.raises(HubMixinTypeError, match=r"Other is a flax\.nnx\.Module subclass"):
        type("Other", (nnx.Module, LibMixin), {})
