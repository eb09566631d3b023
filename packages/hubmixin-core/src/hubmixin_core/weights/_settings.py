"""Layer settings that change results, saved beside the weights and compared when another model loads them.

Two ports of a model can hold the same weights and still compute different things: a LayerNorm epsilon of
1e-5 against Keras' 1e-3, "same" padding against none, two attention heads against four. Each framework package
describes its layers' settings in one vocabulary (:data:`SETTING_NAMES`), saves them in the safetensors metadata
(:data:`SETTINGS_KEY`), and warns at load (:class:`~hubmixin_core.errors.LayerSettingsWarning`) where its model's
layers differ from the saved ones, naming each layer.
"""

from __future__ import annotations

import functools
import inspect
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from hubmixin_core._warn import warn_user
from hubmixin_core.errors import LayerSettingsWarning
from hubmixin_core.weights._metadata import FRAMEWORK_KEY

__all__ = [
    "BUILD_KEY",
    "LAYER_KEYED_METADATA",
    "SETTINGS_KEY",
    "SETTING_NAMES",
    "Settings",
    "direction_settings",
    "gelu_settings",
    "merged_settings",
    "recurrent_settings",
    "same_padding",
    "saved_settings",
    "settings_metadata",
    "transpose_crop",
    "warn_settings",
]

SETTINGS_KEY = "hubmixin.settings"
"""Header metadata key of the JSON object ``{layer path: {setting: value}}`` of the model that saved the file."""

BUILD_KEY = "hubmixin.build"
"""Header metadata key of the JSON object ``{layer path: build configuration}`` that a framework building layers
from their input shapes (Keras) records for the layers no adapter can build from the tensors' shapes alone."""

LAYER_KEYED_METADATA = (SETTINGS_KEY, BUILD_KEY)
"""Metadata keys whose JSON objects are keyed by layer path: renamed with the tensors (``key_mapping``)."""

SETTING_NAMES = {
    "eps": "the epsilon a norm layer adds to the variance",
    "padding": (
        "a convolution's zero padding, [before, after] per spatial dimension ([before, after, zeros between inputs] "
        "where it dilates its input, as Flax's input_dilation does); other padding as "
        "{'mode': 'circular' | 'reflect' | 'replicate', 'padding': [[before, after], ...]}; or 'same' where it "
        "depends on the input size"
    ),
    "stride": "a convolution's stride per spatial dimension",
    "dilation": "a convolution's dilation per spatial dimension",
    "heads": "an attention layer's number of heads",
    "groups": "a group norm's number of groups, or a convolution's (feature groups: 1 for a plain one)",
    "crop": (
        "a transposed convolution's [before, after] per spatial dimension, cut from its full output of "
        "(n - 1) * stride + dilation * (kernel - 1) + 1 for n inputs; negative: positions added, holding the bias"
    ),
    "activation": "a recurrent layer's activation of its state ('tanh', 'relu')",
    "recurrent_activation": "an LSTM's or GRU's activation of its gates ('sigmoid')",
    "norm": (
        "what a norm layer computes: 'layer' (centred, over its features), 'rms' (root mean square, not centred), "
        "'group', or Keras' 'rms_scaling' (not centred, divided by the standard deviation); batch norms and "
        "instance norms with running statistics record none (those statistics tell them apart); one without is "
        "'group' with a group per channel"
    ),
    "reverse": (
        "true where a recurrent layer runs from the last step to the first (PyTorch's never do); 'keep_order' where "
        "it does and gives its outputs back in the input's order (Flax's keep_order=True)"
    ),
    "residual": (
        "whether a simple recurrent cell adds its previous state (the carry) before its activation (Flax's "
        "SimpleCell residual=True)"
    ),
    "merge": "how a bidirectional layer joins its two directions' outputs where not concatenated, as PyTorch does",
    "add_zero_attn": "whether an attention layer adds a zero key and value (PyTorch's option; Flax's and Keras' never)",
    "max_norm": (
        "the norm an embedding renormalises each looked-up row to where larger (PyTorch's option, null where unset; "
        "Flax's and Keras' never renormalise)"
    ),
    "norm_type": "the p of the p-norm an embedding with a max_norm renormalises by",
    "mask_zero": (
        "whether an embedding takes id 0 for padding and masks those steps in the layers after it (Keras' option, "
        "recorded where true; PyTorch's and Flax's never mask)"
    ),
    "logit_soft_cap": (
        "the cap c of a reversible embedding's output logits, c * tanh(logits / c) (Keras' ReversibleEmbedding, "
        "recorded where set; PyTorch's and Flax's tied heads never cap)"
    ),
    "masked": (
        "whether a convolution multiplies its kernel by a mask as it runs (Flax's mask=, recorded where given; "
        "PyTorch's and Keras' never do)"
    ),
    "transposed": "whether a convolution is transposed: not recorded, but implied by its crop (or padding)",
    "gelu": (
        "what a GELU computes: 'exact' (with erf) or 'tanh' (its tanh approximation); recorded by an object of "
        "the model tree that applies one (PyTorch's nn.GELU, Keras' Activation, a Flax module's attribute holding "
        "jax.nn.gelu), under its path"
    ),
}
"""The settings compared, and what each is. Values are JSON: numbers, strings, lists, objects, null."""

