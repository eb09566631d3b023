"""An ``__init__`` parameter annotated ``Sequence[...]`` whose default is a tuple comes back a tuple (as a dataclass
field's does): ``kernel_size: Sequence[int] = (3, 3)`` was given back as ``[3, 3]``, unequal to the built model's,
and an NNX module holding it as a static attribute no longer hashed its GraphDef."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

from hubmixin_core import DownloadOptions, ModelHubMixin


class Net(ModelHubMixin):
    def __init__(
        self,
        kernel_size: Sequence[int] = (3, 3),
        strides: Collection[int] | None = (1, 1),
        dims: Iterable[int] = (4,),
        widths: Sequence[int] = [8],  # (a list default stays a list)
        hidden: list[int] = (6, 6),  # type: ignore[assignment]  # (a list annotation says list: trusted)
    ) -> None:
        self.kernel_size, self.strides, self.dims, self.widths = kernel_size, strides, dims, widths
        self.hidden = hidden

    def _save_pretrained(self, save_directory: Path) -> None:
        pass

    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Net:
        return cls(**model_kwargs)


@pytest.mark.parametrize("given", [{}, {"kernel_size": [5, 5], "strides": (2, 2), "widths": (9,), "hidden": [1]}])
def test_a_sequence_parameter_with_a_tuple_default_comes_back_a_tuple(tmp_path: Path, given: dict[str, Any]) -> None:
    Net(**given).save_pretrained(tmp_path)
    loaded = Net.from_pretrained(tmp_path)
    assert loaded.kernel_size == (tuple(given["kernel_size"]) if given else (3, 3))
    assert loaded.strides == given.get("strides", (1, 1)) and loaded.dims == (4,)
    assert loaded.widths == list(given.get("widths", [8]))
    assert loaded.hidden == list(given.get("hidden", [6, 6]))  # a list, as the annotation says
