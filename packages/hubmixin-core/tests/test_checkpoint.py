"""The neutral half of loading: opening a checkpoint, reading tensors by name, the strict policy, dtype names."""

from __future__ import annotations

import logging
import mmap
import os
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest
from numpy.typing import NDArray
from safetensors.numpy import save_file

from hubmixin_core.errors import LayoutError, WeightsDtypeError, WeightsFileError, WeightsKeyError, WeightsShapeError
from hubmixin_core.weights import (
    NUMPY_DTYPES,
    Checkpoint,
    LoadReport,
    TensorInfo,
    check_checkpoint,
    dtype_name,
    is_floating,
    numpy_dtype,
    open_checkpoint,
    save_safetensors,
)

Array = NDArray[Any]


def _tensors() -> dict[str, Array]:
    rng = np.random.default_rng(1)
    return {
        "w": rng.standard_normal((4, 3)).astype(np.float32),
        "h": rng.standard_normal(5).astype(ml_dtypes.bfloat16),
        "q": rng.standard_normal(6).astype(ml_dtypes.float8_e4m3fn),
        "steps": np.array(7, dtype=np.int64),
    }


def _save(directory: Path, tensors: dict[str, Array], max_shard_size: int | None = None) -> None:
    save_safetensors(
        tensors,
        directory,
        save_file=save_file,
        nbytes=lambda a: int(a.nbytes),
        max_shard_size=max_shard_size,
        metadata={"format": "pt"},
    )


@pytest.mark.parametrize("max_shard_size", [None, 40])
def test_open_and_read_every_dtype(tmp_path: Path, max_shard_size: int | None) -> None:
    tensors = _tensors()
    _save(tmp_path, tensors, max_shard_size)
    checkpoint = open_checkpoint(tmp_path)
    assert checkpoint.infos == {k: TensorInfo(tuple(v.shape), dtype_name(v.dtype)) for k, v in tensors.items()}
    assert checkpoint.metadata == {"format": "pt"}
    sharded = max_shard_size is not None
    assert checkpoint.description.endswith("model.safetensors.index.json" if sharded else "model.safetensors")
    read = checkpoint.read(["q", "h", "steps", "w"])
    for name, array in tensors.items():
        assert read[name].dtype == array.dtype and read[name].shape == array.shape
        assert read[name].tobytes() == array.tobytes(), name
    read["w"] += 1  # arrays read are the caller's to change


def test_tensor_bytes_shorter_than_the_shape_are_a_file_error(tmp_path: Path) -> None:
    import json
    import struct

    header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}}).encode()
    (tmp_path / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + bytes(8))
    with pytest.raises(WeightsFileError, match="'w' holds 8 bytes, its shape needs 16"):
        open_checkpoint(tmp_path).read(["w"])


def test_a_custom_reader_serves_reads() -> None:
    seen: list[tuple[list[str], str, str]] = []

    def reader(names: Any, framework: str, device: str) -> dict[str, Any]:
        seen.append((list(names), framework, device))
        return dict.fromkeys(names, 0)

    checkpoint = Checkpoint({"a": TensorInfo((), "F32")}, {}, "memory", reader=reader)
    assert checkpoint.read(["a"], framework="pt", device="meta") == {"a": 0}
    assert seen == [(["a"], "pt", "meta")]
    assert checkpoint.source("a") == "memory"


def _checkpoint(tmp_path: Path) -> Checkpoint:
    _save(tmp_path, {"a": np.zeros((2, 3), np.float16), "b": np.zeros(4, np.int64)}, max_shard_size=12)
    return open_checkpoint(tmp_path)


def test_shape_mismatch_names_the_shard_and_key_whatever_strict(tmp_path: Path) -> None:
    checkpoint = _checkpoint(tmp_path)
    for strict in (True, False):
        with pytest.raises(WeightsShapeError, match=r"model-0000\d-of-00002\.safetensors: tensor 'a' has shape"):
            check_checkpoint({"a": TensorInfo((3, 2), "F16")}, checkpoint, strict=strict)


