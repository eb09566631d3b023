"""Overrides of huggingface_hub's hooks ``_is_jsonable``, ``_encode_arg`` and ``_decode_arg`` (QA round 22): the
config capture offers them the values hubmixin's own rules cannot encode (aion's ``SimCodecMixin`` writes classes as
``"module.qualname"`` so), every other value saved as hubmixin saves it; ``from_pretrained`` has ``_decode_arg``
decode each annotated argument, as huggingface_hub's mixin does."""

from __future__ import annotations

import enum
import importlib
import inspect
import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from core_models import NumpyModelMixin

from hubmixin_core import ConfigEncodingError, ConfigEncodingWarning, ConfigError
from hubmixin_core._hf_compat import HfMixinHelpers
from hubmixin_core.errors import MissingArgumentError


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


class ClassPathHooks(HfMixinHelpers):
    """A library's hooks saving classes by their path, everything else by the built-in rules (``super()``); put
    before a hub mixin in the bases."""

    @classmethod
    def _is_jsonable(cls, value: Any) -> bool:
        return inspect.isclass(value) or super()._is_jsonable(value)

    @classmethod
    def _encode_arg(cls, arg: Any) -> Any:
        return f"{arg.__module__}.{arg.__qualname__}" if inspect.isclass(arg) else super()._encode_arg(arg)

    @classmethod
    def _decode_arg(cls, expected_type: Any, value: Any) -> Any:
        if expected_type is type and isinstance(value, str):
            return _resolve(value)
        return super()._decode_arg(expected_type, value)


class ClassAsString(ClassPathHooks, NumpyModelMixin):
    """A library's mixin saving classes by their path."""


class Codec(ClassAsString):
    def __init__(self, dim: int = 4, act: type = Relu, cfg: Cfg | None = None, where: Path = Path("a")) -> None:
        self.dim, self.act, self.cfg, self.where = dim, act, cfg, where
        self.weights = {"w": np.zeros(dim, np.float32)}


def test_the_overrides_encode_at_capture_and_decode_at_load(tmp_path: Path) -> None:
    model = Codec(dim=3, act=Gelu, cfg=Cfg(width=5))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigEncodingWarning)
        model.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved == {
        "dim": 3,
        "act": f"{__name__}.Gelu",
        "cfg": {"width": 5, "scale": [1.0, 2.0]},  # (hubmixin's rules)
        "where": "a",
    }
    loaded = Codec.from_pretrained(tmp_path)  # (each annotated key by the override: its super() for all but `act`)
    assert (loaded.dim, loaded.act, loaded.cfg, loaded.where) == (3, Gelu, Cfg(width=5), Path("a"))


def test_a_default_is_encoded_by_the_override_too(tmp_path: Path) -> None:
    assert Codec._hub_mixin_jsonable_default_values["act"] == f"{__name__}.Relu"
    Codec().save_pretrained(tmp_path)
    assert Codec.from_pretrained(tmp_path).act is Relu


def test_a_value_the_is_jsonable_override_refuses_is_never_saved(tmp_path: Path) -> None:
    """A secret the class's ``_is_jsonable`` refuses stays out of config.json, as with huggingface_hub; an
    ``_encode_arg`` alone (no ``_decode_arg`` to read its form back) leaves what hubmixin saves to its rules."""

    class NoSecrets(NumpyModelMixin):
        @classmethod
        def _is_jsonable(cls, value: Any) -> bool:
            return not (isinstance(value, str) and value.startswith("sk-")) and super()._is_jsonable(value)

        @classmethod
        def _encode_arg(cls, arg: Any) -> Any:
            return arg.upper() if isinstance(arg, str) else super()._encode_arg(arg)

        def __init__(self, size: int = 1, name: str = "x", key: str = "") -> None:
            self.name = name
            self.weights = {"w": np.zeros(size, np.float32)}

    with pytest.warns(ConfigEncodingWarning, match="'key'"):
        NoSecrets(2, name="y", key="sk-123").save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["name"] == "y" and "key" not in saved and "sk-123" not in (tmp_path / "config.json").read_text()
    assert NoSecrets.from_pretrained(tmp_path, model_kwargs={"key": "sk-123"}).name == "y"


