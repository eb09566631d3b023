"""codegen refuses ``runtime_args`` (and ``load`` / ``save``) that are not a tuple of names, naming the
``_extras.py`` and the field, before anything is rendered."""

from __future__ import annotations

from pathlib import Path

import pytest

_EXTRAS = """
from hubmixin_core.params import FrameworkExtras, Param

EXTRAS = FrameworkExtras(
    package="hubmixin_foo",
    class_name="FooModelHubMixinMethods",
    base="hubmixin_foo._impl:FooHubMixinBase",
    {field}={value},
)
"""


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("runtime_args", '("rngs")', "runtime_args must be a tuple of argument names, got 'rngs'"),
        ("runtime_args", '["rngs"]', r"runtime_args must be a tuple of argument names, got \['rngs'\]"),
        ("runtime_args", '("my-arg",)', "runtime_args name 'my-arg' is not a Python parameter name"),
        ("runtime_args", '("class",)', "runtime_args name 'class' is not a Python parameter name"),
        ("runtime_args", "(1,)", "runtime_args name 1 is not a Python parameter name"),
        ("load", '(Param("seed", "int", "0", "A seed."))', "load must be a tuple of Param"),
        ("save", '[Param("seed", "int", "0", "A seed.")]', "save must be a tuple of Param"),
    ],
)
def test_malformed_runtime_args_load_or_save_are_refused_naming_the_extras_file(
    field: str, value: str, why: str, tmp_path: Path
) -> None:
    from codegen._targets import load_extras

    path = tmp_path / "_extras.py"
    path.write_text(_EXTRAS.format(field=field, value=value))
    with pytest.raises(ValueError, match=why) as caught:
        load_extras(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_well_formed_runtime_args_render() -> None:
    from codegen._render import render_facade
    from hubmixin_core.params import FrameworkExtras

    extras = FrameworkExtras("hubmixin_foo", "FooMethods", "hubmixin_foo._impl:FooBase", runtime_args=("rngs",))
    assert 'frozenset({"rngs"})' in render_facade(extras)
