"""``--model package.module:Class`` finds a module in the working directory, as ``python -m`` would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_LOAD = "from hubmixin_core._convert import load_class; print(load_class({spec!r}).__qualname__)"


def _load_isolated(spec: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``load_class(spec)`` in ``python -P`` (no working directory on ``sys.path``, like the ``hubmixin`` script)."""
    code = _LOAD.format(spec=spec)
    return subprocess.run([sys.executable, "-P", "-c", code], cwd=cwd, capture_output=True, text=True, check=False)


def test_a_module_in_the_working_directory_is_found(tmp_path: Path) -> None:
    (tmp_path / "my_lib").mkdir()
    (tmp_path / "my_lib" / "__init__.py").write_text("")
    (tmp_path / "my_lib" / "models.py").write_text("class Net:\n    pass\n")
    done = _load_isolated("my_lib.models:Net", tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Net"


def test_a_local_folder_never_shadows_an_installed_package(tmp_path: Path) -> None:
    (tmp_path / "numpy").mkdir()
    (tmp_path / "numpy" / "__init__.py").write_text("raise RuntimeError('the local folder was imported')\n")
    done = _load_isolated("numpy:ndarray", tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ndarray"


def test_a_missing_module_names_where_it_was_looked_for(tmp_path: Path) -> None:
    done = _load_isolated("no_such_lib.models:Net", tmp_path)
    assert done.returncode != 0
    assert "ConvertError" in done.stderr
    assert "no_such_lib" in done.stderr
    assert str(tmp_path.resolve()) in done.stderr or str(tmp_path) in done.stderr


def test_an_installed_module_is_found_from_a_removed_working_directory(tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    code = f"import os; os.chdir({str(gone)!r}); os.rmdir({str(gone)!r}); " + _LOAD.format(spec="json:JSONDecoder")
    done = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "JSONDecoder"


def test_the_working_directory_joins_sys_path_only_for_a_module_found_there(tmp_path: Path) -> None:
    code = (
        "import sys; from hubmixin_core._convert import load_class; before = list(sys.path); "
        "load_class('json:JSONDecoder'); print(sys.path == before)"
    )
    done = subprocess.run([sys.executable, "-P", "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
