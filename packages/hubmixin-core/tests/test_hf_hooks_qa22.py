"""Overrides of huggingface_hub's hooks ``_is_jsonable``, ``_encode_arg`` and ``_decode_arg`` (QA round 22): the
config capture and ``from_pretrained`` call them, as huggingface_hub's mixin does (aion's ``SimCodecMixin`` writes
classes as ``"module.qualname"`` so)."""

from __future__ import annotations

import enum
import importlib
import inspect
import json
import logging
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from core_models import NumpyModelMixin

from hubmixin_core import ConfigEncodingError, ConfigEncodingWarning, ConfigError
from hubmixin_core.errors import MissingArgumentError

CALLS: Counter[str] = Counter()


def _resolve(path: str) -> Any:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


class Relu:
    pass


class Gelu:
    pass


@dataclass
class Cfg:
    width: int = 2
    scale: tuple[float, float] = (1.0, 2.0)


class ClassAsString(NumpyModelMixin):
    """A library's mixin saving classes by their path, everything else by the built-in rules (``super()``)."""

    @classmethod
    def _is_jsonable(cls, value: Any) -> bool:
        CALLS["_is_jsonable"] += 1
        return inspect.isclass(value) or super()._is_jsonable(value)

    @classmethod
    def _encode_arg(cls, arg: Any) -> Any:
        CALLS["_encode_arg"] += 1
        return f"{arg.__module__}.{arg.__qualname__}" if inspect.isclass(arg) else super()._encode_arg(arg)

    @classmethod
    def _decode_arg(cls, expected_type: Any, value: Any) -> Any:
        CALLS["_decode_arg"] += 1
        if expected_type is type and isinstance(value, str):
            return _resolve(value)
        return super()._decode_arg(expected_type, value)


class Codec(ClassAsString):
    def __init__(self, dim: int = 4, act: type = Relu, cfg: Cfg | None = None, where: Path = Path("a")) -> None:
        self.dim, self.act, self.cfg, self.where = dim, act, cfg, where
        self.weights = {"w": np.zeros(dim, np.float32)}


def test_the_overrides_encode_at_capture_and_decode_at_load(tmp_path: Path) -> None:
    CALLS.clear()
    model = Codec(dim=3, act=Gelu, cfg=Cfg(width=5))
    assert CALLS["_is_jsonable"] and CALLS["_encode_arg"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigEncodingWarning)
        model.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved == {
        "dim": 3,
        "act": f"{__name__}.Gelu",
        "cfg": {"width": 5, "scale": [1.0, 2.0]},  # (the override's super(): hubmixin's rules)
        "where": "a",
    }
    CALLS.clear()
    loaded = Codec.from_pretrained(tmp_path)
    assert CALLS["_decode_arg"] == 4  # each annotated key
    assert (loaded.dim, loaded.act, loaded.cfg, loaded.where) == (3, Gelu, Cfg(width=5), Path("a"))


def test_a_default_is_encoded_by_the_override_too(tmp_path: Path) -> None:
    assert Codec._hub_mixin_jsonable_default_values["act"] == f"{__name__}.Relu"
    Codec().save_pretrained(tmp_path)
    assert Codec.from_pretrained(tmp_path).act is Relu


def test_a_value_the_overrides_refuse_is_named_not_dropped_silently(tmp_path: Path) -> None:
    class NoStrings(NumpyModelMixin):
        @classmethod
        def _is_jsonable(cls, value: Any) -> bool:
            return not isinstance(value, str) and super()._is_jsonable(value)

        def __init__(self, size: int = 1, name: str = "x") -> None:
            self.weights = {"w": np.zeros(size, np.float32)}

    with pytest.warns(ConfigEncodingWarning, match=r"argument 'name' of type str .*_is_jsonable"):
        model = NoStrings(2, name="y")
    assert model._hub_mixin_config == {"size": 2}

    class StrictNoStrings(NoStrings, strict_config=True):
        pass

    with pytest.raises(ConfigEncodingError, match="_is_jsonable refuses it") as raised:
        StrictNoStrings(name="y")
    assert raised.value.parameter == "name"


