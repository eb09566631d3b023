"""Sessions that check every part of the monorepo.

`bash scripts/test.sh` runs them all with `nox --no-venv` inside the shared `.venv` (one install of torch for
everything); `bash scripts/test.sh lint mypy` runs a few. Only `install_core` and `core_floors` build fresh
environments: hubmixin-core installs and imports on its own, and its tests pass at the lowest versions of its
dependencies it declares (the shared `.venv` has requirements-dev.txt's, the newest).

Each `packages/<dist>/` with a `pyproject.toml` gets a `tests_<short>` session (`hubmixin-core` -> `tests_core`),
run with the env and matrix of its `[tool.hubmixin]` table (see `Package`): no edit here for a new package.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nox

PY = sys.executable
ROOT = Path(__file__).parent
CHECKED = ["packages", "codegen", "tests", "examples", "benchmarks", "noxfile.py"]
FRAMEWORKS = ("torch", "jax", "flax", "tensorflow", "keras")
"""Import names hubmixin-core must never import; the framework packages' own dependencies are added to these."""


def _dist_name(requirement: str) -> str:
    """The normalized distribution name of a requirement: `"Jax[cpu]>=0.4"` -> `"jax"`."""
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    assert match, f"unreadable requirement {requirement!r}"
    return re.sub(r"[-_.]+", "-", match.group()).lower()


@dataclass
class Package:
    """One installable package: `packages/<dist>/pyproject.toml` and its optional test settings::

        [tool.hubmixin]
        test-env = {XLA_FLAGS = "--xla_force_host_platform_device_count=8"}  # for every run of its tests

        [tool.hubmixin.test-matrix]
        KERAS_BACKEND = ["jax", "torch", "tensorflow"]  # one session per value: tests_keras(jax), ...

    `nox -s tests_keras` runs every value of the matrix, `nox -s "tests_keras(jax)"` one.
    """

    path: str
    dist: str
    dependencies: list[str]
    test_env: dict[str, str]
    test_matrix: dict[str, list[str]]

    @classmethod
    def load(cls, folder: Path) -> Package:
        """Read `folder/pyproject.toml`."""
        data = tomllib.loads((folder / "pyproject.toml").read_text())
        tool = data.get("tool", {}).get("hubmixin", {})
        matrix = tool.get("test-matrix", {})
        return cls(
            path=folder.relative_to(ROOT).as_posix(),
            dist=_dist_name(data["project"]["name"]),
            dependencies=[_dist_name(r) for r in data["project"].get("dependencies", [])],
            test_env={k: str(v) for k, v in tool.get("test-env", {}).items()},
            test_matrix={k: [str(v) for v in (vs if isinstance(vs, list) else [vs])] for k, vs in matrix.items()},
        )

    @property
    def session(self) -> str:
        """`tests_<short>`: `hubmixin-core` -> `tests_core`."""
        return "tests_" + self.dist.removeprefix("hubmixin-")


PACKAGES = [Package.load(p.parent) for p in sorted(ROOT.glob("packages/*/pyproject.toml"))]
SOURCE_ROOTS = [p.relative_to(ROOT).as_posix() for p in sorted(ROOT.glob("packages/*/src"))]
TEST_SOURCE_ROOTS = [p.relative_to(ROOT).as_posix() for p in sorted(ROOT.glob("tests/packages/*/src"))]


def _pytest(session: nox.Session, *args: str, env: dict[str, str] | None = None, python: str = PY) -> None:
    # Exit code 5 means "no tests collected": a session that collects nothing must fail loudly, not pass.
    session.run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args, *session.posargs, env=env)


def _add_tests_session(package: Package) -> None:
    """Register `tests_<short>` for one package, parametrized over its test matrix if it has one."""

    def tests(session: nox.Session, matrix: dict[str, str] | None = None) -> None:
        env = {**package.test_env, **(matrix or {})}
        _pytest(session, f"{package.path}/tests", "--doctest-modules", f"{package.path}/src", env=env)

    keys = list(package.test_matrix)
    per = f", once per {' x '.join(keys)}" if keys else ""
    tests.__doc__ = f"{package.dist}'s unit tests and doctests{per}."
    if keys:
        combos = [dict(zip(keys, values, strict=True)) for values in itertools.product(*package.test_matrix.values())]
        nox.parametrize("matrix", [nox.param(combo, id="-".join(combo.values())) for combo in combos])(tests)
    nox.session(name=package.session)(tests)


nox.options.sessions = [
    "codegen",
    "lint",
    "mypy",
    *(p.session for p in PACKAGES),
    "tests_cross",
    "interchange",
    "reliability",
    "docs",
    "install_core",
    "core_floors",
]


