"""QA round 21, regressions of the first-use round (83c400f): a class given to an argument whose annotation refuses
``isinstance`` (a Protocol, a TypedDict, ``numpy.typing.DTypeLike``) builds, saves and loads as before; a class passed
on purpose keeps the coder advice (only a class its annotation names as an instance type, or a dataclass where
nothing says, is told "not an instance"); a TypeError inside ``__init__`` stays one; the error for a local class
pickles; a malformed or revisioned URL keeps its error and hint."""

from __future__ import annotations

import dataclasses
import json
import pickle
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Self

import numpy as np
import numpy.typing as npt
import pytest
from core_models import MLP, NumpyModelMixin

from hubmixin_core import ConfigEncodingWarning, DownloadOptions, ModelHubMixin
from hubmixin_core.errors import ConfigEncodingError, MissingArgumentError, WeightsNotFoundError

if TYPE_CHECKING:
    from collections import OrderedDict  # (an annotation naming it stays an unresolved string at run time)

OLD_ADVICE = "Pass a JSON-compatible value, a dataclass, or declare a coder for this type with"


class Gelu:
    def __call__(self, x: float) -> float:
        return x


class Silu(Gelu):
    pass


class ActFactory(typing.Protocol):  # (not runtime_checkable: isinstance refuses it)
    def __call__(self) -> Gelu: ...


class ByProtocol(NumpyModelMixin):
    def __init__(self, width: int = 2, act: ActFactory = Gelu) -> None:
        self.act, self.weights = act, {}


class ByDTypeLike(NumpyModelMixin):  # (DTypeLike is a Union holding a TypedDict)
    def __init__(self, width: int = 2, np_dtype: npt.DTypeLike = np.float32) -> None:
        self.np_dtype, self.weights = np_dtype, {}


def _warned(build: typing.Callable[[], object]) -> str:
    with pytest.warns(ConfigEncodingWarning) as record:
        build()
    return " ".join(str(w.message) for w in record)


@pytest.mark.parametrize(
    "build", [lambda: ByProtocol(act=Silu), lambda: ByDTypeLike(np_dtype=np.float16)], ids=["protocol", "dtypelike"]
)
def test_a_class_for_an_annotation_refusing_isinstance_builds_and_saves(tmp_path: Path, build: Any) -> None:
    with pytest.warns(ConfigEncodingWarning, match=OLD_ADVICE):
        model = build()
    model.save_pretrained(tmp_path)
    assert list(json.loads((tmp_path / "config.json").read_text())["_hub_mixin_unsaved"].values()) == ["type"]


