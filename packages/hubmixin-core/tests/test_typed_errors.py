"""Bad input deep inside a load or save: a typed error naming the file, key or value at fault, never a bare one."""

from __future__ import annotations

import inspect
import json
import pickle
import struct
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from core_models import MLP, NumpyModelMixin
from safetensors.numpy import save_file

from hubmixin_core import ModelHubMixin
from hubmixin_core.errors import (
    ConfigError,
    ConfigTypeError,
    HubMixinKeyError,
    HubMixinOSError,
    HubMixinTypeError,
    HubMixinValueError,
    InvalidRepoPathError,
    LayoutError,
    MissingArgumentError,
    ShardIndexError,
    WeightsDtypeError,
    WeightsError,
    WeightsFileError,
    WeightsKeyError,
    WeightsShapeError,
)
from hubmixin_core.typing import ClassKeywords
from hubmixin_core.weights import (
    NUMPY_DTYPES,
    SAFETENSORS_INDEX_NAME,
    TensorInfo,
    open_checkpoint,
    parse_size,
    read_header,
    warn_settings,
    write_safetensors,
)
from hubmixin_core.weights._settings import SETTINGS_KEY, renamed_settings

DEEP = "[" * 100_000 + "]" * 100_000
HUGE_INT = "1" + "0" * 5_000  # beyond Python's 4,300-digit int-string limit


def _raw_file(path: Path, header: bytes, data: bytes = b"") -> Path:
    path.write_bytes(struct.pack("<Q", len(header)) + header + data)
    return path


# 1. dtypes: no default bit width, the FNUZ float8 formats round-trip, other dtypes refused naming the tensor


def test_unknown_dtype_has_no_byte_size() -> None:
    with pytest.raises(HubMixinKeyError, match="complex128"):
        _ = TensorInfo((2,), "complex128").nbytes


@pytest.mark.parametrize("name", ["F8_E4M3FNUZ", "F8_E5M2FNUZ"])
def test_fnuz_float8_round_trips_through_numpy(tmp_path: Path, name: str) -> None:
    array = np.array([0.5, -1.0, 2.0], dtype=NUMPY_DTYPES[name])
    write_safetensors(tmp_path, {"w": TensorInfo((3,), name)}, lambda _: array.view(np.uint8))
    checkpoint = open_checkpoint(tmp_path)
    assert checkpoint.infos["w"].dtype == name
    assert np.array_equal(checkpoint.read(["w"])["w"].astype(np.float32), array.astype(np.float32))


def test_a_dtype_safetensors_lacks_is_refused_naming_the_tensor_before_writing(tmp_path: Path) -> None:
    infos = {"ok": TensorInfo((1,), "F32"), "bad.weight": TensorInfo((2,), "complex128")}
    with pytest.raises(WeightsError) as info:
        write_safetensors(tmp_path, infos, lambda _: b"")
    assert "'bad.weight'" in str(info.value) and "complex128" in str(info.value)
    assert list(tmp_path.iterdir()) == []


# 2. deeply nested layer settings: a warning, never a RecursionError


def test_deeply_nested_settings_warn() -> None:
    with pytest.warns(UserWarning, match=SETTINGS_KEY):
        warn_settings({SETTINGS_KEY: DEEP}, {"fc": {"eps": 1e-5}}, "Net", "model.safetensors")


def test_deeply_nested_settings_are_kept_as_they_are_when_renamed() -> None:
    assert renamed_settings(DEEP, lambda name: name) == DEEP


def test_deeply_nested_settings_with_key_mapping_open(tmp_path: Path) -> None:
    save_file({"fc.weight": np.ones(2, np.float32)}, str(tmp_path / "model.safetensors"), {SETTINGS_KEY: DEEP})
    checkpoint = open_checkpoint(tmp_path).renamed({"^fc": "head"})
    assert list(checkpoint.infos) == ["head.weight"]


# 3. integers beyond Python's int-string limit: the typed error of the file


def test_huge_integer_in_a_safetensors_header(tmp_path: Path) -> None:
    header = ('{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,' + HUGE_INT + "]}}").encode()
    path = _raw_file(tmp_path / "model.safetensors", header, b"\0")
    with pytest.raises(WeightsFileError) as info:
        read_header(path)
    assert str(path) in str(info.value)


