"""Comparing a checkpoint with what a model expects, before any tensor is read: the strict policy in one place."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass, field

from hubmixin_core.errors import WeightsDtypeError, WeightsKeyError, WeightsShapeError, format_names
from hubmixin_core.weights._check import key_differences, prefix_hint, raise_mismatches
from hubmixin_core.weights._checkpoint import Checkpoint
from hubmixin_core.weights._dtypes import is_floating, widens_integer
from hubmixin_core.weights._header import TensorInfo

__all__ = [
    "MISSING_BYTES_FLOOR",
    "MIXIN_CONVERT_HINT",
    "HeldReports",
    "LoadReport",
    "check_checkpoint",
    "check_missing_size",
]

MISSING_BYTES_FLOOR = 256 * 2**20
"""Without ``strict``, tensors a checkpoint lacks are initialised if they take at most this many bytes, or at most
as many as the checkpoint's tensors: a new head is fine, a model built from a config larger than its weights is not."""


@dataclass(frozen=True)
class LoadReport:
    """What a load found: model tensors the checkpoint lacks, and checkpoint tensors the model does not use."""

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    @property
    def loaded(self) -> list[str] | None:
        """The keys both hold, where the load knew them (the hint of a shared prefix renames none of them); no field
        of the report (``dataclasses.astuple`` gives the two lists, as before)."""
        held: list[str] | None = vars(self).get("_loaded")
        return held

    def knowing_loaded(self, loaded: Iterable[str] | None) -> LoadReport:
        """This report, with the keys both hold recorded (see :attr:`loaded`)."""
        object.__setattr__(self, "_loaded", None if loaded is None else list(loaded))  # (frozen: no field)
        return self

    def log(self, logger: logging.Logger, owner: str, source: str) -> None:
        """Log both lists as warnings, naming the model class ``owner`` and the checkpoint ``source`` (within a
        :class:`HeldReports` block, once the load they belong to is kept)."""
        held = _HELD.get()
        if held is not None:
            held.append((self, logger, owner, source))
            return
        if self.missing:
            one = len(self.missing) == 1
            logger.warning(
                "%s: %d %s not in %s and %s the model's own initialisation: %s",
                owner,
                len(self.missing),
                "weight is" if one else "weights are",
                source,
                "keeps" if one else "keep",
                format_names(self.missing),
            )
        if self.unexpected:
            one = len(self.unexpected) == 1
            hint = prefix_hint(self.missing, self.unexpected, self.loaded)
            logger.warning(
                "%s: %d %s of %s %s not used by the model: %s%s",
                owner,
                len(self.unexpected),
                "tensor" if one else "tensors",
                source,
                "is" if one else "are",
                format_names(self.unexpected),
                f" ({hint})" if hint else "",
            )


_HELD: ContextVar[list[tuple[LoadReport, logging.Logger, str, str]] | None] = ContextVar("held_reports", default=None)


class HeldReports:
    """Within ``with``, the reports logged (this thread only) are held; :meth:`release` logs them, after it: a
    load that is done again (a save landed while it read) says nothing of the attempt given up."""

    def __init__(self) -> None:
        self._held: list[tuple[LoadReport, logging.Logger, str, str]] = []
        self._token: Token[list[tuple[LoadReport, logging.Logger, str, str]] | None] | None = None

    def __enter__(self) -> HeldReports:
        self._held.clear()
        self._token = _HELD.set(self._held)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            _HELD.reset(self._token)
            self._token = None

    def release(self) -> None:
        """Log the reports held by the last ``with`` block."""
        held, self._held = self._held, []
        for report, logger, owner, source in held:
            report.log(logger, owner, source)


def check_checkpoint(
    expected: Mapping[str, TensorInfo],
    checkpoint: Checkpoint,
    *,
    strict: bool,
    convert_floating: bool = False,
    ignore_missing: Iterable[str] = (),
    ignore_unexpected: Iterable[str] = (),
    convert_hint: str | None = None,
) -> LoadReport:
    """Check ``checkpoint``'s headers against the tensors a model expects (canonical names, target dtypes).

    The policy every framework package follows: a shape mismatch is an error whatever ``strict`` says (the
    tensor cannot be loaded); with ``strict``, a dtype mismatch is an error unless ``convert_floating`` (the
    user asked for a floating dtype) and both dtypes are floating, or the file's integers widen into the model's
    without loss (a JAX port's int32 position ids into PyTorch's int64), and missing or unexpected keys are errors.
    Without ``strict`` dtypes are converted to the model's and the keys are only reported, except between floating
    and integer tensors: those are refused always (integer codes of a quantized layer are no weights).

    Args:
        expected: The model's tensors: canonical name to shape and the dtype it will be loaded in.
        checkpoint: The opened checkpoint.
        strict: Whether the checkpoint must match the model exactly.
        convert_floating: Whether floating tensors are converted to another dtype on purpose.
        ignore_missing: Names not reported missing (tied aliases, tensors the framework fills itself).
        ignore_unexpected: Names not reported unexpected (tensors of the canonical layout this framework
            has no use for, such as PyTorch's ``num_batches_tracked``).
        convert_hint: How the model's user asks for floating tensors to be converted, as the loader offers it
            (:data:`MIXIN_CONVERT_HINT` for the framework mixins' ``from_pretrained``); ``None``: in this
            function's own terms (``convert_floating=True``, ``strict=False``), for the loader's author.

    Raises:
        WeightsShapeError: a tensor has another shape (the message names the file and the key).
        WeightsDtypeError: with ``strict``, a tensor has another dtype; always, a floating tensor where the model
            has an integer or boolean one, or the reverse. Either error names every such tensor (a shape error
            first), and with ``strict`` the missing and unexpected keys too, as torch's ``load_state_dict`` does.
        WeightsKeyError: with ``strict``, keys are missing or unexpected; all are named. Without ``strict``, the
            missing tensors would take more bytes than the checkpoint's tensors and :data:`MISSING_BYTES_FLOOR`:
            the model would be built larger than its checkpoint (a config asking for a huge model with no
            weights for it), so nothing is allocated; the message names the keys and the bytes.
    """
    found = checkpoint.infos
    float_detail = f"floating tensors are converted only when asked: {convert_hint or _OWN_CONVERT_HINT}"
    mismatches = _hint_once(
        [
            error
            for key in sorted(expected.keys() & found.keys())
            if (
                error := _mismatch(
                    checkpoint.source(key), key, expected[key], found[key], strict, convert_floating, float_detail
                )
            )
        ],
        float_detail,
    )
    skip = set(ignore_unexpected)
    considered = {k: v for k, v in found.items() if k not in skip or k in expected}
    missing, unexpected = key_differences(expected, considered, ignore_missing)
    # all named in one error, with strict the keys too (as torch's load_state_dict lists them)
    loaded = sorted(expected.keys() & considered.keys())
    raise_mismatches(checkpoint.description, mismatches, missing, unexpected, strict=strict, loaded=loaded)
    check_missing_size(expected, missing, checkpoint)
    return LoadReport(missing, unexpected).knowing_loaded(loaded)


