"""What C-level objects hold: a builtin bound method's instance, a read-only mapping's values (round 21)."""

from __future__ import annotations

import types

from hubmixin_core._held import find_held, held_by


class Marker:
    """A value to find."""


def _finds(value: object, marker: Marker) -> bool:
    return find_held(value, lambda item: item is marker, set()) is marker


def test_a_builtin_bound_method_holds_its_instance() -> None:
    marker = Marker()
    kept = [marker]
    assert held_by(kept.append) == (kept,)
    assert _finds({"s": marker}.get, marker)
    assert _finds(kept.__len__, marker)  # a method-wrapper
    assert held_by(len) == ()  # a builtin function: its module is not looked into


def test_a_mappingproxy_holds_its_values() -> None:
    marker = Marker()
    assert held_by(types.MappingProxyType({"s": marker})) == (marker,)
    assert _finds({"nested": types.MappingProxyType({"s": [marker]})}, marker)
