"""codegen: the generated public methods follow the spec, and --check catches a stale file."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hubmixin_core.params import DOWNLOAD_PARAMS, SAVE_PARAMS, UPLOAD_PARAMS

ROOT = Path(__file__).parent.parent
GENERATED = sorted(ROOT.glob("packages/*/src/*/_generated/_methods.py"))


def _codegen(root: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codegen", "--root", str(root), *args],
        cwd=root if cwd is None else cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def _copy_sources(tmp: Path) -> Path:
    shutil.copytree(ROOT / "codegen", tmp / "codegen", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp / "pyproject.toml")
    for src in ROOT.glob("packages/*/src"):
        shutil.copytree(src, tmp / src.relative_to(ROOT), ignore=shutil.ignore_patterns("__pycache__"))
    return tmp


def test_generated_files_are_up_to_date() -> None:
    result = _codegen(ROOT, "--check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_spec_change_makes_check_fail_until_regenerated(tmp_path: Path) -> None:
    root = _copy_sources(tmp_path)
    params = root / "packages/hubmixin-core/src/hubmixin_core/params.py"
    text = params.read_text()
    old_doc = "How many files (weight shards) to download in parallel."
    assert old_doc in text and '"max_workers",\n        "int",\n        "8",' in text
    text = text.replace(old_doc, "Parallel downloads, changed by the test.")
    params.write_text(
        text.replace('"max_workers",\n        "int",\n        "8",', '"max_workers",\n        "int",\n        "3",')
    )

    stale = _codegen(root, "--check")
    assert stale.returncode == 1
    generated = sorted(p.relative_to(root).as_posix() for p in root.glob("packages/*/src/*/_generated/_methods.py"))
    assert len(generated) >= 2  # core and at least one framework package
    for rel in generated:
        assert f"+++ b/{rel}" in stale.stdout
    assert "+            Parallel downloads, changed by the test." in stale.stdout
    assert "+        max_workers: int = 3," in stale.stdout

    assert _codegen(root).returncode == 0
    for rel in generated:
        body = (root / rel).read_text()
        assert "Parallel downloads, changed by the test." in body and "max_workers: int = 3," in body
    assert _codegen(root, "--check").returncode == 0


def test_another_roots_spec_is_the_one_generated_from(tmp_path: Path) -> None:
    root = _copy_sources(tmp_path)
    params = root / "packages/hubmixin-core/src/hubmixin_core/params.py"
    text = params.read_text()
    default = '"max_workers",\n        "int",\n        "{}",'
    params.write_text(text.replace(default.format(8), default.format(5)))
    assert _codegen(root, "--check", cwd=ROOT).returncode == 1  # run from this checkout: stale there
    assert _codegen(root, cwd=ROOT).returncode == 0
    torch_methods = root / "packages/hubmixin-torch/src/hubmixin_torch/_generated/_methods.py"
    assert "max_workers: int = 5," in torch_methods.read_text()


def test_generated_files_carry_the_header() -> None:
    assert GENERATED
    for path in [*GENERATED, *ROOT.glob("packages/*/src/*/_generated/_options.py")]:
        assert path.read_text().startswith("# DO NOT EDIT: generated from hubmixin_core/params.py")


def test_shared_parameter_docs_are_written_only_in_the_spec() -> None:
    docs = {p.doc[:60] for p in (*DOWNLOAD_PARAMS, *UPLOAD_PARAMS, *SAVE_PARAMS)}
    hand_written = [
        p for p in ROOT.glob("packages/*/src/**/*.py") if "_generated" not in p.parts and p.name != "params.py"
    ]
    assert hand_written
    for path in hand_written:
        text = " ".join(path.read_text().split())
        for doc in docs:
            assert " ".join(doc.split()) not in text, f"{path} repeats the doc of a shared parameter"
    generated = " ".join(GENERATED[0].read_text().split())
    for doc in docs:
        assert " ".join(doc.split())[:40] in generated


_CLASHING = """
from hubmixin_core.params import FrameworkExtras, Param

EXTRAS = FrameworkExtras(
    package="hubmixin_foo",
    class_name="FooModelHubMixinMethods",
    base="hubmixin_foo._impl:FooHubMixinBase",
    load=(Param({name!r}, "int", "0", "An option."),),
)
"""


@pytest.mark.parametrize(("name", "why"), [("token", "already a parameter"), ("class", "not a Python parameter")])
def test_an_extra_named_like_a_parameter_is_refused(name: str, why: str, tmp_path: Path) -> None:
    from codegen._targets import load_extras

    (tmp_path / "_extras.py").write_text(_CLASHING.format(name=name))
    with pytest.raises(ValueError, match=why) as caught:
        load_extras(tmp_path / "_extras.py")
    assert repr(name) in str(caught.value) and "_extras.py" in str(caught.value)
