"""Config capture under the construction patterns of Flax NNX and Keras 3, reproduced without either framework."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import warnings
from pathlib import Path
from typing import Any, Self

import pytest

from hubmixin_core import ConfigEncodingError, DownloadOptions, ModelHubMixin


class Rngs:
    """Stands for ``nnx.Rngs``: a runtime object JSON cannot hold."""


class GraphMeta(type):
    """NNX's ``PytreeMeta.__call__``: ``__new__``, then the object's state set-up, then ``__init__``."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        node: Any = cls.__new__(cls, *args, **kwargs)  # type: ignore[arg-type]
        vars(node)["_state"] = {"initializing": True}
        cls.__init__(node, *args, **kwargs)  # type: ignore[misc]
        return node


class GuardedModule(metaclass=GraphMeta):
    """NNX's ``Module``: ``__setattr__`` refuses until the state is set up, and records what it is given."""

    def __setattr__(self, name: str, value: Any) -> None:
        if "_state" not in vars(self):
            raise AttributeError("_state")
        vars(self).setdefault("_seen", []).append(name)
        object.__setattr__(self, name, value)


class FlaxLikeMixin(ModelHubMixin, runtime_args=["rngs"]):
    """What hubmixin-flax declares: ``rngs`` belongs to the framework."""


class NnxNet(GuardedModule, FlaxLikeMixin):
    def __init__(self, din: int, dout: int = 3, *, rngs: Rngs) -> None:
        self.din, self.dout = din, dout


class ArgumentDroppingBase:
    """Keras' ``Operation.__new__``: calls ``super().__new__(cls)`` without the constructor arguments."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        return super().__new__(cls)

    def __init__(self, *, name: str | None = None, dtype: str | None = None, trainable: bool = True) -> None:
        self.name, self.dtype, self.trainable = name, dtype, trainable


class KerasLikeMixin(ModelHubMixin, runtime_args=["name", "dtype", "trainable"]):
    """What hubmixin-keras declares: Keras' own constructor keywords."""


