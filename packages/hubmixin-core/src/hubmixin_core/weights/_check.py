"""Comparing what a checkpoint holds with what a model expects."""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath

from hubmixin_core.errors import (
    HubMixinValueError,
    ShardIndexError,
    WeightsDtypeError,
    WeightsError,
    WeightsKeyError,
    WeightsShapeError,
    format_names,
)
from hubmixin_core.weights._header import TensorInfo, read_header
from hubmixin_core.weights._resolve import WeightFiles

__all__ = [
    "check_tensors",
    "key_differences",
    "mismatch_error",
    "prefix_hint",
    "raise_mismatches",
    "read_tensor_infos",
    "report_held_apart",
]


def read_tensor_infos(weights: WeightFiles) -> dict[str, tuple[TensorInfo, Path]]:
    """Every tensor of a checkpoint with its shape, dtype and file, read from the headers only.

    Raises:
        ShardIndexError: a tensor is in two shards, or the index and the shards disagree.
        WeightsFileError: a file is not valid safetensors.
    """
    found: dict[str, tuple[TensorInfo, Path]] = {}
    for path in weights.files:
        for name, info in read_header(path).tensors.items():
            if name in found:
                raise ShardIndexError(f"{path}: tensor {name!r} is also in {found[name][1]}")
            found[name] = (info, path)
    if weights.index is not None:
        index = weights.index_file
        indexed = set(weights.index.weight_map)
        if indexed != found.keys():
            gone = sorted(indexed - found.keys())[:5]
            extra = sorted(found.keys() - indexed)[:5]
            raise ShardIndexError(
                f"{index}: index and shards disagree: indexed but absent {gone}, present but unindexed {extra}"
            )
        for name, (_, path) in found.items():
            shard = PurePosixPath(weights.index.weight_map[name]).parts  # may name a sub-folder: "sub/a.safetensors"
            if path.parts[-len(shard) :] != shard:
                raise ShardIndexError(
                    f"{index}: maps tensor {name!r} to {weights.index.weight_map[name]}, found in {path}"
                )
    return found


def check_tensors(
    expected: Mapping[str, TensorInfo],
    found: Mapping[str, TensorInfo],
    *,
    source: str,
    strict: bool = True,
    check_dtype: bool = True,
    ignore_missing: Iterable[str] = (),
) -> tuple[list[str], list[str]]:
    """Check ``found`` (a checkpoint) against ``expected`` (a model); returns ``(missing, unexpected)``.

    Raises:
        WeightsKeyError: with ``strict``, some keys are missing or unexpected (all of them are named).
        WeightsShapeError: a shared key has another shape (always, since it cannot be loaded); every tensor of
            another shape or dtype is named, and with ``strict`` the missing and unexpected keys too.
        WeightsDtypeError: with ``check_dtype``, a shared key has another dtype (all are named, as above).
    """
    missing, unexpected = key_differences(expected, found, ignore_missing)
    mismatches: list[WeightsShapeError | WeightsDtypeError] = []
    for key in sorted(expected.keys() & found.keys()):
        want, got = expected[key], found[key]
        if want.shape != got.shape:
            mismatches.append(WeightsShapeError(source, key, want.shape, got.shape))
        elif check_dtype and want.dtype != got.dtype:
            mismatches.append(WeightsDtypeError(source, key, want.dtype, got.dtype))
    raise_mismatches(source, mismatches, missing, unexpected, strict=strict, loaded=expected.keys() & found.keys())
    return missing, unexpected


def key_differences(
    expected: Mapping[str, TensorInfo], found: Mapping[str, TensorInfo], ignore_missing: Iterable[str] = ()
) -> tuple[list[str], list[str]]:
    """The keys of ``expected`` that ``found`` lacks (but ``ignore_missing``), and those it has besides, sorted."""
    skip = set(ignore_missing)
    return sorted(k for k in expected.keys() - found.keys() if k not in skip), sorted(found.keys() - expected.keys())


def raise_mismatches(
    source: str,
    mismatches: Sequence[WeightsShapeError | WeightsDtypeError],
    missing: Sequence[str],
    unexpected: Sequence[str],
    *,
    strict: bool,
    loaded: Collection[str] | None = None,
) -> None:
    """Raise one error naming every mismatch (with ``strict``, the keys ``missing`` and ``unexpected`` too), or,
    with ``strict`` and no mismatch, a :class:`WeightsKeyError` for those keys (``loaded``: the keys both hold, for
    its hint); nothing where all loads."""
    if mismatches:
        raise mismatch_error(mismatches, *((missing, unexpected) if strict else ()))
    if strict and (missing or unexpected):
        hint = prefix_hint(missing, unexpected, loaded)
        raise WeightsKeyError(source, list(missing), list(unexpected), detail=hint)


