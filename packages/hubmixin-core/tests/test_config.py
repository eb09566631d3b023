"""Configuration captured from __init__, written to config.json and decoded back by annotation."""

from __future__ import annotations

import enum
import json
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path, PurePath, PurePosixPath
from typing import Any

import numpy as np
import pytest
from core_models import MLP, NumpyModelMixin

from hubmixin_core import ConfigEncodingError, ConfigEncodingWarning
from hubmixin_core.errors import HubMixinTypeError


class Activation(enum.Enum):
    RELU = "relu"
    GELU = "gelu"


@dataclass
class Optim:
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)


@dataclass
class Config:
    hidden: int = 8
    name: str = "base"
    optim: Optim = field(default_factory=Optim)
    layers: list[int] = field(default_factory=lambda: [1, 2])


class Point:
    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)

    __hash__ = None  # type: ignore[assignment]


class WithKwargs(NumpyModelMixin):
    def __init__(self, size: int = 2, **kwargs: Any) -> None:
        self.size, self.extra = size, kwargs
        self.weights = {"w": np.zeros(size, np.float32)}


class WithConfigDict(NumpyModelMixin):
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.weights = {"w": np.zeros(config["size"], np.float32)}


class WithConfigDataclass(NumpyModelMixin):
    def __init__(self, config: Config) -> None:
        self.config = config
        self.weights = {"w": np.zeros(config.hidden, np.float32)}


class AllTypes(NumpyModelMixin, coders={Point: (lambda p: [p.x, p.y], lambda v: Point(*v))}):
    def __init__(
        self,
        i: int = 1,
        f: float = 0.5,
        s: str = "s",
        b: bool = True,
        n: None = None,
        lst: list[int] | None = None,
        tup: tuple[int, str] = (1, "a"),
        dct: dict[str, Any] | None = None,
        nested: dict[str, list[dict[str, int]]] | None = None,
        opt: Optim | None = None,
        act: Activation = Activation.RELU,
        path: Path = Path("a/b"),
        point: Point | None = None,
        points: list[Point] | None = None,
    ) -> None:
        self.values = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        self.weights = {"w": np.zeros(1, np.float32)}


def test_config_from_defaults_positional_and_keywords() -> None:
    model = MLP(3, activation="gelu")
    assert model._hub_mixin_config == {"in_features": 3, "hidden": 8, "activation": "gelu", "seed": 0}


def test_config_roundtrip_through_directory(tmp_path: Path) -> None:
    MLP(3, 5, seed=7).save_pretrained(tmp_path)
    on_disk = json.loads((tmp_path / "config.json").read_text())
    assert on_disk == {"in_features": 3, "hidden": 5, "activation": "relu", "seed": 7}
    loaded = MLP.from_pretrained(tmp_path)
    assert (loaded.in_features, loaded.hidden, loaded.weights["fc1.weight"].shape) == (3, 5, (5, 3))
    assert loaded._hub_mixin_config == on_disk


def test_model_kwargs_override_config(tmp_path: Path) -> None:
    MLP(3, 5).save_pretrained(tmp_path)
    assert MLP.from_pretrained(tmp_path, model_kwargs={"activation": "tanh"}).activation == "tanh"
    assert MLP.from_pretrained(tmp_path, activation="gelu").activation == "gelu"  # type: ignore[call-arg]
    with pytest.raises(HubMixinTypeError, match=r"'activation' given both in model_kwargs and as keywords"):
        MLP.from_pretrained(tmp_path, activation="gelu", model_kwargs={"activation": "tanh"})  # type: ignore[call-arg]


def test_var_kwargs_are_captured_and_given_back(tmp_path: Path) -> None:
    model = WithKwargs(3, dropout=0.1, name="x")
    assert model._hub_mixin_config == {"size": 3, "dropout": 0.1, "name": "x"}
    model.save_pretrained(tmp_path)
    loaded = WithKwargs.from_pretrained(tmp_path)
    assert (loaded.size, loaded.extra) == (3, {"dropout": 0.1, "name": "x"})


def test_config_dict_argument_is_flattened_and_given_back(tmp_path: Path) -> None:
    model = WithConfigDict({"size": 4, "depth": 2})
    assert model._hub_mixin_config == {"size": 4, "depth": 2}
    model.save_pretrained(tmp_path)
    assert WithConfigDict.from_pretrained(tmp_path).config == {"size": 4, "depth": 2}


