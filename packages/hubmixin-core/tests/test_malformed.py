"""Malformed weights, shard indexes and configs, built byte by byte: each raises a typed error naming file and key."""

from __future__ import annotations

import json
import logging
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np
import pytest
from core_models import MLP, NumpyModelMixin
from safetensors import __version__ as safetensors_version
from safetensors import safe_open

from hubmixin_core import DownloadOptions
from hubmixin_core.errors import (
    ConfigError,
    ConfigTypeError,
    HubMixinError,
    InvalidRepoPathError,
    ShardIndexError,
    WeightsFileError,
    WeightsKeyError,
)
from hubmixin_core.weights import (
    MISSING_BYTES_FLOOR,
    SAFETENSORS_INDEX_NAME,
    TensorInfo,
    check_checkpoint,
    open_checkpoint,
    read_header,
)

_SAFETENSORS = tuple(int(part) for part in safetensors_version.split(".")[:3] if part.isdigit())


def _write(path: Path, header: dict[str, Any] | bytes, data: bytes = b"") -> Path:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return path


def _u8(begin: int, end: int, shape: list[Any] | None = None, dtype: Any = "U8") -> dict[str, Any]:
    return {"dtype": dtype, "shape": [end - begin] if shape is None else shape, "data_offsets": [begin, end]}


NESTED = b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"

