"""Config capture and loading where hubmixin differed from huggingface_hub (or from itself): a dataclass ``config``
beside ``**kwargs``, ``config`` left at ``None``, values given at load or save that the annotation refuses, the
``model_card_template=None`` class keyword, and dict or list arguments the model changes after ``__init__``."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from core_models import NumpyModelMixin

from hubmixin_core.errors import ConfigEncodingWarning, MissingArgumentError


@dataclass
class Cfg:
    hidden: int = 4
    name: str = "x"


class Base:
    """A base class whose ``__init__`` refuses keywords it does not name (as ``nn.Module``'s does)."""

    def __init__(self, dropout: float = 0.0) -> None:
        self.dropout = dropout


class DataclassAndKwargs(NumpyModelMixin, Base):
    def __init__(self, config: Cfg, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config, self.kwargs = config, kwargs
        self.weights = {"w": np.zeros(config.hidden, np.float32)}


def _read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((path / "config.json").read_text())
    return data


def test_a_dataclass_config_beside_kwargs_reloads_without_its_fields_in_kwargs(tmp_path: Path) -> None:
    DataclassAndKwargs(Cfg(hidden=8)).save_pretrained(tmp_path)
    assert _read(tmp_path) == {"hidden": 8, "name": "x"}
    loaded = DataclassAndKwargs.from_pretrained(tmp_path)  # (was: Base got hidden=, name=: TypeError)
    assert (loaded.config, loaded.kwargs) == (Cfg(hidden=8), {})
    given = DataclassAndKwargs.from_pretrained(tmp_path, model_kwargs={"config": Cfg(hidden=8, name="y")})
    assert (given.config, given.kwargs) == (Cfg(hidden=8, name="y"), {})  # (the caller's config, no fields beside)


def test_a_field_given_at_load_reaches_the_dataclass_config_not_kwargs(tmp_path: Path) -> None:
    DataclassAndKwargs(Cfg(hidden=3)).save_pretrained(tmp_path)
    # (an override of a field is a field: the weights of a hidden=3 model then do not fit, which says so)
    loaded = DataclassAndKwargs._hub_model_arguments(_read(tmp_path), source="config.json")
    assert loaded == {"config": Cfg(hidden=3)}
    kwargs: dict[str, Any] = {"name": "y", "dropout": 0.5}
    DataclassAndKwargs._hub_apply_config(_read(tmp_path), kwargs)
    assert kwargs == {"config": Cfg(hidden=3, name="y"), "dropout": 0.5}


class OptionalDataclass(NumpyModelMixin):
    def __init__(self, config: Cfg = None, depth: int = 2) -> None:  # type: ignore[assignment]  # (PEP 484's)
        self.config: Cfg | None = config
        self.depth = depth
        self.weights = {"w": np.zeros(depth, np.float32)}


def test_an_implicitly_optional_dataclass_config_left_at_none_comes_back_none(tmp_path: Path) -> None:
    OptionalDataclass(depth=5).save_pretrained(tmp_path)
    assert _read(tmp_path) == {"depth": 5}
    loaded = OptionalDataclass.from_pretrained(tmp_path)
    assert (loaded.config, loaded.depth) == (None, 5)  # (was Cfg(): another model than the one saved)


class CodedOptional(
    NumpyModelMixin, coders={Cfg: (lambda c: {"d_model": c.hidden}, lambda j: Cfg(hidden=j["d_model"]))}
):
    def __init__(self, config: Cfg = None, depth: int = 2) -> None:  # type: ignore[assignment]
        self.config: Cfg | None = config
        self.weights = {"w": np.zeros(depth, np.float32)}


def test_a_coded_dataclass_config_is_told_from_one_left_at_none(tmp_path: Path) -> None:
    """Its keys are the coder's, not its fields: given, it comes back (was None: another model)."""
    CodedOptional(Cfg(hidden=8)).save_pretrained(tmp_path / "given")
    assert CodedOptional.from_pretrained(tmp_path / "given").config == Cfg(hidden=8)
    CodedOptional(depth=3).save_pretrained(tmp_path / "none")
    assert CodedOptional.from_pretrained(tmp_path / "none").config is None


class CodedOptionalKwargs(
    NumpyModelMixin, coders={Cfg: (lambda c: {"d_model": c.hidden}, lambda j: Cfg(hidden=j["d_model"]))}
):
    def __init__(self, config: Cfg | None = None, depth: int = 2, **kwargs: Any) -> None:
        self.config, self.kwargs = config, kwargs
        self.weights = {"w": np.zeros(depth, np.float32)}


def test_a_coded_dataclass_config_left_at_none_beside_kwargs_comes_back_none(tmp_path: Path) -> None:
    """Neither the other arguments' keys nor ones the decoder refuses are a coded config."""
    CodedOptionalKwargs(depth=3).save_pretrained(tmp_path / "plain")
    assert CodedOptionalKwargs.from_pretrained(tmp_path / "plain").config is None
    CodedOptionalKwargs(depth=3, extra=1).save_pretrained(tmp_path / "extra")
    loaded = CodedOptionalKwargs.from_pretrained(tmp_path / "extra")
    assert (loaded.config, loaded.kwargs) == (None, {"extra": 1})
    CodedOptionalKwargs(Cfg(hidden=8)).save_pretrained(tmp_path / "given")
    assert CodedOptionalKwargs.from_pretrained(tmp_path / "given").config == Cfg(hidden=8)


DEFAULTS = {"hidden": 3}


class OptionalDict(NumpyModelMixin):
    def __init__(self, config: dict[str, Any] | None = None, depth: int = 2) -> None:
        self.given = config
        config = config or DEFAULTS
        self.depth = depth
        self.weights = {"w": np.zeros(config["hidden"] * depth, np.float32)}


def test_a_dict_config_left_at_none_comes_back_none(tmp_path: Path) -> None:
    OptionalDict(depth=4).save_pretrained(tmp_path)
    assert _read(tmp_path) == {"depth": 4}
    loaded = OptionalDict.from_pretrained(tmp_path)  # (was config={"depth": 4}: KeyError 'hidden')
    assert (loaded.given, loaded.depth) == (None, 4)


def test_a_dict_config_given_still_comes_back(tmp_path: Path) -> None:
    OptionalDict({"hidden": 2, "act": "relu"}, depth=3).save_pretrained(tmp_path)
    loaded = OptionalDict.from_pretrained(tmp_path)
    assert loaded.given == {"hidden": 2, "act": "relu", "depth": 3}  # (huggingface_hub's: the whole file)


class Typed(NumpyModelMixin):
    def __init__(self, a: int = 1) -> None:
        self.a = a
        self.weights = {"w": np.zeros(1, np.float32)}


def test_an_override_given_to_from_pretrained_is_checked_as_at_construction(tmp_path: Path) -> None:
    Typed().save_pretrained(tmp_path)
    with pytest.warns(ConfigEncodingWarning, match=r"argument a given to from_pretrained is '5'.*annotation int"):
        Typed.from_pretrained(tmp_path, a="5")  # type: ignore[call-arg]
    with pytest.warns(ConfigEncodingWarning, match=r"argument a given to from_pretrained is '5'"):
        Typed.from_pretrained(tmp_path, model_kwargs={"a": "5"})
    Typed.from_pretrained(tmp_path, a=7)  # type: ignore[call-arg]  # (no warning: pytest makes them errors)


def test_a_dataclass_field_given_to_from_pretrained_is_checked(tmp_path: Path) -> None:
    DataclassAndKwargs(Cfg()).save_pretrained(tmp_path)
    kwargs: dict[str, Any] = {"hidden": "7"}
    with pytest.warns(ConfigEncodingWarning, match=r"argument config.hidden given to from_pretrained is '7'"):
        DataclassAndKwargs._hub_apply_config(_read(tmp_path), kwargs)


def test_a_config_given_to_save_pretrained_is_checked(tmp_path: Path) -> None:
    with pytest.warns(ConfigEncodingWarning, match=r"argument a in the config= given to save_pretrained.* is '5'"):
        Typed().save_pretrained(tmp_path, config={"a": "5"})
    with pytest.warns(ConfigEncodingWarning, match=r"argument config.hidden in the config= given"):
        DataclassAndKwargs(Cfg()).save_pretrained(tmp_path / "dc", config={"hidden": "5"})
    Typed().save_pretrained(tmp_path / "ok", config={"a": 5})  # (no warning)


def test_model_card_template_none_is_huggingface_hubs_template() -> None:
    class Hubs(NumpyModelMixin, model_card_template=None):
        def __init__(self) -> None:
            self.weights = {"w": np.zeros(1, np.float32)}

    class Child(Hubs):
        pass

    for cls in (Hubs, Child):  # (a subclass giving no template keeps its parent's)
        card = str(cls().generate_model_card())
        assert "## Model Details" in card and "hubmixin" not in card


class Heads(NumpyModelMixin):
    def __init__(self, heads: dict[str, int], tags: list[str] | None = None, config: dict[str, Any] | None = None):
        self.heads, self.tags, self.config = heads, tags, config
        self.weights = {f"cls.{k}": np.zeros(n, np.float32) for k, n in heads.items()}


def test_dict_and_list_arguments_are_saved_as_given_when_init_is_entered(tmp_path: Path) -> None:
    """What is done to them later (by the caller, or the model) is not the configuration: config.json rebuilds the
    model __init__ was given; a change is saved by giving it (``config=``), as docs/differences.md says."""
    model = Heads({"sst2": 2}, tags=["a"], config={"head": {"dim": 4}})
    model.heads["mnli"] = 3
    model.tags.append("b")  # type: ignore[union-attr]
    model.config["head"]["dim"] = 8  # type: ignore[index]
    model.save_pretrained(tmp_path / "given")
    assert _read(tmp_path / "given") == {"heads": {"sst2": 2}, "tags": ["a"], "head": {"dim": 4}}
    model.weights["cls.mnli"] = np.zeros(3, np.float32)
    changed = {"heads": model.heads, "tags": model.tags, "head": {"dim": 8}}
    model.save_pretrained(tmp_path / "changed", config=changed)
    assert Heads.from_pretrained(tmp_path / "changed").heads == {"sst2": 2, "mnli": 3}


class Loose(NumpyModelMixin):
    def __init__(self, heads: dict, **kwargs: Any) -> None:  # type: ignore[type-arg]
        heads.setdefault("base", 1)
        self.heads, self.kwargs = heads, kwargs
        self.weights = {"w": np.zeros(1, np.float32)}


class Consuming(NumpyModelMixin):
    def __init__(self, cfg: dict[str, int], layers: list[int]) -> None:
        width = cfg.pop("width")  # (the load runs __init__ on what was saved: it must be what was given)
        layers.append(width)
        self.cfg, self.layers = cfg, layers
        self.weights = {f"layer{i}": np.zeros(n, np.float32) for i, n in enumerate(layers)}


def test_arguments_init_itself_changes_are_saved_as_given(tmp_path: Path) -> None:
    model = Consuming({"width": 3, "depth": 1}, [2])
    model.cfg["depth"] = 5  # (what __init__ changed is no longer the argument: kept as given)
    model.save_pretrained(tmp_path)
    assert _read(tmp_path) == {"cfg": {"width": 3, "depth": 1}, "layers": [2]}
    loaded = Consuming.from_pretrained(tmp_path)
    assert loaded.layers == [2, 3]


def test_models_loaded_from_one_config_do_not_share_its_values() -> None:
    raw = {"heads": {"sst2": 2}, "extra": {"e": 1}}  # (a Keras config given to from_config twice, say)
    first = Loose(**Loose._hub_model_arguments(raw, source="x"))
    second = Loose(**Loose._hub_model_arguments(raw, source="x"))
    first.heads["mnli"] = 3
    first.kwargs["extra"]["f"] = 2
    assert (second.heads, second.kwargs) == ({"sst2": 2, "base": 1}, {"extra": {"e": 1}})
    assert raw == {"heads": {"sst2": 2}, "extra": {"e": 1}}


def test_defaults_are_not_shared_between_instances() -> None:
    class WithDefault(NumpyModelMixin):
        def __init__(self, opts: dict[str, int] = {"k": 1}) -> None:  # noqa: B006
            self.weights = {"w": np.zeros(1, np.float32)}

    WithDefault()._hub_mixin_config["opts"]["k"] = 9  # type: ignore[index]
    assert WithDefault()._hub_mixin_config == {"opts": {"k": 1}}


def test_a_dict_holding_more_than_json_is_still_captured_as_given(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigEncodingWarning)  # (the tuple comes back a list)
        model = Heads({"sst2": 2}, config={"size": (2, 2)})
    model.config["size"] = (3, 3)  # type: ignore[index]  # (a copy was captured: JSON does not hold a tuple)
    assert model._hub_mixin_config["size"] == [2, 2]  # type: ignore[index]


class WithAct(NumpyModelMixin):
    def __init__(self, heads: dict[str, int], act: Any = None) -> None:
        self.heads, self.act = heads, act
        self.weights = {f"cls.{k}": np.zeros(n, np.float32) for k, n in heads.items()}


def test_a_config_given_at_save_keeps_the_record_of_unsaved_arguments_it_lacks(tmp_path: Path) -> None:
    """docs/differences.md's way to save a head added later: the argument JSON cannot hold is still asked for."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigEncodingWarning)
        model = WithAct({"sst2": 2}, act=np.tanh)
    model.heads["mnli"] = 3
    model.weights["cls.mnli"] = np.zeros(3, np.float32)
    model.save_pretrained(tmp_path, config={**model._hub_mixin_config, "heads": model.heads})  # type: ignore[dict-item]
    assert _read(tmp_path)["_hub_mixin_unsaved"] == {"act": "ufunc"}
    with pytest.raises(MissingArgumentError, match="'act'"):
        WithAct.from_pretrained(tmp_path)
    assert WithAct.from_pretrained(tmp_path, model_kwargs={"act": np.tanh}).heads == {"sst2": 2, "mnli": 3}


@dataclass
class Layers:
    widths: list[int]

    def __post_init__(self) -> None:
        self.widths.append(0)  # (changes what it is given: the file read to decide must not be the one decoded)


class CodedLayers(
    NumpyModelMixin, coders={Layers: (lambda c: {"widths": c.widths[:-1]}, lambda j: Layers(j["widths"]))}
):
    def __init__(self, config: Layers | None = None) -> None:
        self.config = config
        self.weights = {"w": np.zeros(len(config.widths) if config else 1, np.float32)}


def test_a_coded_config_whose_decoder_changes_its_input_loads_as_saved(tmp_path: Path) -> None:
    CodedLayers(Layers([3, 4])).save_pretrained(tmp_path)
    assert CodedLayers.from_pretrained(tmp_path).config == Layers([3, 4])  # (widths [3, 4, 0], as saved)
