"""hubmixin's ``ModelHubMixin`` and huggingface_hub's in one class (QA round 23, firstuse #6): hubmixin's capture
is the one kept in either MRO order, positional arguments saved by their own parameter's name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import huggingface_hub
import pytest

from hubmixin_core import ModelHubMixin


def _both(first_hub: bool) -> type[Any]:
    bases = (
        (ModelHubMixin, huggingface_hub.ModelHubMixin) if first_hub else (huggingface_hub.ModelHubMixin, ModelHubMixin)
    )

    class Both(*bases):  # type: ignore[misc]
        def __init__(self, a: int = 1, b: int = 2, c: tuple[int, ...] = (1,)) -> None:
            self.a, self.b, self.c = a, b, c

        def _save_pretrained(self, save_directory: Path) -> None:
            (Path(save_directory) / "w.txt").write_text("x")

        @classmethod
        def _from_pretrained(cls, *, model_id: str, **kwargs: Any) -> Any:  # (either mixin's from_pretrained)
            return cls(**{k: v for k, v in kwargs.items() if k in ("a", "b", "c")})

    return Both


@pytest.mark.parametrize("first_hub", [True, False], ids=["hubmixin_first", "huggingface_hub_first"])
def test_positional_arguments_are_captured_by_their_own_name(first_hub: bool, tmp_path: Path) -> None:
    cls = _both(first_hub)
    model = cls(10, 20, (3, 4))
    assert dict(model._hub_mixin_config) == {"a": 10, "b": 20, "c": [3, 4]}  # hubmixin's capture (a tuple encoded)
    assert dict(cls(b=5)._hub_mixin_config) == {"a": 1, "b": 5, "c": [1]}
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == {"a": 10, "b": 20, "c": [3, 4]}


def test_a_subclass_of_both_keeps_the_capture(tmp_path: Path) -> None:
    class Sub(_both(True)):  # type: ignore[misc]
        def __init__(self, h: int = 4, *, scale: float = 1.0) -> None:
            super().__init__(h, h + 1)
            self.scale = scale

    assert dict(Sub(7, scale=2.0)._hub_mixin_config) == {"h": 7, "scale": 2.0}


class CountingNew:
    """A class's own ``__new__`` before the mixins (a registry's): it runs, and the capture stays hubmixin's."""

    made = 0

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        CountingNew.made += 1
        return super().__new__(cls, *args, **kwargs)


@pytest.mark.parametrize("first_hub", [True, False], ids=["hubmixin_first", "huggingface_hub_first"])
def test_a_class_with_its_own_new_keeps_it_and_the_capture(first_hub: bool, tmp_path: Path) -> None:
    class Own(CountingNew, _both(first_hub)):  # type: ignore[misc]
        pass

    before = CountingNew.made
    model = Own(10, 20, (3, 4))
    assert CountingNew.made == before + 1
    assert dict(model._hub_mixin_config) == {"a": 10, "b": 20, "c": [3, 4]}
    model.save_pretrained(tmp_path)
    loaded = Own.from_pretrained(tmp_path)
    assert (loaded.a, loaded.b, tuple(loaded.c)) == (10, 20, (3, 4))  # (huggingface_hub's loader: a list)


def test_a_config_set_inside_init_is_kept() -> None:
    class Sets(ModelHubMixin):
        def __init__(self, a: int = 1) -> None:
            self._hub_mixin_config = {"a": a, "set": True}

    class Sub(Sets):
        def __init__(self, a: int = 1) -> None:
            super().__init__(a)

    assert Sub(3)._hub_mixin_config == {"a": 3, "set": True}


def test_a_config_a_classs_own_new_sets_is_kept_without_huggingface_hubs_mixin() -> None:
    """Only huggingface_hub's ``__new__`` sets a configuration the capture replaces (reg23h #2)."""

    class SetsInNew(ModelHubMixin):
        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            instance = super().__new__(cls)
            instance._hub_mixin_config = {"a": 7, "from": "new"}
            return instance

        def __init__(self, a: int = 1) -> None:
            self.a = a

    assert SetsInNew(3)._hub_mixin_config == {"a": 7, "from": "new"}
