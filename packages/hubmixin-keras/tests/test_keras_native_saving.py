"""Keras' own saving of mixin models: ``model.save("m.keras")`` and ``keras.saving.load_model`` give back the same
architecture and weights, for a model built by a call and for one ``from_pretrained`` built from a checkpoint."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from keras_models import IDS, IMAGE, Net, assert_same_variables, make_net, outputs

from hubmixin_core import ConfigEncodingWarning
from hubmixin_keras import KerasModelHubMixin

CUSTOM = {"Net": Net}


def _round_trip(model: keras.Model, path: Path, custom: dict[str, Any] = CUSTOM) -> Any:
    model.save(path)
    return keras.saving.load_model(path, custom_objects=custom)


def test_keras_file_of_a_loaded_model_has_its_layers_and_weights(tmp_path: Path) -> None:
    net = make_net(units=6, depth=3)
    net.save_pretrained(tmp_path / "hub")
    loaded = Net.from_pretrained(tmp_path / "hub")
    assert loaded.get_build_config() is not None  # built from the checkpoint, not by a call

    again = _round_trip(loaded, tmp_path / "m.keras")

    assert again.get_config()["units"] == 6 and len(again.blocks) == 3
    assert_same_variables(again, net)
    for left, right in zip(outputs(again), outputs(net), strict=True):
        np.testing.assert_array_equal(left, right)


def test_keras_file_of_a_called_model_keeps_its_init_arguments(tmp_path: Path) -> None:
    # Keras' automatic config of a Model subclass holds the __init__ defaults (units=4), not the arguments given.
    net = make_net(units=6, depth=3, vocab=12, name="six")

    again = _round_trip(net, tmp_path / "m.keras")

    assert {key: again.get_config()[key] for key in ("units", "depth", "vocab", "name")} == {
        "units": 6,
        "depth": 3,
        "vocab": 12,
        "name": "six",
    }
    assert_same_variables(again, net)
    np.testing.assert_array_equal(outputs(again, IDS, IMAGE)[0], outputs(net, IDS, IMAGE)[0])


def test_clone_model_of_a_loaded_model_has_its_architecture(tmp_path: Path) -> None:
    net = make_net(units=6, depth=1)
    net.save_pretrained(tmp_path)
    clone = keras.models.clone_model(Net.from_pretrained(tmp_path))
    clone(IDS, IMAGE)
    assert clone.emb.embeddings.shape == (10, 6) and len(clone.blocks) == 1


@dataclasses.dataclass
class Sizes:
    hidden: int = 4
    classes: int = 2


class Configured(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, config: Sizes, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(config.hidden)
        self.head = keras.layers.Dense(config.classes)

    def call(self, x: Any) -> Any:
        return self.head(self.hidden(x))


class Pooled(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, pool: tuple[int, int] = (1, 1), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pool = pool


def test_config_is_decoded_by_the_class_annotations(tmp_path: Path) -> None:
    assert Pooled.from_config(Pooled(pool=(2, 3)).get_config()).pool == (2, 3)  # a JSON list in the config

    model = Configured(Sizes(hidden=5, classes=3))
    x = np.ones((2, 4), "float32")
    model(x)
    assert model.get_config()["hidden"] == 5
    assert Configured.from_config(model.get_config())._hub_mixin_config == Sizes(hidden=5, classes=3)

    loaded = _round_trip(model, tmp_path / "c.keras", {"Configured": Configured})
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x)))


class OwnConfig(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, units: int = 3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = units
        self.dense = keras.layers.Dense(units)

    def call(self, x: Any) -> Any:
        return self.dense(x)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units, "mine": True}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> OwnConfig:
        config.pop("mine")
        return cls(**config)


def test_a_dataclass_config_loads_without_reaching_keras_keywords(tmp_path: Path) -> None:
    # Its fields are config.json's keys: given to **kwargs, as huggingface_hub does, Keras' Layer refused them.
    model = Configured(Sizes(hidden=5, classes=3))
    model(np.ones((2, 4), "float32"))
    model.save_pretrained(tmp_path)
    assert Configured.from_pretrained(tmp_path)._hub_mixin_config == Sizes(hidden=5, classes=3)


def test_a_class_own_config_methods_are_kept() -> None:
    model = OwnConfig(units=5)
    assert model.get_config()["mine"] is True
    assert OwnConfig.from_config(model.get_config()).units == 5


class Activated(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, units: int = 3, act: Any = keras.activations.relu, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.act = act
        self.dense = keras.layers.Dense(units)

    def call(self, x: Any) -> Any:
        return self.act(self.dense(x))


def test_an_argument_json_cannot_hold_makes_the_keras_config_fail_clearly(tmp_path: Path) -> None:
    with pytest.warns(ConfigEncodingWarning):
        model = Activated(units=4, act=keras.activations.tanh)
    with pytest.raises(NotImplementedError, match=r"\['act'\]"):  # not a config that rebuilds it with relu
        model.get_config()
    default = Activated(units=4)  # the default function: rebuilt as it is
    assert Activated.from_config(default.get_config()).act is keras.activations.relu


class Deep(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """A dataclass config and an argument beside it."""

    def __init__(self, config: Sizes, depth: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.blocks = [keras.layers.Dense(config.hidden) for _ in range(depth)]


def test_an_argument_beside_a_dataclass_config_makes_the_keras_config_fail_clearly(tmp_path: Path) -> None:
    with pytest.warns(ConfigEncodingWarning):
        model = Deep(Sizes(), depth=3)
    with pytest.raises(NotImplementedError, match=r"\['depth'\]"):  # not a config that rebuilds one block
        model.get_config()
    with pytest.raises(NotImplementedError):
        keras.models.clone_model(model)
    assert len(Deep.from_config(Deep(Sizes(hidden=5)).get_config()).blocks) == 1  # at its default: rebuilt


class Encoder(keras.layers.Layer):  # type: ignore[misc]
    """Makes its sub-layers in ``__init__`` and builds them in its own ``build`` (as keras-hub's layers do)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(8)
        self.norm = keras.layers.LayerNormalization()

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.dense.build(input_shape)
        self.norm.build((*input_shape[:-1], 8))

    def call(self, x: Any) -> Any:
        return self.norm(self.dense(x))


class Encoded(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.encoder = Encoder()
        self.head = keras.layers.Dense(2)

    def call(self, x: Any) -> Any:
        return self.head(self.encoder(x))


class MakesItsHead(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """Makes a layer in its own ``build``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.body = keras.layers.Dense(4)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.late = keras.layers.Dense(2)

    def call(self, x: Any) -> Any:
        return self.late(self.body(x))


@pytest.mark.parametrize("cls", [Encoded, MakesItsHead])
@pytest.mark.parametrize("loaded", [False, True], ids=["called", "from_pretrained"])
def test_keras_file_and_clone_of_layers_made_or_built_in_build(tmp_path: Path, loaded: bool, cls: Any) -> None:
    x = np.random.default_rng(0).standard_normal((2, 5)).astype(np.float32)
    model = cls()
    expected = keras.ops.convert_to_numpy(model(x))
    if loaded:
        model.save_pretrained(tmp_path / "hub")
        model = cls.from_pretrained(tmp_path / "hub", strict=True)

    again = _round_trip(model, tmp_path / "m.keras", {cls.__name__: cls, "Encoder": Encoder})

    np.testing.assert_array_equal(keras.ops.convert_to_numpy(again(x)), expected)
    assert keras.models.clone_model(model)(x).shape == (2, 2)


class Classifier(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, hidden: int = 4, activation: str = "relu", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.body = keras.layers.Dense(hidden, activation=activation)
        self.head = keras.layers.Dense(2)

    def call(self, x: Any) -> Any:
        return self.head(self.body(x))


class Tagger(Classifier):
    """Gives its parent's arguments through ``**kwargs`` (the usual Keras subclassing pattern)."""

    def __init__(self, dropout: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dropout = dropout


def test_arguments_given_to_a_parent_through_kwargs_come_back(tmp_path: Path) -> None:
    x = np.linspace(-1, 1, 12, dtype="float32").reshape(2, 6)
    model = Tagger(dropout=0.1, activation="tanh", hidden=3)
    expected = keras.ops.convert_to_numpy(model(x))
    model.save_pretrained(tmp_path / "hub")
    loaded = Tagger.from_pretrained(tmp_path / "hub", strict=True)
    assert (loaded.dropout, loaded.body.units, loaded.body.activation.__name__) == (0.1, 3, "tanh")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(x)), expected)
    again = _round_trip(model, tmp_path / "m.keras", {"Tagger": Tagger})
    assert (again.body.units, again.body.activation.__name__) == (3, "tanh")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(again(x)), expected)


class Labeller(Classifier):
    """Gives its parent's ``hidden`` itself: a checkpoint's ``hidden`` is not given again through ``**kwargs``."""

    def __init__(self, width: int = 5, **kwargs: Any) -> None:
        super().__init__(hidden=width, **kwargs)


def test_a_parent_argument_the_subclass_gives_itself_is_not_given_twice(tmp_path: Path) -> None:
    x = np.ones((1, 6), "float32")
    parent = Classifier(hidden=5, activation="tanh")
    expected = keras.ops.convert_to_numpy(parent(x))
    parent.save_pretrained(tmp_path)
    loaded = Labeller.from_pretrained(tmp_path)  # the parent's checkpoint: its `hidden` is ignored (logged)
    assert loaded.body.units == 5
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(x)), expected)