# (case, header, data bytes, name the message must hold besides the file)
WEIGHTS_CASES: list[tuple[str, dict[str, Any] | bytes, int, str]] = [
    ("overlapping offsets", {"a": _u8(0, 2), "b": _u8(1, 3)}, 3, "'b'"),
    ("gap between tensors", {"a": _u8(0, 2), "b": _u8(3, 5)}, 5, "'b'"),
    ("not starting at 0", {"a": _u8(1, 3)}, 3, "'a'"),
    ("end before begin", {"a": _u8(2, 1, shape=[0])}, 2, "'a'"),
    ("dtype vs byte span", {"w": _u8(0, 8, shape=[4], dtype="F32")}, 8, "'w'"),
    ("shape vs bytes", {"w": _u8(0, 4, shape=[2, 3])}, 4, "'w'"),
    ("sub-byte dtype not filling bytes", {"w": _u8(0, 2, shape=[3], dtype="F4")}, 2, "'w'"),
    ("overflowing shape", {"w": _u8(0, 0, shape=[2**32, 2**32], dtype="F32")}, 0, "'w'"),
    ("overflow before a zero dim", {"w": _u8(0, 0, shape=[2**33, 2**33, 0])}, 0, "'w'"),
    ("dimension beyond 64 bits", {"w": _u8(0, 0, shape=[2**64])}, 0, "'w'"),
    ("negative dimension", {"w": _u8(0, 0, shape=[-1])}, 0, "'w'"),
    ("float dimension", {"w": _u8(0, 4, shape=[4.0])}, 4, "'w'"),
    ("bool dimension", {"w": _u8(0, 1, shape=[True])}, 1, "'w'"),
    ("unknown dtype", {"w": _u8(0, 4, dtype="F33")}, 4, "'w'"),
    ("dtype not a string", {"w": _u8(0, 4, dtype=None)}, 4, "'w'"),
    ("three offsets", {"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1, 1]}}, 1, "'w'"),
    ("missing shape", {"w": {"dtype": "U8", "data_offsets": [0, 1]}}, 1, "'shape'"),
    ("entry not an object", {"w": 3}, 0, "'w'"),
    ("non-string metadata", {"__metadata__": {"format": 1}}, 0, "'format'"),
    ("metadata a list", {"__metadata__": ["format"]}, 0, "'__metadata__'"),
    ("metadata a string", {"__metadata__": "pt"}, 0, "'__metadata__'"),
    ("deeply nested header", NESTED, 0, "nest"),
    ("nested beyond serde's limit", b'{"a":{"x":' + b"[" * 126 + b"]" * 126 + b"}}", 0, "nest"),
    ("header not an object", b"[]", 0, "object"),
    ("not JSON", b"hello", 0, "JSON"),
    ("not UTF-8", b'{"__metadata__":{"a":"\xff"}}', 0, "JSON"),
    (
        "repeated key",
        b'{"a":' + json.dumps(_u8(0, 1)).encode() + b',"a":' + json.dumps(_u8(1, 2)).encode() + b"}",
        2,
        "'a'",
    ),
    ("bytes after the data", {"a": _u8(0, 1)}, 2, "follow"),
    ("truncated data", {"a": _u8(0, 8)}, 4, "'a'"),
]


@pytest.mark.parametrize(("case", "header", "size", "named"), WEIGHTS_CASES, ids=[c[0] for c in WEIGHTS_CASES])
def test_malformed_safetensors_is_a_weights_file_error(
    tmp_path: Path, case: str, header: dict[str, Any] | bytes, size: int, named: str
) -> None:
    path = _write(tmp_path / "model.safetensors", header, bytes(size))
    try:  # safetensors refuses it too
        with safe_open(str(path), framework="numpy"):
            accepted = True
    except Exception:
        accepted = False
    assert not accepted
    with pytest.raises(WeightsFileError) as info:
        open_checkpoint(tmp_path)
    assert type(info.value) is WeightsFileError
    assert isinstance(info.value, HubMixinError) and isinstance(info.value, ValueError)
    assert str(path) in str(info.value) and named in str(info.value)


def test_oversized_header_length_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(struct.pack("<Q", 100_000_001) + b"{}")
    with pytest.raises(WeightsFileError, match=r"model\.safetensors: .*header length 100000001"):
        read_header(path)


@pytest.mark.parametrize(
    "header",
    [
        {},
        {"__metadata__": None, "a": _u8(0, 2)},
        {"a": _u8(0, 0, shape=[0, 5], dtype="F32"), "b": _u8(0, 4, shape=[], dtype="F32")},
        pytest.param(
            {"a": {**_u8(0, 3, shape=[4], dtype="F6_E2M3"), "extra": [[1]]}},
            marks=pytest.mark.skipif(_SAFETENSORS < (0, 6, 1), reason="safetensors reads F6_E2M3 from 0.6.1 on"),
        ),
    ],
    ids=["empty", "null metadata", "empty and scalar tensors", "six-bit dtype, extra field"],
)
def test_files_safetensors_accepts_are_accepted(tmp_path: Path, header: dict[str, Any]) -> None:
    ends = [entry["data_offsets"][1] for name, entry in header.items() if name != "__metadata__"]
    path = _write(tmp_path / "model.safetensors", header, bytes(max(ends, default=0)))
    with safe_open(str(path), framework="numpy") as f:
        expected = sorted(f.keys())
    assert sorted(read_header(path).tensors) == expected


# SHARD INDEX


def _index(directory: Path, text: str | bytes) -> Path:
    path = directory / SAFETENSORS_INDEX_NAME
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_shard_named_dot_is_refused(tmp_path: Path) -> None:
    index = _index(tmp_path, json.dumps({"weight_map": {"fc.weight": "."}}))
    with pytest.raises(InvalidRepoPathError) as info:
        open_checkpoint(tmp_path)
    assert type(info.value) is InvalidRepoPathError and isinstance(info.value, ValueError)
    assert str(index) in str(info.value) and "'fc.weight'" in str(info.value)


@pytest.mark.parametrize("name", ["./model.safetensors", "a/./b.safetensors", "sub/."])
def test_dot_segments_in_shard_names_are_refused(tmp_path: Path, name: str) -> None:
    _index(tmp_path, json.dumps({"weight_map": {"w": name}}))
    with pytest.raises(InvalidRepoPathError, match="'w'"):
        open_checkpoint(tmp_path)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (b'{"weight_map":' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested"),
        (json.dumps({"weight_map": {"fc.weight": 3}}), "'fc.weight'"),
        (json.dumps({"weight_map": []}), "weight_map"),
        (json.dumps({"weight_map": {"w": "model.safetensors"}, "metadata": ["x"]}), "'metadata'"),
        (b"\xff\xfe", "cannot read"),
    ],
    ids=["deeply nested", "shard not a string", "weight_map a list", "metadata a list", "not UTF-8"],
)
def test_malformed_index_is_a_shard_index_error(tmp_path: Path, text: str | bytes, named: str) -> None:
    index = _index(tmp_path, text)
    with pytest.raises(ShardIndexError) as info:
        open_checkpoint(tmp_path)
    assert type(info.value) is ShardIndexError and isinstance(info.value, ValueError)
    assert str(index) in str(info.value) and named in str(info.value)


def test_index_disagreeing_with_its_shard_names_the_index_and_the_key(tmp_path: Path) -> None:
    _write(tmp_path / "model-00001-of-00001.safetensors", {"a": _u8(0, 1)}, bytes(1))
    index = _index(
        tmp_path,
        json.dumps(
            {"weight_map": {"a": "model-00001-of-00001.safetensors", "ghost": "model-00001-of-00001.safetensors"}}
        ),
    )
    with pytest.raises(ShardIndexError) as info:
        open_checkpoint(tmp_path)
    assert str(index) in str(info.value) and "ghost" in str(info.value)


# CONFIG


def _saved_mlp(tmp_path: Path, config: dict[str, Any] | bytes) -> Path:
    directory = tmp_path / "mlp"
    MLP().save_pretrained(directory)
    text = config if isinstance(config, bytes) else json.dumps(config).encode()
    (directory / "config.json").write_bytes(text)
    return directory


@pytest.mark.parametrize(
    ("config", "key", "expected"),
    [
        ({"hidden": "abc"}, "hidden", "int"),
        ({"hidden": 8.5}, "hidden", "int"),
        ({"activation": 3}, "activation", "str"),
        ({"hidden": None}, "hidden", "int"),
        ({"hidden": [8]}, "hidden", "int"),
        ({"hidden": 1e300}, "hidden", "int"),  # integral, but no size: floats hold every int only up to 2**53
    ],
)
def test_config_value_of_the_wrong_type_names_file_key_and_type(
    tmp_path: Path, config: dict[str, Any], key: str, expected: str
) -> None:
    directory = _saved_mlp(tmp_path, config)
    with pytest.raises(ConfigTypeError) as info:
        MLP.from_pretrained(directory)
    error = info.value
    assert type(error) is ConfigTypeError and isinstance(error, TypeError) and isinstance(error, ConfigError)
    assert isinstance(error, HubMixinError) and isinstance(error, ValueError)
    assert (error.key, error.expected) == (key, expected)
    message = str(error)
    assert str(directory / "config.json") in message and repr(key) in message and expected in message


def test_a_wrong_value_the_caller_overrides_is_not_read(tmp_path: Path) -> None:
    directory = _saved_mlp(tmp_path, {"in_features": 4, "hidden": "abc"})
    assert MLP.from_pretrained(directory, model_kwargs={"hidden": 8}).hidden == 8


@pytest.mark.parametrize(
    "text",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"hidden":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"hidden": 4, "hidden": 8}',  # which one a reader takes differs: refused
        b'{"nested": {"a": 1, "a": 2}}',
    ],
)
def test_deeply_nested_or_ambiguous_config_is_a_config_error(tmp_path: Path, text: bytes) -> None:
    directory = _saved_mlp(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        MLP.from_pretrained(directory)
    assert type(info.value) is ConfigError and str(directory / "config.json") in str(info.value)


@dataclass
class Shape:
    dims: list[int]
    scale: float = 1.0
    label: str | None = None


class Typed(NumpyModelMixin):
    """Annotations of every kind the config check knows."""

    def __init__(
        self,
        shape: Shape | None = None,
        pair: tuple[int, str] = (1, "a"),
        table: dict[str, float] | None = None,
        rate: float = 0.5,
        width: int = None,  # type: ignore[assignment]  # noqa: RUF013  (sloppy but common: None is accepted)
    ) -> None:
        self.shape, self.pair, self.table, self.rate, self.width = shape, pair, table, rate, width
        self.weights = {"w": np.zeros(2, np.float32)}

    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        return cls(**model_kwargs)


@pytest.mark.parametrize(
    ("config", "key", "expected"),
    [
        ({"shape": {"dims": [1, "2"]}}, "shape.dims[1]", "int"),
        ({"shape": {"dims": [1], "scale": "big"}}, "shape.scale", "float"),
        ({"shape": [1, 2]}, "shape", "Shape (a JSON object)"),
        ({"shape": 3, "pair": [1]}, "shape", "Shape (a JSON object)"),
        ({"pair": [1, 2]}, "pair[1]", "str"),
        ({"pair": [1, "a", 3]}, "pair", "tuple[int, str] (2 items)"),
        ({"table": {"a": "x"}}, "table['a']", "float"),
        ({"rate": "fast"}, "rate", "float"),
    ],
)
def test_nested_config_values_are_checked(tmp_path: Path, config: dict[str, Any], key: str, expected: str) -> None:
    Typed().save_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigTypeError) as info:
        Typed.from_pretrained(tmp_path)
    assert (info.value.key, info.value.expected) == (key, expected)
    assert str(tmp_path / "config.json") in str(info.value)


