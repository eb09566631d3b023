"""The settings of torch layers that change results, in core's vocabulary (see ``hubmixin_core.weights``)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, cast

import torch
from torch import nn

from hubmixin_core.weights import Settings, same_padding, saved_settings

__all__ = ["layer_settings", "model_settings", "settings_to_compare"]

_NORMS = (nn.LayerNorm, nn.GroupNorm, nn.modules.batchnorm._NormBase, nn.RMSNorm)
_KINDS = ((nn.LayerNorm, "layer"), (nn.RMSNorm, "rms"), (nn.GroupNorm, "group"))
"""What each norm computes (``norm``); batch norms and instance norms with running statistics record none."""
_DTYPE_EPSILONS = [float(torch.finfo(d).eps) for d in (torch.float16, torch.bfloat16, torch.float32, torch.float64)]
"""The epsilons an ``nn.RMSNorm`` without ``eps`` computes with: its input dtype's."""


def _pads(layer: nn.modules.conv._ConvNd) -> list[list[int]]:
    if layer.padding == "same":
        return same_padding(layer.kernel_size, layer.dilation)
    if layer.padding == "valid":
        return [[0, 0] for _ in layer.kernel_size]
    return [[int(p), int(p)] for p in layer.padding]


def _padding(layer: nn.modules.conv._ConvNd) -> Any:
    pads = _pads(layer)
    return pads if layer.padding_mode == "zeros" else {"mode": layer.padding_mode, "padding": pads}


def _eps(layer: nn.Module, dtype: torch.dtype | None) -> float:
    if isinstance(layer, nn.RMSNorm) and layer.eps is None:  # the input dtype's epsilon, at each call
        own = layer.weight.dtype if layer.weight is not None else torch.get_default_dtype()
        return float(torch.finfo(dtype or own).eps)
    return float(cast("float", layer.eps))


def _norm(layer: nn.Module, dtype: torch.dtype | None) -> dict[str, Any]:
    """A norm layer's settings: its epsilon, groups, and what it computes."""
    found: dict[str, Any] = {"eps": _eps(layer, dtype)}
    kind = next((kind for cls, kind in _KINDS if isinstance(layer, cls)), None)
    if kind is not None:
        found["norm"] = kind
    if isinstance(layer, nn.GroupNorm):
        found["groups"] = int(layer.num_groups)
    if isinstance(layer, nn.modules.instancenorm._InstanceNorm) and not layer.track_running_stats:
        found["norm"] = "group"  # nn.GroupNorm(C, C): one channel a group
        if layer.affine and layer.num_features:  # C unused without weights, unknown in a lazy norm before its call
            found["groups"] = int(layer.num_features)
    return found


def layer_settings(layer: nn.Module, dtype: torch.dtype | None = None) -> dict[str, Any]:
    """``layer``'s own settings that change results (empty for a layer type without any), its floating tensors
    taken as ``dtype`` where given (the dtype a load or save converts them to)."""
    if isinstance(layer, nn.modules.conv._ConvTransposeNd):
        pairs = zip(layer.padding, layer.output_padding, strict=True)
        crop = [[int(p), int(p) - int(extra)] for p, extra in cast("Iterable[tuple[int, int]]", pairs)]
        return {"stride": list(layer.stride), "dilation": list(layer.dilation), "crop": crop}
    if isinstance(layer, nn.modules.conv._ConvNd):
        padding = _padding(layer)
        return {
            "stride": list(layer.stride),
            "dilation": list(layer.dilation),
            "padding": padding,
            "groups": layer.groups,
        }
    if isinstance(layer, _NORMS):
        return _norm(layer, dtype)
    if isinstance(layer, nn.MultiheadAttention):
        return {"heads": layer.num_heads, "add_zero_attn": bool(layer.add_zero_attn)}
    if isinstance(layer, nn.RNN):  # never residual (Flax's SimpleCell may be)
        return {"activation": layer.nonlinearity, "residual": False}
    if isinstance(layer, nn.LSTM | nn.GRU):
        return {"activation": "tanh", "recurrent_activation": "sigmoid"}
    if isinstance(layer, nn.GELU):
        return {"gelu": "tanh" if layer.approximate == "tanh" else "exact"}
    if isinstance(layer, nn.Embedding | nn.EmbeddingBag):  # unset recorded too, unlike "not recorded" (older)
        if layer.max_norm is None:
            return {"max_norm": None}
        return {"max_norm": float(layer.max_norm), "norm_type": float(layer.norm_type)}
    return {}


def model_settings(module: nn.Module, dtype: torch.dtype | None = None) -> Settings:
    """Every sub-module's settings by its dotted path (those without settings left out), a module held at several
    paths (a shared norm or GELU) under each; ``dtype`` as for :func:`layer_settings`."""
    found = {path: layer_settings(layer, dtype) for path, layer in module.named_modules(remove_duplicate=False)}
    return {path: values for path, values in found.items() if values}


def settings_to_compare(module: nn.Module, dtype: torch.dtype | None, metadata: Mapping[str, str]) -> Settings:
    """``module``'s settings (:func:`model_settings`) to compare with those a file's ``metadata`` records: the
    epsilon of an ``nn.RMSNorm`` without ``eps`` is left out where the file records a floating dtype's epsilon
    there (a torch ``RMSNorm`` without ``eps`` too, saved or loaded in another dtype: both take the input's)."""
    ours = model_settings(module, dtype)
    saved = saved_settings(metadata) or {}  # (core's comparison warns of a record that is not JSON)
    for path, layer in module.named_modules():
        eps = saved.get(path, {}).get("eps")
        if isinstance(layer, nn.RMSNorm) and layer.eps is None and path in ours and _dtype_epsilon(eps):
            del ours[path]["eps"]
    return ours


def _dtype_epsilon(value: object) -> bool:
    """Whether ``value`` is the epsilon of a floating dtype an ``nn.RMSNorm`` computes in."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return number and any(math.isclose(cast("float", value), eps, rel_tol=1e-6) for eps in _DTYPE_EPSILONS)
