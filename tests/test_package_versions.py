"""The packages are released in lockstep: one version, and each framework package (the test-only ones too) pins
exactly that core: their generated methods import core's private modules."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parent.parent
_PACKAGES = sorted(
    path.parent for folder in ("packages", "tests/packages") for path in (_ROOT / folder).glob("*/pyproject.toml")
)


def _version(package: Path) -> str:
    """The ``__version__`` a package's ``__init__.py`` assigns (the one place hatch reads it from)."""
    (init,) = package.glob("src/*/__init__.py")
    found = re.search(r'^__version__ = "([^"]+)"$', init.read_text(encoding="utf-8"), re.MULTILINE)
    assert found is not None, f"{init}: no __version__"
    return found.group(1)


def _core_requirements(package: Path) -> list[str]:
    """The ``hubmixin-core`` requirements among a package's dependencies."""
    project = tomllib.loads((package / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [req for req in project.get("dependencies", []) if re.match(r"hubmixin-core\b", req)]


def test_every_package_has_the_same_version() -> None:
    versions = {package.name: _version(package) for package in _PACKAGES}
    assert len(versions) >= 5  # the four published and the test-only framework package
    assert len(set(versions.values())) == 1, versions


@pytest.mark.parametrize("package", [p for p in _PACKAGES if p.name != "hubmixin-core"], ids=lambda p: p.name)
def test_a_framework_package_pins_exactly_its_core(package: Path) -> None:
    core = _version(_ROOT / "packages" / "hubmixin-core")
    assert _core_requirements(package) == [f"hubmixin-core=={core}"]


def _named_versions(text: str) -> list[tuple[str, str]]:
    """Each ``(name, version)`` of "name X.Y" in ``text``."""
    return re.findall(r"([a-z_]+) (\d+(?:\.\d+)+)", text)


def test_the_readme_names_the_versions_ci_runs() -> None:
    """README's "CI runs ..." paragraph: each newest version it names is requirements-dev.txt's pin (torch's,
    scripts/setup.sh's), each lowest one core's floor, so that a bump of either leaves no stale sentence."""
    readme = " ".join((_ROOT / "README.md").read_text(encoding="utf-8").split())
    found = re.search(r"CI runs every package (.*?) lowest versions (.*?)\)", readme)
    assert found is not None, "README.md: no 'CI runs every package ... lowest versions ...' sentence"
    newest, lowest = _named_versions(found.group(1)), _named_versions(found.group(2))
    pins = dict(re.findall(r"^([A-Za-z_-]+)==(\S+)", (_ROOT / "requirements-dev.txt").read_text(), re.MULTILINE))
    pins |= re.findall(r'"(torch)==(\S+)"', (_ROOT / "scripts/setup.sh").read_text())
    project = tomllib.loads((_ROOT / "packages/hubmixin-core/pyproject.toml").read_text(encoding="utf-8"))["project"]
    floors = dict(re.findall(r"^([A-Za-z_-]+)>=([0-9.]+)", "\n".join(project["dependencies"]), re.MULTILINE))
    assert len(newest) >= 6 and len(lowest) >= 3, (newest, lowest)
    for name, version in newest:
        assert f"{pins.get(name)}.".startswith(f"{version}."), (
            f"README names {name} {version}; CI pins {pins.get(name)}"
        )
    for name, version in lowest:
        assert floors.get(name) == version, f"README names {name} {version} as lowest; core allows {floors.get(name)}"