Settings = dict[str, dict[str, Any]]
"""Each layer's settings by its path in the model (``blocks.0.norm``)."""

_DEFAULTS: dict[str, tuple[Any, frozenset[str]]] = {
    "reverse": (False, frozenset({"torch"})),
    "merge": ("concat", frozenset({"torch"})),
    "add_zero_attn": (False, frozenset({"flax", "keras"})),
    "max_norm": (None, frozenset({"flax", "keras"})),
    "mask_zero": (False, frozenset({"torch", "flax"})),
    "logit_soft_cap": (None, frozenset({"torch", "flax"})),
    "masked": (False, frozenset({"torch", "keras"})),
}
"""Settings a layer may leave out at their default (PyTorch's): the default, and the frameworks whose files leave
one out only at its default, having no layer with another value. Other files may predate the setting: not compared."""


class OlderPadding(list[Any]):
    """A recorded padding (its pads, a list as JSON writes it) that files of ``framework`` written before it was
    recorded so hold as ``older`` (Flax's ``"same_lower"`` mode, or pads without an ``input_dilation``'s third
    number): compared equal to ``older`` in those files, so they load as before."""

    def __init__(self, pads: Sequence[Any], older: Any, framework: str) -> None:
        super().__init__(pads)
        self.older = older
        self.framework = framework


