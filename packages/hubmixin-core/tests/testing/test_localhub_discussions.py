"""Discussions and pull requests through the real client: open, list, comment, push to refs/pr/N, merge, close."""

from __future__ import annotations

import os
from pathlib import Path

import huggingface_hub as hf
import pytest
from huggingface_hub import DiscussionComment, DiscussionCommit, DiscussionStatusChange
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

from hubmixin_core.testing import LocalHub


@pytest.fixture
def repo_id(local_hub: LocalHub) -> str:
    """A public repo of the default user holding ``a.txt``."""
    repo_id = hf.create_repo("talk").repo_id
    hf.upload_file(path_or_fileobj=b"a", path_in_repo="a.txt", repo_id=repo_id)
    return repo_id


def _read(repo_id: str, path: str, revision: str | None = None) -> bytes:
    return Path(hf.hf_hub_download(repo_id, path, revision=revision)).read_bytes()


def test_pull_request_lifecycle(local_hub: LocalHub, repo_id: str) -> None:
    pr = hf.create_pull_request(repo_id, title="Add b", description="Adds b.txt")
    assert (pr.num, pr.is_pull_request, pr.git_reference, pr.status) == (1, True, "refs/pr/1", "draft")
    assert pr.target_branch == "refs/heads/main"
    assert isinstance(pr.events[0], DiscussionComment) and pr.events[0].content == "Adds b.txt"

    info = hf.upload_file(path_or_fileobj=b"b", path_in_repo="b.txt", repo_id=repo_id, revision=pr.git_reference)
    assert _read(repo_id, "b.txt", revision="refs/pr/1") == b"b"
    assert "b.txt" not in hf.list_repo_files(repo_id)

    comment = hf.comment_discussion(repo_id, 1, "Looks good")
    assert comment.content == "Looks good" and comment.author == local_hub.username

    details = hf.get_discussion_details(repo_id, 1)
    assert details.status == "open"
    commits = [e for e in details.events if isinstance(e, DiscussionCommit)]
    assert [c.oid for c in commits] == [info.oid]
    assert details.diff is not None and "b.txt" in details.diff

    hf.merge_pull_request(repo_id, 1)
    merged = hf.get_discussion_details(repo_id, 1)
    assert merged.status == "merged" and merged.merge_commit_oid is not None
    assert hf.model_info(repo_id).sha == merged.merge_commit_oid
    assert _read(repo_id, "b.txt") == b"b" and _read(repo_id, "a.txt") == b"a"
    assert _read(repo_id, "b.txt", revision="refs/pr/1") == b"b"  # the PR ref stays downloadable
    assert isinstance(merged.events[-1], DiscussionStatusChange) and merged.events[-1].new_status == "merged"
    with pytest.raises(HfHubHTTPError):
        hf.merge_pull_request(repo_id, 1)


def test_merge_applies_the_pr_changes_onto_a_moved_branch(local_hub: LocalHub, repo_id: str) -> None:
    pr = hf.create_pull_request(repo_id, title="Delete a")
    hf.delete_file("a.txt", repo_id, revision=pr.git_reference)
    hf.upload_file(path_or_fileobj=b"c", path_in_repo="c.txt", repo_id=repo_id)  # main moves on
    hf.merge_pull_request(repo_id, pr.num)
    assert sorted(hf.list_repo_files(repo_id)) == [".gitattributes", "c.txt"]


def test_a_pull_request_whose_branch_changed_its_files_too_has_conflicts(local_hub: LocalHub, repo_id: str) -> None:
    pr = hf.create_pull_request(repo_id, title="Change a")
    hf.upload_file(path_or_fileobj=b"pr", path_in_repo="a.txt", repo_id=repo_id, revision=pr.git_reference)
    hf.upload_file(path_or_fileobj=b"b", path_in_repo="b.txt", repo_id=repo_id, revision=pr.git_reference)
    assert hf.get_discussion_details(repo_id, pr.num).conflicting_files == []
    hf.upload_file(path_or_fileobj=b"main", path_in_repo="a.txt", repo_id=repo_id)  # main changes a.txt too
    assert hf.get_discussion_details(repo_id, pr.num).conflicting_files == ["a.txt"]
    head = hf.model_info(repo_id).sha
    with pytest.raises(HfHubHTTPError, match=r"a\.txt") as caught:
        hf.merge_pull_request(repo_id, pr.num)
    assert caught.value.response is not None and caught.value.response.status_code == 409
    assert hf.model_info(repo_id).sha == head and _read(repo_id, "a.txt") == b"main"
    assert hf.get_discussion_details(repo_id, pr.num).status == "open"
    hf.upload_file(path_or_fileobj=b"main", path_in_repo="a.txt", repo_id=repo_id, revision=pr.git_reference)
    hf.merge_pull_request(repo_id, pr.num)  # resolved: the same contents on both sides
    assert (_read(repo_id, "a.txt"), _read(repo_id, "b.txt")) == (b"main", b"b")