def test_a_value_the_is_jsonable_override_refuses_gets_hubmixins_message(tmp_path: Path) -> None:
    class NoClasses(ClassAsString):
        @classmethod
        def _is_jsonable(cls, value: Any) -> bool:
            return not inspect.isclass(value) and super()._is_jsonable(value)

        def __init__(self, size: int = 1, act: type | None = None) -> None:
            self.weights = {"w": np.zeros(size, np.float32)}

    with pytest.warns(ConfigEncodingWarning, match=r"argument 'act' of type builtins.type cannot be encoded") as caught:
        model = NoClasses(2, act=Gelu)  # (never offered to _encode_arg, which would write its path)
    assert "hook" not in str(caught[0].message)
    assert model._hub_mixin_config == {"size": 2}
    model.save_pretrained(tmp_path)
    with pytest.raises(MissingArgumentError, match=r"'act' \(a class\): JSON cannot hold a class") as raised:
        NoClasses.from_pretrained(tmp_path)
    assert "coders={type: (encode, decode)}" in str(raised.value)

    class StrictNoClasses(NoClasses, strict_config=True):
        pass

    with pytest.raises(ConfigEncodingError, match="cannot be encoded") as refused:
        StrictNoClasses(act=Gelu)
    assert refused.value.parameter == "act"


def test_an_encoder_override_returning_no_json_is_warned_about() -> None:
    class AsSet(NumpyModelMixin):
        @classmethod
        def _encode_arg(cls, arg: Any) -> Any:
            return {arg.__qualname__} if inspect.isclass(arg) else super()._encode_arg(arg)

        def __init__(self, act: type | None = None) -> None:
            self.weights = {"w": np.zeros(1, np.float32)}

    with pytest.warns(ConfigEncodingWarning, match=r"argument 'act' of type builtins.type cannot be encoded"):
        assert AsSet(act=Gelu)._hub_mixin_config is None


def test_a_decoder_override_failing_where_hubmixin_cannot_read_either_is_named_by_file_and_key(tmp_path: Path) -> None:
    class Failing(NumpyModelMixin):
        @classmethod
        def _decode_arg(cls, expected_type: Any, value: Any) -> Any:
            raise ValueError("no such codec")

        def __init__(self, size: int = 1) -> None:
            self.weights = {"w": np.zeros(size, np.float32)}

    Failing(2).save_pretrained(tmp_path)
    assert Failing.from_pretrained(tmp_path).weights["w"].shape == (2,)  # (hubmixin's rules read what they saved)
    (tmp_path / "config.json").write_text(json.dumps({"size": "two"}))
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

    class TorchClassAsString(ClassPathHooks, PyTorchModelHubMixin):
        pass

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


class LooseColor(DecodesTypes):
    def __init__(self, color: Any = Color.RED, size: int = 1) -> None:
        self.color = color
        self.weights = {"w": np.zeros(size, np.float32)}


def test_a_decoder_override_calling_super_gets_what_hubmixins_loader_gives(tmp_path: Path) -> None:
    """``color: Any = Color.RED`` is decoded as its default's type, as without the override (reg22g)."""
    LooseColor(color=Color.GREEN).save_pretrained(tmp_path)
    assert LooseColor.from_pretrained(tmp_path).color is Color.GREEN
    LooseColor().save_pretrained(tmp_path / "default")
    assert LooseColor.from_pretrained(tmp_path / "default").color is Color.RED


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
    assert "PlainMethods._encode_arg is a plain method, not a classmethod" in caplog.text
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


def test_an_enum_an_encoder_override_saves_by_name_is_saved_and_loaded_by_hubmixins_rules(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        EnumByName(color=Color.GREEN, size=2).save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == {"color": "g", "size": 2, "flag": False}
    loaded = EnumByName.from_pretrained(tmp_path)
    assert (loaded.color, loaded.weights["w"].shape, loaded.flag) == (Color.GREEN, (2,), False)


def test_an_encoder_override_alone_gives_init_as_saved_what_hubmixin_cannot_decode(tmp_path: Path) -> None:
    EnumByName(size=2).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "color": "GREEN", "flag": "yes"}))  # (as hf saves)
    loaded = EnumByName.from_pretrained(tmp_path)  # given as saved, as huggingface_hub gives them
    assert (loaded.color, loaded.weights["w"].shape, loaded.flag) == (Color.GREEN, (2,), "yes")


class Act(enum.Enum):
    RELU = 1
    GELU = 2


@dataclass
class Sub:
    act: Act = Act.RELU
    width: int = 4


