"""Messages of the first-use path (QA round 23, firstuse): a coder is advised for a private class's public base
(#5); a ``config=`` given to ``save_pretrained`` that cannot be written is named as that keyword's (#10)."""

import argparse
import sys
import types
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from hubmixin_core import ConfigEncodingWarning, ConfigError, ModelHubMixin
from hubmixin_core.errors import ConfigEncodingError, MissingArgumentError


@pytest.fixture
def private_array() -> Iterator[tuple[type, type]]:
    """``publib.Array`` (exported under a private qualified name, as ``jax.Array`` is) and its private subclass
    ``publib._impl.ArrayImpl``, which ``publib`` does not export."""
    public, private = types.ModuleType("publib"), types.ModuleType("publib._impl")
    array = type("Array", (), {"__module__": "publib"})
    array.__qualname__ = "_core.Array"
    impl = type("ArrayImpl", (array,), {"__module__": "publib._impl"})
    public.Array, private.ArrayImpl = array, impl  # type: ignore[attr-defined]
    sys.modules.update({"publib": public, "publib._impl": private})
    try:
        yield array, impl
    finally:
        del sys.modules["publib"], sys.modules["publib._impl"]


def test_the_coder_advised_is_the_public_class(private_array: tuple[type, type], tmp_path: Path) -> None:
    # (no `from __future__ import annotations` in this file: the annotation names a local class)
    array, impl = private_array

    class Net(ModelHubMixin):
        def __init__(self, scale: array | None = None, h: int = 2) -> None:  # type: ignore[valid-type]
            self.scale = scale

        def _save_pretrained(self, save_directory: Path) -> None:
            (Path(save_directory) / "w.txt").write_text("x")

    with pytest.warns(ConfigEncodingWarning) as record:
        model = Net(impl())
    message = str(record[0].message)
    assert "coders={publib.Array:" in message and "of type publib.Array" in message, message
    assert "_impl" not in message and "_core" not in message
    model.save_pretrained(tmp_path)
    with pytest.raises(MissingArgumentError, match=r"coders=\{publib\.Array:"):
        Net.from_pretrained(tmp_path)


class Plain(ModelHubMixin):
    def __init__(self, h: int = 2) -> None:
        self.h = h

    def _save_pretrained(self, save_directory: Path) -> None:
        (Path(save_directory) / "w.txt").write_text("x")


def test_a_namespace_given_as_config_is_named_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"takes a dict or a dataclass instance, not a Namespace: pass vars\(config\)"
    ):
        Plain().save_pretrained(tmp_path, config=argparse.Namespace(h=3))  # type: ignore[call-overload]


def test_a_function_in_a_config_dict_is_named_by_its_key(tmp_path: Path) -> None:
    with warnings.catch_warnings(), pytest.raises(ConfigEncodingError) as caught:
        Plain().save_pretrained(tmp_path, config={"h": 3, "f": len})
    message = str(caught.value)
    assert "the config= given to save_pretrained/push_to_hub holds" in message, message
    assert "(at config['f']: types.BuiltinFunctionType, a function): leave it out" in message, message
    assert "__init__" not in message
