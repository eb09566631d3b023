"""Parsing of human-readable sizes such as ``"5GB"``."""

from __future__ import annotations

import numbers
import re

from hubmixin_core.errors import HubMixinTypeError, HubMixinValueError

__all__ = ["parse_size"]

_UNITS = {
    "": 1,
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "KIB": 2**10,
    "MIB": 2**20,
    "GIB": 2**30,
    "TIB": 2**40,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")


def parse_size(size: int | str) -> int:
    """Bytes in ``size``: an int, or a string with a decimal (``"5GB"``) or binary (``"4GiB"``) unit.

    Raises:
        ValueError: ``size`` is not positive (a string: under one byte) or its unit is unknown.
        TypeError: ``size`` is neither an integer (``int``, ``numpy.int64``, ...) nor a string.

    Examples:
        >>> parse_size("5GB"), parse_size("1KiB"), parse_size(100)
        (5000000000, 1024, 100)
    """
    if isinstance(size, bool):
        raise HubMixinValueError(f"invalid size {size!r}")
    if isinstance(size, str):
        match = _SIZE.match(size)
        unit = match.group(2).upper() if match else None
        if match is None or unit not in _UNITS:
            raise HubMixinValueError(f"invalid size {size!r}: expected a number of bytes or e.g. '5GB', '500MiB'")
        value = int(float(match.group(1)) * _UNITS[unit])
        if value <= 0 < float(match.group(1)):
            raise HubMixinValueError(f"invalid size {size!r}: less than one byte")
    elif isinstance(size, int | numbers.Integral):  # numpy.int64 and other integers too
        value = int(size)
    else:
        raise HubMixinTypeError(
            f"invalid size {size!r} of type {type(size).__name__}: expected an integer number of bytes or a "
            "string such as '5GB', '500MiB'"
        )
    if value <= 0:
        raise HubMixinValueError(f"invalid size {size!r}: must be positive")
    return value