def test_huge_integer_in_a_shard_index(tmp_path: Path) -> None:
    index = tmp_path / SAFETENSORS_INDEX_NAME
    index.write_text('{"metadata":{"total_size":' + HUGE_INT + '},"weight_map":{"w":"a.safetensors"}}')
    with pytest.raises(ShardIndexError) as info:
        open_checkpoint(tmp_path)
    assert str(index) in str(info.value)


def test_huge_integer_in_a_config(tmp_path: Path) -> None:
    directory = tmp_path / "mlp"
    MLP().save_pretrained(directory)
    (directory / "config.json").write_text('{"hidden":' + HUGE_INT + "}")
    with pytest.raises(ConfigError) as info:
        MLP.from_pretrained(directory)
    assert str(directory / "config.json") in str(info.value)


# 5. key_mapping: bad replacements and non-strings named up front


@pytest.fixture
def checkpoint_dir(tmp_path: Path) -> Path:
    save_file({"fc1.weight": np.ones(2, np.float32)}, str(tmp_path / "model.safetensors"))
    return tmp_path


@pytest.mark.parametrize("mapping", [{"(fc1)": r"\2"}, {"(fc1)": r"\g<name>"}, {"nomatch": r"\1"}])
def test_replacement_referring_to_a_missing_group(checkpoint_dir: Path, mapping: dict[str, str]) -> None:
    with pytest.raises(WeightsKeyError) as info:
        open_checkpoint(checkpoint_dir).renamed(mapping)
    pattern = next(iter(mapping))
    assert "key_mapping" in str(info.value) and repr(pattern) in str(info.value)


@pytest.mark.parametrize("mapping", [{"fc1": 3}, {3: "fc"}, {"fc1": b"fc"}])
def test_non_string_key_mapping_entries(checkpoint_dir: Path, mapping: dict[Any, Any]) -> None:
    with pytest.raises(HubMixinTypeError) as info:
        open_checkpoint(checkpoint_dir).renamed(mapping)
    assert "key_mapping" in str(info.value) and repr(next(iter(mapping.values()))) in str(info.value)


# 6. max_shard_size: integers of any kind; anything else a clear typed error


def test_integer_likes_are_sizes() -> None:
    assert parse_size(np.int64(100)) == 100  # type: ignore[arg-type]
    assert parse_size(np.uint32(7)) == 7  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [1.5, 1e9, None, [1], True])
def test_non_integer_sizes_are_type_errors(size: object) -> None:
    with pytest.raises(HubMixinTypeError if not isinstance(size, bool) else HubMixinValueError) as info:
        parse_size(size)  # type: ignore[arg-type]
    assert repr(size) in str(info.value)


def test_a_size_under_one_byte_says_so() -> None:
    with pytest.raises(HubMixinValueError, match="less than one byte"):
        parse_size("0.5")
    assert parse_size("0.5KB") == 500


# 7. shards in a sub-folder of the model directory


def _sharded_in_sub_folder(directory: Path, shard: str) -> Path:
    (directory / "sub").mkdir()
    save_file({"a": np.ones(2, np.float32)}, str(directory / "sub" / "a.safetensors"))
    save_file({"b": np.zeros(3, np.float32)}, str(directory / "sub" / "b.safetensors"))
    index = directory / SAFETENSORS_INDEX_NAME
    index.write_text(json.dumps({"metadata": {}, "weight_map": {"a": shard, "b": "sub/b.safetensors"}}))
    return index


def test_shards_in_a_sub_folder_load(tmp_path: Path) -> None:
    index = _sharded_in_sub_folder(tmp_path, "sub/a.safetensors")
    checkpoint = open_checkpoint(tmp_path)
    assert checkpoint.description == str(index)
    assert checkpoint.read(["a", "b"])["a"].tolist() == [1.0, 1.0]