def test_dtype_policy(tmp_path: Path) -> None:
    checkpoint = _checkpoint(tmp_path)
    want = {"a": TensorInfo((2, 3), "F32"), "b": TensorInfo((4,), "I64")}
    with pytest.raises(WeightsDtypeError, match="'a' has dtype F16, the model expects F32"):
        check_checkpoint(want, checkpoint, strict=True)
    assert check_checkpoint(want, checkpoint, strict=True, convert_floating=True) == LoadReport()
    assert check_checkpoint(want, checkpoint, strict=False) == LoadReport()
    integers = {"a": TensorInfo((2, 3), "F16"), "b": TensorInfo((4,), "I32")}
    with pytest.raises(WeightsDtypeError, match="'b'"):  # converting floats never converts integers
        check_checkpoint(integers, checkpoint, strict=True, convert_floating=True)
    assert check_checkpoint(integers, checkpoint, strict=False) == LoadReport()  # integers into other integers


@pytest.mark.parametrize("strict", [True, False])
def test_integer_and_floating_tensors_are_never_converted_into_each_other(tmp_path: Path, strict: bool) -> None:
    checkpoint = _checkpoint(tmp_path)  # a: F16, b: I64
    for want in ({"a": TensorInfo((2, 3), "I8")}, {"b": TensorInfo((4,), "F32")}):
        ((key, info),) = want.items()
        expected = rf"tensor '{key}' has dtype \w+, the model expects {info.dtype} \(integer and floating"
        with pytest.raises(WeightsDtypeError, match=expected):
            check_checkpoint(want, checkpoint, strict=strict, convert_floating=True)


def test_key_policy_and_report(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    checkpoint = _checkpoint(tmp_path)
    want = {"a": TensorInfo((2, 3), "F16"), "c": TensorInfo((1,), "F32"), "tied": TensorInfo((1,), "F32")}
    with pytest.raises(WeightsKeyError, match=r"missing keys \['c'\]; unexpected keys \['b'\]"):
        check_checkpoint(want, checkpoint, strict=True, ignore_missing=["tied"])
    report = check_checkpoint(want, checkpoint, strict=False, ignore_missing=["tied"])
    assert report == LoadReport(missing=["c"], unexpected=["b"])
    assert check_checkpoint(want, checkpoint, strict=False, ignore_unexpected=["b"]).unexpected == []
    with caplog.at_level(logging.WARNING, logger="test"):
        report.log(logging.getLogger("test"), "Net", "ckpt")
    assert "Net: 1 weight is not in ckpt" in caplog.text and "'b'" in caplog.text


def test_dtype_table() -> None:
    assert numpy_dtype("BF16") == np.dtype(ml_dtypes.bfloat16)
    assert all(dtype_name(dtype) == name for name, dtype in NUMPY_DTYPES.items())
    assert dtype_name("bfloat16") == "BF16" and dtype_name(np.float32) == "F32"
    assert is_floating("F8_E5M2") and not is_floating("I64")
    with pytest.raises(KeyError, match="F4"):
        numpy_dtype("F4")


@pytest.mark.parametrize(
    "index",
    [
        (slice(0, 5), slice(0, 4), slice(0, 3)),
        (slice(1, 4), slice(None), slice(None)),
        (slice(None), slice(2, 4), slice(1, 2)),
        (slice(4, 5), slice(0, 1), slice(2, 3)),
    ],
)
def test_read_slice_reads_only_the_slice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, index: Any) -> None:
    from hubmixin_core.weights import _read

    monkeypatch.setattr(_read, "_BLOCK_BYTES", 40)  # two rows a block: the block loop is exercised
    tensors: dict[str, Array] = {"x": np.arange(60, dtype=np.float32).reshape(5, 4, 3), "s": np.array(3, np.int64)}
    _save(tmp_path, tensors)
    checkpoint = open_checkpoint(tmp_path)
    assert np.array_equal(checkpoint.read_slice("x", index), tensors["x"][index])
    assert checkpoint.read_slice("s", ()) == 3
    with pytest.raises(IndexError, match="contiguous"):
        checkpoint.read_slice("x", (slice(0, 5, 2), slice(None), slice(None)))


def test_a_later_layout_version_is_refused_by_name(tmp_path: Path) -> None:
    save_file({"w": np.zeros(2, np.float32)}, str(tmp_path / "model.safetensors"), {"hubmixin.layout": "2"})
    with pytest.raises(
        LayoutError, match=r"model\.safetensors: written in canonical layout version 2; .*up to version 1"
    ):
        open_checkpoint(tmp_path)
    save_file({"w": np.zeros(2, np.float32)}, str(tmp_path / "model.safetensors"), {"hubmixin.layout": "1"})
    assert open_checkpoint(tmp_path).metadata == {"hubmixin.layout": "1"}