def same_padding(kernel: Sequence[int], dilation: Sequence[int]) -> list[list[int]]:
    """The explicit padding of stride-1 "same" padding: ``[before, after]`` per dimension, the extra one after.

    Examples:
        >>> same_padding((3, 4), (1, 2))
        [[1, 1], [3, 3]]
    """
    pairs = []
    for size, rate in zip(kernel, dilation, strict=True):
        total = rate * (size - 1)
        pairs.append([total // 2, total - total // 2])
    return pairs


def _function_name(function: object) -> str | None:
    try:
        name = getattr(function, "__name__", None)
    except Exception:  # an object whose __getattr__ raises another error (a dict's KeyError): no function
        return None
    return name if isinstance(name, str) and name.isidentifier() else None


def recurrent_settings(activation: object, recurrent_activation: object = None) -> dict[str, str]:
    """A recurrent layer's ``activation`` (and its gates' ``recurrent_activation``) settings: the functions' names.
    A function without a plain name (a lambda) is left out, so not compared.

    Examples:
        >>> import math
        >>> recurrent_settings(math.tanh, lambda x: x)
        {'activation': 'tanh'}
    """
    found = {"activation": _function_name(activation), "recurrent_activation": _function_name(recurrent_activation)}
    return {key: value for key, value in found.items() if value is not None}


_GELU_APPROXIMATIONS: dict[bool | str, str] = {True: "tanh", False: "exact", "tanh": "tanh", "none": "exact"}
"""The ``gelu`` of each value of a GELU function's ``approximate``: JAX's and Keras' booleans, PyTorch's strings."""


def gelu_settings(function: object) -> dict[str, str]:
    """The ``gelu`` setting of ``function`` where it is a GELU (a function named ``gelu`` taking ``approximate``:
    ``jax.nn.gelu``, Keras' ``gelu``, or a ``functools.partial`` of one giving ``approximate``), else none. The
    approximation is the one it computes: the partial's, else the function's default (JAX's is the tanh one,
    Keras' activation the exact one).

    Examples:
        >>> import functools
        >>> def gelu(x, approximate=True): ...
        >>> gelu_settings(gelu), gelu_settings(functools.partial(gelu, approximate=False)), gelu_settings(abs)
        ({'gelu': 'tanh'}, {'gelu': 'exact'}, {})
    """
    given: dict[str, Any] = {}
    if isinstance(function, functools.partial):
        if function.args:  # x given: no activation
            return {}
        given = dict(function.keywords)
        function = function.func
    if not callable(function) or _function_name(function) != "gelu":
        return {}
    try:
        parameter = inspect.signature(function).parameters.get("approximate")
    except (TypeError, ValueError):  # a builtin without a signature
        return {}
    if parameter is None:
        return {}
    approximate = given.get("approximate", parameter.default)
    found = _GELU_APPROXIMATIONS.get(approximate) if isinstance(approximate, bool | str) else None
    return {} if found is None else {"gelu": found}


_MERGE_MODES = frozenset({"concat", "sum", "mul", "ave", None})
"""The ways of joining two directions' outputs that are compared: PyTorch's (``concat``) and Keras' modes
(``None``: a list of both)."""

_MERGE_FUNCTIONS = {"add": "sum", "multiply": "mul", "mul": "mul"}
"""The modes of merge functions by name (``jnp.add``, ``operator.add``, ``jnp.multiply``, ``operator.mul``)."""

_CUSTOM_MERGE = "custom"
"""The ``merge`` of a function without a plain name (a lambda): not compared."""


def direction_settings(reverse: bool, merge: object = "concat") -> dict[str, Any]:
    """A recurrent layer's ``reverse`` and a bidirectional one's ``merge`` (a mode; a function by its mode where
    known, ``jnp.add`` as ``'sum'``, else by its name or as ``'custom'``), each left out at PyTorch's (forward,
    concatenated). A merge function of no known mode is not compared.

    Examples:
        >>> direction_settings(True), direction_settings(False, "sum"), direction_settings(False, lambda a, b: a)
        ({'reverse': True}, {'merge': 'sum'}, {'merge': 'custom'})
        >>> import operator
        >>> direction_settings(False, operator.add)
        {'merge': 'sum'}
    """
    found: dict[str, Any] = {"reverse": True} if reverse else {}
    mode = merge
    if callable(merge):
        name = _function_name(merge)
        mode = _CUSTOM_MERGE if name is None else _MERGE_FUNCTIONS.get(name, name)
    if mode != "concat":
        found["merge"] = mode
    return found


def _same_merge(a: Any, b: Any) -> bool:
    """Whether two recorded merges join alike; a function of no known mode (a lambda, one of the user's) is
    taken as any (not compared).

    Examples:
        >>> _same_merge("add", "sum"), _same_merge("custom", "concat"), _same_merge(None, "concat")
        (True, True, False)
    """
    a, b = (_MERGE_FUNCTIONS.get(value, value) if isinstance(value, str) else value for value in (a, b))
    known = all(value is None or (isinstance(value, str) and value in _MERGE_MODES) for value in (a, b))
    return not known or a == b


def merged_settings(settings: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The settings of cells or directions that PyTorch sets once for them all (a bidirectional or stacked
    recurrent layer): each value where they agree, the list of their values where they differ (which no PyTorch
    layer records, so it is warned of).

    Examples:
        >>> merged_settings([{"activation": "tanh"}, {"activation": "relu"}])
        {'activation': ['tanh', 'relu']}
    """
    merged: dict[str, Any] = {}
    for name in sorted({name for found in settings for name in found}):
        values = [found[name] for found in settings if name in found]
        merged[name] = values[0] if all(value == values[0] for value in values) else values
    return merged


def transpose_crop(kernel: Sequence[int], dilation: Sequence[int], pads: Sequence[Sequence[int]]) -> list[list[int]]:
    """The ``crop`` of a transposed convolution given XLA's padding of its dilated input (``lax.conv_transpose``'s
    ``(low, high)`` per spatial dimension): ``dilation * (kernel - 1) - low`` before, ``... - high`` after.

    Examples:
        >>> transpose_crop((3,), (1,), [(1, 2)])  # torch's padding=1, output_padding=1
        [[1, 0]]
    """
    return [
        [rate * (size - 1) - int(low), rate * (size - 1) - int(high)]
        for size, rate, (low, high) in zip(kernel, dilation, pads, strict=True)
    ]


def settings_metadata(settings: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """The header metadata recording ``settings`` (layers without settings left out; none: no entry)."""
    kept = {path: dict(values) for path, values in settings.items() if values}
    return {SETTINGS_KEY: json.dumps(kept, sort_keys=True, separators=(",", ":"))} if kept else {}


def renamed_settings(text: str, rename: Callable[[str], str], tensors: Mapping[str, str] | None = None) -> str:
    """The metadata ``text`` keyed by layer path (:data:`LAYER_KEYED_METADATA`) with each path renamed as its
    tensors are: by ``rename("path.")``, or, where that leaves it (a ``key_mapping`` of whole tensor names,
    ``^norm\\.weight$``), by the renames ``tensors`` (``{old name: new name}``) give all of its own tensors alike.

    Text that is not a JSON object is returned as it is.

    Examples:
        >>> renamed_settings('{"norm":{"eps":1e-05}}', lambda name: name, {"norm.weight": "ln.weight"})
        '{"ln":{"eps":1e-05}}'
    """
    try:
        saved = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: arrays or objects nested too deeply
        return text
    if not isinstance(saved, dict):
        return text
    renamed = {}
    for path, values in saved.items():
        new = rename(f"{path}.") if path else path
        new = new[:-1] if new.endswith(".") else new
        if new == path and path and tensors:
            new = _moved_layer(path, tensors)
        renamed[new] = values
    return json.dumps(renamed, sort_keys=True, separators=(",", ":"))


def _moved_layer(path: str, tensors: Mapping[str, str]) -> str:
    """The path the renames ``tensors`` move all the tensors of layer ``path`` to (each keeping its local
    name), else ``path``."""
    prefix = f"{path}."
    moved = set()
    for old, new in tensors.items():
        local = old[len(prefix) :]
        if old.startswith(prefix) and "." not in local:
            moved.add(new[: -len(local) - 1] if new.endswith(f".{local}") else None)
    return moved.pop() or path if len(moved) == 1 else path


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float | int) and isinstance(b, float | int):
        return math.isclose(a, b, rel_tol=1e-6)
    return bool(a == b)


def _padding_parts(value: Any) -> tuple[Any, Any]:
    """A recorded padding's ``(mode, pads)``; pads None where only a mode is recorded (a "same" that depends on
    the input size, or a padding mode in a file written before its pads were recorded with it)."""
    if isinstance(value, dict):
        return value.get("mode"), value.get("padding")
    if isinstance(value, str):
        return value, None
    return "zeros", value


def _no_padding(pads: Any) -> bool:
    return isinstance(pads, list) and all(isinstance(pair, list) and not any(pair) for pair in pads)


def _same_padding(a: Any, b: Any) -> bool:
    """Whether two recorded paddings pad alike: the same pads in the same mode, or no pads in any mode.

    Examples:
        >>> _same_padding({"mode": "reflect", "padding": [[0, 0]]}, [[0, 0]])
        True
        >>> _same_padding({"mode": "circular", "padding": [[2, 2]]}, {"mode": "circular", "padding": [[1, 2]]})
        False
        >>> _same_padding("circular", {"mode": "circular", "padding": [[1, 2]]})  # an older file: mode only
        True
    """
    (mode_a, pads_a), (mode_b, pads_b) = _padding_parts(a), _padding_parts(b)
    if pads_a is None or pads_b is None:
        return bool(mode_a == mode_b)
    return bool(pads_a == pads_b) and (mode_a == mode_b or _no_padding(pads_a))


_COMPARED_BY: dict[str, Callable[[Any, Any], bool]] = {"padding": _same_padding, "merge": _same_merge}
"""Settings whose values are compared otherwise than by :func:`_same`."""


def _as_older(ours: Any, saved: Any, framework: object) -> bool:
    """Whether ``saved``, in a file of ``framework``, is what that framework's older files record for ``ours``
    (an :class:`OlderPadding`).

    Examples:
        >>> ours = OlderPadding([[1, 1, 1]], [[1, 1]], "flax")
        >>> _as_older(ours, [[1, 1]], "flax"), _as_older(ours, [[1, 1]], "torch")
        (True, False)
    """
    family = framework.split("-")[0] if isinstance(framework, str) else framework
    return isinstance(ours, OlderPadding) and ours.framework == family and _same_padding(ours.older, saved)


def _completed(values: Mapping[str, Any]) -> dict[str, Any]:
    """A layer's settings with those its keys imply, which files written before they were recorded leave out: a
    convolution's ``transposed`` (it records ``crop``, not ``padding``), a group norm's ``norm``.

    Examples:
        >>> _completed({"eps": 1e-5, "groups": 2}), _completed({"stride": [1], "crop": [[0, 0]]})["transposed"]
        ({'eps': 1e-05, 'groups': 2, 'norm': 'group'}, True)
    """
    found = dict(values)
    if "crop" in values or "padding" in values:
        found.setdefault("transposed", "crop" in values)
    if "eps" in values and "groups" in values:
        found.setdefault("norm", "group")
    return found


def _with_defaults(saved: dict[str, Any], ours: dict[str, Any], framework: object) -> None:
    """Fill in, on each side, the settings of :data:`_DEFAULTS` the other records: ours always (this code
    records any other value), the file's where its framework (``keras`` for ``keras-jax``) has no layer with
    another value."""
    family = framework.split("-")[0] if isinstance(framework, str) else framework
    for name, (default, only_default) in _DEFAULTS.items():
        if name in saved and name not in ours:
            ours[name] = default
        elif name in ours and name not in saved and family in only_default:
            saved[name] = default


def differences(
    saved: Mapping[str, Mapping[str, Any]],
    ours: Mapping[str, Mapping[str, Any]],
    framework: object = None,
    held: Iterable[str] = (),
) -> list[str]:
    """Each setting of a layer in both models whose values differ, as ``"path: name v (ours), w (saved)"``;
    ``framework``: the one that wrote the file, where recorded. A layer the file records nothing for, but holds
    tensors of (``held``: the file's tensor names), has, where its framework is known, the :data:`_DEFAULTS` that
    framework's layers always have (a Flax file's embedding never renormalises: ``max_norm`` None)."""
    paths = set(saved) & set(ours)
    if isinstance(framework, str):
        layers = {".".join(parts[:i]) for parts in (name.split(".") for name in held) for i in range(len(parts))}
        paths |= set(ours) & layers
    found = []
    for path in sorted(paths):
        theirs, mine = _completed(saved.get(path, {})), _completed(ours[path])
        _with_defaults(theirs, mine, framework)
        for name in sorted(set(theirs) & set(mine)):
            if not _COMPARED_BY.get(name, _same)(mine[name], theirs[name]) and not _as_older(
                mine[name], theirs[name], framework
            ):
                found.append(f"{path or '(model)'}: {name} {mine[name]!r} here, {theirs[name]!r} saved")
    return found


def saved_settings(metadata: Mapping[str, str]) -> dict[str, dict[str, Any]] | None:
    """The layer settings ``metadata`` records, by layer path (``{}`` where it records none, or not as an
    object); ``None`` where its record is not JSON."""
    text = metadata.get(SETTINGS_KEY)
    if not text:
        return {}
    try:
        saved = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: arrays or objects nested too deeply
        return None
    return {p: v for p, v in saved.items() if isinstance(v, dict)} if isinstance(saved, dict) else {}


def warn_settings(
    metadata: Mapping[str, str],
    ours: Mapping[str, Mapping[str, Any]],
    owner: str,
    source: str,
    held: Iterable[str] = (),
) -> None:
    """Warn, naming each layer, where ``ours`` differs from the settings saved in ``metadata`` (the header of the
    file ``source``, which holds the tensors ``held``: see :func:`differences`).

    Nothing happens when the file records no settings (it was not written by hubmixin) or they all agree.

    Examples:
        >>> import warnings
        >>> saved = settings_metadata({"norm": {"eps": 1e-3}})
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     warn_settings(saved, {"norm": {"eps": 1e-5}}, "Net", "model.safetensors")
        >>> str(caught[0].message).split(": ", 1)[1]
        'norm: eps 1e-05 here, 0.001 saved'
    """
    saved = saved_settings(metadata)
    if saved is None:
        warn_user(f"{source}: {SETTINGS_KEY} is not JSON: layer settings not compared", UserWarning)
        return
    found = differences(saved, ours, metadata.get(FRAMEWORK_KEY), held)
    if found:
        warn_user(
            f"{owner} loads {source}, but layers are set differently from the model that saved it, so the "
            f"outputs will differ: {'; '.join(found)}",
            LayerSettingsWarning,
        )
