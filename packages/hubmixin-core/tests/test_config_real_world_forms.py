"""Config styles of real JAX/Flax code: callables typed by a Protocol or ``Callable`` (``nnx.Initializer``) saved
by a declared coder, a non-dict ``config`` (a preset name, a NamedTuple), NamedTuple arguments, and ``Sequence``
fields of a frozen dataclass config given tuples."""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import numpy as np
import pytest
from core_models import NumpyModelMixin

from hubmixin_core import ConfigEncodingWarning
from hubmixin_core.errors import ConfigError


def ones(shape: tuple[int, ...]) -> np.ndarray:
    return np.ones(shape, dtype=np.float32)


def zeros(shape: tuple[int, ...]) -> np.ndarray:
    return np.zeros(shape, dtype=np.float32)


INITS: dict[str, Any] = {"ones": ones, "zeros": zeros}
INIT_CODERS = {types.FunctionType: (lambda f: f.__name__, INITS.__getitem__)}


class Initializer(Protocol):  # as jax.nn.initializers.Initializer: not @runtime_checkable
    def __call__(self, shape: tuple[int, ...]) -> np.ndarray: ...


InitializerLike = Initializer | Callable[..., Any]  # flax's nnx.Initializer


class InitArg(NumpyModelMixin, coders=INIT_CODERS):
    def __init__(
        self,
        kernel_init: InitializerLike = zeros,
        bias_init: Callable[..., Any] = zeros,
        scale_init: Initializer = zeros,
    ) -> None:
        self.inits = (kernel_init, bias_init, scale_init)
        self.weights = {"w": kernel_init((2,)), "b": bias_init((1,)), "s": scale_init((1,))}


@dataclasses.dataclass
class InitConfig:
    features: int = 2
    kernel_init: InitializerLike = zeros


class InitField(NumpyModelMixin, coders=INIT_CODERS):
    def __init__(self, config: InitConfig) -> None:
        self.config = config
        self.weights = {"w": config.kernel_init((config.features,))}


def test_a_callable_argument_typed_by_a_protocol_union_or_callable_is_decoded_by_its_coder(tmp_path: Path) -> None:
    InitArg(kernel_init=ones, bias_init=ones, scale_init=ones).save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved == {"kernel_init": "ones", "bias_init": "ones", "scale_init": "ones"}
    assert InitArg.from_pretrained(tmp_path).inits == (ones, ones, ones)


def test_a_callable_dataclass_field_is_decoded_by_its_coder(tmp_path: Path) -> None:
    InitField(InitConfig(features=3, kernel_init=ones)).save_pretrained(tmp_path)
    assert InitField.from_pretrained(tmp_path).config == InitConfig(features=3, kernel_init=ones)


def test_a_callable_no_coder_takes_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    InitArg(kernel_init=ones).save_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"kernel_init": "glorot"}))
    with pytest.raises(ConfigError, match=r"key 'kernel_init': cannot decode 'glorot'"):
        InitArg.from_pretrained(tmp_path)


class NoCoder(NumpyModelMixin):
    def __init__(self, act: Any = None) -> None:
        self.act = act
        self.weights = {"w": zeros((1,))}


def test_the_save_warning_names_a_functions_type_as_code_writes_it() -> None:
    with pytest.warns(ConfigEncodingWarning) as caught:
        NoCoder(act=ones)
    message = str(caught[0].message)
    assert "coders={types.FunctionType: (encode, decode)}" in message and "of type types.FunctionType" in message


PRESETS = {"small": 2, "large": 3}


class Preset(NumpyModelMixin):
    def __init__(self, config: str = "small", classes: int = 2) -> None:
        self.config, self.classes = config, classes
        self.weights = {"w": zeros((PRESETS[config], classes))}


class Cfg(NamedTuple):
    dim: int = 2
    layers: int = 1
    act: Act | None = None


class Act(enum.Enum):
    RELU = "relu"
    GELU = "gelu"


class TupleConfig(NumpyModelMixin):
    def __init__(self, config: Cfg) -> None:
        self.config = config
        self.weights = {"w": zeros((config.dim, config.layers))}


