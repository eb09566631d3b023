"""Keys an ``__init__`` reads from its own ``**kwargs`` (``kwargs.pop("extra", 0)``) are the class's arguments: a
framework that gives ``**kwargs`` no other config key (Keras: ``_hub_mixin_config_to_kwargs = False``) still gives
them back, as core and huggingface_hub do (QA round 24, core811 #1). And a malformed ``_hub_mixin_unsaved`` entry of
config.json is a ``ConfigTypeError`` naming the file and the key, not a raw ``TypeError`` nor ignored (safe13 #3)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from core_models import NumpyModelMixin

from hubmixin_core.errors import ConfigError, ConfigTypeError, HubMixinTypeError, MissingArgumentError


class OwnKwargsMixin(NumpyModelMixin):
    """A framework whose ``**kwargs`` are its base's keywords (``name``), as Keras' are ``Layer``'s."""

    _hub_mixin_config_to_kwargs = False
    _hub_mixin_kwargs_names = frozenset({"name"})


class Reads(OwnKwargsMixin):
    def __init__(self, units: int = 3, **kwargs: Any) -> None:
        self.extra = kwargs.pop("extra", 0)  # a model option taken from **kwargs
        self.name = kwargs.pop("name", None)
        self.weights = {"w": np.zeros((units,), "float32")}


class Child(Reads):
    def __init__(self, depth: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # (its base reads ``extra``)
        self.depth = depth


class Core(NumpyModelMixin):
    def __init__(self, units: int = 3, **kwargs: Any) -> None:
        self.extra = kwargs.pop("extra", 0)
        self.weights = {"w": np.zeros((units,), "float32")}


def test_a_key_init_reads_from_kwargs_is_given_back(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    Reads(4, extra=9).save_pretrained(tmp_path / "m")
    assert json.loads((tmp_path / "m" / "config.json").read_text()) == {"extra": 9, "units": 4}
    with caplog.at_level(logging.WARNING, logger="hubmixin_core"):
        loaded = Reads.from_pretrained(tmp_path / "m")
    assert loaded.extra == 9 and loaded.weights["w"].shape == (4,)
    assert "takes no" not in caplog.text


def test_the_callers_value_wins_and_is_accepted(tmp_path: Path) -> None:
    Reads(4, extra=9).save_pretrained(tmp_path / "m")
    assert Reads.from_pretrained(tmp_path / "m", extra=5).extra == 5  # type: ignore[call-arg]
    assert Reads.from_pretrained(tmp_path / "m", model_kwargs={"extra": 6}).extra == 6
    with pytest.raises(HubMixinTypeError, match="'extrra'; did you mean 'extra'"):
        Reads.from_pretrained(tmp_path / "m", extrra=5)  # type: ignore[call-arg]


def test_a_key_a_base_reads_through_kwargs_is_given_back(tmp_path: Path) -> None:
    Child(depth=2, units=5, extra=7).save_pretrained(tmp_path / "c")
    loaded = Child.from_pretrained(tmp_path / "c")
    assert (loaded.extra, loaded.depth, loaded.weights["w"].shape) == (7, 2, (5,))


def test_keys_read_nowhere_keep_their_report(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    Reads(4, extra=9).save_pretrained(tmp_path / "m")
    config = tmp_path / "m" / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "sample_rate": 16000}))
    with caplog.at_level(logging.WARNING, logger="hubmixin_core"):
        loaded = Reads.from_pretrained(tmp_path / "m")
    assert loaded.extra == 9
    assert "Reads.__init__ takes no ['sample_rate'] found in" in caplog.text and "'extra'" not in caplog.text


def test_core_gives_kwargs_keys_back_unchanged(tmp_path: Path) -> None:
    Core(4, extra=9).save_pretrained(tmp_path / "core")
    assert Core.from_pretrained(tmp_path / "core").extra == 9


def test_keys_read_whatever_else_kwargs_do() -> None:
    from hubmixin_core._forwarding import keys_read  # (here: the other tests run where it is missing)

    def passes_on(self: Any, units: int = 3, **kwargs: Any) -> None:
        self.extra = kwargs.pop("extra", 0)
        if "flag" in kwargs:
            kwargs["seen"] = True
        print(**kwargs)

    def none(self: Any, units: int = 3) -> None:
        print("extra")

    assert keys_read(passes_on) == {"extra", "flag", "seen"}
    assert keys_read(none) == frozenset()


BAD_MARKERS: list[tuple[Any, str]] = [
    ({"hidden": {"type": "x"}}, "_hub_mixin_unsaved.hidden"),
    ({"hidden": ["callable"]}, "_hub_mixin_unsaved.hidden"),
    (["hidden"], "_hub_mixin_unsaved"),
    ("hidden", "_hub_mixin_unsaved"),
    (None, "_hub_mixin_unsaved"),
]


@pytest.mark.parametrize(("marker", "key"), BAD_MARKERS)
def test_a_malformed_unsaved_marker_names_file_and_key(tmp_path: Path, marker: Any, key: str) -> None:
    Core(4).save_pretrained(tmp_path / "m")
    config = tmp_path / "m" / "config.json"
    config.write_text(json.dumps({"units": 4, "_hub_mixin_unsaved": marker}))
    with pytest.raises(ConfigTypeError) as raised:
        Core.from_pretrained(tmp_path / "m")
    assert isinstance(raised.value, ConfigError) and raised.value.key == key
    assert str(config) in str(raised.value) and repr(key) in str(raised.value)
    with pytest.raises(ConfigTypeError, match="the source: key"):
        Core._hub_model_arguments({"units": 4, "_hub_mixin_unsaved": marker}, source="the source")


