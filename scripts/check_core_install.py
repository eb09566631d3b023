"""Run in a fresh venv holding only ``pip install ./packages/hubmixin-core``: what a PyPI user gets works.

Imports no ML framework (the names to look for are the arguments), and a model saves (weights, config.json and
the model card, which needs jinja2) and loads back.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any, Self

import numpy as np

import hubmixin_core
from hubmixin_core import DownloadOptions, ModelHubMixin


class Tiny(ModelHubMixin):
    """A model whose weights are one numpy array."""

    def __init__(self, size: int = 3) -> None:
        self.w = np.arange(size, dtype=np.float32)

    def _save_pretrained(self, save_directory: Path) -> None:
        np.save(save_directory / "w.npy", self.w)

    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        model = cls(**model_kwargs)
        model.w = np.load(Path(model_id) / "w.npy")
        return model


def main() -> None:
    """Check the install; print what was checked."""
    loaded = [m for m in sys.argv[1:] if m in sys.modules]
    assert not loaded, f"importing hubmixin_core imported {loaded}"
    with tempfile.TemporaryDirectory() as tmp:
        Tiny(size=5).save_pretrained(tmp)
        assert sorted(p.name for p in Path(tmp).iterdir()) == ["README.md", "config.json", "w.npy"]
        assert np.array_equal(Tiny.from_pretrained(tmp).w, np.arange(5, dtype=np.float32))
    frameworks = ", ".join(sys.argv[1:])
    print(f"hubmixin_core {hubmixin_core.__version__} imports without {frameworks}; a model saves and loads")


if __name__ == "__main__":
    main()