def test_an_encoder_override_returning_no_json_is_warned_about() -> None:
    class AsSet(NumpyModelMixin):
        @classmethod
        def _encode_arg(cls, arg: Any) -> Any:
            return set(arg) if isinstance(arg, list) else super()._encode_arg(arg)

        def __init__(self, sizes: list[int] | None = None) -> None:
            self.weights = {"w": np.zeros(1, np.float32)}

    with pytest.warns(ConfigEncodingWarning, match=r"argument 'sizes' .*_encode_arg returns data JSON cannot hold"):
        assert AsSet(sizes=[1, 2])._hub_mixin_config is None


def test_a_decoder_override_failing_is_named_by_file_and_key(tmp_path: Path) -> None:
    class Failing(NumpyModelMixin):
        @classmethod
        def _decode_arg(cls, expected_type: Any, value: Any) -> Any:
            raise ValueError("no such codec")

        def __init__(self, size: int = 1) -> None:
            self.weights = {"w": np.zeros(size, np.float32)}

    Failing(2).save_pretrained(tmp_path)
    with pytest.raises(ConfigError, match=r"config.json: key 'size': .*no such codec"):
        Failing.from_pretrained(tmp_path)


def test_a_dataclass_config_is_decoded_by_the_override_from_the_whole_file(tmp_path: Path) -> None:
    seen: list[Any] = []

    class WithConfig(NumpyModelMixin):
        @classmethod
        def _decode_arg(cls, expected_type: Any, value: Any) -> Any:
            seen.append(expected_type)
            return super()._decode_arg(expected_type, value)

        def __init__(self, config: Cfg) -> None:
            self.config = config
            self.weights = {"w": np.zeros(config.width, np.float32)}

    WithConfig(Cfg(width=3)).save_pretrained(tmp_path)
    assert WithConfig.from_pretrained(tmp_path).config == Cfg(width=3)
    assert seen == [Cfg]