def test_a_wellformed_unsaved_marker_still_asks_for_the_argument(tmp_path: Path) -> None:
    Core(4).save_pretrained(tmp_path / "m")
    config = tmp_path / "m" / "config.json"
    config.write_text(json.dumps({"units": 4, "_hub_mixin_unsaved": {"extra": "function"}}))
    with pytest.raises(MissingArgumentError, match="extra"):
        Core.from_pretrained(tmp_path / "m")
    assert Core.from_pretrained(tmp_path / "m", extra=abs).extra is abs  # type: ignore[call-arg]


class Pinned(Reads):
    """Gives the key its base reads by name: it is no argument of its own (reg24b #1)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(extra=5, **kwargs)


class NestedHelper(OwnKwargsMixin):
    """A function defined in ``__init__`` reads its own ``**kwargs``, not ``__init__``'s (reg24b #2)."""

    def __init__(self, units: int = 3, **kwargs: Any) -> None:
        def make(**kwargs: Any) -> Any:
            return np.full((units,), kwargs.get("fill", 0), "float32")

        self.name = kwargs.pop("name", None)
        self.weights = {"w": make(fill=1)}


@pytest.mark.parametrize("cls", [Pinned, NestedHelper])
def test_a_key_read_elsewhere_is_no_argument(cls: type[OwnKwargsMixin], tmp_path: Path) -> None:
    key = "extra" if cls is Pinned else "fill"
    cls().save_pretrained(tmp_path / "m")
    config = (
        json.loads((tmp_path / "m" / "config.json").read_text()) if (tmp_path / "m" / "config.json").exists() else {}
    )
    (tmp_path / "m" / "config.json").write_text(json.dumps({**config, key: 7}))
    assert isinstance(cls.from_pretrained(tmp_path / "m"), cls)  # (the key is reported and ignored)
    with pytest.raises(HubMixinTypeError, match=f"unexpected keyword argument '{key}'"):
        cls.from_pretrained(tmp_path / "m", model_kwargs={key: 7})


class Closure(OwnKwargsMixin):
    """A function defined in ``__init__`` without a ``**kwargs`` of its own reads ``__init__``'s (a closure)."""

    def __init__(self, units: int = 3, **kwargs: Any) -> None:
        def pick() -> tuple[Any, Any]:
            return kwargs.pop("extra", 0), kwargs.pop("name", None)

        self.extra, self.name = pick()
        self.weights = {"w": np.zeros((units,), "float32")}


def test_a_key_a_closure_reads_from_kwargs_is_given_back(tmp_path: Path) -> None:
    Closure(4, extra=9).save_pretrained(tmp_path / "m")
    loaded = Closure.from_pretrained(tmp_path / "m")
    assert (loaded.extra, loaded.weights["w"].shape) == (9, (4,))


def test_only_init_s_own_kwargs_count_as_read() -> None:
    from hubmixin_core._forwarding import keys_read, keywords_read

    def nested(self: Any, **kwargs: Any) -> None:
        def make(**kwargs: Any) -> Any:  # (another mapping of the same name)
            return kwargs.get("fill"), (lambda kwargs: kwargs["deep"])({"deep": 1})

        self.dtype = kwargs.get("dtype")
        make(fill=1)

    def closure(self: Any, **kwargs: Any) -> None:
        def pick() -> Any:
            return kwargs.get("dtype"), (lambda: kwargs["seed"])()

        self.picked = pick()

    def passes_on_inside(self: Any, **kwargs: Any) -> None:
        def build() -> Any:
            return dict(**kwargs)  # (does more than read them)

        self.dtype, self.built = kwargs.get("dtype"), build()

    assert keywords_read(nested) == keys_read(nested) == {"dtype"}
    assert keywords_read(closure) == keys_read(closure) == {"dtype", "seed"}
    assert keywords_read(passes_on_inside) is None and keys_read(passes_on_inside) == {"dtype"}


class WidthBase:
    def __init__(self, width: int = 2) -> None:
        self.width = width


class SplitsKwargs(WidthBase, NumpyModelMixin):
    """Hands its ``**kwargs`` to a helper of its own that takes an option out of them (reg25a #1)."""

    def __init__(self, hidden: int = 4, **kwargs: Any) -> None:
        def split(extra: int = 0, **kwargs: Any) -> dict[str, Any]:
            self.extra = extra
            return kwargs

        super().__init__(**split(**kwargs))
        self.hidden, self.weights = hidden, {"w": np.zeros((hidden,), "float32")}


def test_kwargs_a_helper_takes_an_option_from_stay_the_models(tmp_path: Path) -> None:
    SplitsKwargs(hidden=3, extra=5, width=7).save_pretrained(tmp_path / "m")
    for given, extra in (({}, 5), ({"extra": 9}, 9), ({"model_kwargs": {"extra": 8}}, 8)):
        loaded = SplitsKwargs.from_pretrained(tmp_path / "m", **given)
        assert (loaded.hidden, loaded.width, loaded.extra) == (3, 7, extra)


def test_a_default_binding_init_s_kwargs_is_a_use_of_them() -> None:
    from hubmixin_core._forwarding import keys_read, keywords_read

    def binds(self: Any, **kwargs: Any) -> None:
        pick = lambda key, kwargs=kwargs: kwargs.get(key)  # noqa: E731  (evaluated in __init__'s scope)
        self.dtype = pick("dtype")  # type: ignore[no-untyped-call]

    def binds_in_def(self: Any, **kwargs: Any) -> None:
        def pick(kwargs: dict[str, Any] = kwargs) -> Any:
            return kwargs.get("seed")

        self.dtype, self.seed = kwargs.get("dtype"), pick()

    assert keywords_read(binds) is None  # (what the lambda reads is not known)
    assert keywords_read(binds_in_def) is None and keys_read(binds_in_def) == {"dtype"}
