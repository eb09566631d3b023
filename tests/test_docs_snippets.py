"""Every Python code block of README.md and docs/*.md runs, against a local Hub, so the docs cannot rot.

The blocks of one page run in order, as one module, in a fresh interpreter (Keras on JAX, eight CPU devices for
JAX), in an empty folder, with the Hub client (Xet on, as users run it) pointed at a `LocalHub` whose user is
`me`. A block that defines `test_*` functions runs them as pytest would, with the `local_hub` fixture.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hubmixin_core.testing import LocalHub

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(r"^([ \t]*)```python\n(.*?)^\1```", re.DOTALL | re.MULTILINE)
"""A fenced block, at column 0 or indented inside a list item (as mkdocs' superfences renders it): its fence's
indent, and its text."""


def _blocks(page: Path) -> list[str]:
    """The Python blocks of ``page``, each dedented by its fence's indent."""
    return [
        "".join(line.removeprefix(indent) for line in body.splitlines(keepends=True))
        for indent, body in _BLOCK.findall(page.read_text(encoding="utf-8"))
    ]


@pytest.mark.parametrize("page", [p for p in PAGES if _blocks(p)], ids=lambda p: p.name)
def test_page_code_runs(page: Path, tmp_path: Path) -> None:
    module = tmp_path / f"test_page_{page.stem.replace('-', '_')}.py"
    module.write_text("\n\n".join(_blocks(page)), encoding="utf-8")
    with LocalHub(username="me") as hub:
        env = {
            **os.environ,
            "HF_ENDPOINT": hub.endpoint,
            "HF_TOKEN": hub.token,
            "HF_HOME": str(tmp_path / "hf-home"),
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "KERAS_BACKEND": "jax",
            "XLA_FLAGS": "--xla_force_host_platform_device_count=8",
        }
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore", module.name]
        result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    no_tests = 5  # a page without test functions: its blocks ran at import
    assert result.returncode in (0, no_tests), f"{page.name}:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"


def test_a_block_indented_in_a_list_item_is_run_dedented(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    fences = ["```python\nx = 1\n```", "- an item:", "    ```python\n    if x:\n        y = x\n\n    ```"]
    page.write_text("\n\n".join([*fences, "  ```python\n  z = 2\n  ```\n"]), encoding="utf-8")
    assert _blocks(page) == ["x = 1\n", "if x:\n    y = x\n\n", "z = 2\n"]
    assert any('model_kwargs={"rngs": nnx.Rngs(42)}' in block for block in _blocks(ROOT / "docs" / "flax.md"))