def test_a_preset_name_config_is_saved_under_its_key_and_rebuilds_the_model(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Preset(config="large", classes=3).save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == {"config": "large", "classes": 3}
    loaded = Preset.from_pretrained(tmp_path)
    assert (loaded.config, loaded.classes) == ("large", 3)


def test_a_namedtuple_config_is_saved_and_comes_back_a_namedtuple(tmp_path: Path) -> None:
    TupleConfig(Cfg(dim=4, layers=3, act=Act.GELU)).save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == {"config": [4, 3, "gelu"]}
    assert TupleConfig.from_pretrained(tmp_path).config == Cfg(dim=4, layers=3, act=Act.GELU)


class TupleArg(NumpyModelMixin):
    def __init__(self, cfg: Cfg, extra: Cfg | None = None) -> None:
        self.cfg, self.extra = cfg, extra
        self.weights = {"w": zeros((cfg.dim,))}


def test_a_namedtuple_argument_is_decoded_field_by_field(tmp_path: Path) -> None:
    TupleArg(Cfg(dim=3, layers=2, act=Act.RELU), extra=Cfg(1)).save_pretrained(tmp_path)
    loaded = TupleArg.from_pretrained(tmp_path)
    assert loaded.cfg == Cfg(3, 2, Act.RELU) and type(loaded.cfg) is Cfg and loaded.extra == Cfg(1)


class AttentionType(enum.Enum):
    GLOBAL = 1
    LOCAL = 2


@dataclasses.dataclass(frozen=True)
class FrozenConfig:
    dim: int
    attention_types: Sequence[AttentionType] = (AttentionType.GLOBAL,)
    window_sizes: Sequence[int] = (4, 8)


class Gemma(NumpyModelMixin):
    def __init__(self, config: FrozenConfig) -> None:
        self.config = config
        self.weights = {"w": zeros((config.dim,))}


def test_sequence_fields_with_tuple_defaults_come_back_tuples(tmp_path: Path) -> None:
    config = FrozenConfig(2, (AttentionType.LOCAL, AttentionType.GLOBAL), (1, 2, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Gemma(config).save_pretrained(tmp_path)
    loaded = Gemma.from_pretrained(tmp_path).config
    assert loaded == config and hash(loaded) == hash(config)


@dataclasses.dataclass(frozen=True)
class NoDefaultConfig:
    attention_types: Sequence[AttentionType]


class NoDefault(NumpyModelMixin):
    def __init__(self, config: NoDefaultConfig) -> None:
        self.config = config
        self.weights = {"w": zeros((1,))}


def test_a_tuple_in_a_sequence_field_without_a_tuple_default_warns_at_save() -> None:
    with pytest.warns(ConfigEncodingWarning, match=r"config\.attention_types \(tuple\) .* back as list"):
        NoDefault(NoDefaultConfig((AttentionType.LOCAL,)))


class NamedPreset(NumpyModelMixin):
    def __init__(self, config: str | None = None, hidden: int = 2) -> None:
        self.config, self.hidden = config, hidden
        self.weights = {"w": np.zeros(hidden, dtype=np.float32)}


def test_a_preset_config_left_at_none_loads(tmp_path: Path) -> None:
    NamedPreset(hidden=3).save_pretrained(tmp_path)
    loaded = NamedPreset.from_pretrained(tmp_path)
    assert (loaded.config, loaded.hidden) == (None, 3)


class Settings:
    """A config class of a library's own, written as a JSON object by a coder."""

    def __init__(self, hidden: int = 2) -> None:
        self.hidden = hidden


class WithSettings(NumpyModelMixin, coders={Settings: (lambda c: {"hidden": c.hidden}, lambda d: Settings(**d))}):
    def __init__(self, config: Settings | None = None) -> None:
        self.config = config
        self.weights = {"w": np.zeros(2, dtype=np.float32)}


def test_a_config_of_a_coded_class_comes_back(tmp_path: Path) -> None:
    WithSettings(Settings(hidden=8)).save_pretrained(tmp_path)
    loaded = WithSettings.from_pretrained(tmp_path)
    assert loaded.config is not None and loaded.config.hidden == 8


class Activation:
    """Stands for an activation class (``nn.GELU``)."""


class Relu(Activation):
    pass


class TimmStyle(
    NumpyModelMixin, coders={type: (lambda c: c.__name__, lambda n: {"Relu": Relu, "Activation": Activation}[n])}
):
    def __init__(self, act_layer: Callable[..., Activation] = Activation) -> None:
        self.act_layer = act_layer
        self.weights = {"w": np.zeros(2, dtype=np.float32)}


def test_a_coder_the_class_declares_for_classes_decodes_a_callable_argument(tmp_path: Path) -> None:
    TimmStyle(act_layer=Relu).save_pretrained(tmp_path)
    assert TimmStyle.from_pretrained(tmp_path).act_layer is Relu