@dataclasses.dataclass
class BackboneConfig:
    hidden: int = 8
    act: str = "relu"


class Backbone(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, config: BackboneConfig, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.body = keras.layers.Dense(config.hidden, activation=config.act)

    def call(self, x: Any) -> Any:
        return self.body(x)


class PlainBase(keras.Model):  # type: ignore[misc]
    """A base without the mixin, its arguments given through a mixin subclass's ``**kwargs``."""

    def __init__(self, hidden: int = 8, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.body = keras.layers.Dense(hidden)

    def call(self, x: Any) -> Any:
        return self.body(x)


class OnBackbone(Backbone):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)


class OnPlainBase(PlainBase, KerasModelHubMixin):
    def __init__(self, dropout: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dropout = dropout


def test_a_dataclass_config_and_a_plain_bases_arguments_given_through_kwargs_come_back(tmp_path: Path) -> None:
    x = np.ones((1, 5), "float32")
    model = OnBackbone(config=BackboneConfig(hidden=4, act="tanh"))
    model(x)
    model.save_pretrained(tmp_path / "dataclass")
    loaded = OnBackbone.from_pretrained(tmp_path / "dataclass", strict=True)
    assert (loaded.body.units, loaded.body.activation.__name__) == (4, "tanh")
    plain = OnPlainBase(dropout=0.5, hidden=3)
    plain(x)
    plain.save_pretrained(tmp_path / "plain")
    again = OnPlainBase.from_pretrained(tmp_path / "plain", strict=True)
    assert (again.body.units, again.dropout) == (3, 0.5)


@dataclasses.dataclass
class NamedConfig:
    """Fields named like Keras' own keys, as Hugging Face configs have (``name``, ``dtype``)."""

    hidden: int = 8
    name: str = "base"
    dtype: str = "float32"
    trainable: bool = False


class NamedConfigured(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, config: NamedConfig, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config_ = config
        self.proj = keras.layers.Dense(config.hidden, dtype=config.dtype)

    def call(self, x: Any) -> Any:
        return self.proj(x)


class DictConfigured(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, config: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config_ = config
        self.proj = keras.layers.Dense(config["hidden"])

    def call(self, x: Any) -> Any:
        return self.proj(x)


def test_config_fields_named_like_keras_keys_keep_apart_from_them(tmp_path: Path) -> None:
    x = np.ones((1, 3), "float32")
    model = NamedConfigured(NamedConfig(hidden=4, name="tiny", dtype="bfloat16", trainable=True), name="my_net")
    model(x)
    custom = {"NamedConfigured": NamedConfigured}
    for again in (_round_trip(model, tmp_path / "m.keras", custom), keras.models.clone_model(model)):
        assert again.config_ == model.config_ and again.name == "my_net"
        assert (again.dtype_policy.name, str(again.proj.kernel.dtype)) == ("float32", "bfloat16")
    plain = DictConfigured({"hidden": 3, "name": "tiny"}, name="my_dict")
    again = DictConfigured.from_config(plain.get_config())
    assert again.config_ == {"hidden": 3, "name": "tiny"} and again.name == "my_dict"