def test_well_typed_configs_still_decode(tmp_path: Path) -> None:
    Typed().save_pretrained(tmp_path)
    config = {"shape": {"dims": [1, 2], "label": None}, "pair": [3, "b"], "table": {"a": 1}, "rate": 2, "width": None}
    (tmp_path / "config.json").write_text(json.dumps(config))
    model = Typed.from_pretrained(tmp_path)
    assert model.shape == Shape([1, 2]) and model.pair == (3, "b") and model.table == {"a": 1}
    assert model.rate == 2 and model.width is None


# MISSING TENSORS


def test_missing_tensors_larger_than_the_checkpoint_are_refused_without_strict(tmp_path: Path) -> None:
    _write(tmp_path / "model.safetensors", {"small": _u8(0, 4, dtype="F32", shape=[1])}, bytes(4))
    huge = TensorInfo((50_000, 50_000), "F32")
    expected = {"small": TensorInfo((1,), "F32"), "big.weight": huge}
    with pytest.raises(WeightsKeyError) as info:
        check_checkpoint(expected, open_checkpoint(tmp_path), strict=False)
    assert isinstance(info.value, RuntimeError) and info.value.missing == ["big.weight"]
    assert "'big.weight'" in str(info.value) and str(huge.nbytes) in str(info.value)