def test_create_pr_commits_open_pull_requests(local_hub: LocalHub, repo_id: str) -> None:
    info = hf.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id, create_pr=True)
    assert info.pr_num == 1 and info.pr_revision == "refs/pr/1"
    hf.upload_file(path_or_fileobj=b"y", path_in_repo="y.txt", repo_id=repo_id, revision="refs/pr/1")
    details = hf.get_discussion_details(repo_id, 1)
    assert details.is_pull_request and details.status == "open"
    assert len([e for e in details.events if isinstance(e, DiscussionCommit)]) == 2
    assert hf.create_discussion(repo_id, title="Question").num == 2  # one numbering for both


def test_create_pr_against_a_branch_targets_and_merges_into_it(local_hub: LocalHub, repo_id: str) -> None:
    first = hf.list_repo_commits(repo_id)[-1].commit_id
    hf.create_branch(repo_id, branch="dev", revision=first)
    hf.upload_file(path_or_fileobj=b"m", path_in_repo="main.txt", repo_id=repo_id)
    add = [hf.CommitOperationAdd("pr.txt", b"pr")]
    info = hf.create_commit(repo_id, add, commit_message="To dev", revision="dev", create_pr=True)
    assert info.pr_num is not None
    assert hf.get_discussion_details(repo_id, info.pr_num).target_branch == "refs/heads/dev"
    hf.merge_pull_request(repo_id, info.pr_num)
    assert sorted(hf.list_repo_files(repo_id, revision="dev")) == [".gitattributes", "pr.txt"]
    assert "pr.txt" not in hf.list_repo_files(repo_id)
    with pytest.raises(RevisionNotFoundError):  # as the client documents: PRs are opened against branches
        add = [hf.CommitOperationAdd("sha.txt", b"sha")]
        hf.create_commit(repo_id, add, commit_message="To a sha", revision=first, create_pr=True)


def test_list_and_close(local_hub: LocalHub, repo_id: str) -> None:
    hf.create_discussion(repo_id, title="A question")
    hf.create_pull_request(repo_id, title="A change")
    renamed = hf.rename_discussion(repo_id, 1, "A better question")
    assert (renamed.old_title, renamed.new_title) == ("A question", "A better question")
    every = list(hf.get_repo_discussions(repo_id))
    assert [(d.num, d.is_pull_request, d.title) for d in every] == [
        (2, True, "A change"),
        (1, False, "A better question"),
    ]
    assert [d.num for d in hf.get_repo_discussions(repo_id, discussion_type="discussion")] == [1]
    status = hf.change_discussion_status(repo_id, 2, "closed", comment="Not needed")
    assert status.new_status == "closed"
    assert hf.get_discussion_details(repo_id, 2).status == "closed"
    assert [d.num for d in hf.get_repo_discussions(repo_id, discussion_status="open")] == [1]
    with pytest.raises(HfHubHTTPError):
        hf.upload_file(path_or_fileobj=b"z", path_in_repo="z.txt", repo_id=repo_id, revision="refs/pr/2")
    hf.change_discussion_status(repo_id, 2, "open")
    assert hf.get_discussion_details(repo_id, 2).status == "open"


def test_access_rules(local_hub: LocalHub, repo_id: str) -> None:
    other = local_hub.add_user("contributor")
    third = local_hub.add_user("third")
    pr = hf.create_pull_request(repo_id, title="From a contributor", token=other)
    assert pr.author == "contributor"
    hf.upload_file(path_or_fileobj=b"o", path_in_repo="o.txt", repo_id=repo_id, revision="refs/pr/1", token=other)
    with pytest.raises(HfHubHTTPError) as excinfo:  # someone else's PR
        hf.upload_file(path_or_fileobj=b"t", path_in_repo="t.txt", repo_id=repo_id, revision="refs/pr/1", token=third)
    assert excinfo.value.response.status_code == 403
    hf.comment_discussion(repo_id, 1, "Me too", token=third)  # any reader may comment
    for call in (
        lambda: hf.merge_pull_request(repo_id, 1, token=other),  # merging needs write access
        lambda: hf.change_discussion_status(repo_id, 1, "closed", token=third),
    ):
        with pytest.raises(HfHubHTTPError) as excinfo:
            call()
        assert excinfo.value.response.status_code == 403
    hf.change_discussion_status(repo_id, 1, "closed", token=other)  # the author may close it
    hf.change_discussion_status(repo_id, 1, "open")  # and the owner reopen it
    hf.merge_pull_request(repo_id, 1)
    assert _read(repo_id, "o.txt") == b"o"

    private = hf.create_repo("secret", private=True).repo_id
    with pytest.raises(RepositoryNotFoundError):
        hf.create_discussion(private, title="Let me in", token=other)
    with pytest.raises(RepositoryNotFoundError):
        list(hf.get_repo_discussions(private, token=other))
    assert hf.create_discussion(private, title="Note to self").num == 1


