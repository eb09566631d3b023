"""The ``hubmixin`` console script.

Sub-commands come from the entry-point group ``hubmixin.commands`` (:data:`GROUP`): each entry point is a
callable ``add(subparsers)`` that adds one sub-command and sets ``func`` on it, so any installed package extends
the CLI from its own ``pyproject.toml``, without touching this file::

    [project.entry-points."hubmixin.commands"]
    convert = "hubmixin_flax._cli:add_convert"

An entry point that fails to load or to add itself is skipped with a warning on stderr.

Examples:
    $ hubmixin --version
    $ hubmixin env
    $ hubmixin inspect ./my-model --json
    $ hubmixin hub serve --root ./hub-data --port 8080
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import TypeAlias

from hubmixin_core._checks import expand_location
from hubmixin_core.errors import HubMixinValueError

__all__ = ["COMMANDS", "GROUP", "build_parser", "commands", "main"]

GROUP = "hubmixin.commands"
"""The entry-point group of ``hubmixin`` sub-commands."""

_SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
AddCommand: TypeAlias = "Callable[[_SubParsers], None]"
"""A callable that adds one sub-command to the ``hubmixin`` parser and sets ``func`` on it."""

COMMANDS: list[AddCommand] = []
"""Sub-commands registered in-process, added after those of :data:`GROUP` (empty unless a caller appends)."""

_ENV = ("huggingface_hub", "hf_xet", "safetensors", "numpy", "ml_dtypes", "torch", "jax", "flax", "keras", "tensorflow")
_ALSO_SHIPPED_AS = {"tensorflow": ("tensorflow-cpu", "tf-nightly")}
"""Distributions that install a package of :data:`_ENV` under another name."""


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _add_hub(subparsers: _SubParsers) -> None:
    from hubmixin_core.testing._cli import add_hub_parser

    add_hub_parser(subparsers)


def _add_convert(subparsers: _SubParsers) -> None:
    from hubmixin_core._convert import add_convert_parser

    add_convert_parser(subparsers)


def _add_inspect(subparsers: _SubParsers) -> None:
    from hubmixin_core._inspect import add_inspect_parser

    add_inspect_parser(subparsers)


def _add_env(subparsers: _SubParsers) -> None:
    parser = subparsers.add_parser("env", help="print the versions of hubmixin and its dependencies")
    parser.set_defaults(func=_print_env)


def _print_env(_: argparse.Namespace) -> int:
    """Every installed ``hubmixin-*`` distribution, then the shared dependencies and the frameworks."""
    versions: dict[str, str] = {}
    for dist in metadata.distributions():
        versions.setdefault(_normalize((dist.metadata.get_all("Name") or [""])[0]), dist.version)
    for name in [*sorted(n for n in versions if n.startswith("hubmixin-")), *_ENV]:
        shipped = [_normalize(d) for d in (name, *_ALSO_SHIPPED_AS.get(name, ())) if _normalize(d) in versions]
        if not shipped:
            print(f"{name}: not installed")
        else:
            under = shipped[0]
            print(f"{name}: {versions[under]}" + (f" ({under})" if under != _normalize(name) else ""))
    return 0


_CORE = "hubmixin_core."


def _skip(what: str, error: Exception) -> None:
    print(f"hubmixin: warning: skipping sub-command {what}: {type(error).__name__}: {error}", file=sys.stderr)


def commands() -> dict[str, AddCommand]:
    """The sub-command adders of :data:`GROUP` by entry-point name (sorted), then those of :data:`COMMANDS`.

    An entry point that fails to load, or whose name another took (core's first), is left out, with a warning
    on stderr naming it.
    """
    found: dict[str, AddCommand] = {}
    taken: dict[str, str] = {}
    # By name; of one name, core's first (a plugin's command never takes a core command's place).
    order = sorted(metadata.entry_points(group=GROUP), key=lambda ep: (ep.name, not ep.value.startswith(_CORE)))
    for entry_point in order:
        what = f"{entry_point.name!r} ({entry_point.value}, group {GROUP})"
        if entry_point.name in taken:
            if taken[entry_point.name] != entry_point.value:  # (the same one found twice: nothing to say)
                _skip(what, HubMixinValueError(f"{taken[entry_point.name]} already adds {entry_point.name!r}"))
            continue
        try:
            add = entry_point.load()
            if not callable(add):
                raise TypeError(f"{add!r} is not callable")
        except Exception as error:
            _skip(what, error)
            continue
        found[entry_point.name] = add
        taken[entry_point.name] = entry_point.value
    found.update((getattr(add, "__qualname__", repr(add)), add) for add in COMMANDS)
    return found


def build_parser() -> argparse.ArgumentParser:
    """The ``hubmixin`` argument parser with every sub-command of :func:`commands`."""
    parser = argparse.ArgumentParser(prog="hubmixin", description="hubmixin command line tools")
    parser.add_argument("--version", action="version", version=f"hubmixin {metadata.version('hubmixin-core')}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name, add in commands().items():
        try:
            add(subparsers)
        except Exception as error:
            _skip(repr(name), error)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``hubmixin`` console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        with _replacing_unencodable():
            code = func(_expand_paths(parser, args))
            sys.stdout.flush()
    except BrokenPipeError:  # the reader left (`hubmixin inspect ... | head`): stop quietly, as cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the exit's flush must not fail again
        return 141  # 128 + SIGPIPE, what a shell reports for a command its pipe's reader left
    return code


_PATH_STRINGS = frozenset({"path_or_repo"})
"""String arguments that may be a local path (a repo id never starts with ``~``)."""


def _expand_paths(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.Namespace:
    """``~`` expanded in every path argument, as the Python API expands it: a shell leaves ``--config=~/x``
    and quoted or exec'd arguments as they are. One that cannot be expanded is a usage error (one line, status 2)."""
    for name, value in vars(args).items():
        if isinstance(value, Path) or (name in _PATH_STRINGS and isinstance(value, str)):
            try:
                setattr(args, name, expand_location(value))
            except (OSError, RuntimeError, ValueError) as error:
                parser.exit(
                    2, f"{parser.prog}: error: {str(value)!r}: cannot expand ~ ({type(error).__name__}: {error})\n"
                )
    return args


@contextlib.contextmanager
def _replacing_unencodable() -> Iterator[None]:
    """Names the output's encoding lacks (a tensor name outside Windows' code page, output redirected) written
    as ``\\u5c42`` escapes rather than aborting the command; the streams are given back as they were (``main``
    called inside a program)."""
    streams = [s for s in (sys.stdout, sys.stderr) if isinstance(s, io.TextIOWrapper)]
    before = [stream.errors for stream in streams]
    for stream in streams:
        stream.reconfigure(errors="backslashreplace")
    try:
        yield
    finally:
        for stream, errors in zip(streams, before, strict=True):
            with contextlib.suppress(ValueError):  # (a stream closed meanwhile)
                stream.reconfigure(errors=errors)


if __name__ == "__main__":
    sys.exit(main())