def _mismatch(
    source: str, key: str, want: TensorInfo, got: TensorInfo, strict: bool, convert_floating: bool, float_detail: str
) -> WeightsShapeError | WeightsDtypeError | None:
    """The error of the tensor ``key`` stored as ``got`` where the model expects ``want``; ``None``: it loads."""
    if want.shape != got.shape:
        return WeightsShapeError(source, key, want.shape, got.shape)
    if is_floating(want.dtype) != is_floating(got.dtype):
        detail = _COMPLEX_DETAIL if "C" in (want.dtype[0], got.dtype[0]) else _KIND_DETAIL
        return WeightsDtypeError(source, key, want.dtype, got.dtype, detail=detail)
    convertible = convert_floating and is_floating(want.dtype) and is_floating(got.dtype)
    if strict and want.dtype != got.dtype and not convertible and not widens_integer(got.dtype, want.dtype):
        detail = float_detail if is_floating(want.dtype) and is_floating(got.dtype) else ""
        return WeightsDtypeError(source, key, want.dtype, got.dtype, detail=detail)
    return None


def _hint_once(
    mismatches: list[WeightsShapeError | WeightsDtypeError], float_detail: str
) -> list[WeightsShapeError | WeightsDtypeError]:
    """``mismatches``, the floating dtypes' hint given by the first only: it is the same for every tensor, and a
    half-precision checkpoint lists them all."""
    hinted = False
    kept: list[WeightsShapeError | WeightsDtypeError] = []
    for error in mismatches:
        if isinstance(error, WeightsDtypeError) and error.detail == float_detail:
            if hinted:
                error = WeightsDtypeError(error.source, error.key, error.expected, error.found)
            hinted = True
        kept.append(error)
    return kept


_KIND_DETAIL = (
    "integer and floating tensors are never converted into each other: the values would not mean the same (the "
    "integer codes of a quantized layer); save the model unquantized, or build the model with that dtype"
)


MIXIN_CONVERT_HINT = "pass dtype=<the dtype to load in>, or strict=False"
"""How a framework mixin's ``from_pretrained`` is asked to convert floating tensors (see :func:`check_checkpoint`)."""

_OWN_CONVERT_HINT = (
    "the loader checks them with check_checkpoint(..., strict=True); it converts them with "
    "convert_floating=True (its user asked for a dtype), or strict=False"
)


_COMPLEX_DETAIL = "complex and real tensors are never converted into each other: build the model with that dtype"


def check_missing_size(expected: Mapping[str, TensorInfo], missing: Iterable[str], checkpoint: Checkpoint) -> None:
    """Refuse to initialise the tensors ``missing`` (names of ``expected``) where they would take more bytes than
    ``checkpoint``'s tensors and :data:`MISSING_BYTES_FLOOR` (see :func:`check_checkpoint`).

    Raises:
        WeightsKeyError: naming the keys and the bytes.
    """
    missing = list(missing)
    needed = sum(expected[name].nbytes for name in missing)
    held = sum(info.nbytes for info in checkpoint.infos.values())
    if needed > max(held, MISSING_BYTES_FLOOR):
        detail = (
            f"the {len(missing)} tensors the model expects and the checkpoint lacks would take {_size(needed)} to "
            f"initialise, more than the checkpoint's {_size(held)}: refusing to build a model larger than its "
            "weights (does the config describe another model? To start a larger model from these weights on "
            "purpose, construct it yourself and load the checkpoint into it, e.g. with safetensors' "
            "load_model(model, path, strict=False) for PyTorch)"
        )
        raise WeightsKeyError(checkpoint.description, missing, detail=detail)


def _size(nbytes: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit} ({nbytes} bytes)"
    return f"{nbytes} bytes"
