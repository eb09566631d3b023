"""``python -m codegen [--check]``: write the generated modules, or check that they are up to date."""

from __future__ import annotations

import argparse
import difflib
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from codegen._targets import REPO_ROOT, Target, render_all

__all__ = ["format_source", "main", "stray_files"]


def _ruff() -> str:
    """This interpreter's ruff, else the repository's .venv one, else any on PATH."""
    for candidate in (Path(sys.executable).parent / "ruff", REPO_ROOT / ".venv" / "bin" / "ruff"):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("ruff")
    if found is None:
        raise SystemExit("codegen: ruff is required to format generated code (pip install ruff)")
    return found


def _run_ruff(args: list[str], text: str, path: Path) -> str:
    """Ruff's output for ``text`` as the file ``path``; its own message, naming that file, when it fails."""
    result = subprocess.run([_ruff(), *args, "-"], input=text, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        message = (result.stderr + result.stdout).strip()
        raise SystemExit(f"codegen: ruff {args[0]} failed on the rendering of {path}:\n{message}")
    return result.stdout


def format_source(text: str, path: Path, root: Path) -> str:
    """``text`` with imports sorted and ruff-formatted under the repository's ruff configuration, then checked:
    generated code must pass the repository's ruff as committed code does (line length included)."""
    common = ["--config", str(root / "pyproject.toml"), "--stdin-filename", str(path)]
    fixed = _run_ruff(["check", "--select", "I", "--fix", "--quiet", "--exit-zero", *common], text, path)
    formatted = _run_ruff(["format", *common], fixed, path)
    _run_ruff(["check", "--quiet", "--output-format", "concise", *common], formatted, path)
    return formatted


def stray_files(targets: Sequence[Target]) -> list[Path]:
    """The Python files in the generated folders that no target writes (a module the generator renamed or
    dropped): importable, they would ship with the package."""
    expected = {target.path.resolve() for target in targets}
    folders = sorted({target.path.parent for target in targets})
    found = (path for folder in folders if folder.is_dir() for path in sorted(folder.rglob("*.py")))
    return [path for path in found if path.resolve() not in expected]


def main(argv: Sequence[str] | None = None) -> int:
    """Write (default) or check (``--check``) every generated file; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail with a diff if a generated file is stale")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="repository root")
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    if root != REPO_ROOT.resolve():  # that tree's spec and generator, not this one's (nor an installed spec)
        if not (root / "codegen" / "__main__.py").is_file():
            raise SystemExit(f"codegen: {root} has no codegen/ (not a hubmixin repository root)")
        command = [sys.executable, "-m", "codegen", *(["--check"] if args.check else [])]
        return subprocess.run(command, cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, check=False).returncode
    stale = 0
    targets = render_all(root)
    for target in targets:
        expected = format_source(target.text, target.path, root)
        current = target.path.read_text(encoding="utf-8") if target.path.exists() else ""
        if current == expected:
            continue
        rel = target.path.relative_to(root).as_posix()
        if args.check:
            stale += 1
            diff = difflib.unified_diff(
                current.splitlines(keepends=True), expected.splitlines(keepends=True), f"a/{rel}", f"b/{rel}"
            )
            sys.stdout.writelines(diff)
        else:
            target.path.parent.mkdir(parents=True, exist_ok=True)
            target.path.write_text(expected, encoding="utf-8")
            print(f"codegen: wrote {rel}")
    for path in stray_files(targets):
        rel = path.relative_to(root).as_posix()
        if args.check:
            stale += 1
            print(f"codegen: {rel} is in a generated folder but no longer generated: remove it")
        else:
            path.unlink()
            print(f"codegen: removed {rel} (no longer generated)")
    if stale:
        print(
            f"codegen: {stale} generated file(s) are stale; run `python -m codegen` and commit.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
