"""An ``__init__`` argument annotated with a type of ``_hub_mixin_runtime_types`` belongs to the run whatever its
value (left at ``None`` too): never written to config.json, and given at load what the load options provide."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Optional

import numpy as np
import pytest
from core_models import NumpyModelMixin


class Devices:
    """A stand-in for a framework's run-time object (a JAX mesh)."""


class RuntimeMixin(NumpyModelMixin):
    """A framework whose load options give a :class:`Devices` (``provided``, as Flax's ``sharding=`` a mesh)."""

    _hub_mixin_runtime_types = (Devices,)
    _hub_mixin_runtime_annotations = (Devices,)
    provided: ClassVar[dict[str, Any]] = {}

    @classmethod
    def _hub_runtime_values(cls, load_kwargs: Mapping[str, Any]) -> dict[str, Any]:
        return dict(cls.provided)


class Model(RuntimeMixin):
    def __init__(self, width: int = 2, devices: Devices | None = None, other: Optional[Devices] = None) -> None:  # noqa: UP045
        self.devices, self.other = devices, other
        self.weights = {"w": np.ones(width, np.float32)}


class Mixed(RuntimeMixin):
    def __init__(self, devices: Annotated[Devices | None, "run"] = None, mixed: Devices | int | None = None) -> None:
        self.devices, self.mixed = devices, mixed
        self.weights = {"w": np.zeros(1, np.float32)}


def _config(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((path / "config.json").read_text())
    return loaded


def test_an_argument_annotated_with_a_runtime_type_is_not_saved_even_at_none(tmp_path: Path) -> None:
    Model(width=3).save_pretrained(tmp_path / "default")
    Model(3, None, other=None).save_pretrained(tmp_path / "given")
    assert _config(tmp_path / "default") == _config(tmp_path / "given") == {"width": 3}


def test_the_load_gives_such_an_argument_what_the_options_provide_else_its_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Model().save_pretrained(tmp_path)
    plain = Model.from_pretrained(tmp_path)
    assert plain.devices is None and plain.other is None
    devices, mine = Devices(), Devices()
    monkeypatch.setattr(RuntimeMixin, "provided", {Devices.__qualname__: devices})
    loaded = Model.from_pretrained(tmp_path, model_kwargs={"other": mine})
    assert loaded.devices is devices and loaded.other is mine
    assert _config(tmp_path) == {"width": 2}


def test_the_load_s_object_wins_over_a_value_an_older_config_json_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Model().save_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"width": 2, "devices": None, "other": None}))
    devices = Devices()
    monkeypatch.setattr(RuntimeMixin, "provided", {Devices.__qualname__: devices})
    loaded = Model.from_pretrained(tmp_path)
    assert loaded.devices is devices and loaded.other is devices


def test_annotated_forms_and_a_union_with_a_model_type(tmp_path: Path) -> None:
    Mixed(mixed=3).save_pretrained(tmp_path)
    assert _config(tmp_path) == {"mixed": 3}  # (``Devices | int``: an int is the model's, saved)
    assert Mixed._hub_runtime_annotated() == {"devices": Devices.__qualname__}


def test_a_framework_without_runtime_types_saves_such_arguments_as_before(tmp_path: Path) -> None:
    class Plain(NumpyModelMixin):
        def __init__(self, devices: Devices | None = None) -> None:
            self.weights = {"w": np.zeros(1, np.float32)}

    Plain().save_pretrained(tmp_path)
    assert _config(tmp_path) == {"devices": None}


class Required(RuntimeMixin):
    def __init__(self, devices: Devices | None, width: int = 1) -> None:
        self.devices = devices
        self.weights = {"w": np.zeros(width, np.float32)}


def test_a_required_one_given_none_is_saved_so_and_the_load_s_object_still_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Required(None).save_pretrained(tmp_path)
    assert _config(tmp_path) == {"devices": None, "width": 1}
    assert Required.from_pretrained(tmp_path).devices is None  # built as it was saved, without asking for it
    devices = Devices()
    monkeypatch.setattr(RuntimeMixin, "provided", {Devices.__qualname__: devices})
    assert Required.from_pretrained(tmp_path).devices is devices
