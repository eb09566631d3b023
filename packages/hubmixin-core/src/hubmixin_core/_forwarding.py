"""What an ``__init__`` gives its base's ``__init__`` itself: read from its source, so that a load does not give
the same argument again through ``**kwargs``."""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap
from collections.abc import Callable
from typing import Any

__all__ = ["SuperCall", "super_call"]

SuperCall = tuple[int, frozenset[str]]
"""The positional arguments (count) and keyword names an ``__init__`` passes to its base's ``__init__``."""


@functools.cache
def super_call(init: Callable[..., Any]) -> SuperCall:
    """What ``init`` passes to ``super().__init__(...)`` (or ``Base.__init__(self, ...)``) by name, and how many
    arguments by position (``*args`` and ``**kwargs`` not counted); ``(0, frozenset())`` where its source cannot
    be read."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(inspect.unwrap(init))))
    except (OSError, TypeError, SyntaxError):
        return 0, frozenset()
    positional, names = 0, set[str]()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and _is_base_init(node.func):
            args = [a for a in node.args if not isinstance(a, ast.Starred)]
            if isinstance(node.func.value, ast.Name):  # Base.__init__(self, ...): self is the first
                args = args[1:]
            positional = max(positional, len(args))
            names.update(k.arg for k in node.keywords if k.arg is not None)
    return positional, frozenset(names)


def _is_base_init(func: ast.Attribute) -> bool:
    """``super().__init__``, ``super(Cls, self).__init__`` or ``Name.__init__`` (a base named)."""
    if func.attr != "__init__":
        return False
    owner = func.value
    if isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) and owner.func.id == "super":
        return True
    return isinstance(owner, ast.Name)