def test_config_dataclass_argument_roundtrips_with_nesting(tmp_path: Path) -> None:
    config = Config(hidden=3, name="x", optim=Optim(lr=0.1, betas=(0.8, 0.9)), layers=[4])
    model = WithConfigDataclass(config)
    assert model._hub_mixin_config is config
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["optim"] == {"lr": 0.1, "betas": [0.8, 0.9]}
    loaded = WithConfigDataclass.from_pretrained(tmp_path)
    assert loaded.config == config
    assert isinstance(loaded.config.optim, Optim) and loaded.config.optim.betas == (0.8, 0.9)


def test_every_encodable_type_roundtrips(tmp_path: Path) -> None:
    values: dict[str, Any] = {
        "i": -3,
        "f": 2.5,
        "s": "héllo",
        "b": False,
        "n": None,
        "lst": [1, 2, 3],
        "tup": (7, "z"),
        "dct": {"a": 1, "b": [True, None]},
        "nested": {"k": [{"x": 1}]},
        "opt": Optim(lr=0.5),
        "act": Activation.GELU,
        "path": PurePosixPath("models/x"),
        "point": Point(1, 2),
        "points": [Point(3, 4)],
    }
    AllTypes(**values).save_pretrained(tmp_path)
    loaded = AllTypes.from_pretrained(tmp_path)
    expected = {**values, "path": Path("models/x")}
    assert loaded.values == expected
    assert type(loaded.values["tup"]) is tuple and isinstance(loaded.values["opt"], Optim)


def test_custom_coders_are_inherited_by_subclasses(tmp_path: Path) -> None:
    class Child(AllTypes):
        pass

    Child(point=Point(5, 6)).save_pretrained(tmp_path)
    assert Child.from_pretrained(tmp_path).values["point"] == Point(5, 6)


def test_unencodable_argument_warns_naming_parameter_and_type() -> None:
    with pytest.warns(ConfigEncodingWarning, match=r"'activation' of type builtins\.object"):
        model = MLP(activation=object())  # type: ignore[arg-type]
    assert model._hub_mixin_config == {"in_features": 4, "hidden": 8, "seed": 0}


def test_unencodable_default_is_not_reported() -> None:
    sentinel = object()

    class WithObjectDefault(NumpyModelMixin):
        def __init__(self, fn: object = sentinel) -> None:
            self.weights = {"w": np.zeros(1, np.float32)}

    WithObjectDefault()  # no warning: pytest turns warnings into errors
    assert WithObjectDefault()._hub_mixin_config is None


def test_strict_config_raises_instead_of_warning() -> None:
    class Strict(MLP, strict_config=True):
        pass

    with pytest.raises(ConfigEncodingError, match="'activation'") as info:
        Strict(activation=np.zeros(2))  # type: ignore[arg-type]
    assert info.value.parameter == "activation" and info.value.value_type is np.ndarray
    assert isinstance(info.value, TypeError)


def test_a_dict_key_that_is_no_string_is_named_with_what_to_do() -> None:
    class Strict(MLP, strict_config=True):
        pass

    with pytest.raises(
        ConfigEncodingError, match=r"\(at activation\['s'\]\[1\.5\]: a builtins\.float key\).*keys are strings"
    ) as info:
        Strict(activation={"s": {1.5: "relu"}})  # type: ignore[arg-type]
    assert info.value.part == "['s'][1.5]" and info.value.key_type is float and info.value.part_type is float
    assert "coders=" not in str(info.value)


@dataclass
class LabelConfig:
    hidden: int = 4
    id2label: dict[int, str] = field(default_factory=dict)


class Classifier(NumpyModelMixin):
    def __init__(self, id2label: dict[int, str] | None = None) -> None:
        self.id2label = id2label
        self.weights = {"w": np.zeros(2, np.float32)}


class ConfiguredClassifier(NumpyModelMixin):
    def __init__(self, config: LabelConfig) -> None:
        self.config = config
        self.weights = {"w": np.zeros(2, np.float32)}


