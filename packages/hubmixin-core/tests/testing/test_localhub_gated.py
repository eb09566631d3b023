"""Gated repositories through the real client: ``GatedRepoError`` for those without access (downloads, Xet, auth
checks, copies, pull requests), access for the namespace's members, and the access-request APIs (``auto`` and
``manual`` approval, accept/reject/cancel/grant, the three listings, who may manage them, persistence).

Users ask for access through the Hub's web form, not the client: tests ask through the server's ``ask-access``
route (as the form does) or `LocalHub.request_access`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterable
from contextlib import closing
from pathlib import Path
from urllib.parse import urlencode

import huggingface_hub as hf
import pytest
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError
from huggingface_hub.hf_api import AccessRequest
from localhub_raw import raw_request

from hubmixin_core.errors import HubMixinValueError
from hubmixin_core.testing import LocalHub

WEIGHTS = b"\x00weights" + os.urandom(4000)  # binary: through LFS, so through Xet when the client has it on
CONFIG = b'{"dim": 4}'


def _gated_repo(name: str = "gated", gated: str = "manual", *, repo_type: str = "model") -> str:
    """A repository of the default user with a card, a config and weights, gated ``gated``."""
    repo_id = hf.create_repo(name, repo_type=repo_type).repo_id
    files = {"README.md": b"---\nlicense: mit\n---\n# Gated\n", "config.json": CONFIG, "weights.bin": WEIGHTS}
    operations = [hf.CommitOperationAdd(path, data) for path, data in files.items()]
    hf.create_commit(repo_id, operations, commit_message="files", repo_type=repo_type)
    hf.update_repo_settings(repo_id, gated=gated, repo_type=repo_type)  # type: ignore[arg-type]
    return repo_id


def _download(repo_id: str, name: str, token: str | bool | None, *, repo_type: str = "model") -> bytes:
    with tempfile.TemporaryDirectory(prefix="cache-") as cache:  # a fresh cache: nothing to fall back on
        path = hf.hf_hub_download(repo_id, name, token=token, cache_dir=cache, repo_type=repo_type)
        return Path(path).read_bytes()


def _gated_status(repo_id: str, name: str, token: str | bool | None) -> tuple[int, str]:
    with pytest.raises(GatedRepoError) as excinfo:
        _download(repo_id, name, token)
    return excinfo.value.response.status_code, str(excinfo.value)


def _stored_requests(hub: LocalHub) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(hub.root / "hub.sqlite")) as db:
        return list(db.execute("SELECT repo_id, user FROM access_requests"))


def _ask(
    hub: LocalHub, repo_id: str, token: str | None, body: bytes, *, prefix: str = ""
) -> tuple[int, dict[str, str]]:
    url = f"{hub.endpoint}/{prefix}{repo_id}/ask-access"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    status, _, answer = raw_request("POST", url, token=token, body=body, headers=headers)
    return status, json.loads(answer)


def _xet_token(hub: LocalHub, repo_id: str, token: str | None) -> tuple[int, dict[str, object], str | None]:
    url = f"{hub.endpoint}/api/models/{repo_id}/xet-read-token/main"
    status, headers, body = raw_request("GET", url, token=token)
    return status, json.loads(body), headers.get("X-Error-Code")


def _usernames(requests: Iterable[AccessRequest]) -> list[str | None]:
    return [request.username for request in requests]


def test_gated_files_need_access_and_metadata_stays_visible(local_hub: LocalHub, tmp_path: Path) -> None:
    repo_id = _gated_repo()
    bob = local_hub.add_user("bob")
    for token in (False, bob):
        info = hf.model_info(repo_id, token=token)
        assert info.gated == "manual" and info.card_data is not None and info.card_data.license == "mit"
        files = sorted(hf.list_repo_files(repo_id, token=token))
        assert files == [".gitattributes", "README.md", "config.json", "weights.bin"]
        assert [p.path for p in hf.get_paths_info(repo_id, ["weights.bin"], token=token)] == ["weights.bin"]
        assert _download(repo_id, "README.md", token).startswith(b"---")  # the card (and its terms) stays readable
    for name in ("config.json", "weights.bin"):
        status, message = _gated_status(repo_id, name, False)
        assert status == 401 and "You must have access to it and be authenticated" in message
        status, message = _gated_status(repo_id, name, bob)
        assert status == 403 and "you are not in the authorized list" in message and repo_id in message
    status, headers, _ = raw_request("HEAD", hf.hf_hub_url(repo_id, "weights.bin"), token=bob)
    assert (status, headers.get("X-Error-Code")) == (403, "GatedRepo")
    with pytest.raises(GatedRepoError):
        hf.file_exists(repo_id, "config.json", token=bob)
    for token in (False, bob):
        with pytest.raises(GatedRepoError):
            hf.snapshot_download(repo_id, token=token, cache_dir=tmp_path / f"snapshot-{token}")
    assert _xet_token(local_hub, repo_id, None)[::2] == (401, "GatedRepo")
    assert _xet_token(local_hub, repo_id, bob)[::2] == (403, "GatedRepo")
    with pytest.raises(GatedRepoError):
        hf.auth_check(repo_id, token=bob)
    with pytest.raises(GatedRepoError):
        hf.duplicate_repo(repo_id, "bob/copy", token=bob)
    with pytest.raises(GatedRepoError):  # pull requests need access to the files too
        hf.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id, create_pr=True, token=bob)
    # The owner reads everything, through Xet as the client is set up
    assert hf.get_hf_file_metadata(hf.hf_hub_url(repo_id, "weights.bin")).xet_file_data is not None
    local = Path(hf.snapshot_download(repo_id, cache_dir=tmp_path / "owner"))
    assert (local / "weights.bin").read_bytes() == WEIGHTS and (local / "config.json").read_bytes() == CONFIG
    assert _xet_token(local_hub, repo_id, local_hub.token)[0] == 200
    hf.auth_check(repo_id)
    # Gating off reopens the files
    hf.update_repo_settings(repo_id, gated=False)
    assert hf.model_info(repo_id, token=False).gated is False
    assert _download(repo_id, "weights.bin", False) == WEIGHTS
    assert _download(repo_id, "config.json", bob) == CONFIG
    hf.auth_check(repo_id, token=bob)


def test_auth_check_answers_anonymous_callers_as_downloads_do(local_hub: LocalHub) -> None:
    gated = _gated_repo("gated", "auto")
    with pytest.raises(GatedRepoError) as raised:  # GatedRepo, as auth_check documents, not a bare 401
        hf.auth_check(gated, token=False)
    assert raised.value.response.status_code == 401
    assert raised.value.response.headers.get("X-Error-Code") == "GatedRepo"
    public = hf.create_repo("public").repo_id
    hf.auth_check(public, token=False)  # anyone may read a public repository
    private = hf.create_repo("private", private=True).repo_id
    with pytest.raises(RepositoryNotFoundError):
        hf.auth_check(private, token=False)
    with pytest.raises(HfHubHTTPError) as refused:  # writing needs a token
        hf.auth_check(public, token=False, write=True)
    assert refused.value.response.status_code == 401


def test_members_of_the_owning_organization_download(local_hub: LocalHub) -> None:
    bob, carol, dave = (local_hub.add_user(name) for name in ("bob", "carol", "dave"))
    local_hub.add_organization("acme", members={local_hub.username: "admin", "bob": "read", "carol": "write"})
    repo_id = _gated_repo("acme/gated")
    assert _download(repo_id, "weights.bin", bob) == WEIGHTS  # any role
    assert _download(repo_id, "config.json", carol) == CONFIG
    assert _gated_status(repo_id, "weights.bin", dave)[0] == 403
    with pytest.raises(HfHubHTTPError) as excinfo:  # reading is not managing
        list(hf.list_pending_access_requests(repo_id, token=bob))
    assert excinfo.value.response.status_code == 403
    assert list(hf.list_pending_access_requests(repo_id, token=carol)) == []
    local_hub.set_org_role("acme", "bob", None)  # left the organization: no access any more
    assert _gated_status(repo_id, "weights.bin", bob)[0] == 403
    private = _gated_repo("acme/private-gated")
    hf.update_repo_settings(private, private=True)
    assert _download(private, "weights.bin", carol) == WEIGHTS
    with pytest.raises(RepositoryNotFoundError) as not_found:  # private repos stay invisible, not gated
        _download(private, "weights.bin", dave)
    assert not isinstance(not_found.value, GatedRepoError)


def test_auto_gating_accepts_requests_at_once(local_hub: LocalHub) -> None:
    repo_id = _gated_repo(gated="auto")
    dataset = _gated_repo("data", gated="auto", repo_type="dataset")
    bob = local_hub.add_user("bob")
    assert _gated_status(repo_id, "weights.bin", bob)[0] == 403
    status, answer = _ask(local_hub, repo_id, bob, urlencode({"company": "ACME", "use": "research"}).encode())
    assert status == 200 and answer["status"] == "accepted"
    assert _download(repo_id, "weights.bin", bob) == WEIGHTS
    (accepted,) = hf.list_accepted_access_requests(repo_id)
    assert (accepted.username, accepted.status, accepted.request_id) == ("bob", "accepted", answer["requestId"])
    assert accepted.fields == {"company": "ACME", "use": "research"} and accepted.timestamp.tzinfo is not None
    assert list(hf.list_pending_access_requests(repo_id)) == []
    status, answer = _ask(local_hub, dataset, bob, b"", prefix="datasets/")
    assert (status, answer["status"]) == (200, "accepted")
    assert _download(dataset, "weights.bin", bob, repo_type="dataset") == WEIGHTS
    assert _usernames(hf.list_accepted_access_requests(dataset, repo_type="dataset")) == ["bob"]
    local_hub.add_user("carol")
    assert local_hub.request_access(repo_id, "carol") == "accepted"
    dave = local_hub.add_user("dave")
    url, form = f"{local_hub.endpoint}/{repo_id}/ask-access", json.dumps({"country": "FR"}).encode()
    status, _, raw = raw_request("POST", url, token=dave, body=form, headers={"Content-Type": "application/json"})
    assert (status, json.loads(raw)["status"]) == (200, "accepted")
    accepted_now = list(hf.list_accepted_access_requests(repo_id))
    assert _usernames(accepted_now) == ["bob", "carol", "dave"]  # oldest first
    assert accepted_now[2].fields == {"country": "FR"}


def test_manual_gating_accept_reject_cancel_and_grant(local_hub: LocalHub) -> None:
    repo_id = _gated_repo()
    bob, carol = local_hub.add_user("bob"), local_hub.add_user("carol")
    local_hub.add_user("dave")
    assert local_hub.request_access(repo_id, "bob", fields={"company": "ACME", "agree": True}) == "pending"
    assert local_hub.request_access(repo_id, "carol") == "pending"
    pending = list(hf.list_pending_access_requests(repo_id))
    assert _usernames(pending) == ["bob", "carol"] and pending[0].fields == {"company": "ACME", "agree": True}
    assert pending[1].fields is None and {r.status for r in pending} == {"pending"}
    status, message = _gated_status(repo_id, "weights.bin", bob)
    assert status == 403 and "awaiting a review" in message
    hf.accept_access_request(repo_id, "bob")
    assert _download(repo_id, "weights.bin", bob) == WEIGHTS
    hf.accept_access_request(repo_id, request_id=pending[1].request_id)  # by request id
    assert _download(repo_id, "config.json", carol) == CONFIG
    assert _usernames(hf.list_accepted_access_requests(repo_id)) == ["bob", "carol"]
    hf.cancel_access_request(repo_id, "carol")  # back to pending: no access
    assert _usernames(hf.list_pending_access_requests(repo_id)) == ["carol"]
    assert _gated_status(repo_id, "weights.bin", carol)[0] == 403
    hf.reject_access_request(repo_id, "bob", rejection_reason="Not for commercial use")
    status, message = _gated_status(repo_id, "weights.bin", bob)
    assert status == 403 and "rejected" in message and "Not for commercial use" in message
    (rejected,) = hf.list_rejected_access_requests(repo_id)
    assert (rejected.username, rejected.status, rejected.request_id) == ("bob", "rejected", pending[0].request_id)
    assert local_hub.request_access(repo_id, "bob") == "rejected"  # asking again changes nothing
    hf.reject_access_request(repo_id, "carol", rejection_reason=None)
    assert _usernames(hf.list_rejected_access_requests(repo_id)) == ["bob", "carol"]
    hf.grant_access(repo_id, "dave")  # never asked
    assert _download(repo_id, "weights.bin", local_hub.create_token("dave", write=False)) == WEIGHTS
    hf.grant_access(repo_id, "bob")  # a rejected user too
    assert _download(repo_id, "weights.bin", bob) == WEIGHTS
    assert _usernames(hf.list_accepted_access_requests(repo_id)) == ["bob", "dave"]
    assert list(hf.list_pending_access_requests(repo_id)) == []


def _status_of(call: Callable[[], object]) -> int:
    with pytest.raises(HfHubHTTPError) as excinfo:
        call()
    return excinfo.value.response.status_code


def test_bad_requests_get_the_hubs_errors(local_hub: LocalHub) -> None:
    repo_id = _gated_repo()
    open_repo = hf.create_repo("open").repo_id
    local_hub.add_user("bob")
    local_hub.request_access(repo_id, "bob")
    assert _status_of(lambda: hf.accept_access_request(repo_id, "nobody")) == 404  # no such user
    local_hub.add_user("carol")
    assert _status_of(lambda: hf.accept_access_request(repo_id, "carol")) == 404  # carol never asked
    assert _status_of(lambda: hf.accept_access_request(repo_id, request_id="0" * 24)) == 404
    assert _status_of(lambda: hf.cancel_access_request(repo_id, "bob")) == 404  # already pending
    hf.accept_access_request(repo_id, "bob")
    assert _status_of(lambda: hf.accept_access_request(repo_id, "bob")) == 404  # already accepted
    assert _status_of(lambda: hf.grant_access(repo_id, "bob")) == 400  # already has access
    assert _status_of(lambda: hf.grant_access(repo_id, local_hub.username)) == 400  # the owner has it
    assert _status_of(lambda: hf.grant_access(repo_id, "nobody")) == 404
    assert _status_of(lambda: hf.reject_access_request(repo_id, "bob", rejection_reason="x" * 201)) == 400
    assert _status_of(lambda: list(hf.list_pending_access_requests(open_repo))) == 400  # not gated
    assert _status_of(lambda: hf.grant_access(open_repo, "bob")) == 400
    url = f"{local_hub.endpoint}/api/models/{repo_id}/user-access-request/handle"
    for body in (b'{"user": "bob", "status": "maybe"}', b'{"status": "accepted"}', b"[]", b"{"):
        assert raw_request("POST", url, token=local_hub.token, body=body)[0] == 400, body
    token = local_hub.add_user("dave")
    assert _ask(local_hub, open_repo, token, b"")[0] == 400  # not gated: nothing to ask for
    assert _ask(local_hub, repo_id, None, b"")[0] == 401
    with pytest.raises(HubMixinValueError, match="not gated"):
        local_hub.request_access(open_repo, "bob")
    with pytest.raises(HubMixinValueError, match="No user"):
        local_hub.request_access(repo_id, "nobody")
    with pytest.raises(HubMixinValueError, match="can see"):
        local_hub.request_access("localuser/missing", "bob")
    with pytest.raises(HubMixinValueError, match="JSON"):
        local_hub.request_access(repo_id, "dave", fields={"when": object()})


def test_only_the_repos_writers_manage_requests(local_hub: LocalHub) -> None:
    repo_id = _gated_repo()
    private = _gated_repo("private-gated")
    hf.update_repo_settings(private, private=True)
    bob = local_hub.add_user("bob")
    local_hub.request_access(repo_id, "bob")
    read_only = local_hub.create_token(local_hub.username, write=False)
    calls: list[Callable[[str | bool], object]] = [
        lambda token: list(hf.list_pending_access_requests(repo_id, token=token)),
        lambda token: list(hf.list_accepted_access_requests(repo_id, token=token)),
        lambda token: list(hf.list_rejected_access_requests(repo_id, token=token)),
        lambda token: hf.accept_access_request(repo_id, "bob", token=token),
        lambda token: hf.reject_access_request(repo_id, "bob", rejection_reason=None, token=token),
        lambda token: hf.cancel_access_request(repo_id, "bob", token=token),
        lambda token: hf.grant_access(repo_id, "bob", token=token),
    ]
    for call in calls:
        for token, status in ((bob, 403), (read_only, 403), (False, 401)):
            with pytest.raises(HfHubHTTPError) as excinfo:
                call(token)
            assert excinfo.value.response.status_code == status
    with pytest.raises(RepositoryNotFoundError):  # a private repo stays invisible
        list(hf.list_pending_access_requests(private, token=bob))
    assert _ask(local_hub, private, bob, b"")[0] == 404
    assert _usernames(hf.list_pending_access_requests(repo_id)) == ["bob"]  # nothing changed


def test_xet_tokens_and_reconstructions_follow_the_gate(local_hub: LocalHub) -> None:
    repo_id = _gated_repo()
    bob = local_hub.add_user("bob")
    xet = hf.get_hf_file_metadata(hf.hf_hub_url(repo_id, "weights.bin")).xet_file_data
    assert xet is not None
    hf.grant_access(repo_id, "bob")
    status, answer, _ = _xet_token(local_hub, repo_id, bob)
    assert status == 200
    reconstruction = f"{answer['casUrl']}/v1/reconstructions/{xet.file_hash}"
    assert raw_request("GET", reconstruction, token=str(answer["accessToken"]))[0] == 200
    hf.cancel_access_request(repo_id, "bob")  # access revoked: the token handed out before stops reading
    status, headers, _ = raw_request("GET", reconstruction, token=str(answer["accessToken"]))
    assert (status, headers.get("X-Error-Code")) == (403, "GatedRepo")
    hf.update_repo_settings(repo_id, gated=False)
    assert raw_request("GET", reconstruction, token=str(answer["accessToken"]))[0] == 200


def test_requests_persist_follow_a_moved_repo_and_go_with_a_deleted_one(tmp_path: Path) -> None:
    with LocalHub(tmp_path / "hub") as hub, hub.configure_client():
        repo_id = _gated_repo()
        bob = hub.add_user("bob")
        hub.add_user("carol")
        hub.request_access(repo_id, "bob", fields={"company": "ACME"})
        hub.request_access(repo_id, "carol")
        hf.accept_access_request(repo_id, "bob")
        hf.reject_access_request(repo_id, "carol", rejection_reason="no")
    with LocalHub(tmp_path / "hub") as hub, hub.configure_client():
        (accepted,) = hf.list_accepted_access_requests(repo_id)
        assert (accepted.username, accepted.fields) == ("bob", {"company": "ACME"})
        assert _usernames(hf.list_rejected_access_requests(repo_id)) == ["carol"]
        assert _download(repo_id, "weights.bin", bob) == WEIGHTS
        moved = f"{hub.username}/renamed"
        hf.move_repo(repo_id, moved)
        assert hf.model_info(moved).gated == "manual"
        assert _usernames(hf.list_accepted_access_requests(moved)) == ["bob"]
        assert _download(moved, "weights.bin", bob) == WEIGHTS
        hf.delete_repo(moved)
        assert not _stored_requests(hub)  # the deleted repo's requests went with it
        again = _gated_repo("renamed")
        assert list(hf.list_accepted_access_requests(again)) == []
        assert list(hf.list_rejected_access_requests(again)) == []
        assert _gated_status(again, "weights.bin", bob)[0] == 403


def test_an_ungated_card_stored_through_xet_downloads_for_everyone(local_hub: LocalHub) -> None:
    repo_id = _gated_repo()
    card = b"---\nlicense: mit\n---\n\x00 a card with a NUL byte: stored as an LFS (Xet) file\n"
    hf.upload_file(path_or_fileobj=card, path_in_repo="README.md", repo_id=repo_id)
    bob = local_hub.add_user("bob")
    assert _download(repo_id, "README.md", bob) == card  # no Xet headers for him: the plain bytes
    assert _download(repo_id, "README.md", None) == card
    assert _gated_status(repo_id, "weights.bin", bob)[0] == 403


def test_xet_tokens_stop_working_when_access_to_a_private_repo_ends(local_hub: LocalHub) -> None:
    reader = local_hub.add_user("reader")
    local_hub.add_organization("team", members={"reader": "read", local_hub.username: "admin"})
    repo_id = hf.create_repo("team/private", private=True).repo_id
    hf.upload_file(path_or_fileobj=WEIGHTS, path_in_repo="weights.bin", repo_id=repo_id)
    url = f"{local_hub.endpoint}/api/models/{repo_id}/xet-read-token/main"
    token = json.loads(raw_request("GET", url, token=reader)[2])["accessToken"]
    file_hash = hf.get_hf_file_metadata(hf.hf_hub_url(repo_id, "weights.bin")).xet_file_data.file_hash  # type: ignore[union-attr]
    reconstruction = f"{local_hub.endpoint}/api/xet-cas/v1/reconstructions/{file_hash}"
    assert raw_request("GET", reconstruction, token=token)[0] == 200
    local_hub.set_org_role("team", "reader", None)
    assert raw_request("GET", reconstruction, token=token)[0] == 401


def test_deeply_nested_form_fields_are_refused(local_hub: LocalHub) -> None:
    repo_id = _gated_repo()
    bob = local_hub.add_user("bob")
    nested = "[" * 900 + "]" * 900
    url = f"{local_hub.endpoint}/{repo_id}/ask-access"
    body = ('{"n": ' + nested + "}").encode()
    status = raw_request("POST", url, token=bob, body=body, headers={"Content-Type": "application/json"})[0]
    assert status == 400
    assert list(hf.list_pending_access_requests(repo_id)) == []  # nothing stored: the listing still works
