"""A class attribute ``_hub_mixin_config`` (huggingface_hub's own declaration, re-declared by a library class or a
helper mixin) does not shadow hubmixin's property: the configuration is saved and reloaded (QA round 22)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Self

import pytest

from hubmixin_core import DownloadOptions, ModelHubMixin


def _save_and_reload(cls: type[Any], tmp_path: Path) -> Any:
    cls(start=5, step=3).save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == {"start": 5, "step": 3}
    return cls.from_pretrained(tmp_path)


class Saving(ModelHubMixin):
    def _save_pretrained(self, save_directory: Path) -> None:
        (save_directory / "state.txt").write_text("x")

    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        return cls(**model_kwargs)


class Narrowed(Saving):
    _hub_mixin_config: dict[str, Any] | None = None  # (narrowed, as for huggingface_hub)

    def __init__(self, start: int = 0, step: int = 1) -> None:
        self.start, self.step = start, step


class ReadsConfig:
    """A helper mixin declaring the attribute it reads."""

    _hub_mixin_config: dict[str, Any] | None = None

    def exported(self) -> dict[str, Any] | None:
        return self._hub_mixin_config


class WithHelper(ReadsConfig, Saving):  # type: ignore[misc]
    def __init__(self, start: int = 0, step: int = 1) -> None:
        self.start, self.step = start, step


class SubOfHelped(WithHelper):
    pass


@pytest.mark.parametrize("cls", [Narrowed, WithHelper, SubOfHelped])
def test_a_class_level_hub_mixin_config_does_not_drop_the_configuration(cls: type[Any], tmp_path: Path) -> None:
    model = cls(start=5, step=3)
    assert model._hub_mixin_config == {"start": 5, "step": 3}
    back = _save_and_reload(cls, tmp_path)
    assert (back.start, back.step) == (5, 3)
    if isinstance(back, ReadsConfig):
        assert back.exported() == {"start": 5, "step": 3}


def test_a_helper_mixin_is_left_unchanged_and_a_librarys_own_property_is_kept() -> None:
    assert ReadsConfig.__dict__["_hub_mixin_config"] is None

    class OwnProperty(ModelHubMixin):
        @property  # type: ignore[misc]
        def _hub_mixin_config(self) -> dict[str, Any] | None:  # type: ignore[override]
            return {"fixed": 1}

    assert OwnProperty()._hub_mixin_config == {"fixed": 1}