@pytest.mark.local_hub(xet=False)  # through the LFS batch API
def test_pr_authors_push_lfs_files_to_their_pull_request(local_hub: LocalHub, repo_id: str) -> None:
    other, third = local_hub.add_user("contributor"), local_hub.add_user("third")
    pr = hf.upload_file(path_or_fileobj=b"\0" * 100, path_in_repo="a.bin", repo_id=repo_id, create_pr=True, token=other)
    assert pr.pr_revision == "refs/pr/1"
    hf.upload_file(
        path_or_fileobj=b"\0" * 200, path_in_repo="b.bin", repo_id=repo_id, revision="refs/pr/1", token=other
    )
    assert _read(repo_id, "b.bin", revision="refs/pr/1") == b"\0" * 200
    with pytest.raises(HfHubHTTPError) as excinfo:  # someone else's PR
        hf.upload_file(
            path_or_fileobj=b"\0" * 300, path_in_repo="c.bin", repo_id=repo_id, revision="refs/pr/1", token=third
        )
    assert excinfo.value.response.status_code == 403


@pytest.mark.filterwarnings("ignore:Hidden comments' content cannot be retrieved:UserWarning")
def test_edit_and_hide_comments(local_hub: LocalHub, repo_id: str) -> None:
    other = local_hub.add_user("contributor")
    third = local_hub.add_user("third")
    hf.create_discussion(repo_id, title="A question", description="First words", token=other)
    opening = hf.get_discussion_details(repo_id, 1).events[0]
    reply = hf.comment_discussion(repo_id, 1, "A reply", token=third)

    edited = hf.edit_discussion_comment(repo_id, 1, opening.id, "Better words", token=other)
    assert (edited.id, edited.content, edited.edited, edited.hidden) == (opening.id, "Better words", True, False)
    hf.edit_discussion_comment(repo_id, 1, opening.id, "Best words", token=other)
    stored = hf.get_discussion_details(repo_id, 1).events[0]
    assert isinstance(stored, DiscussionComment) and stored.content == "Best words"
    data = stored._event["data"]
    assert data["numEdits"] == 2 and [v["raw"] for v in data["history"]] == ["Better words", "First words"]

    with pytest.raises(HfHubHTTPError) as excinfo:  # only the author edits, even the repo's owner does not
        hf.edit_discussion_comment(repo_id, 1, opening.id, "Owner's words")
    assert excinfo.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as excinfo:  # hiding needs the author or the repo's writers
        hf.HfApi().hide_discussion_comment(repo_id, 1, reply.id, token=other)
    assert excinfo.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as excinfo:
        hf.edit_discussion_comment(repo_id, 1, "0" * 24, "Nothing there", token=other)
    assert excinfo.value.response.status_code == 404

    hidden = hf.HfApi().hide_discussion_comment(repo_id, 1, reply.id)  # by the repo's owner
    assert (hidden.id, hidden.hidden, hidden.content) == (reply.id, True, "")
    assert hf.HfApi().hide_discussion_comment(repo_id, 1, opening.id, token=other).hidden  # by its author
    events = hf.get_discussion_details(repo_id, 1).events
    assert [(e.id, e.hidden, e.content) for e in events if isinstance(e, DiscussionComment)] == [
        (opening.id, True, ""),
        (reply.id, True, ""),
    ]
    assert events[0]._event["data"]["history"] == []  # earlier versions are gone too
    with pytest.raises(HfHubHTTPError) as excinfo:
        hf.edit_discussion_comment(repo_id, 1, reply.id, "Back again", token=third)
    assert excinfo.value.response.status_code == 400


def test_upload_folder_create_pr_with_a_large_file(local_hub: LocalHub, repo_id: str, tmp_path: Path) -> None:
    (tmp_path / "big.bin").write_bytes(os.urandom(11 * 1024 * 1024))
    (tmp_path / "small.txt").write_bytes(b"small")
    info = hf.upload_folder(folder_path=tmp_path, repo_id=repo_id, create_pr=True)
    assert info.pr_url is not None and info.pr_url.endswith("/discussions/1")
    assert hf.get_discussion_details(repo_id, 1).is_pull_request
    assert Path(hf.hf_hub_download(repo_id, "big.bin", revision="refs/pr/1")).stat().st_size == 11 * 1024 * 1024
    assert "big.bin" not in hf.list_repo_files(repo_id)
    hf.merge_pull_request(repo_id, 1)
    assert (tmp_path / "big.bin").read_bytes() == Path(hf.hf_hub_download(repo_id, "big.bin")).read_bytes()