def test_integer_keys_are_written_as_huggingface_hub_writes_them_and_read_back_as_annotated(tmp_path: Path) -> None:
    labels = {0: "negative", 1: "positive", np.int64(2): "neutral"}
    Classifier(id2label=labels).save_pretrained(tmp_path / "arg")  # type: ignore[arg-type]  # (a numpy key)
    assert json.loads((tmp_path / "arg" / "config.json").read_text()) == {
        "id2label": {"0": "negative", "1": "positive", "2": "neutral"}  # json.dumps' keys
    }
    assert Classifier.from_pretrained(tmp_path / "arg").id2label == {0: "negative", 1: "positive", 2: "neutral"}
    ConfiguredClassifier(LabelConfig(8, {0: "neg"})).save_pretrained(tmp_path / "dataclass")
    saved = json.loads((tmp_path / "dataclass" / "config.json").read_text())
    assert saved == {"hidden": 8, "id2label": {"0": "neg"}}
    assert ConfiguredClassifier.from_pretrained(tmp_path / "dataclass").config == LabelConfig(8, {0: "neg"})


def test_integer_keys_nothing_annotates_come_back_as_strings_with_a_warning(tmp_path: Path) -> None:
    class Loose(MLP):
        def __init__(self, labels: dict = {}) -> None:  # type: ignore[type-arg]  # noqa: B006
            super().__init__()
            self.labels = labels

    with pytest.warns(ConfigEncodingWarning, match=r"labels\[0\] \(int key\).*`labels: dict\[int, \.\.\.\]`"):
        Loose(labels={0: "a"}).save_pretrained(tmp_path)
    assert Loose.from_pretrained(tmp_path).labels == {"0": "a"}  # as huggingface_hub's mixin gives it


class Split(str, enum.Enum):  # noqa: UP042  # (its str() is not its value, unlike a StrEnum's)
    TRAIN = "train"
    TEST = "test"


class Level(enum.IntEnum):
    LOW = 1


class KeyedByType(NumpyModelMixin):
    def __init__(
        self,
        weights_by_split: dict[Split, float] | None = None,
        ordered: OrderedDict[int, str] | None = None,
        levels: dict[Level, str] | None = None,
    ) -> None:
        self.weights_by_split, self.ordered, self.levels = weights_by_split, ordered, levels
        self.weights = {"w": np.zeros(2, np.float32)}


def test_keys_of_other_types_are_written_as_json_dumps_writes_them_and_read_back_as_annotated(tmp_path: Path) -> None:
    KeyedByType(
        weights_by_split={Split.TRAIN: 0.8}, ordered=OrderedDict([(2, "b"), (1, "a")]), levels={Level.LOW: "x"}
    ).save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved == {"weights_by_split": {"train": 0.8}, "ordered": {"2": "b", "1": "a"}, "levels": {"1": "x"}}
    loaded = KeyedByType.from_pretrained(tmp_path)
    assert loaded.weights_by_split == {Split.TRAIN: 0.8} and loaded.levels == {Level.LOW: "x"}
    assert dict(loaded.ordered or {}) == {2: "b", 1: "a"} and type(loaded.ordered) is OrderedDict  # (keys sorted)


def test_the_advice_for_a_nested_integer_key_names_the_annotation_at_its_depth(tmp_path: Path) -> None:
    class Nested(MLP):
        def __init__(self, heads: dict = {}) -> None:  # type: ignore[type-arg]  # noqa: B006
            super().__init__()
            self.heads = heads

    with pytest.warns(ConfigEncodingWarning, match=r"`heads: dict\[str, dict\[int, \.\.\.\]\]`"):
        Nested(heads={"cls": {0: "cat"}}).save_pretrained(tmp_path)
    with pytest.warns(ConfigEncodingWarning, match=r"`heads: dict\[str, list\[dict\[int, \.\.\.\]\]\]`"):
        Nested(heads={"cls": [{0: "cat"}]}).save_pretrained(tmp_path / "list")


def test_a_key_no_member_of_its_enum_has_is_kept_as_written(tmp_path: Path) -> None:
    KeyedByType().save_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"weights_by_split": {"dev": 0.1}, "levels": {"7": "x"}}))
    loaded = KeyedByType.from_pretrained(tmp_path)
    assert loaded.weights_by_split == {"dev": 0.1} and loaded.levels == {"7": "x"}  # type: ignore[comparison-overlap]


def test_integer_and_string_keys_that_would_collide_are_refused() -> None:
    class Strict(Classifier, strict_config=True):
        pass

    with pytest.raises(ConfigEncodingError, match="id2label"):
        Strict(id2label={1: "a", "1": "b"})  # type: ignore[dict-item]


