"""Missing, unexpected and mis-shaped tensors, Keras' own files, no weights at all: core's errors, named."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, ClassVar

import keras
import numpy as np
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import RemoteEntryNotFoundError
from keras.src.backend.common import global_state
from keras_models import IDS, IMAGE, Guarded, Net, canonical, numpy, outputs, pending_variables
from safetensors.numpy import load_file, save_file

from hubmixin_core.errors import HubMixinTypeError, WeightsKeyError, WeightsNotFoundError, WeightsShapeError
from hubmixin_core.testing import LocalHub
from hubmixin_keras import KerasModelHubMixin


def _rewrite(file: Path, change: dict[str, np.ndarray[Any, Any] | None]) -> None:
    tensors = load_file(file)
    for key, value in change.items():
        if value is None:
            del tensors[key]
        else:
            tensors[key] = value
    save_file(tensors, file, metadata={"format": "pt"})


def test_missing_and_unexpected_keys_are_named_when_strict(saved: Path) -> None:
    extra = np.zeros(2, np.float32)
    change = {"blocks.0.dense.bias": None, "blocks.1.norm.running_var": None, "extra.w": extra}
    _rewrite(saved / "model.safetensors", change)
    with pytest.raises(WeightsKeyError) as info:
        Net.from_pretrained(saved, strict=True)
    assert sorted(info.value.missing) == ["blocks.0.dense.bias", "blocks.1.norm.running_var"]
    assert info.value.unexpected == ["extra.w"]
    message = str(info.value)
    assert str(saved / "model.safetensors") in message
    assert "'blocks.0.dense.bias'" in message and "'blocks.1.norm.running_var'" in message and "'extra.w'" in message


def test_only_unexpected_keys_fail_when_strict(saved: Path) -> None:
    _rewrite(saved / "model.safetensors", {"blocks.7.dense.weight": np.zeros((4, 4), np.float32)})
    with pytest.raises(WeightsKeyError) as info:
        Net.from_pretrained(saved, strict=True)
    assert (info.value.missing, info.value.unexpected) == ([], ["blocks.7.dense.weight"])


def test_missing_weights_get_their_initializer_and_a_warning(
    net: Net, saved: Path, caplog: pytest.LogCaptureFixture
) -> None:
    change = {"blocks.0.dense.bias": None, "blocks.1.norm.running_var": None, "extra.w": np.zeros(2, np.float32)}
    _rewrite(saved / "model.safetensors", change)
    with caplog.at_level(logging.WARNING, logger="hubmixin_keras"):
        loaded = Net.from_pretrained(saved)
    assert "2 weights are not in" in caplog.text
    assert "'blocks.0.dense.bias'" in caplog.text and "'blocks.1.norm.running_var'" in caplog.text
    assert "1 tensor of" in caplog.text and "'extra.w'" in caplog.text
    np.testing.assert_array_equal(numpy(loaded.blocks[0].dense.bias), np.zeros(4, np.float32))  # "zeros"
    np.testing.assert_array_equal(numpy(loaded.blocks[1].norm.moving_variance), np.ones(4, np.float32))  # "ones"
    ours, theirs = canonical(net), canonical(loaded)
    for key in ours.keys() - {"blocks.0.dense.bias", "blocks.1.norm.running_var"}:  # the rest: from the file
        assert ours[key].tobytes() == theirs[key].tobytes(), key
    assert all(np.isfinite(out).all() for out in outputs(loaded))


def test_a_missing_dense_weight_is_named_when_strict(saved: Path) -> None:
    _rewrite(saved / "model.safetensors", {"blocks.0.dense.weight": None})
    with pytest.raises(WeightsKeyError) as info:
        Net.from_pretrained(saved, strict=True)
    assert (info.value.missing, info.value.unexpected) == (["blocks.0.dense.weight"], [])


def test_a_layer_stored_in_another_layout_is_named_with_the_tensors_it_holds(saved: Path) -> None:
    weight = load_file(saved / "model.safetensors")["blocks.0.dense.weight"]
    _rewrite(saved / "model.safetensors", {"blocks.0.dense.weight": None, "blocks.0.dense.w_packed": weight})
    with pytest.raises(WeightsKeyError) as info:
        Net.from_pretrained(saved, strict=True)
    assert (info.value.missing, info.value.unexpected) == (["blocks.0.dense.weight"], [])
    assert "it holds only ['blocks.0.dense.bias', 'blocks.0.dense.w_packed'] under its path" in str(info.value)


def test_a_layer_that_cannot_be_built_is_left_to_keras_when_not_strict(
    saved: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _rewrite(saved / "model.safetensors", {"blocks.0.dense.weight": None})
    with caplog.at_level(logging.WARNING, logger="hubmixin_keras"):
        loaded = Net.from_pretrained(saved)
    assert "layer 'blocks.0.dense': no tensors in" in caplog.text  # its input size came from the weight
    assert "(missing keys ['blocks.0.dense.weight'])" in caplog.text
    assert all(np.isfinite(out).all() for out in outputs(loaded))  # built at its first call


def test_a_layer_absent_from_the_checkpoint_fails_when_strict(saved: Path) -> None:
    with pytest.raises(WeightsKeyError) as info:
        Net.from_pretrained(saved, strict=True, model_kwargs={"depth": 3})
    assert sorted(info.value.missing) == [  # the keys that give their shapes: all of a batch norm's
        "blocks.2.dense.weight",
        "blocks.2.norm.bias",
        "blocks.2.norm.running_mean",
        "blocks.2.norm.running_var",
        "blocks.2.norm.weight",
    ]
    assert "layers 'blocks.2.dense', 'blocks.2.norm': no tensors in the checkpoint" in str(info.value)


@pytest.mark.parametrize(
    ("key", "wrong", "expected"),
    [
        ("heads.left.weight", (5, 4), (3, 4)),  # Dense units: out is the model's
        ("emb.weight", (10, 6), (10, 4)),
        ("conv.weight", (4, 2, 3, 2), (3, 2, 3, 2)),
        ("ln.bias", (9,), (4,)),
    ],
)
@pytest.mark.parametrize("strict", [False, True])
def test_a_shape_mismatch_always_raises_naming_key_file_and_shapes(
    saved: Path, strict: bool, key: str, wrong: tuple[int, ...], expected: tuple[int, ...]
) -> None:
    _rewrite(saved / "model.safetensors", {key: np.ones(wrong, np.float32)})
    with pytest.raises(WeightsShapeError) as info:
        Net.from_pretrained(saved, strict=strict)
    assert (info.value.key, info.value.expected, info.value.found) == (key, expected, wrong)
    assert str(saved / "model.safetensors") in str(info.value)
    assert repr(key) in str(info.value)


def test_a_shape_mismatch_is_reported_in_the_canonical_layout(saved: Path) -> None:
    _rewrite(saved / "model.safetensors", {"heads.left.weight": np.zeros((4, 3), np.float32)})  # Keras' [in, out]
    with pytest.raises(WeightsShapeError) as info:
        Net.from_pretrained(saved)
    # [out, in]: out is the layer's 3 units; a Dense takes its input size from the file, as from its first input.
    assert (info.value.key, info.value.expected[0], info.value.found) == ("heads.left.weight", 3, (4, 3))


def test_a_shape_mismatch_in_a_shard_names_the_shard(net: Net, tmp_path: Path) -> None:
    net.save_pretrained(tmp_path, max_shard_size=200)
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    shard = tmp_path / index["weight_map"]["emb.weight"]
    _rewrite(shard, {"emb.weight": np.zeros((10, 5), np.float32)})
    with pytest.raises(WeightsShapeError) as info:
        Net.from_pretrained(tmp_path)
    assert (info.value.key, info.value.expected, info.value.found) == ("emb.weight", (10, 4), (10, 5))
    assert str(shard) in str(info.value)


def test_a_failed_load_leaves_no_deferred_variables_behind(tmp_path: Path) -> None:
    model = Guarded()
    model(IDS, IMAGE)
    model.save_pretrained(tmp_path)
    _rewrite(tmp_path / "model.safetensors", {"ln.bias": np.zeros(9, np.float32)})
    before = pending_variables()  # a copy: Keras appends to its list in place
    try:
        with pytest.raises(WeightsShapeError):
            Guarded.from_pretrained(tmp_path, model_kwargs={"guard": True})  # every initializer raises
        with keras.StatelessScope():
            pass  # Keras initialises whatever is pending here
        assert [id(v) for v in pending_variables()] == [id(v) for v in before]
    finally:  # this test's leftovers must not reach the next tests
        global_state.set_global_attribute("uninitialized_variables", before)


class Counted(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """Counts how often its ``__init__`` runs."""

    built_count: ClassVar[int] = 0

    def __init__(self, units: int = 3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        Counted.built_count += 1
        self.dense = keras.layers.Dense(units)


def test_no_weights_raises_before_the_model_is_built(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"units": 3}')
    Counted.built_count = 0
    with pytest.raises(WeightsNotFoundError, match=r"model\.safetensors"):
        Counted.from_pretrained(tmp_path)
    assert Counted.built_count == 0


def _keras_saved(net: Net, directory: Path, *, keras_hub: bool) -> Path:
    """What Keras' own saving writes: ``model.weights.h5`` and a config (plus keras-hub's ``metadata.json``)."""
    directory.mkdir()
    net.save_weights(directory / "model.weights.h5")
    (directory / "config.json").write_text(json.dumps({"module": "keras_models", "class_name": "Net"}))
    if keras_hub:
        metadata = {"keras_version": keras.version(), "keras_hub_version": "0.22.0", "parameter_count": 1}
        (directory / "metadata.json").write_text(json.dumps(metadata))
    return directory


def test_a_keras_weights_file_is_refused_naming_load_weights(net: Net, tmp_path: Path) -> None:
    directory = _keras_saved(net, tmp_path / "keras", keras_hub=False)
    with pytest.raises(WeightsNotFoundError) as info:
        Net.from_pretrained(directory)
    message = str(info.value)
    assert str(directory) in message and "model.weights.h5" in message and "load_weights(" in message


def test_a_keras_hub_preset_is_refused_naming_from_preset(net: Net, tmp_path: Path) -> None:
    directory = _keras_saved(net, tmp_path / "preset", keras_hub=True)
    with pytest.raises(WeightsNotFoundError) as info:
        Net.from_pretrained(directory)
    assert "keras_hub" in str(info.value) and ".from_preset(" in str(info.value)


def test_a_local_keras_hub_preset_is_named_by_its_path(net: Net, tmp_path: Path) -> None:
    directory = _keras_saved(net, tmp_path / "preset", keras_hub=True)
    with pytest.raises(WeightsNotFoundError) as info:
        Net.from_pretrained(directory)
    assert f'from_preset("{directory}")' in str(info.value)


@pytest.mark.parametrize("keras_hub", [False, True], ids=["weights.h5", "keras-hub"])
def test_a_hub_repo_saved_by_keras_is_refused(net: Net, tmp_path: Path, local_hub: LocalHub, keras_hub: bool) -> None:
    directory = _keras_saved(net, tmp_path / "keras", keras_hub=keras_hub)
    repo_id = f"{local_hub.username}/keras-saved"
    api = HfApi()
    api.create_repo(repo_id)
    api.upload_folder(folder_path=directory, repo_id=repo_id)
    with pytest.raises(RemoteEntryNotFoundError) as info:  # the client's type, as huggingface_hub's mixins raise
        Net.from_pretrained(repo_id)
    assert isinstance(info.value, WeightsNotFoundError)
    downloaded = f'load_weights(huggingface_hub.hf_hub_download("{repo_id}", "model.weights.h5"))'
    expected = f'from_preset("hf://{repo_id}")' if keras_hub else downloaded
    assert repo_id in str(info.value) and expected in str(info.value)


def test_a_saved_model_of_huggingface_hubs_keras_mixin_is_named(tmp_path: Path, local_hub: LocalHub) -> None:
    # What huggingface_hub's Keras 2 mixin (push_to_hub_keras) wrote: tf.keras' SavedModel and a config.json.
    directory = tmp_path / "saved_model"
    (directory / "variables").mkdir(parents=True)
    for name in ("saved_model.pb", "keras_metadata.pb", "fingerprint.pb", "variables/variables.index"):
        (directory / name).write_bytes(b"\0")
    (directory / "config.json").write_text(json.dumps({"units": 4}))
    repo_id = f"{local_hub.username}/saved-model"
    HfApi().create_repo(repo_id)
    HfApi().upload_folder(folder_path=directory, repo_id=repo_id)
    for model_id in (str(directory), repo_id):
        with pytest.raises(WeightsNotFoundError, match="TensorFlow SavedModel") as info:
            Net.from_pretrained(model_id)
        assert model_id in str(info.value) and "tf_keras.models.load_model" in str(info.value)


def test_a_misspelled_keyword_is_refused_before_any_download(saved: Path) -> None:
    # Net takes **kwargs, which reach keras.Layer: only Layer's keywords can go there.
    with pytest.raises(HubMixinTypeError, match="did you mean 'revision'"):
        Net.from_pretrained("nobody/nothing", revison="main")  # type: ignore[call-arg]
    with pytest.raises(HubMixinTypeError, match="did you mean 'trainable'"):
        Net.from_pretrained(saved, model_kwargs={"trainabel": False})
    loaded = Net.from_pretrained(saved, model_kwargs={"name": "renamed", "trainable": False})
    assert loaded.name == "renamed" and not loaded.trainable
