"""The ``hubmixin`` console script.

Sub-commands register themselves in :data:`COMMANDS`: each entry adds its own parser and sets ``func`` on it,
so later packages and modules extend the CLI without touching this file's logic.

Example:
    $ hubmixin --version
    $ hubmixin hub serve --root ./hub-data --port 8080
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib import metadata

__all__ = ["COMMANDS", "build_parser", "main"]


def _add_hub(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from hubmixin_core.testing._cli import add_hub_parser

    add_hub_parser(subparsers)


def _add_version(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("env", help="print the versions of hubmixin and its dependencies")
    parser.set_defaults(func=_print_env)


def _print_env(_: argparse.Namespace) -> int:
    for dist in (
        "hubmixin-core",
        "hubmixin-torch",
        "huggingface_hub",
        "hf_xet",
        "safetensors",
        "numpy",
        "torch",
    ):
        try:
            print(f"{dist}: {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            print(f"{dist}: not installed")
    return 0


COMMANDS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = [
    _add_version,
    _add_hub,
]
"""Functions that each add one sub-command to the ``hubmixin`` parser."""


def build_parser() -> argparse.ArgumentParser:
    """The ``hubmixin`` argument parser with every registered sub-command."""
    parser = argparse.ArgumentParser(prog="hubmixin", description="hubmixin command line tools")
    parser.add_argument("--version", action="version", version=f"hubmixin {metadata.version('hubmixin-core')}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for add in COMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``hubmixin`` console script; returns the process exit code."""
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)


if __name__ == "__main__":
    sys.exit(main())