class NestedByName(NumpyModelMixin):
    """huggingface_hub's pattern: enums by name, inside dataclasses too; ``__init__`` converts names back."""

    @classmethod
    def _is_jsonable(cls, value: Any) -> bool:
        return isinstance(value, (Act, Sub)) or super()._is_jsonable(value)

    @classmethod
    def _encode_arg(cls, arg: Any) -> Any:
        if isinstance(arg, Sub):
            return {"act": arg.act.name, "width": arg.width}
        return arg.name if isinstance(arg, Act) else super()._encode_arg(arg)

    def __init__(self, sub: Sub = Sub(), act: Act = Act.RELU) -> None:  # noqa: B008
        self.sub, self.act = sub, Act[act] if isinstance(act, str) else act
        self.weights = {"w": np.zeros(sub.width, np.float32)}


def test_a_dataclass_holding_enums_is_saved_and_loaded_by_hubmixins_rules(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        NestedByName(sub=Sub(Act.GELU, 3), act=Act.GELU).save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == {"sub": {"act": 2, "width": 3}, "act": 2}
    loaded = NestedByName.from_pretrained(tmp_path)
    assert (loaded.sub, loaded.act) == (Sub(Act.GELU, 3), Act.GELU)


class ClassByPath(NumpyModelMixin):
    """Classes saved by path (``_is_jsonable`` and ``_encode_arg``), no ``_decode_arg``: ``__init__`` resolves it."""

    @classmethod
    def _is_jsonable(cls, value: Any) -> bool:
        return inspect.isclass(value) or super()._is_jsonable(value)

    @classmethod
    def _encode_arg(cls, arg: Any) -> Any:
        return f"{arg.__module__}.{arg.__qualname__}" if inspect.isclass(arg) else super()._encode_arg(arg)

    def __init__(self, act: type = Relu, size: int = 1) -> None:
        given: Any = act  # (a path from config.json, which the annotation does not admit)
        self.act = _resolve(given) if isinstance(given, str) else given
        self.weights = {"w": np.zeros(size, np.float32)}


def test_a_value_only_the_encoder_override_saves_reaches_init_as_saved(tmp_path: Path) -> None:
    ClassByPath(act=Gelu, size=2).save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == {"act": f"{__name__}.Gelu", "size": 2}
    assert ClassByPath.from_pretrained(tmp_path).act is Gelu


@dataclass
class Holder:
    width: int = 2
    tok: object = None


def test_an_unsaved_value_an_is_jsonable_override_defers_on_gets_the_coder_advice(tmp_path: Path) -> None:
    class ExtraRule(NumpyModelMixin):
        @classmethod
        def _is_jsonable(cls, value: Any) -> bool:
            return not isinstance(value, np.ndarray) and super()._is_jsonable(value)

        def __init__(self, holder: Holder | None = None, size: int = 1) -> None:
            self.weights = {"w": np.zeros(size, np.float32)}

    with pytest.warns(ConfigEncodingWarning, match="'holder'"):
        ExtraRule(Holder(tok=Relu())).save_pretrained(tmp_path)
    with pytest.raises(MissingArgumentError, match=r"'holder' \(a Holder\): JSON cannot hold it") as raised:
        ExtraRule.from_pretrained(tmp_path)
    assert "coders={Holder: (encode, decode)}" in str(raised.value)
    assert "ExtraRule._is_jsonable is overridden: a value it refuses is left out of config.json" in str(raised.value)


class Shade(enum.Enum):
    DARK = "dark"
    LIGHT = "light"


def test_a_value_only_the_is_jsonable_override_refuses_is_named_with_it_at_save_and_load(tmp_path: Path) -> None:
    """huggingface_hub's ``return is_jsonable(value)``: an enum a coder saves, and a path, which hubmixin's rules
    save, are refused by the hook alone; neither the capture nor the load blames a coder or advises one."""

    class JsonOnly(NumpyModelMixin, coders={Shade: (lambda s: s.value, Shade)}):
        @classmethod
        def _is_jsonable(cls, value: Any) -> bool:
            return isinstance(value, int | str | float | bool | list | dict) or value is None

        def __init__(self, shade: Shade = Shade.DARK, path: Path = Path("x"), size: int = 1) -> None:
            self.weights = {"w": np.zeros(size, np.float32)}

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        JsonOnly(Shade.LIGHT, Path("y"), 2).save_pretrained(tmp_path)
    messages = [str(w.message) for w in caught if issubclass(w.category, ConfigEncodingWarning)]
    assert len(messages) == 2
    for message in messages:
        assert "JsonOnly._is_jsonable refuses it" in message and "coder" not in message, message
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["size"] == 2 and "shade" not in saved and "path" not in saved
    with pytest.raises(MissingArgumentError) as raised:
        JsonOnly.from_pretrained(tmp_path)
    message, hook = str(raised.value), f"{JsonOnly.__qualname__}._is_jsonable"
    assert f"'shade' (a Shade): {hook} refused it, or config.json was written before" in message
    assert "save the model again" not in message
    assert f"{hook} is overridden" in message
    loaded = JsonOnly.from_pretrained(tmp_path, model_kwargs={"shade": Shade.LIGHT, "path": Path("y")})
    assert loaded.weights["w"].shape == (2,)

    class StrictJsonOnly(JsonOnly, strict_config=True):
        pass

    with pytest.raises(ConfigEncodingError, match=r"StrictJsonOnly\._is_jsonable refuses it") as refused:
        StrictJsonOnly(Shade.LIGHT)
    assert refused.value.refused_by == f"{StrictJsonOnly.__qualname__}._is_jsonable"
    assert refused.value.parameter == "shade"


class PairedByName(NumpyModelMixin):
    """Both hooks, enums by name: the decoder reads names only."""

    @classmethod
    def _encode_arg(cls, arg: Any) -> Any:
        return arg.name if isinstance(arg, enum.Enum) else super()._encode_arg(arg)

    @classmethod
    def _decode_arg(cls, expected_type: Any, value: Any) -> Any:
        return Color[value] if expected_type is Color else super()._decode_arg(expected_type, value)

    def __init__(self, color: Color = Color.RED, size: int = 1) -> None:
        self.color = color
        self.weights = {"w": np.zeros(size, np.float32)}


def test_a_pair_of_overrides_saves_its_own_form_and_reads_hubmixins_too(
    tmp_path: Path,
) -> None:
    PairedByName(color=Color.GREEN, size=2).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config == {"color": "GREEN", "size": 2}  # (the pair's own form, as huggingface_hub saves it)
    assert PairedByName.from_pretrained(tmp_path).color is Color.GREEN
    (tmp_path / "config.json").write_text(json.dumps({**config, "color": "g"}))  # (hubmixin's form, before)
    assert PairedByName.from_pretrained(tmp_path).color is Color.GREEN  # (Color["g"] fails: Color("g"))
    (tmp_path / "config.json").write_text(json.dumps({**config, "color": "BLUE"}))
    with pytest.raises(ConfigError, match=r"config.json: key 'color': .*PairedByName._decode_arg cannot decode 'BLUE'"):
        PairedByName.from_pretrained(tmp_path)


def test_a_dataclass_config_the_decoder_override_cannot_read_is_decoded_by_hubmixins_rules(tmp_path: Path) -> None:
    class Tagged(NumpyModelMixin):
        @classmethod
        def _decode_arg(cls, expected_type: Any, value: Any) -> Any:
            if expected_type is Cfg:
                return Cfg(width=value["w"])  # (its own form: {"w": ...})
            return super()._decode_arg(expected_type, value)

        def __init__(self, config: Cfg) -> None:
            self.config = config
            self.weights = {"w": np.zeros(config.width, np.float32)}

    Tagged(Cfg(width=3)).save_pretrained(tmp_path)
    assert Tagged.from_pretrained(tmp_path).config == Cfg(width=3)


class TaggedPair(NumpyModelMixin, strict_config=True):
    """Both hooks: a dataclass argument saved with a tag key its own ``_decode_arg`` strips."""

    @classmethod
    def _encode_arg(cls, arg: Any) -> Any:
        if isinstance(arg, Cfg):
            return {"kind": "Cfg", "width": arg.width, "scale": list(arg.scale)}
        return super()._encode_arg(arg)

    @classmethod
    def _decode_arg(cls, expected_type: Any, value: Any) -> Any:
        if expected_type is Cfg and isinstance(value, dict):
            return Cfg(width=value["width"], scale=tuple(value["scale"]))
        return super()._decode_arg(expected_type, value)

    def __init__(self, cfg: Cfg | None = None, size: int = 1) -> None:
        self.cfg = cfg
        self.weights = {"w": np.zeros(size, np.float32)}


def test_keys_of_the_pairs_own_form_are_not_unknown_fields(tmp_path: Path) -> None:
    """strict_config refuses keys no dataclass field takes: not those the class's own ``_decode_arg`` reads (reg22h)."""
    TaggedPair(Cfg(width=5)).save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["cfg"]["kind"] == "Cfg"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert TaggedPair.from_pretrained(tmp_path).cfg == Cfg(width=5)
