"""What ``expand`` (tree, paths-info, list_models), ``full=True`` and ``formatted=True`` add, with the real client."""

from __future__ import annotations

import huggingface_hub as hf
from huggingface_hub.hf_api import RepoFile, RepoFolder

from hubmixin_core.testing import LocalHub


def _commit(repo_id: str, files: dict[str, bytes], title: str) -> str:
    operations = [hf.CommitOperationAdd(path, data) for path, data in files.items()]
    return hf.create_commit(repo_id, operations, commit_message=title).oid


def test_tree_and_paths_info_expand_give_last_commit_and_security_status(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("m").repo_id
    first = _commit(repo_id, {"config.json": b"{}", "sub/a.txt": b"a", "sub/b.txt": b"b"}, "Add files")
    second = _commit(repo_id, {"sub/b.txt": b"b2"}, "Change b")
    _commit(repo_id, {"README.md": b"# card"}, "Add card")
    tree = {entry.path: entry for entry in hf.list_repo_tree(repo_id, recursive=True, expand=True)}
    by_path = {path: entry.last_commit.oid for path, entry in tree.items() if entry.last_commit is not None}
    assert by_path["config.json"] == by_path["sub/a.txt"] == first
    assert by_path["sub/b.txt"] == by_path["sub"] == second  # a folder's last commit is its newest change
    assert by_path[".gitattributes"] == hf.list_repo_commits(repo_id)[-1].commit_id  # the initial commit
    assert len(by_path) == len(tree) == 6
    change = tree["sub/b.txt"].last_commit
    assert change is not None and change.title == "Change b" and change.date.year >= 2024
    config = tree["config.json"]
    assert isinstance(config, RepoFile) and config.security is not None
    assert config.security.status == "unscanned" and not config.security.safe  # LocalHub scans nothing
    assert isinstance(tree["sub"], RepoFolder)

    info = {entry.path: entry for entry in hf.get_paths_info(repo_id, ["sub/a.txt", "sub"], expand=True)}
    assert {path: entry.last_commit.oid for path, entry in info.items() if entry.last_commit} == {
        "sub/a.txt": first,
        "sub": second,
    }
    at_first = {e.path: e for e in hf.list_repo_tree(repo_id, path_in_repo="sub", revision=first, expand=True)}
    assert {path: e.last_commit.oid for path, e in at_first.items() if e.last_commit} == {
        "sub/a.txt": first,
        "sub/b.txt": first,
    }
    plain = next(iter(hf.get_paths_info(repo_id, ["config.json"])))
    assert isinstance(plain, RepoFile) and plain.last_commit is None and plain.security is None


def test_commits_formatted_give_html_title_and_message(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("m").repo_id
    hf.upload_file(
        path_or_fileobj=b"{}",
        path_in_repo="config.json",
        repo_id=repo_id,
        commit_message="Add <b>config</b>",
        commit_description="first line\nsecond & last",
    )
    newest = hf.list_repo_commits(repo_id, formatted=True)[0]
    assert newest.formatted_title == "Add &lt;b&gt;config&lt;/b&gt;"
    assert newest.formatted_message == "<p>first line<br>second &amp; last</p>"
    assert hf.list_repo_commits(repo_id)[0].formatted_title is None


def test_list_models_expand_and_full_give_sha_and_siblings(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("m").repo_id
    sha = hf.upload_file(path_or_fileobj=b"{}", path_in_repo="config.json", repo_id=repo_id).oid
    (expanded,) = hf.list_models(author=local_hub.username, expand=["sha", "siblings"])
    assert expanded.sha == sha
    assert [s.rfilename for s in expanded.siblings or []] == [".gitattributes", "config.json"]
    (full,) = hf.list_models(author=local_hub.username, full=True)
    assert full.sha == sha and [s.rfilename for s in full.siblings or []] == [".gitattributes", "config.json"]
    (plain,) = hf.list_models(author=local_hub.username)
    assert plain.sha is None and plain.siblings is None