@nox.session
def codegen(session: nox.Session) -> None:
    """Fail (with a diff) if a generated module is stale."""
    session.run(PY, "-m", "codegen", "--check")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over all code."""
    session.run(PY, "-m", "ruff", "check", *CHECKED)
    session.run(PY, "-m", "ruff", "format", "--check", *CHECKED)


@nox.session
def mypy(session: nox.Session) -> None:
    """mypy --strict over every package, codegen, tests, examples and benchmarks.

    The source roots `packages/*/src` and `tests/packages/*/src` go in MYPYPATH. Each test folder is its own
    run: they all have a top-level `conftest` module.
    """
    env = {"MYPYPATH": os.pathsep.join([*SOURCE_ROOTS, *TEST_SOURCE_ROOTS])}
    sources = [*SOURCE_ROOTS, *TEST_SOURCE_ROOTS]
    session.run(PY, "-m", "mypy", "--strict", *sources, "codegen", "examples", "benchmarks", "noxfile.py", env=env)
    for tests in [*sorted(ROOT.glob("packages/*/tests")), ROOT / "tests"]:
        session.run(PY, "-m", "mypy", "--strict", tests.relative_to(ROOT).as_posix(), env=env)
    # tests/interchange imports its own modules by their bare names: its own run, its files named (the
    # configuration's `exclude` keeps it out of the run over tests/).
    interchange = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "tests" / "interchange").glob("*.py"))
    session.run(
        PY, "-m", "mypy", "--strict", *interchange, env={"MYPYPATH": f"{env['MYPYPATH']}{os.pathsep}tests/interchange"}
    )


for _package in PACKAGES:
    _add_tests_session(_package)


@nox.session
def tests_cross(session: nox.Session) -> None:
    """Cross-package tests (end-to-end against the local Hub, typing, codegen), test-only packages' doctests.

    The interchange and reliability tests are their own sessions'.
    """
    _pytest(
        session,
        "tests",
        "--ignore=tests/interchange",
        "--ignore=tests/reliability",
        "--doctest-modules",
        *TEST_SOURCE_ROOTS,
    )


@nox.session
def reliability(session: nox.Session) -> None:
    """Saves killed at every step, malformed files and requests (small sizes).

    The kill tests fork, so they run in a process of their own, before JAX (multithreaded) is ever imported.
    """
    _pytest(session, "tests/reliability")
    _pytest(session, *sorted(str(p) for p in ROOT.glob("packages/*/tests/**/test_*malformed*.py")))


@nox.session
def interchange(session: nox.Session) -> None:
    """The interchange matrix and the per-layer adapter checks; writes the docs' table of the matrix's errors."""
    env = {"HUBMIXIN_INTERCHANGE_TABLE": str(ROOT / "docs" / "interchange-matrix.md")}
    _pytest(session, "tests/interchange", "--doctest-modules", env=env)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site with warnings as errors."""
    with tempfile.TemporaryDirectory() as site:
        session.run(PY, "-m", "mkdocs", "build", "--strict", "--site-dir", site, env={"NO_MKDOCS_2_WARNING": "1"})


def _framework_modules() -> list[str]:
    """`FRAMEWORKS` plus what the other packages depend on beyond hubmixin-core and its own dependencies."""
    core = next(p for p in PACKAGES if p.dist == "hubmixin-core")
    shared = {core.dist, *core.dependencies}
    extra = {d for p in PACKAGES for d in p.dependencies if d not in shared and not d.startswith("hubmixin-")}
    return sorted({*FRAMEWORKS, *(d.replace("-", "_") for d in extra)})


@contextlib.contextmanager
def _fresh_venv(session: nox.Session) -> Iterator[tuple[str, list[str]]]:
    """A new venv in a temporary folder, removed afterwards: its python and its `pip install` command."""
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp).chmod(0o755)  # tests run as root start its python as another user too (read-only folders)
        venv = Path(tmp) / "venv"
        session.run(PY, "-m", "venv", str(venv))
        python = str(venv / "bin" / "python")
        yield python, [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]


@nox.session
def install_core(session: nox.Session) -> None:
    """A fresh venv: `pip install ./packages/hubmixin-core` alone; no framework comes with it, and a model saves
    (its card too) and loads."""
    with _fresh_venv(session) as (python, pip):
        # silent: pip's machine-specific warnings (ignored find-links) are shown only if the install fails
        session.run(*pip, "./packages/hubmixin-core", silent=True)
        session.run(python, "scripts/check_core_install.py", *_framework_modules())


def _floors(requirements: list[str]) -> list[str]:
    """Each requirement pinned to the lowest version its range allows: `"numpy>=1.26"` -> `"numpy==1.26"`."""
    pins = []
    for requirement in requirements:
        lowest = re.search(r"(?:>=|==|~=)\s*([0-9][^,;\s]*)", requirement)
        assert lowest, f"{requirement!r} declares no lowest version"
        pins.append(f"{_dist_name(requirement)}=={lowest.group(1)}")
    return pins


@nox.session
def core_floors(session: nox.Session) -> None:
    """A fresh venv: hubmixin-core (with its `hub` extra) at the lowest versions its pyproject.toml allows, and
    its unit tests and doctests there (CI's other sessions run the newest, requirements-dev.txt's)."""
    project = tomllib.loads((ROOT / "packages/hubmixin-core/pyproject.toml").read_text())["project"]
    floors = _floors([*project["dependencies"], *project["optional-dependencies"]["hub"]])
    pytest_pin = next(line for line in (ROOT / "requirements-dev.txt").read_text().splitlines() if "pytest==" in line)
    with _fresh_venv(session) as (python, pip):
        session.run(*pip, "-e", "./packages/hubmixin-core[hub]", *floors, pytest_pin, silent=True)
        session.run(python, "-m", "pip", "list", "--format=freeze")
        core = "packages/hubmixin-core"
        _pytest(session, f"{core}/tests", "--doctest-modules", f"{core}/src", python=python)