def prefix_hint(missing: Sequence[str], unexpected: Sequence[str], loaded: Collection[str] | None = None) -> str:
    r"""What to do where every unexpected key is a missing key under one prefix (``model.lin.weight`` for
    ``lin.weight``: a wrapper's checkpoint), or every missing key an unexpected one under a prefix, and the
    ``key_mapping`` named renames none of the ``loaded`` keys (those both hold, where known); else ``""``.

    Examples:
        >>> hint = prefix_hint(["lin.bias", "lin.weight"], ["model.lin.bias", "model.lin.weight"])
        >>> print(hint.partition(" (where")[0])
        the file's names carry the prefix 'model.', the model's do not: load with key_mapping={r"^model\.": ""}
    """
    loaded = () if loaded is None else loaded  # (the keys that load as they are: a mapping must not rename them)
    prefix = _shared_prefix(unexpected, missing)
    if prefix is not None and not any(key.startswith(prefix) for key in loaded):
        mapping = f'{{r"^{re.escape(prefix)}": ""}}'
        return (
            f"the file's names carry the prefix {prefix!r}, the model's do not: load with key_mapping={mapping} "
            "(where every name of the file carries it: those already loaded too)"
        )
    prefix = _shared_prefix(missing, unexpected)
    if prefix is not None and not loaded:
        mapping = f'{{r"^": "{prefix}"}}'
        return (
            f"the model's names carry the prefix {prefix!r}, the file's do not: load with key_mapping={mapping} "
            "(where every name of the model carries it: none of the file's loaded)"
        )
    return ""


def _shared_prefix(longer: Sequence[str], shorter: Sequence[str]) -> str | None:
    """The prefix (up to a dot) that makes every key of ``longer`` a key of ``shorter``, or ``None``."""
    if not longer or not shorter:
        return None
    keys = set(shorter)
    first = longer[0]
    for end in (i + 1 for i, char in enumerate(first) if char == "."):
        prefix = first[:end]
        if all(key.startswith(prefix) and key[end:] in keys for key in longer):
            return prefix
    return None


def mismatch_error(
    mismatches: Sequence[WeightsShapeError | WeightsDtypeError],
    missing: Sequence[str] = (),
    unexpected: Sequence[str] = (),
) -> WeightsShapeError | WeightsDtypeError:
    """One error naming every tensor of ``mismatches`` (errors naming one each, and its file) and the keys
    ``missing`` and ``unexpected``, as torch's ``load_state_dict`` lists them all: a :class:`WeightsShapeError`
    where a shape differs, else a :class:`WeightsDtypeError`; its ``key``, ``expected``, ``found`` and ``source``
    are the first tensor's (shapes first, then by name), the others' lines name their own file where it is another
    shard. A lone error with no keys to add is returned as it is.
    """
    if not mismatches:
        raise HubMixinValueError("mismatch_error needs at least one mismatch")
    first, *others = sorted(mismatches, key=lambda error: (not isinstance(error, WeightsShapeError), error.key))
    if not others and not missing and not unexpected:
        return first
    if isinstance(first, WeightsShapeError):
        return WeightsShapeError(
            first.source, first.key, first.expected, first.found, others=others, missing=missing, unexpected=unexpected
        )
    return WeightsDtypeError(
        first.source,
        first.key,
        first.expected,
        first.found,
        detail=first.detail,
        others=others,
        missing=missing,
        unexpected=unexpected,
    )


def report_held_apart(
    owner: str,
    loaded: str,
    others: Sequence[str],
    source: str,
    *,
    strict: bool,
    logger: logging.Logger,
    other_layout: bool = False,
) -> None:
    """Names of one tied variable (``loaded``, ``others``) that ``source`` holds apart with other values: only
    ``loaded``'s tensor is read. A :class:`WeightsError` with ``strict``, else a warning on ``logger``
    (``other_layout``: the others are saved in another layout).

    Raises:
        WeightsError: with ``strict``, naming the model (``owner``), the file and the names.
    """
    tied = f"tied, {format_names(others)} in another layout" if other_layout else "tied"
    message = (
        f"{owner}: {format_names([loaded, *others])} are one variable in the model ({tied}), but {source} holds "
        f"them apart with other values: {loaded!r} is loaded, {format_names(others)} not"
    )
    if strict:
        raise WeightsError(message)
    logger.warning("%s", message)
