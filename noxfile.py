"""Sessions that check every part of the monorepo.

`bash scripts/test.sh` runs them all with `nox --no-venv` inside the shared `.venv` (one install of torch for
everything); `bash scripts/test.sh lint mypy` runs a few. Only `install_core` builds a fresh environment, to
prove that hubmixin-core installs and imports on its own.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import nox

nox.options.sessions = [
    "codegen",
    "lint",
    "mypy",
    "tests_core",
    "tests_torch",
    "tests_cross",
    "docs",
    "install_core",
]

PY = sys.executable
ROOT = Path(__file__).parent
CHECKED = ["packages", "codegen", "tests", "examples", "benchmarks", "noxfile.py"]


def _pytest(session: nox.Session, *args: str) -> None:
    # Exit code 5 means "no tests collected": a session that collects nothing must fail loudly, not pass.
    session.run(PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args, *session.posargs)


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

    Each test folder is its own run: they all have a top-level `conftest` module.
    """
    sources = [str(p) for p in sorted(ROOT.glob("packages/*/src"))]
    session.run(PY, "-m", "mypy", "--strict", *sources, "codegen", "examples", "benchmarks", "noxfile.py")
    for tests in [*sorted(ROOT.glob("packages/*/tests")), ROOT / "tests"]:
        session.run(PY, "-m", "mypy", "--strict", str(tests.relative_to(ROOT)))


@nox.session
def tests_core(session: nox.Session) -> None:
    """hubmixin-core's unit tests and doctests."""
    _pytest(session, "packages/hubmixin-core/tests", "--doctest-modules", "packages/hubmixin-core/src")


@nox.session
def tests_torch(session: nox.Session) -> None:
    """hubmixin-torch's unit tests and doctests."""
    _pytest(session, "packages/hubmixin-torch/tests", "--doctest-modules", "packages/hubmixin-torch/src")


@nox.session
def tests_cross(session: nox.Session) -> None:
    """Cross-package tests: end-to-end against the local Hub, typing (mypy and pyright), codegen."""
    _pytest(session, "tests")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site with warnings as errors."""
    with tempfile.TemporaryDirectory() as site:
        session.run(
            PY, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", site, env={"NO_MKDOCS_2_WARNING": "1"}
        )


@nox.session
def install_core(session: nox.Session) -> None:
    """A fresh venv: `pip install ./packages/hubmixin-core` alone, then import it and check no framework came."""
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "venv"
        session.run(PY, "-m", "venv", str(venv))
        python = str(venv / "bin" / "python")
        session.run(python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "./packages/hubmixin-core")
        check = (
            "import sys, hubmixin_core; "
            "bad = [m for m in ('torch', 'jax', 'flax', 'tensorflow', 'keras') if m in sys.modules]; "
            "assert not bad, bad; print('hubmixin_core', hubmixin_core.__version__, 'imports alone')"
        )
        session.run(python, "-c", check)