def test_a_class_recorded_as_not_saved_for_a_typeddict_union_loads_when_given(tmp_path: Path) -> None:
    ByDTypeLike(np_dtype="float16").save_pretrained(tmp_path)  # (config.json as an older save wrote it)
    config = {"width": 2, "_hub_mixin_unsaved": {"np_dtype": "type"}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert ByDTypeLike.from_pretrained(tmp_path, model_kwargs={"np_dtype": np.float16}).np_dtype is np.float16
    with pytest.raises(MissingArgumentError, match=r"'np_dtype' \(a class\)"):
        ByDTypeLike.from_pretrained(tmp_path)


class Unannotated(NumpyModelMixin):
    def __init__(self, act=Gelu) -> None:  # type: ignore[no-untyped-def]  # (timm style: act_layer=nn.GELU)
        self.weights = {}


class AnyAct(NumpyModelMixin):
    def __init__(self, act: Any = Gelu) -> None:
        self.weights = {}


class AnnotatedClass(NumpyModelMixin):
    def __init__(self, act: Annotated[type[Gelu], "the activation"] = Gelu) -> None:
        self.weights = {}


class UnresolvedClass(NumpyModelMixin):
    def __init__(self, act: type[OrderedDict[str, int]] | None = None) -> None:
        self.weights = {}


class BaseAnnotated(NumpyModelMixin):  # (annotated as an instance, given a subclass on purpose)
    def __init__(self, act: Gelu | None = None) -> None:
        self.weights = {}


class Dtyped(NumpyModelMixin):
    def __init__(self, dtype=np.float32) -> None:  # type: ignore[no-untyped-def]
        self.weights = {}


@dataclasses.dataclass
class Cfg:
    dim: int = 3


@dataclasses.dataclass
class WithField:
    act_layer: type[Gelu] = Gelu


class ConfigField(NumpyModelMixin):
    def __init__(self, config: WithField | None = None) -> None:
        self.weights = {}


@pytest.mark.parametrize(
    "build",
    [
        lambda: Unannotated(act=Silu),
        lambda: AnyAct(act=Silu),
        lambda: AnnotatedClass(act=Silu),
        lambda: UnresolvedClass(act=Silu),  # type: ignore[arg-type]
        lambda: BaseAnnotated(act=Silu),  # type: ignore[arg-type]
        lambda: Dtyped(dtype=np.float16),
        lambda: ConfigField(config=WithField(act_layer=Silu)),
    ],
    ids=["unannotated", "any", "annotated", "type-checking-only", "base-class", "numpy-dtype", "dataclass-field"],
)
def test_a_class_passed_on_purpose_keeps_the_coder_advice(build: Any) -> None:
    warned = _warned(build)
    assert OLD_ADVICE in warned and "coders={type: (encode, decode)}" in warned
    assert "not an instance" not in warned and "(...)" not in warned


class AnnotatedCfg(NumpyModelMixin):
    def __init__(self, config: Annotated[Cfg | None, "its settings"] = None) -> None:
        self.weights = {}


class AnyCfg(NumpyModelMixin):
    def __init__(self, config: Any = None) -> None:
        self.weights = {}


class ExactInstance(NumpyModelMixin):
    def __init__(self, act: Gelu | None = None) -> None:
        self.weights = {}


@pytest.mark.parametrize(
    ("build", "name"),
    [
        (lambda: AnnotatedCfg(config=Cfg), "Cfg"),  # type: ignore[arg-type]
        (lambda: AnyCfg(config=Cfg), "Cfg"),
        (lambda: ExactInstance(act=Gelu), "Gelu"),  # type: ignore[arg-type]
    ],
    ids=["annotated-dataclass", "any-dataclass", "that-very-class"],
)
def test_a_class_its_annotation_names_as_an_instance_type_is_told_so(build: Any, name: str) -> None:
    warned = _warned(build)
    assert f"is the class {name} itself, not an instance: pass {name}(...)." in warned
    assert OLD_ADVICE not in warned


def test_the_error_for_a_local_class_given_for_its_instance_pickles() -> None:
    @dataclasses.dataclass
    class Local:
        width: int = 4

    class Strict(ModelHubMixin, strict_config=True):
        def __init__(self, config: Any = None) -> None:
            self.config = config

        def _save_pretrained(self, save_directory: Path) -> None:
            pass

    with pytest.raises(ConfigEncodingError) as info:
        Strict(config=Local)
    back = pickle.loads(pickle.dumps(info.value))  # noqa: S301 - our own object
    assert str(back) == str(info.value) and "not an instance" in str(back)
    assert back.given_class == info.value.given_class == Local.__qualname__


class Tree(ModelHubMixin):
    """A library reading its own config.json, whose ``__init__`` builds an inner instance and forgets an argument."""

    def __init__(self, dim: int, depth: int) -> None:
        self.child = Tree(dim) if depth > 0 else None  # type: ignore[call-arg]  # (the body's own mistake)

    def _save_pretrained(self, save_directory: Path) -> None:
        pass

    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        config = json.loads((Path(model_id) / "config.json").read_text())
        return cls(dim=config["hidden"], depth=config["levels"])


class Constructing(type(ModelHubMixin)):  # type: ignore[misc]
    """A metaclass building its instances itself, as NNX's does: its frames stand between a call and ``__init__``."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        instance: Any = cls.__new__(cls)
        instance.__init__(*args, **kwargs)
        return instance


class ConstructedTree(Tree, metaclass=Constructing):
    def __init__(self, dim: int, depth: int) -> None:
        self.child = ConstructedTree(dim) if depth > 0 else None  # type: ignore[call-arg]  # (the body's mistake)


@pytest.mark.parametrize("cls", [Tree, ConstructedTree])
def test_a_type_error_of_an_inner_instance_built_in_init_is_left_as_it_is(tmp_path: Path, cls: type[Tree]) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"hidden": 4, "levels": 2}))
    with pytest.raises(TypeError, match=r"missing 1 required positional argument: 'depth'") as info:
        cls.from_pretrained(tmp_path)
    assert not isinstance(info.value, MissingArgumentError)


@pytest.mark.parametrize("url", ["https://[huggingface.co/org/name", "https://[::1/org/name"])
def test_a_malformed_url_is_still_weights_not_found(url: str) -> None:
    with pytest.raises(WeightsNotFoundError, match=r"does not exist; from_pretrained takes") as info:
        MLP.from_pretrained(url, local_files_only=True)
    assert url in str(info.value) and "pass its id" not in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "hf://org/name@main",
        "hf://org/name@main/model.safetensors",
        "hf://models/org/name@v1.0",
        "https://huggingface.co/org/name@main",
    ],
)
def test_a_hub_uri_with_a_revision_is_answered_with_its_id(url: str) -> None:
    with pytest.raises(WeightsNotFoundError, match=r"\(for the Hub repository, pass its id: 'org/name'\)"):
        MLP.from_pretrained(url, local_files_only=True)


def test_a_subclass_given_for_an_instance_annotation_is_not_told_it_forgot_parentheses_at_load(
    tmp_path: Path,
) -> None:
    """config.json records only that a class was given (``act_layer: nn.Module`` given ``nn.SiLU``, timm's way):
    only a dataclass annotation says an instance was meant."""
    with pytest.warns(ConfigEncodingWarning):
        BaseAnnotated(act=Silu).save_pretrained(tmp_path)  # type: ignore[arg-type]
    with pytest.raises(MissingArgumentError, match=r"'act' \(a class\)") as info:
        BaseAnnotated.from_pretrained(tmp_path)
    assert "not an instance" not in str(info.value)