def test_a_small_missing_head_is_initialised_without_strict(tmp_path: Path) -> None:
    _write(tmp_path / "model.safetensors", {"body": _u8(0, 4, dtype="F32", shape=[1])}, bytes(4))
    head = TensorInfo((MISSING_BYTES_FLOOR // 4,), "F32")  # as large as the floor allows
    report = check_checkpoint({"body": TensorInfo((1,), "F32"), "head": head}, open_checkpoint(tmp_path), strict=False)
    assert report.missing == ["head"]


def test_an_integral_float_is_an_int_in_json(tmp_path: Path) -> None:
    Typed(width=1.0).save_pretrained(tmp_path)  # type: ignore[arg-type]  # as huggingface_hub's test suite does
    assert json.loads((tmp_path / "config.json").read_text())["width"] == 1.0
    loaded = Typed.from_pretrained(tmp_path)
    assert loaded.width == 1 and type(loaded.width) is int  # JSON has one number type: an int, as annotated
    (tmp_path / "config.json").write_text(json.dumps({"width": 3.0, "shape": {"dims": [1.0, 2]}}))
    loaded = Typed.from_pretrained(tmp_path)
    assert (loaded.width, loaded.shape) == (3, Shape([1, 2]))
    assert loaded.shape is not None and type(loaded.shape.dims[0]) is int
    (tmp_path / "config.json").write_text(json.dumps({"width": 1.5}))
    with pytest.raises(ConfigTypeError, match="'width'"):
        Typed.from_pretrained(tmp_path)


def test_a_file_linked_outside_the_model_directory_is_named(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    directory = _saved_mlp(tmp_path, {"in_features": 4, "hidden": 8})
    secret = tmp_path / "elsewhere.json"  # a file of the user's, not of the model
    secret.write_text(json.dumps({"in_features": 4, "hidden": 8}))
    (directory / "config.json").unlink()
    (directory / "config.json").symlink_to(secret)
    with caplog.at_level(logging.WARNING, logger="hubmixin_core"):
        MLP.from_pretrained(directory)
    assert f"config.json is a link to {secret}, outside the model directory" in caplog.text