def test_shard_index_disagreeing_about_a_sub_folder_names_the_real_index(tmp_path: Path) -> None:
    index = _sharded_in_sub_folder(tmp_path, "sub/b.safetensors")  # "a" is really in sub/a.safetensors
    (tmp_path / "sub" / "a.safetensors").rename(tmp_path / "sub" / "c.safetensors")
    index.write_text(
        json.dumps({"weight_map": {"a": "sub/b.safetensors", "b": "sub/c.safetensors"}})
    )  # a in c, b in b: both mis-mapped
    with pytest.raises(ShardIndexError) as info:
        open_checkpoint(tmp_path)
    assert str(index) in str(info.value)


# 9. layout versions that str.isdigit accepts but int() does not


@pytest.mark.parametrize(("version", "named"), [("²", "'²'"), ("\u0661", "'\u0661'"), ("9" * 5_000, "upgrade")])
def test_strange_layout_versions_are_layout_errors(tmp_path: Path, version: str, named: str) -> None:
    path = tmp_path / "model.safetensors"
    save_file({"w": np.ones(1, np.float32)}, str(path), {"hubmixin.layout": version})
    with pytest.raises(LayoutError) as info, warnings.catch_warnings():
        open_checkpoint(tmp_path)
    assert str(path) in str(info.value) and named in str(info.value)


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ({"tags": 3}, r"class keyword tags= must be a list of strings, got 3"),
        ({"tags": [1, 2]}, r"tags= must be a list of strings, got \[1, 2\]"),
        ({"tags": "vision"}, r"tags= must be a list of strings, got 'vision'"),
        ({"license": 3}, r"class keyword license= must be a string, got int"),
        ({"model_card_template": b"x"}, r"class keyword model_card_template= must be a string, got bytes"),
        ({"language": ["en", 1]}, r"language= must be a string or a list of strings"),
        ({"librayr_name": "x"}, r"unexpected class keyword 'librayr_name' \(did you mean 'library_name'\?\)"),
        ({"coders": 3}, r"class keyword coders= must map types to \(encode, decode\), got 3"),
        ({"strict_config": "yes"}, r"class keyword strict_config= must be a bool, got 'yes'"),
    ],
)
def test_class_keywords_of_another_type_or_name_are_typed_errors(keywords: dict[str, Any], message: str) -> None:
    with pytest.raises(HubMixinTypeError, match=message):
        type("Bad", (NumpyModelMixin,), {}, **keywords)


def test_class_keywords_of_the_right_types_are_taken() -> None:
    good: Any = type("Good", (NumpyModelMixin,), {}, tags=("a", "b"), language="en", license="mit")
    data = good._hub_mixin_info.model_card_data
    assert {"a", "b"} <= set(data.tags) and data.language == "en"


def test_the_class_keywords_mypy_checks_are_those_taken() -> None:
    hook = ModelHubMixin._hub_mixin_init_subclass
    taken = {p.name for p in inspect.signature(hook).parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert taken == set(ClassKeywords.__optional_keys__)


def test_errors_survive_pickling_as_from_a_worker_process() -> None:
    errors = [
        MissingArgumentError("M: cannot build the model without ['x']", ["x"]),
        ConfigTypeError("config.json", "hidden", "int", "x"),
        WeightsShapeError("model.safetensors", "fc.weight", (2, 3), (3, 2)),
        WeightsDtypeError("model.safetensors", "fc.weight", "F32", "I64", detail="never converted"),
        WeightsKeyError("model.safetensors", ["a"], ["b"]),
        InvalidRepoPathError("../x", "repo"),
        HubMixinOSError(13, "cannot save into /x: it is not writable"),
    ]
    for error in errors:
        back = pickle.loads(pickle.dumps(error))  # noqa: S301  (our own bytes)
        assert type(back) is type(error) and str(back) == str(error) and vars(back) == vars(error)


def test_model_kwargs_of_the_wrong_kind_are_a_typed_error(tmp_path: Path) -> None:
    MLP().save_pretrained(tmp_path)
    with pytest.raises(HubMixinTypeError, match="model_kwargs must be a mapping of __init__ arguments, got list"):
        MLP.from_pretrained(tmp_path, model_kwargs=[("hidden", 8)])  # type: ignore[arg-type]
