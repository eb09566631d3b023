"""hubmixin-torch: ``PyTorchModelHubMixin`` for ``torch.nn.Module``, loaded without random initialisation.

Examples:
    >>> from hubmixin_torch import PyTorchModelHubMixin
    >>> "pytorch_model_hub_mixin" in PyTorchModelHubMixin._hub_mixin_info.model_card_data.tags
    True
"""

from hubmixin_torch._mixin import PyTorchModelHubMixin as PyTorchModelHubMixin

__version__ = "0.1.0"

__all__ = ["PyTorchModelHubMixin", "__version__"]
