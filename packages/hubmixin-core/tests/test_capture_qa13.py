"""A class's own loader rebuilding an argument config.json cannot hold is judged by what its ``__init__`` receives,
whatever shape the loader has and whether its source can be read; ``*args`` passed on are named only where the
``__init__`` passes them on unchanged to its base; sentinel defaults stay out of config.json (ordinary enum defaults
do not); path annotations."""

from __future__ import annotations

import copy
import enum
import functools
import json
import os
import pickle
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Self

import pytest

from hubmixin_core import DownloadOptions, ModelHubMixin
from hubmixin_core.errors import MissingArgumentError

pytestmark = pytest.mark.filterwarnings("ignore::hubmixin_core.ConfigEncodingWarning")  # (unsaved arguments)


class Body:
    """A module JSON cannot hold (setfit's sentence-transformers body)."""

    def __init__(self, n: int) -> None:
        self.n = n


def load_body(model_id: str) -> Body:
    return Body(int((Path(model_id) / "body.txt").read_text()))


class Net(ModelHubMixin):
    def __init__(self, body: Body, head_dim: int = 2) -> None:
        self.body, self.head_dim = body, head_dim

    def _save_pretrained(self, save_directory: Path) -> None:
        (save_directory / "body.txt").write_text(str(self.body.n))

    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        return cls(load_body(model_id), **model_kwargs)


class IntoKwargs(Net):
    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        model_kwargs["body"] = load_body(model_id)
        return cls(**model_kwargs)


class ThroughHelper(Net):
    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        return cls.from_body(load_body(model_id), **model_kwargs)

    @classmethod
    def from_body(cls, body: Body, **kwargs: Any) -> Self:
        return cls(body=body, **kwargs)


class ThroughPartial(Net):
    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        return functools.partial(cls, body=load_body(model_id))(**model_kwargs)


class GivenOrRebuilt(Net):
    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        body = model_kwargs.pop("body", None) or load_body(model_id)
        return cls(body, **model_kwargs)


class OptionalBody(ModelHubMixin):
    """Its loader passes on what it was given: ``body`` falls back to its default."""

    def __init__(self, body: Body | None = None, head_dim: int = 2) -> None:
        self.body, self.head_dim = body, head_dim

    def _save_pretrained(self, save_directory: Path) -> None:
        pass

    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        return cls(**model_kwargs)


def _saved(model: ModelHubMixin, directory: Path) -> dict[str, Any]:
    model.save_pretrained(directory)
    saved: dict[str, Any] = json.loads((directory / "config.json").read_text())
    return saved


@pytest.mark.parametrize("loader", [Net, IntoKwargs, ThroughHelper, ThroughPartial, GivenOrRebuilt])
def test_a_loader_rebuilding_the_unsaved_argument_loads_whatever_its_shape(loader: type[Net], tmp_path: Path) -> None:
    assert _saved(loader(Body(7), head_dim=3), tmp_path)["_hub_mixin_unsaved"] == {"body": "Body"}
    loaded = loader.from_pretrained(tmp_path)
    assert (type(loaded), loaded.body.n, loaded.head_dim) == (loader, 7, 3)


_GENERATED = textwrap.dedent(
    """
    class Generated(ModelHubMixin):
        def __init__(self, body, head_dim: int = 2):
            self.body, self.head_dim = body, head_dim
        def _save_pretrained(self, save_directory):
            (save_directory / "body.txt").write_text(str(self.body.n))
        @classmethod
        def _from_pretrained(cls, *, model_id, revision, cache_dir, force_download, local_files_only, token, **kw):
            kw["body"] = load_body(model_id)
            return cls(**kw)
    class Forgets(Generated):
        @classmethod
        def _from_pretrained(cls, *, model_id, revision, cache_dir, force_download, local_files_only, token, **kw):
            return cls(**kw)
    """
)


def test_a_loader_without_source_is_judged_by_what_init_receives(tmp_path: Path) -> None:
    namespace: dict[str, Any] = {"__name__": "generated", "ModelHubMixin": ModelHubMixin, "load_body": load_body}
    exec(compile(_GENERATED, "<generated>", "exec"), namespace)  # noqa: S102  (no source to read: a .pyc-only install too)
    _saved(namespace["Generated"](Body(7), head_dim=3), tmp_path)
    loaded = namespace["Generated"].from_pretrained(tmp_path)
    assert (loaded.body.n, loaded.head_dim) == (7, 3)
    with pytest.raises(MissingArgumentError, match=r"'body' \(a Body\).*model_kwargs=\{'body'") as caught:
        namespace["Forgets"].from_pretrained(tmp_path)
    assert isinstance(caught.value.__cause__, TypeError)  # (__init__'s: a required argument missing)
    given = namespace["Forgets"].from_pretrained(tmp_path, model_kwargs={"body": Body(5)})
    assert (given.body.n, given.head_dim) == (5, 3)


