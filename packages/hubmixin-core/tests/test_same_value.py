"""``same_value``: whether an option is at its default (what decides that it is forwarded to an override)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from hubmixin_core._checks import same_value


@pytest.mark.parametrize(
    ("value", "default", "same"),
    [
        (None, None, True),
        (np.dtype("float64"), None, False),  # numpy holds np.dtype("float64") == None
        (None, np.dtype("float64"), False),
        (np.dtype("float32"), np.dtype("float32"), True),
        ("main", "main", True),
        (np.zeros(2), None, False),
        (np.zeros(2), np.zeros(2), False),  # an array's == is no plain bool: not the default
        (0, False, True),
    ],
)
def test_same_value(value: Any, default: Any, same: bool) -> None:
    assert same_value(value, default) is same