class KerasModel(ArgumentDroppingBase, KerasLikeMixin):
    def __init__(self, units: int = 3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = units


class KerasModelMixinFirst(KerasLikeMixin, ArgumentDroppingBase):
    def __init__(self, units: int = 3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = units


def test_nnx_pattern_captures_at_init_entry_without_setattr() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net = NnxNet(2, rngs=Rngs())
    assert net._hub_mixin_config == {"din": 2, "dout": 3}
    assert net.din == 2
    assert "_hub_mixin_config" not in vars(net)["_seen"]  # never went through the guarded __setattr__


def test_runtime_args_are_no_error_under_strict_config() -> None:
    class StrictNet(GuardedModule, FlaxLikeMixin, strict_config=True):
        def __init__(self, din: int, *, rngs: Rngs, activation: object = None) -> None:
            self.din = din

    assert StrictNet(4, rngs=Rngs())._hub_mixin_config == {"din": 4, "activation": None}
    with pytest.raises(ConfigEncodingError, match="activation"):
        StrictNet(4, rngs=Rngs(), activation=object())


@pytest.mark.parametrize("cls", [KerasModel, KerasModelMixinFirst])
def test_keras_pattern_captures_the_given_arguments(cls: type[KerasModel]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = cls(7, name="encoder", dtype="float16", trainable=False)
    assert model._hub_mixin_config == {"units": 7}  # not the default, and no framework keyword
    assert (model.units, model.name, model.dtype, model.trainable) == (7, "encoder", "float16", False)


def test_runtime_args_accumulate_over_subclasses() -> None:
    class WithMesh(NnxNet, runtime_args=("mesh",)):
        def __init__(self, din: int, *, rngs: Rngs, mesh: object = "mesh") -> None:
            super().__init__(din, rngs=rngs)

    assert WithMesh._hub_mixin_runtime_args == {"rngs", "mesh"}
    assert WithMesh(5, rngs=Rngs(), mesh=object())._hub_mixin_config == {"din": 5}
    with pytest.raises(TypeError, match="runtime_args"):

        class Wrong(ModelHubMixin, runtime_args="rngs"):  # type: ignore[arg-type]
            pass


def test_the_outermost_init_captures() -> None:
    class Inner(ModelHubMixin):
        def __init__(self, size: int = 1) -> None:
            self.size = size

    class Outer(Inner):
        def __init__(self, width: int = 2) -> None:
            super().__init__(size=width * 10)

    assert Outer(width=3)._hub_mixin_config == {"width": 3}
    assert Inner(size=4)._hub_mixin_config == {"size": 4}


def test_inherited_init_of_a_plain_class_is_captured_and_cooperative() -> None:
    class Layers:
        def __init__(self, dim: int = 8) -> None:
            self.dim = dim

    class Model(Layers, ModelHubMixin):
        pass

    assert Model(dim=3)._hub_mixin_config == {"dim": 3}
    assert Layers(dim=2).dim == 2  # the plain class itself is not touched
    assert not hasattr(Layers(dim=2), "_hub_mixin_config")


def test_frozen_dataclass_model_and_copies_keep_their_config() -> None:
    @dataclasses.dataclass(frozen=True)
    class Frozen(ModelHubMixin):
        size: int = 2
        name: str = "x"

    model = Frozen(size=5)
    assert model._hub_mixin_config == {"size": 5, "name": "x"}
    assert copy.deepcopy(model)._hub_mixin_config == {"size": 5, "name": "x"}
    assert copy.copy(model)._hub_mixin_config == {"size": 5, "name": "x"}


def test_pickled_model_keeps_its_config() -> None:
    restored = pickle.loads(pickle.dumps(PicklableModel(size=6)))  # noqa: S301 - our own object
    assert restored._hub_mixin_config == {"size": 6}
    assert restored.size == 6


class PicklableModel(ModelHubMixin):
    def __init__(self, size: int = 1) -> None:
        self.size = size


class OptionNamedModel(ModelHubMixin):
    """``__init__`` parameters named like every loader option."""

    def __init__(
        self,
        dtype: str = "float32",
        strict: bool = False,
        map_location: str = "cpu",
        revision: str = "v1",
        endpoint: str = "e",
        max_workers: int = 1,
        token: str = "t",
    ) -> None:
        self.args = {
            "dtype": dtype,
            "strict": strict,
            "map_location": map_location,
            "revision": revision,
            "endpoint": endpoint,
            "max_workers": max_workers,
            "token": token,
        }

    def _save_pretrained(self, save_directory: Path) -> None:
        (save_directory / "weights.txt").write_text("w")

    @classmethod
    def _from_pretrained(
        cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any], config: Any = None
    ) -> Self:
        assert download.revision is None and download.max_workers == 8
        assert (Path(model_id) / "weights.txt").read_text() == "w"
        return cls(**model_kwargs)


def test_init_parameters_named_like_loader_options(tmp_path: Path) -> None:
    saved = OptionNamedModel(dtype="bfloat16", strict=True, map_location="meta", revision="v2", max_workers=3)
    saved.save_pretrained(tmp_path)
    loaded = OptionNamedModel.from_pretrained(tmp_path)
    assert loaded.args == saved.args
    overridden = OptionNamedModel.from_pretrained(tmp_path, model_kwargs={"revision": "v3"})
    assert overridden.args == {**saved.args, "revision": "v3"}


def test_old_style_from_pretrained_names_a_clash(tmp_path: Path) -> None:
    class OldStyle(ModelHubMixin):
        def __init__(self, revision: str = "v1") -> None:
            self.revision = revision

        def _save_pretrained(self, save_directory: Path) -> None:
            pass

        @classmethod
        def _from_pretrained(
            cls,
            *,
            model_id: str,
            revision: str | None,
            cache_dir: str | Path | None,
            force_download: bool,
            local_files_only: bool,
            token: str | bool | None,
            **model_kwargs: Any,
        ) -> Self:
            return cls(**model_kwargs)

    OldStyle(revision="v2").save_pretrained(tmp_path)
    with pytest.raises(TypeError, match=r"\['revision'\].*model_kwargs"):
        OldStyle.from_pretrained(tmp_path)


def test_download_options_under_any_name_and_spread_model_arguments(tmp_path: Path) -> None:
    class Spread(ModelHubMixin):
        def __init__(self, revision: str = "v1", size: int = 1) -> None:
            self.revision, self.size = revision, size

        def _save_pretrained(self, save_directory: Path) -> None:
            pass

        @classmethod
        def _from_pretrained(cls, *, model_id: str, options: DownloadOptions, **model_kwargs: Any) -> Self:
            assert options.revision is None
            return cls(**model_kwargs)

    Spread(revision="v2", size=3).save_pretrained(tmp_path)
    loaded = Spread.from_pretrained(tmp_path)
    assert (loaded.revision, loaded.size) == ("v2", 3)


class AsksForConfig(ModelHubMixin):
    """huggingface_hub's config injection: ``_from_pretrained`` names ``config``."""

    def _save_pretrained(self, save_directory: Path) -> None:
        pass

    @classmethod
    def _from_pretrained(cls, *, model_id: str, config: dict[str, Any] | None = None, **kwargs: Any) -> Self:
        model = cls()
        model.given = config  # type: ignore[attr-defined]
        return model


def test_a_from_pretrained_put_in_place_later_still_gets_the_config(tmp_path: Path) -> None:
    AsksForConfig().save_pretrained(tmp_path, config={"foo": 1})
    assert AsksForConfig.from_pretrained(tmp_path).given == {"foo": 1}  # type: ignore[attr-defined]
    seen: list[dict[str, Any]] = []

    def recorder(**kwargs: Any) -> AsksForConfig:  # a test double, as tests written for huggingface_hub use
        seen.append(kwargs)
        return AsksForConfig()

    original = AsksForConfig.__dict__["_from_pretrained"]
    AsksForConfig._from_pretrained = staticmethod(recorder)  # type: ignore[method-assign]
    try:
        AsksForConfig.from_pretrained(tmp_path)
    finally:
        AsksForConfig._from_pretrained = original  # type: ignore[method-assign]
    assert seen[0]["config"] == {"foo": 1} and seen[0]["model_id"] == str(tmp_path)


class Unit:
    """A value type with a coder of the class's own."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unit) and other.name == self.name

    __hash__ = None  # type: ignore[assignment]


METRES, KILOGRAMS, DATA, X_PATH = Unit("m"), Unit("kg"), Path("data"), Path("x")


class LooselyTyped(ModelHubMixin, coders={Unit: (lambda unit: unit.name, Unit)}):
    """Arguments without annotations (or with ``Any``): decoded by the coder the class declares for their
    default's type; the built-in path coder does not turn strings into paths."""

    def __init__(  # type: ignore[no-untyped-def]
        self, unit=METRES, scale: Any = KILOGRAMS, root: str | Path = DATA, other=X_PATH
    ) -> None:
        self.args = (unit, scale, root, other)

    def _save_pretrained(self, save_directory: Path) -> None:
        pass

    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        return cls(**model_kwargs)


def test_unannotated_arguments_decode_like_their_default(tmp_path: Path) -> None:
    saved = LooselyTyped(unit=Unit("s"), scale=Unit("g"), root="s3://bucket/prefix", other="https://host/a")
    saved.save_pretrained(tmp_path)
    assert LooselyTyped.from_pretrained(tmp_path).args == (Unit("s"), Unit("g"), "s3://bucket/prefix", "https://host/a")