class Clipped(NumpyModelMixin):
    def __init__(self, max_norm: float = float("inf"), threshold: float = 0.5, limits: tuple[float, ...] = ()) -> None:
        self.max_norm, self.threshold, self.limits = max_norm, threshold, limits
        self.weights = {"w": np.zeros(2, np.float32)}


def test_non_finite_floats_round_trip_as_python_s_json_writes_them(tmp_path: Path) -> None:
    model = Clipped(threshold=float("nan"), limits=(float("-inf"), 1.0))
    model.save_pretrained(tmp_path)
    text = (tmp_path / "config.json").read_text()
    assert '"max_norm": Infinity' in text and '"threshold": NaN' in text  # as huggingface_hub and transformers
    loaded = Clipped.from_pretrained(tmp_path)
    assert loaded.max_norm == float("inf") and loaded.threshold != loaded.threshold
    assert loaded.limits == (float("-inf"), 1.0)


def test_explicit_config_argument_of_save_pretrained_wins(tmp_path: Path) -> None:
    MLP(2, 3).save_pretrained(tmp_path, config={"in_features": 2, "hidden": 3, "activation": "tanh"})
    assert json.loads((tmp_path / "config.json").read_text()) == {
        "in_features": 2,
        "hidden": 3,
        "activation": "tanh",
    }
    assert MLP.from_pretrained(tmp_path).activation == "tanh"


@dataclass
class DataclassModel(NumpyModelMixin):
    size: int = 2
    name: str = "dc"

    def __post_init__(self) -> None:
        self.weights = {"w": np.zeros(self.size, np.float32)}


def test_dataclass_model_captures_positional_fields_and_roundtrips(tmp_path: Path) -> None:
    model = DataclassModel(5, name="x")  # positional: the signature is the one @dataclass added
    assert model._hub_mixin_config == {"size": 5, "name": "x"}
    model.save_pretrained(tmp_path)
    loaded = DataclassModel.from_pretrained(tmp_path)
    assert (loaded.size, loaded.name) == (5, "x")


def test_class_coder_wins_over_builtin_path_coder(tmp_path: Path) -> None:
    class PathAsParts(NumpyModelMixin, coders={PurePath: (lambda p: list(p.parts), lambda v: Path(*v))}):
        def __init__(self, where: Path = Path("a")) -> None:
            self.where = where
            self.weights = {"w": np.zeros(1, np.float32)}

    PathAsParts(Path("x/y")).save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["where"] == ["x", "y"]
    assert PathAsParts.from_pretrained(tmp_path).where == Path("x/y")


def test_huggingface_hub_argument_helpers_use_the_class_coders() -> None:
    # _encode_arg / _decode_arg / _is_jsonable: called by __init__ and _from_pretrained code written for
    # huggingface_hub's ModelHubMixin.
    assert AllTypes._hub_mixin_jsonable_custom_types == (Point,)
    assert AllTypes._encode_arg(Point(1, 2)) == [1, 2]
    assert AllTypes._decode_arg(Point, [1, 2]) == Point(1, 2)
    assert AllTypes._decode_arg(Point | None, None) is None  # type: ignore[arg-type]  # (typed as hf's: type[T])
    assert AllTypes._encode_arg(Optim(lr=0.5)) == {"lr": 0.5, "betas": [0.9, 0.999]}
    assert AllTypes._decode_arg(Optim, {"lr": 0.5, "betas": [0.9, 0.999]}) == Optim(lr=0.5)
    assert AllTypes._decode_arg(Activation, "gelu") is Activation.GELU
    assert AllTypes._decode_arg(int, "not decoded") == "not decoded"  # type: ignore[comparison-overlap]  # (as hf)
    assert AllTypes._is_jsonable(Point(1, 2)) and AllTypes._is_jsonable({"a": [1, 2.5, None]})
    unencodable = object()
    assert not AllTypes._is_jsonable(unencodable) and AllTypes._encode_arg(unencodable) is unencodable
    assert not MLP._is_jsonable(Point(1, 2)) and MLP._hub_mixin_jsonable_custom_types == ()


def test_a_config_argument_json_cannot_hold_is_named_and_is_a_type_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigEncodingError, match=r"at config\['b'\]: builtins.set") as raised:
        MLP().save_pretrained(tmp_path / "m", config={"a": 3, "b": {1, 2}})
    assert isinstance(raised.value, TypeError)  # json.dumps' error type, which huggingface_hub's mixin raises
    assert raised.value.part == "['b']" and not (tmp_path / "m").exists()
