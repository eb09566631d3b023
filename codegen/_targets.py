"""What codegen writes: one target per package, found from the packages' declared extras."""

from __future__ import annotations

import importlib.util
import keyword
from dataclasses import dataclass
from pathlib import Path

from codegen._render import header, render_facade, render_options
from hubmixin_core.params import DOWNLOAD_PARAMS, SAVE_PARAMS, UPLOAD_PARAMS, FrameworkExtras, Param

__all__ = ["CORE_EXTRAS", "REPO_ROOT", "Target", "discover_targets", "render_all"]

REPO_ROOT = Path(__file__).resolve().parent.parent

CORE_EXTRAS = FrameworkExtras(
    package="hubmixin_core",
    class_name="ModelHubMixinMethods",
    base="hubmixin_core._base:ModelHubMixinBase",
)
"""Core's own facade: no extras."""


@dataclass(frozen=True)
class Target:
    """One generated file: where it goes and its (unformatted) text."""

    path: Path
    text: str


def load_extras(path: Path) -> FrameworkExtras:
    """The ``EXTRAS`` declared in a package's ``_extras.py``, loaded from the file alone (no framework import)."""
    spec = importlib.util.spec_from_file_location(f"_codegen_extras_{path.parent.name}", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    extras = getattr(module, "EXTRAS", None)
    if not isinstance(extras, FrameworkExtras):
        raise TypeError(f"{path}: EXTRAS must be a hubmixin_core.params.FrameworkExtras")
    _check_declaration(path, extras)
    _check_names(path, "load", extras.load, DOWNLOAD_PARAMS)
    _check_names(path, "save", extras.save, UPLOAD_PARAMS + SAVE_PARAMS)
    return extras


def _identifier(name: str) -> bool:
    """Whether ``name`` can name a parameter, class or module."""
    return name.isidentifier() and not keyword.iskeyword(name)


def _check_declaration(path: Path, extras: FrameworkExtras) -> None:
    """Refuse a ``package``, ``class_name``, ``base`` or ``runtime_args`` the generated module could not be
    written with."""
    if not _identifier(extras.package):
        raise ValueError(f"{path}: package {extras.package!r} is not a top-level import name (hubmixin_<fw>)")
    if not _identifier(extras.class_name):
        raise ValueError(f"{path}: class_name {extras.class_name!r} is not a Python class name")
    module, _, base = extras.base.partition(":")
    if not (all(_identifier(part) for part in module.split(".")) and _identifier(base)):
        raise ValueError(f"{path}: base {extras.base!r} is not 'module:Class' (hubmixin_<fw>._impl:<Fw>HubMixinBase)")
    if not isinstance(extras.runtime_args, tuple):  # ("rngs") without its comma is a string
        raise ValueError(
            f"{path}: runtime_args must be a tuple of argument names, got {extras.runtime_args!r} "
            '(one name is written ("rngs",), with the comma)'
        )
    for name in extras.runtime_args:
        if not (isinstance(name, str) and _identifier(name)):
            raise ValueError(f"{path}: runtime_args name {name!r} is not a Python parameter name")


_OWN_NAMES = frozenset(
    {"self", "cls", "pretrained_model_name_or_path", "model_kwargs", "save_directory", "repo_id", "push_to_hub"}
    | {"push_kwargs", "kwargs", "config", "model_card_kwargs", "push_to_hub_kwargs", "init_kwargs"}
    | {"model_id", "download", "proxies", "resume_download"}
    | {"DownloadOptions", "UploadOptions"}
)
"""Names an extra may not take: parameters of the generated methods themselves (beside the shared and extra ones),
the keywords core's loader passes ``_from_pretrained`` beside the load extras (``hubmixin_core._override``'s
legacy ones too), and the names the generated bodies call."""


def _check_names(path: Path, kind: str, extras: tuple[Param, ...], shared: tuple[Param, ...]) -> None:
    """Refuse an extra whose name is no identifier, or already a parameter of the methods it joins."""
    if not isinstance(extras, tuple):  # (Param(...)) without its comma is the Param
        raise ValueError(f"{path}: {kind} must be a tuple of Param, got {extras!r}")
    taken = {p.name for p in shared} | _OWN_NAMES
    for param in extras:
        if not _identifier(param.name):
            raise ValueError(f"{path}: {kind} extra {param.name!r} is not a Python parameter name")
        if param.name in taken:
            raise ValueError(f"{path}: {kind} extra {param.name!r} is already a parameter of the generated methods")
        taken.add(param.name)


def package_dir(package: str, root: Path) -> Path:
    """``packages/<dist>/src/<package>`` for an import name such as ``hubmixin_torch``."""
    return root / "packages" / package.replace("_", "-") / "src" / package


EXTRAS_GLOBS = ("packages/*/src/*/_extras.py", "tests/packages/*/src/*/_extras.py")
"""Where packages declare their extras: the published ones, and test-only framework packages."""


def discover_targets(root: Path = REPO_ROOT) -> list[tuple[FrameworkExtras, Path]]:
    """Core's extras plus those of every package's ``_extras.py``, with the package's directory, by package."""
    found = [(load_extras(p), p.parent) for pattern in EXTRAS_GLOBS for p in sorted(root.glob(pattern))]
    return [(CORE_EXTRAS, package_dir("hubmixin_core", root)), *sorted(found, key=lambda e: e[0].package)]


def render_all(root: Path = REPO_ROOT) -> list[Target]:
    """Every generated file with its text, unformatted."""
    targets = [Target(package_dir("hubmixin_core", root) / "_generated" / "_options.py", render_options())]
    for extras, directory in discover_targets(root):
        generated = directory / "_generated"
        targets.append(Target(generated / "_methods.py", render_facade(extras)))
        docstring = f'"""Generated code of {extras.package}: do not edit."""\n'
        targets.append(Target(generated / "__init__.py", header(extras.package) + docstring))
    return targets