def test_a_loader_building_the_model_without_the_unsaved_argument_is_refused(tmp_path: Path) -> None:
    assert _saved(OptionalBody(Body(7), head_dim=3), tmp_path)["_hub_mixin_unsaved"] == {"body": "Body"}
    with pytest.raises(MissingArgumentError, match=r"'body' \(a Body\)"):
        OptionalBody.from_pretrained(tmp_path)  # (built with body=None: not the model saved)
    given = OptionalBody.from_pretrained(tmp_path, model_kwargs={"body": Body(1)}).body
    assert given is not None and given.n == 1


class Backbone(ModelHubMixin):
    def __init__(self, depth: int = 1, width: int = 2, heads: int = 3) -> None:
        self.shape = (depth, width, heads)

    def _save_pretrained(self, save_directory: Path) -> None:
        pass

    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        return cls(**model_kwargs)


class Tagged(Backbone):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args[1:], **kwargs)  # (the first value is a tag)


class Flippable(Backbone):
    def __init__(self, *args: Any, transpose: bool = False, **kwargs: Any) -> None:
        super().__init__(*(reversed(args) if transpose else args), **kwargs)


class Legacy(Backbone):
    def __init__(self, *args: Any, legacy: bool = False, **kwargs: Any) -> None:
        if legacy:
            super().__init__(0, *args, **kwargs)
        else:
            super().__init__(*args, **kwargs)


class Named:
    def __init__(self, name: str) -> None:
        self.name = name


class WithHelper(Backbone, Named):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        Named.__init__(self, "backbone")
        super().__init__(*args, **kwargs)


class NamesItsBase(Backbone):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        Backbone.__init__(self, 10, *args, **kwargs)


@pytest.mark.parametrize(
    ("build", "saved"),
    [
        (lambda: Tagged(7, 4, 5), {"_hub_mixin_unsaved": {"*args": "tuple"}}),
        (lambda: Flippable(4, 5, transpose=True), {"_hub_mixin_unsaved": {"*args": "tuple"}, "transpose": True}),
        (lambda: Legacy(4, 5), {"_hub_mixin_unsaved": {"*args": "tuple"}, "legacy": False}),
    ],
)
def test_args_passed_on_transformed_or_in_branches_are_not_named(
    build: Any, saved: dict[str, Any], tmp_path: Path
) -> None:
    assert _saved(build(), tmp_path) == saved
    with pytest.raises(MissingArgumentError, match=r"\*args"):  # (not another model, silently)
        type(build()).from_pretrained(tmp_path)


@pytest.mark.parametrize(
    ("build", "shape"), [(lambda: WithHelper(4, 5), (4, 5, 3)), (lambda: NamesItsBase(4), (10, 4, 3))]
)
def test_args_passed_on_to_the_base_are_named_by_its_parameters(build: Any, shape: Any, tmp_path: Path) -> None:
    model = build()
    assert model.shape == shape
    _saved(model, tmp_path)
    assert type(model).from_pretrained(tmp_path).shape == shape


class _Missing(enum.Enum):
    MISSING = enum.auto()


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class WithSentinel(ModelHubMixin):
    def __init__(
        self,
        hidden: int = 1,
        layers: list[int] | _Missing = _Missing.MISSING,
        color: Color | None = Color.RED,
    ) -> None:
        self.layers = [] if layers is _Missing.MISSING else layers
        self.color = color

    def _save_pretrained(self, save_directory: Path) -> None:
        pass

    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        return cls(**model_kwargs)


def test_a_sentinel_default_is_left_out_of_config_json(tmp_path: Path) -> None:
    assert _saved(WithSentinel(), tmp_path) == {"color": "red", "hidden": 1}  # (an enum default is a value)
    assert WithSentinel.from_pretrained(tmp_path).layers == []
    assert _saved(WithSentinel(layers=_Missing.MISSING), tmp_path / "given") == {"color": "red", "hidden": 1}
    assert _saved(WithSentinel(layers=[3]), tmp_path / "set")["layers"] == [3]


class WithPaths(ModelHubMixin):
    def __init__(self, vocab: os.PathLike[str] = Path("vocab.txt"), extra: os.PathLike[str] | None = None) -> None:
        self.vocab, self.extra = vocab, extra

    def _save_pretrained(self, save_directory: Path) -> None:
        pass

    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        return cls(**model_kwargs)


def test_an_argument_annotated_pathlike_comes_back_a_path(tmp_path: Path) -> None:
    _saved(WithPaths(Path("data/vocab.txt"), extra=Path("data/merges.txt")), tmp_path)
    loaded = WithPaths.from_pretrained(tmp_path)
    assert (loaded.vocab, loaded.extra) == (Path("data/vocab.txt"), Path("data/merges.txt"))
    assert isinstance(loaded.vocab, Path) and isinstance(loaded.extra, Path)


