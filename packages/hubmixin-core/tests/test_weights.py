"""The framework-neutral weights layer: sizes, shard plans, headers, index checks, tensor checks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from hubmixin_core.errors import (
    InvalidRepoPathError,
    ShardIndexError,
    WeightsDtypeError,
    WeightsFileError,
    WeightsKeyError,
)
from hubmixin_core.weights import (
    SAFETENSORS_INDEX_NAME,
    ShardIndex,
    TensorInfo,
    _header,
    check_relative_path,
    check_tensors,
    open_checkpoint,
    parse_size,
    plan_shards,
    read_header,
    read_tensor_infos,
    resolve_weight_files,
    save_safetensors,
)


def _save(tensors: dict[str, np.ndarray], directory: Path, max_shard_size: int | str | None = None) -> list[str]:
    return save_safetensors(
        tensors, directory, save_file=save_file, nbytes=lambda a: int(a.nbytes), max_shard_size=max_shard_size
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [("5GB", 5 * 10**9), ("500MiB", 500 * 2**20), ("1.5 kb", 1500), (123, 123), ("7", 7)],
)
def test_parse_size(text: int | str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("bad", ["", "5XB", "-1GB", 0, "GB"])
def test_parse_size_rejects_bad_input(bad: int | str) -> None:
    with pytest.raises(ValueError, match="invalid size"):
        parse_size(bad)


def test_plan_shards_keeps_order_and_isolates_oversized_tensors() -> None:
    assert plan_shards([("a", 4), ("b", 4), ("c", 20), ("d", 1)], 10) == [["a", "b"], ["c"], ["d"]]


def test_sharded_save_writes_transformers_layout(tmp_path: Path) -> None:
    tensors = {f"t{i}": np.full(16, i, np.float32) for i in range(5)}
    written = _save(tensors, tmp_path, max_shard_size=100)
    assert written[-1] == SAFETENSORS_INDEX_NAME
    assert written[:-1] == [f"model-0000{i}-of-00005.safetensors" for i in range(1, 6)]
    index = json.loads((tmp_path / SAFETENSORS_INDEX_NAME).read_text())
    assert index["metadata"] == {"total_size": 5 * 64}
    assert index["weight_map"]["t3"] == "model-00004-of-00005.safetensors"
    files = resolve_weight_files(tmp_path)
    infos = read_tensor_infos(files)
    assert files.sharded and infos["t2"][0] == TensorInfo((16,), "F32")


@pytest.mark.parametrize("max_shard_size", [None, 16])
def test_saved_files_get_the_umasks_mode(max_shard_size: int | None, tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        written = _save({"a": np.ones(4, np.float32), "b": np.ones(4, np.float32)}, tmp_path, max_shard_size)
    finally:
        os.umask(old)
    assert {name: (tmp_path / name).stat().st_mode & 0o777 for name in written} == dict.fromkeys(written, 0o644)


def test_read_header_reports_truncated_file(tmp_path: Path) -> None:
    save_file({"w": np.zeros(100, np.float32)}, str(tmp_path / "model.safetensors"))
    data = (tmp_path / "model.safetensors").read_bytes()
    (tmp_path / "model.safetensors").write_bytes(data[:-10])
    with pytest.raises(WeightsFileError, match=r"model\.safetensors: tensor 'w' spans bytes"):
        read_header(tmp_path / "model.safetensors")


def test_read_header_sees_a_file_rewritten_or_truncated_after_a_read(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    save_file({"w": np.zeros(4, np.float32)}, str(path))
    assert list(read_header(path).tensors) == ["w"]
    save_file({"v": np.ones(4, np.float32)}, str(path))  # the same size, another header
    assert list(read_header(path).tensors) == ["v"]
    path.write_bytes(path.read_bytes()[:-4])  # the same header, data cut
    with pytest.raises(WeightsFileError, match="spans bytes"):
        read_header(path)


def test_a_header_is_parsed_once_for_reads_of_one_tensor_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tensors = {f"layer.{i}.weight": np.full(3, i, np.float32) for i in range(50)}
    save_file(tensors, str(tmp_path / "model.safetensors"))
    parsed: list[Path] = []
    checked = _header._checked

    def counted(path: Path, raw: bytes, file_size: int) -> _header.Header:
        parsed.append(path)
        return checked(path, raw, file_size)

    monkeypatch.setattr(_header, "_checked", counted)
    checkpoint = open_checkpoint(tmp_path)
    for name, expected in tensors.items():
        np.testing.assert_array_equal(checkpoint.read([name])[name], expected)
    assert parsed == [tmp_path / "model.safetensors"]
    header = read_header(tmp_path / "model.safetensors")
    header.tensors.clear()  # each caller gets its own dicts
    assert len(read_header(tmp_path / "model.safetensors").tensors) == 50


def test_read_header_rejects_non_safetensors(tmp_path: Path) -> None:
    (tmp_path / "x.safetensors").write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00hello")
    with pytest.raises(WeightsFileError, match=r"x\.safetensors: safetensors header is not valid JSON"):
        read_header(tmp_path / "x.safetensors")


@pytest.mark.parametrize("name", ["../evil.safetensors", "/etc/passwd", "a/../../b", "C:\\x", "a\\..\\b", ""])
def test_index_with_escaping_shard_name_is_refused(tmp_path: Path, name: str) -> None:
    (tmp_path / SAFETENSORS_INDEX_NAME).write_text(json.dumps({"weight_map": {"w": name}}))
    with pytest.raises(InvalidRepoPathError):
        resolve_weight_files(tmp_path)


def test_check_relative_path_accepts_subfolders() -> None:
    assert check_relative_path("sub/model.safetensors", "x") == "sub/model.safetensors"


def test_index_disagreeing_with_shards_is_reported(tmp_path: Path) -> None:
    _save({"a": np.zeros(4, np.float32), "b": np.zeros(4, np.float32)}, tmp_path, max_shard_size=16)
    index = ShardIndex.read(tmp_path / SAFETENSORS_INDEX_NAME)
    index.weight_map["ghost"] = index.weight_map["a"]
    index.write(tmp_path / SAFETENSORS_INDEX_NAME)
    with pytest.raises(ShardIndexError, match="ghost"):
        read_tensor_infos(resolve_weight_files(tmp_path))


def test_missing_shard_is_named(tmp_path: Path) -> None:
    _save({"a": np.zeros(4, np.float32), "b": np.zeros(4, np.float32)}, tmp_path, max_shard_size=16)
    (tmp_path / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(ShardIndexError, match=r"model-00002-of-00002\.safetensors"):
        resolve_weight_files(tmp_path)


def test_check_tensors_reports_all_missing_and_unexpected_keys() -> None:
    expected = {"a": TensorInfo((2,), "F32"), "b": TensorInfo((2,), "F32")}
    found = {"a": TensorInfo((2,), "F32"), "c": TensorInfo((1,), "F32")}
    with pytest.raises(WeightsKeyError, match=r"ckpt: missing keys \['b'\]; unexpected keys \['c'\]") as info:
        check_tensors(expected, found, source="ckpt")
    assert (info.value.missing, info.value.unexpected) == (["b"], ["c"])
    assert check_tensors(expected, found, source="ckpt", strict=False) == (["b"], ["c"])


def test_check_tensors_reports_dtype() -> None:
    with pytest.raises(WeightsDtypeError, match="'a' has dtype BF16, the model expects F32"):
        check_tensors({"a": TensorInfo((2,), "F32")}, {"a": TensorInfo((2,), "BF16")}, source="ckpt")
