"""Objects uploaded through plain LFS get a Xet representation, as on the Hub (which migrates LFS files to Xet)."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import huggingface_hub as hf
import pytest
from huggingface_hub import constants

from hubmixin_core.testing import LocalHub, _upload

pytest.importorskip("blake3")
pytest.importorskip("lz4")
hf_xet = pytest.importorskip("hf_xet")

BIG = 11 * 1024 * 1024 + 321  # over 10 MB: the client sends it through the LFS batch API


@contextmanager
def _xet(enabled: bool) -> Iterator[None]:
    saved = constants.HF_HUB_DISABLE_XET
    constants.HF_HUB_DISABLE_XET = not enabled
    try:
        yield
    finally:
        constants.HF_HUB_DISABLE_XET = saved


def _client_hash(tmp_path: Path, data: bytes) -> str:
    """The Xet hash hf_xet computes for ``data``."""
    path = tmp_path / "content.bin"
    path.write_bytes(data)
    (info,) = hf_xet.hash_files([str(path)])
    return str(info.hash)


def _xorb_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in (root / "xet" / "xorbs").glob("*/*") if p.suffix != ".idx")


@pytest.mark.parametrize(
    "data",
    [b"x" * 100, bytes(3 * 1024 * 1024 + 5), b"line of text\n" * 200_000, os.urandom(2 * 1024 * 1024 + 77)],
    ids=["tiny", "zeros", "text", "random-over-a-read-block"],
)
def test_chunking_gives_the_xet_hash_hf_xet_computes(tmp_path: Path, data: bytes) -> None:
    from hubmixin_core.testing.xet import _format as fmt
    from hubmixin_core.testing.xet._chunking import iter_cdc_chunks

    chunks = list(iter_cdc_chunks(io.BytesIO(data)))
    assert b"".join(chunks) == data
    ours = fmt.hash_hex(fmt.file_hash([(fmt.chunk_hash(chunk), len(chunk)) for chunk in chunks]))
    assert ours == _client_hash(tmp_path, data)


@pytest.mark.local_hub(xet=False)
def test_lfs_uploads_get_the_xet_hash_and_download_through_xet(local_hub: LocalHub, tmp_path: Path) -> None:
    data = os.urandom(BIG)
    repo_id = hf.create_repo("lfs").repo_id
    hf.upload_file(path_or_fileobj=data, path_in_repo="w.bin", repo_id=repo_id)
    expected = _client_hash(tmp_path, data)
    (info,) = hf.get_paths_info(repo_id, ["w.bin"])
    listed = {f.path: f for f in hf.list_repo_tree(repo_id) if isinstance(f, hf.hf_api.RepoFile)}
    assert isinstance(info, hf.hf_api.RepoFile) and info.xet_hash == listed["w.bin"].xet_hash == expected
    assert vars(next(iter(hf.list_lfs_files(repo_id)))).get("xetHash") == expected
    with _xet(True):
        head = hf.get_hf_file_metadata(hf.hf_hub_url(repo_id, "w.bin"))
        assert head.xet_file_data is not None and head.xet_file_data.file_hash == expected
        assert Path(hf.hf_hub_download(repo_id, "w.bin", cache_dir=tmp_path / "xet")).read_bytes() == data
    assert Path(hf.hf_hub_download(repo_id, "w.bin", cache_dir=tmp_path / "plain")).read_bytes() == data
    stored = _xorb_bytes(local_hub.root)
    with _xet(True):  # a Xet client uploading the same bytes finds them all stored: same chunks, same file
        hf.upload_file(path_or_fileobj=data, path_in_repo="w.bin", repo_id=hf.create_repo("xet").repo_id)
    assert _xorb_bytes(local_hub.root) == stored


@pytest.mark.local_hub(xet=False)
@pytest.mark.parametrize("xet_copier", [True, False], ids=["xet-client", "lfs-client"])
def test_cross_repo_copy_of_an_lfs_upload(local_hub: LocalHub, tmp_path: Path, xet_copier: bool) -> None:
    data = os.urandom(BIG)
    source = hf.create_repo("source").repo_id
    hf.upload_file(path_or_fileobj=data, path_in_repo="w.bin", repo_id=source)
    target = hf.create_repo("target").repo_id
    with _xet(xet_copier):
        copy = hf.CommitOperationCopy("w.bin", "copied.bin", src_repo_id=source, src_repo_type="model")
        hf.create_commit(target, [copy], commit_message="Copy from source")
        (info,) = hf.get_paths_info(target, ["copied.bin"])
        assert isinstance(info, hf.hf_api.RepoFile) and info.xet_hash == _client_hash(tmp_path, data)
        assert Path(hf.hf_hub_download(target, "copied.bin", cache_dir=tmp_path / "c")).read_bytes() == data


@pytest.mark.local_hub(xet=False)
def test_an_object_over_the_migration_limit_stays_lfs_only(
    local_hub: LocalHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_upload, "MIGRATED_UP_TO", BIG - 1)  # the server's own limit (64 MiB), made small
    data = os.urandom(BIG)
    repo_id = hf.create_repo("big").repo_id
    hf.upload_file(path_or_fileobj=data, path_in_repo="w.bin", repo_id=repo_id)
    (info,) = hf.get_paths_info(repo_id, ["w.bin"])
    assert isinstance(info, hf.hf_api.RepoFile) and info.lfs is not None and info.xet_hash is None
    assert _xorb_bytes(local_hub.root) == 0
    assert Path(hf.hf_hub_download(repo_id, "w.bin", cache_dir=tmp_path / "plain")).read_bytes() == data
