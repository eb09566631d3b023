"""The extra parameters ``hubmixin_torch`` adds to the generated public methods.

``python -m codegen`` loads this file on its own (it must import only ``hubmixin_core.params``, never torch) and
writes ``_generated/_methods.py`` from it. Each parameter is documented once, here.
"""

from hubmixin_core.params import KEY_MAPPING, MAX_SHARD_SIZE, STRICT, FrameworkExtras, Param

__all__ = ["EXTRAS"]

_TORCH = ("import torch",)

EXTRAS = FrameworkExtras(
    package="hubmixin_torch",
    class_name="PyTorchModelHubMixinMethods",
    base="hubmixin_torch._impl:TorchHubMixinBase",
    load=(
        Param(
            "map_location",
            "str | torch.device | None",
            '"cpu"',
            'Device the model is loaded on (`"cpu"`, `"cuda:0"`, a `torch.device`, or `"meta"` to read only '
            "the shapes; `None` is the CPU, as for huggingface_hub's mixin). Weights are read straight onto it: "
            "on CPU they are memory-mapped from the file, not copied. Every parameter and buffer of the returned "
            "model is on this device.",
            _TORCH,
        ),
        STRICT,
        KEY_MAPPING,
        Param(
            "dtype",
            "torch.dtype | None",
            "None",
            "Floating-point dtype to load the model in (`torch.float16`, `torch.bfloat16`, ...): every floating "
            "parameter and buffer is converted, integer and boolean ones are left as they are. `None` keeps the "
            "dtypes the model's `__init__` gives them.",
            _TORCH,
        ),
    ),
    save=(
        MAX_SHARD_SIZE,
        Param(
            "dtype",
            "torch.dtype | None",
            "None",
            "Floating-point dtype to save the weights as (`torch.float16`, `torch.bfloat16`, ...); integer and "
            "boolean tensors are saved as they are. The model itself is not changed. `None` saves each tensor in "
            "its current dtype.",
            _TORCH,
        ),
    ),
)
"""The load and save extras of :class:`hubmixin_torch.PyTorchModelHubMixin`."""