def test_renamed_reads_every_way_under_the_new_names(tmp_path: Path) -> None:
    tensors = {"enc.fc.weight": np.arange(12, dtype=np.float32).reshape(3, 4), "head.bias": np.ones(3, np.float32)}
    save_safetensors(tensors, tmp_path, save_file=save_file, nbytes=lambda t: t.nbytes, max_shard_size=48)
    checkpoint = open_checkpoint(tmp_path).renamed({r"^enc\.fc\.": "encoder.dense.", r"fc": "dense"})
    assert sorted(checkpoint.infos) == ["encoder.dense.weight", "head.bias"]
    assert checkpoint.files["encoder.dense.weight"].name.startswith("model-0000")
    np.testing.assert_array_equal(
        checkpoint.read(["encoder.dense.weight"])["encoder.dense.weight"], tensors["enc.fc.weight"]
    )
    np.testing.assert_array_equal(
        checkpoint.read_slice("encoder.dense.weight", (slice(1, 2), slice(None))), tensors["enc.fc.weight"][1:2]
    )
    assert checkpoint.read_raw(["head.bias"])["head.bias"].tobytes() == tensors["head.bias"].tobytes()
    again = checkpoint.renamed({r"^head": "out"})  # renames compose: reads still reach the stored names
    assert sorted(again.read(["out.bias", "encoder.dense.weight"])) == ["encoder.dense.weight", "out.bias"]
    assert open_checkpoint(tmp_path).renamed(None).infos.keys() == tensors.keys()


def test_renamed_refuses_two_names_made_one_and_a_bad_pattern(tmp_path: Path) -> None:
    save_file({"a.w": np.zeros(1, np.float32), "b.w": np.zeros(1, np.float32)}, str(tmp_path / "model.safetensors"))
    with pytest.raises(WeightsKeyError, match=r"renames both 'a\.w' and 'b\.w' to 'x\.w'"):
        open_checkpoint(tmp_path).renamed({r"^[ab]\.": "x."})
    with pytest.raises(WeightsKeyError, match=r"key_mapping: invalid pattern '\('"):
        open_checkpoint(tmp_path).renamed({"(": "x"})


def _as_on_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Take away what Windows' Python lacks: positional reads and anonymous private mappings."""
    monkeypatch.delattr(os, "preadv")
    monkeypatch.delattr(mmap, "MAP_ANONYMOUS")


@pytest.mark.parametrize("windows", [False, True])
def test_large_tensors_are_read_whole_and_aligned_by_the_parallel_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, windows: bool
) -> None:
    """Over 64 MiB the read is cut into pieces read by several threads: every byte lands where it belongs."""
    if windows:
        _as_on_windows(monkeypatch)
    rng = np.random.default_rng(3)
    big = rng.standard_normal((6000, 3001)).astype(np.float32)  # 69 MiB, rows not a multiple of any piece size
    tensors: dict[str, Array] = {"a_bias": rng.standard_normal(7).astype(np.float32), "b_big": big}
    tensors["c_h"] = big[:1000].astype(np.float16)
    save_file(tensors, str(tmp_path / "model.safetensors"))  # safetensors' own layout: tensors not 64-byte aligned
    checkpoint = open_checkpoint(tmp_path)
    assert not checkpoint.is_aligned("b_big")
    read = checkpoint.read(list(tensors))
    raw = checkpoint.read_raw(list(tensors))
    for name, array in tensors.items():
        assert read[name].tobytes() == array.tobytes(), name
        assert raw[name].tobytes() == array.tobytes(), name
        assert read[name].ctypes.data % 64 == 0 and raw[name].ctypes.data % 64 == 0, name
    rows = checkpoint.read_slice("b_big", (slice(1234, 4999), slice(0, 3001)))
    assert rows.tobytes() == big[1234:4999].tobytes()


def test_a_truncated_large_tensor_is_a_file_error_naming_it(tmp_path: Path) -> None:
    save_file({"w": np.ones((4096, 4096 + 5), dtype=np.float32)}, str(tmp_path / "model.safetensors"))
    path = tmp_path / "model.safetensors"
    with path.open("r+b") as file:
        file.truncate(path.stat().st_size - 1000)
    with pytest.raises(WeightsFileError, match=r"tensor .w. .*truncated"):
        open_checkpoint(tmp_path).read(["w"])