def test_an_attrs_factory_field_is_left_out_of_config_json(tmp_path: Path) -> None:
    attrs = pytest.importorskip("attrs")

    @attrs.define(slots=False)
    class Layers(WithPaths):
        hidden: int = 1
        layers: list[int] = attrs.field(factory=list)  # (its __init__'s default: attrs.NOTHING, an Enum member)

    assert _saved(Layers(), tmp_path) == {"hidden": 1}
    assert Layers.from_pretrained(tmp_path).layers == []


class Act(enum.StrEnum):
    GELU = "gelu"
    RELU = "relu"


class WithEnumDefaults(ModelHubMixin):
    """Ordinary enum defaults whose annotations also name other types: values, not "not given"."""

    def __init__(
        self, act: Act | str = Act.GELU, name: str = Act.RELU, color: Color | int = Color.BLUE, hidden: int = 1
    ) -> None:
        self.act, self.name, self.color = act, name, color

    def _save_pretrained(self, save_directory: Path) -> None:
        pass

    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        return cls(**model_kwargs)


def test_an_enum_default_that_the_annotation_takes_is_saved(tmp_path: Path) -> None:
    expected = {"act": "gelu", "color": "blue", "hidden": 1, "name": "relu"}
    assert _saved(WithEnumDefaults(), tmp_path) == expected
    assert _saved(WithEnumDefaults(act=Act.GELU), tmp_path / "given") == expected
    loaded = WithEnumDefaults.from_pretrained(tmp_path)
    assert (loaded.act, loaded.color) == (Act.GELU, Color.BLUE)


class _Copies(OptionalBody):
    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        return copy.deepcopy(cls(**model_kwargs))


class _Pickles(OptionalBody):
    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        copied: Self = pickle.loads(pickle.dumps(cls(**model_kwargs)))  # noqa: S301  (a process pool's way back)
        return copied


@pytest.mark.parametrize("loader", [_Copies, _Pickles])
def test_a_copy_of_a_model_built_without_the_unsaved_argument_is_refused(
    loader: type[OptionalBody], tmp_path: Path
) -> None:
    _saved(loader(Body(7), head_dim=3), tmp_path)
    with pytest.raises(MissingArgumentError, match=r"'body' \(a Body\)"):
        loader.from_pretrained(tmp_path)
    given = loader.from_pretrained(tmp_path, model_kwargs={"body": Body(1)}).body
    assert given is not None and given.n == 1


class _InAPool(Net):
    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        with ThreadPoolExecutor(1) as pool:  # (the build is recorded on the loading thread only)
            return pool.submit(cls, **model_kwargs).result()


def test_a_model_built_in_a_pool_without_the_unsaved_argument_is_refused(tmp_path: Path) -> None:
    _saved(_InAPool(Body(7), head_dim=3), tmp_path)
    with pytest.raises(MissingArgumentError, match=r"'body' \(a Body\).*model_kwargs=\{'body'") as caught:
        _InAPool.from_pretrained(tmp_path)
    assert isinstance(caught.value.__cause__, TypeError)
    assert _InAPool.from_pretrained(tmp_path, model_kwargs={"body": Body(5)}).body.n == 5


def test_a_url_given_to_a_pathlike_argument_stays_a_string(tmp_path: Path) -> None:
    url: Any = "https://example.com/data//vocab.txt"  # (a str where a path is asked for, as callers often give)
    _saved(WithPaths(url, extra=url), tmp_path)
    loaded = WithPaths.from_pretrained(tmp_path)
    assert (loaded.vocab, loaded.extra) == (url, url)


class _Positional(ModelHubMixin):
    def __init__(self, a: int = 1, b: int = 2) -> None:
        self.a, self.b = a, b

    def _save_pretrained(self, save_directory: Path) -> None:
        pass

    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        return cls(**model_kwargs)


class _PassesOn(_Positional):
    def __init__(self, *args: Any, c: int = 1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.c = c


class _InheritsPassingOn(_PassesOn):
    pass


class _PassesOnAgain(_InheritsPassingOn):
    def __init__(self, *args: Any, d: int = 1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.d = d


@pytest.mark.parametrize("model", [_PassesOn, _InheritsPassingOn, _PassesOnAgain])
def test_args_passed_on_are_named_through_subclasses(model: type[_PassesOn], tmp_path: Path) -> None:
    assert _saved(model(5, 6, c=3), tmp_path) == {
        "a": 5,
        "b": 6,
        "c": 3,
        **({"d": 1} if model is _PassesOnAgain else {}),
    }
    loaded = model.from_pretrained(tmp_path)
    assert (loaded.a, loaded.b, loaded.c) == (5, 6, 3)