def test_the_overrides_run_through_a_framework_package(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("hubmixin_torch")
    import torch

    from hubmixin_torch import PyTorchModelHubMixin

    class TorchClassAsString(PyTorchModelHubMixin):
        @classmethod
        def _is_jsonable(cls, value: Any) -> bool:
            return inspect.isclass(value) or super()._is_jsonable(value)

        @classmethod
        def _encode_arg(cls, arg: Any) -> Any:
            return f"{arg.__module__}.{arg.__qualname__}" if inspect.isclass(arg) else super()._encode_arg(arg)

        @classmethod
        def _decode_arg(cls, expected_type: Any, value: Any) -> Any:
            is_path = expected_type is type and isinstance(value, str)
            return _resolve(value) if is_path else super()._decode_arg(expected_type, value)

    class Net(torch.nn.Module, TorchClassAsString):
        def __init__(self, dim: int = 4, act: type = torch.nn.ReLU) -> None:
            super().__init__()
            self.act, self.fc = act(), torch.nn.Linear(dim, dim)

    Net(dim=3, act=torch.nn.GELU).save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["act"] == "torch.nn.modules.activation.GELU"
    assert isinstance(Net.from_pretrained(tmp_path).act, torch.nn.GELU)


class Color(enum.Enum):
    RED = "r"
    GREEN = "g"


class DecodesTypes(NumpyModelMixin):
    """A library's ``_decode_arg`` for its own type, ``super()`` for the rest (aion's mixin's pattern)."""

    @classmethod
    def _decode_arg(cls, expected_type: Any, value: Any) -> Any:
        if expected_type is type and isinstance(value, str):
            return _resolve(value)
        return super()._decode_arg(expected_type, value)


class OptionalColor(DecodesTypes):
    def __init__(self, color: Color = None, size: int = 1) -> None:  # type: ignore[assignment]
        self.color: Color | None = color
        self.weights = {"w": np.zeros(size, np.float32)}


def test_a_decoder_override_calling_super_keeps_none_for_an_argument_defaulting_to_none(tmp_path: Path) -> None:
    OptionalColor(size=2).save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["color"] is None
    loaded = OptionalColor.from_pretrained(tmp_path)  # (hubmixin's rule for ``x: T = None``, and huggingface_hub's)
    assert (loaded.color, loaded.weights["w"].shape) == (None, (2,))
    OptionalColor(color=Color.GREEN).save_pretrained(tmp_path / "green")
    assert OptionalColor.from_pretrained(tmp_path / "green").color is Color.GREEN
    with pytest.raises(ValueError, match="None is not a valid Color"):  # (outside a load: the rules as they are)
        OptionalColor._decode_arg(Color, None)


def test_a_hook_written_as_a_plain_method_is_ignored(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    class PlainMethods(NumpyModelMixin):
        def _is_jsonable(self, value: Any) -> bool:  # type: ignore[override]  # (no @classmethod)
            return not callable(value)

        def _encode_arg(self, arg: Any) -> Any:  # type: ignore[override]
            return arg

        def __init__(self, width: int, act: Any = None) -> None:
            self.act = act
            self.weights = {"w": np.zeros(width, np.float32)}

    with caplog.at_level(logging.DEBUG, logger="hubmixin_core"), pytest.warns(ConfigEncodingWarning, match="'act'"):
        model = PlainMethods(8, act=print)  # built, as with huggingface_hub; `act` left out by hubmixin's rules
    assert "PlainMethods._is_jsonable is a plain method, not a classmethod" in caplog.text
    assert model._hub_mixin_config == {"width": 8}
    model.save_pretrained(tmp_path)
    assert PlainMethods.from_pretrained(tmp_path, model_kwargs={"act": len}).act is len


class EnumByName(NumpyModelMixin):
    """A library saving enums by name (``_is_jsonable`` and ``_encode_arg``), its ``__init__`` taking the name; no
    ``_decode_arg`` override."""

    @classmethod
    def _is_jsonable(cls, value: Any) -> bool:
        return isinstance(value, enum.Enum) or super()._is_jsonable(value)

    @classmethod
    def _encode_arg(cls, arg: Any) -> Any:
        return arg.name if isinstance(arg, enum.Enum) else super()._encode_arg(arg)

    def __init__(self, color: Color = Color.RED, size: int = 1, flag: bool = False) -> None:
        self.color = Color[color] if isinstance(color, str) else color
        self.flag: bool | str = flag
        self.weights = {"w": np.zeros(size, np.float32)}


def test_an_encoder_override_alone_gives_init_its_form_where_hubmixin_cannot_decode_it(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn about: __init__ takes the form the override writes
        model = EnumByName(color=Color.GREEN, size=2)
        model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == {"color": "GREEN", "size": 2, "flag": False}
    loaded = EnumByName.from_pretrained(tmp_path)  # "GREEN" given as saved, as huggingface_hub gives it
    assert (loaded.color, loaded.weights["w"].shape, loaded.flag) == (Color.GREEN, (2,), False)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "color": "g", "flag": "yes"}))
    loaded = EnumByName.from_pretrained(tmp_path)  # what hubmixin decodes is decoded ("g" by value); not "yes"
    assert (loaded.color, loaded.flag) == (Color.GREEN, "yes")


class RefusesEnums(NumpyModelMixin):
    @classmethod
    def _is_jsonable(cls, value: Any) -> bool:
        return isinstance(value, (int, float, str, bool, list, dict, type(None)))

    def __init__(self, color: Color = Color.RED, size: int = 1, act: Any = None) -> None:
        self.color = color
        self.weights = {"w": np.zeros(size, np.float32)}


def test_a_value_the_is_jsonable_override_refused_is_named_so_at_load(tmp_path: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        RefusesEnums(color=Color.GREEN, act=print).save_pretrained(tmp_path)
    assert any(
        "argument 'color' of type Color" in f"{w.message}" and "_is_jsonable refuses it" in f"{w.message}"
        for w in caught
    )
    with pytest.raises(MissingArgumentError) as raised:
        RefusesEnums.from_pretrained(tmp_path)
    message = str(raised.value)
    assert (
        "'color' (a Color): the class's _is_jsonable (huggingface_hub's hook, which it overrides) left it out of "
        "config.json; give it with RefusesEnums.from_pretrained(..., model_kwargs={'color': ...})"
    ) in message
    assert "coders={Color" not in message
    assert "'act' (a builtin_function_or_method): JSON cannot hold it" in message  # (hubmixin's rules refuse it too)
    assert raised.value.missing == ["act", "color"]
    assert RefusesEnums.from_pretrained(tmp_path, model_kwargs={"color": Color.GREEN, "act": len}).color is Color.GREEN
