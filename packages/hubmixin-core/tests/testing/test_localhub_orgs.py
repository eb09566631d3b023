"""Organizations: member roles (read, write, admin) decide who reads and writes the org's repositories."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import huggingface_hub as hf
import pytest
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError
from localhub_raw import raw_request

from hubmixin_core.errors import HubMixinError
from hubmixin_core.testing import LocalHub, configure_client
from hubmixin_core.testing.pytest_plugin import LFS_UPLOAD_WARNING_FILTER

ORG = "my-org"


def _status(excinfo: pytest.ExceptionInfo[HfHubHTTPError]) -> int:
    return int(excinfo.value.response.status_code)


def _refused(status: int, call: object, *args: object, **kwargs: object) -> None:
    assert callable(call)
    with pytest.raises(HfHubHTTPError) as excinfo:
        call(*args, **kwargs)
    assert _status(excinfo) == status, excinfo.value


@pytest.fixture
def members(local_hub: LocalHub) -> dict[str, str]:
    """Tokens of ``reader`` (read role), ``writer`` (write), ``boss`` (admin) and ``outsider`` (no member);
    the default user is a writer of the org too."""
    tokens = {name: local_hub.add_user(name) for name in ("reader", "writer", "boss", "outsider")}
    local_hub.add_organization(
        ORG, members={"reader": "read", "writer": "write", "boss": "admin", local_hub.username: "write"}
    )
    return tokens


@pytest.fixture
def org_repos(local_hub: LocalHub, members: dict[str, str]) -> tuple[str, str]:
    """A public and a private model of the org, each holding ``f.txt`` (created by the default user)."""
    public = hf.create_repo(f"{ORG}/public").repo_id
    private = hf.create_repo(f"{ORG}/private", private=True).repo_id
    for repo_id in (public, private):
        hf.upload_file(path_or_fileobj=b"content", path_in_repo="f.txt", repo_id=repo_id)
    return public, private


def test_whoami_lists_the_orgs_with_the_role(local_hub: LocalHub, members: dict[str, str]) -> None:
    local_hub.add_organization("other-org", members={"boss": "read"})
    orgs = hf.whoami(token=members["boss"])["orgs"]
    assert [(o["name"], o["type"], o["roleInOrg"]) for o in orgs] == [
        (ORG, "org", "admin"),
        ("other-org", "org", "read"),
    ]
    assert [o["roleInOrg"] for o in hf.whoami(token=members["reader"])["orgs"]] == ["read"]
    assert hf.whoami(token=members["outsider"])["orgs"] == []
    read_only = local_hub.create_token("writer", write=False)  # the token's role and the org role are separate
    info = hf.whoami(token=read_only)
    assert info["auth"]["accessToken"]["role"] == "read" and info["orgs"][0]["roleInOrg"] == "write"
    parsed = hf.hf_api.User(**hf.whoami(token=members["writer"]))  # the client's own model of the answer
    assert [org.name for org in parsed.orgs] == [ORG]


def test_writers_and_admins_create_push_merge_and_delete(local_hub: LocalHub, members: dict[str, str]) -> None:
    for name in ("writer", "boss"):
        token = members[name]
        repo_id = hf.create_repo(f"{ORG}/by-{name}", private=True, token=token).repo_id
        assert repo_id == f"{ORG}/by-{name}"
        hf.upload_file(path_or_fileobj=b"1", path_in_repo="a.txt", repo_id=repo_id, token=token)
        hf.create_branch(repo_id, branch="dev", token=token)
        hf.create_tag(repo_id, tag="v1", token=token)
        pr = hf.upload_file(path_or_fileobj=b"2", path_in_repo="b.txt", repo_id=repo_id, token=token, create_pr=True)
        assert pr.pr_num is not None
        hf.merge_pull_request(repo_id, pr.pr_num, token=token)
        assert hf.list_repo_files(repo_id, token=token) == [".gitattributes", "a.txt", "b.txt"]
        hf.update_repo_settings(repo_id, private=False, token=token)
        assert hf.auth_check(repo_id, token=token) is None
        hf.delete_repo(repo_id, token=token)  # the write role suffices, as on the Hub
        with pytest.raises(RepositoryNotFoundError):
            hf.model_info(repo_id, token=token)


def test_writers_moderate_and_merge_pull_requests_of_others(
    local_hub: LocalHub, members: dict[str, str], org_repos: tuple[str, str]
) -> None:
    public, _ = org_repos
    pr = hf.upload_file(
        path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=public, token=members["outsider"], create_pr=True
    )
    assert pr.pr_num is not None
    _refused(403, hf.merge_pull_request, public, pr.pr_num, token=members["reader"])
    _refused(403, hf.rename_discussion, public, pr.pr_num, "new title", token=members["reader"])
    hf.rename_discussion(public, pr.pr_num, "renamed by a writer", token=members["writer"])
    hf.upload_file(
        path_or_fileobj=b"y",
        path_in_repo="y.txt",
        repo_id=public,
        token=members["writer"],
        revision=f"refs/pr/{pr.pr_num}",
    )
    hf.merge_pull_request(public, pr.pr_num, token=members["writer"])
    assert {"x.txt", "y.txt"} <= set(hf.list_repo_files(public))


def test_read_members_read_private_repos_but_do_not_write(
    local_hub: LocalHub, members: dict[str, str], org_repos: tuple[str, str]
) -> None:
    public, private = org_repos
    reader = members["reader"]
    assert hf.model_info(private, token=reader).private is True
    assert Path(hf.hf_hub_download(private, "f.txt", token=reader)).read_bytes() == b"content"
    assert hf.auth_check(private, token=reader) is None
    for repo_id in (public, private):
        _refused(403, hf.upload_file, path_or_fileobj=b"x", path_in_repo="x", repo_id=repo_id, token=reader)
        _refused(403, hf.delete_repo, repo_id, token=reader)
        _refused(403, hf.create_branch, repo_id, branch="b", token=reader)
    _refused(403, hf.create_repo, f"{ORG}/new", token=reader)
    pr = hf.create_pull_request(private, title="a proposal", token=reader)  # readers may propose, as on the Hub
    assert pr.num == 1


def test_non_members_get_403_on_writes_and_never_see_private_repos(
    local_hub: LocalHub, members: dict[str, str], org_repos: tuple[str, str]
) -> None:
    public, private = org_repos
    outsider = members["outsider"]
    _refused(403, hf.create_repo, f"{ORG}/intruder", token=outsider)
    _refused(403, hf.upload_file, path_or_fileobj=b"x", path_in_repo="x", repo_id=public, token=outsider)
    _refused(403, hf.delete_repo, public, token=outsider)
    for token in (outsider, False):
        with pytest.raises(RepositoryNotFoundError):
            hf.model_info(private, token=token)
        with pytest.raises(RepositoryNotFoundError):
            hf.hf_hub_download(private, "f.txt", token=token)
    with pytest.raises(RepositoryNotFoundError):
        hf.upload_file(path_or_fileobj=b"x", path_in_repo="x", repo_id=private, token=outsider)
    assert hf.model_info(public, token=outsider).id == public
    _refused(403, hf.create_repo, "nobody-org/repo")  # a namespace that is neither the user nor one of their orgs


def test_listings_show_private_org_repos_to_members_only(
    local_hub: LocalHub, members: dict[str, str], org_repos: tuple[str, str]
) -> None:
    public, private = org_repos
    hf.create_repo("mine")  # the default user's own repo is not the org's
    for token in (members["reader"], members["boss"], local_hub.token):
        assert {m.id for m in hf.list_models(author=ORG, token=token)} == {public, private}
    for anyone in (members["outsider"], False):
        assert [m.id for m in hf.list_models(author=ORG, token=anyone)] == [public]
    listed = {r.id: r.visibility for r in hf.list_user_repos(namespace=ORG, token=members["reader"])}
    assert listed == {public: "public", private: "private"}
    _refused(403, lambda: list(hf.list_user_repos(namespace=ORG, token=members["outsider"])))
    _refused(404, lambda: list(hf.list_user_repos(namespace="no-such-org")))
    assert {r.id for r in hf.list_user_repos()} == {f"{local_hub.username}/mine"}


def test_org_overview_and_members(local_hub: LocalHub, members: dict[str, str], org_repos: tuple[str, str]) -> None:
    overview = hf.get_organization_overview(ORG)
    assert (overview.name, overview.num_users, overview.num_models) == (ORG, 4, 1)  # the private model is not counted
    listed = {u.username: getattr(u, "role", None) for u in hf.list_organization_members(ORG, token=members["boss"])}
    assert listed == {"boss": "admin", "reader": "read", "writer": "write", local_hub.username: "write"}
    anonymous = list(hf.list_organization_members(ORG, token=False))
    assert len(anonymous) == 4 and all(getattr(u, "role", None) is None for u in anonymous)
    _refused(404, hf.get_organization_overview, "no-such-org")
    assert list(hf.list_organization_followers(ORG)) == []
    _refused(404, lambda: list(hf.list_organization_followers("no-such-org")))


def test_user_overview_and_follows(local_hub: LocalHub, members: dict[str, str], org_repos: tuple[str, str]) -> None:
    hf.create_repo("mine-public")
    hf.create_repo("mine-private", private=True)
    hf.create_repo("mine-data", repo_type="dataset")
    assert raw_request("POST", f"{local_hub.endpoint}/api/models/{org_repos[0]}/like", token=local_hub.token)[0] == 200
    overview = hf.get_user_overview(local_hub.username, token=members["outsider"])
    assert (overview.username, overview.num_models, overview.num_datasets, overview.num_spaces) == (
        local_hub.username,
        1,  # the private model is not counted
        1,
        0,
    )
    assert [org.name for org in overview.orgs] == [ORG]
    assert (overview.num_followers, overview.num_following, overview.num_likes) == (0, 0, 1)
    private_like = f"{local_hub.endpoint}/api/models/{org_repos[1]}/like"  # a private repo of the org
    assert raw_request("POST", private_like, token=local_hub.token)[0] == 200
    assert hf.get_user_overview(local_hub.username, token=members["outsider"]).num_likes == 1  # not shown to others
    assert hf.get_user_overview(local_hub.username, token=members["reader"]).num_likes == 2
    assert hf.get_user_overview("outsider").orgs == []
    assert list(hf.list_user_followers("reader")) == list(hf.list_user_following("reader")) == []
    _refused(404, hf.get_user_overview, "nobody")
    _refused(404, lambda: list(hf.list_user_followers("nobody")))
    _refused(404, lambda: list(hf.list_user_following("nobody")))


def test_move_and_duplicate_into_an_org_the_caller_can_write(
    local_hub: LocalHub, members: dict[str, str], org_repos: tuple[str, str]
) -> None:
    public, private = org_repos
    writer, reader = members["writer"], members["reader"]
    own = hf.create_repo("writer/own", token=writer).repo_id
    hf.move_repo(own, f"{ORG}/moved", token=writer)
    assert hf.model_info(f"{ORG}/moved", token=writer).id == f"{ORG}/moved"
    hf.move_repo(f"{ORG}/moved", "writer/back", token=writer)  # and out again, to their own namespace
    _refused(403, hf.move_repo, "writer/back", "reader/stolen", token=writer)
    mine = hf.create_repo("reader/mine", token=reader).repo_id
    _refused(403, hf.move_repo, mine, f"{ORG}/mine", token=reader)
    _refused(403, hf.move_repo, public, "reader/taken", token=reader)  # the source needs the write role too
    copy = hf.duplicate_repo(private, f"{ORG}/copy", token=writer)
    assert copy.repo_id == f"{ORG}/copy" and hf.model_info(copy.repo_id, token=reader).private is True
    assert hf.list_repo_files(copy.repo_id, token=reader) == [".gitattributes", "f.txt"]
    _refused(403, hf.duplicate_repo, private, f"{ORG}/copy2", token=reader)
    assert hf.duplicate_repo(private, "reader/copy", token=reader).repo_id == "reader/copy"  # read access suffices


def test_role_changes_and_removal(local_hub: LocalHub, members: dict[str, str], org_repos: tuple[str, str]) -> None:
    _, private = org_repos
    writer = members["writer"]
    local_hub.set_org_role(ORG, "writer", "read")
    _refused(403, hf.upload_file, path_or_fileobj=b"x", path_in_repo="x", repo_id=private, token=writer)
    assert hf.model_info(private, token=writer).private is True
    local_hub.set_org_role(ORG, "writer", None)
    with pytest.raises(RepositoryNotFoundError):
        hf.model_info(private, token=writer)
    assert hf.whoami(token=writer)["orgs"] == []
    local_hub.add_organization(ORG, members={"writer": "admin"})  # again: updates the named members only
    assert hf.whoami(token=writer)["orgs"][0]["roleInOrg"] == "admin"
    assert hf.whoami(token=members["reader"])["orgs"][0]["roleInOrg"] == "read"


def test_org_and_user_names_do_not_clash(local_hub: LocalHub) -> None:
    local_hub.add_user("bob")
    with pytest.raises(ValueError, match="'bob' is a user") as user_clash:
        local_hub.add_organization("bob")
    local_hub.add_organization("team")
    with pytest.raises(ValueError, match="'team' is an organization") as org_clash:
        local_hub.add_user("team")
    with pytest.raises(ValueError, match="is a user"):
        local_hub.add_organization(local_hub.username)
    with pytest.raises(ValueError, match="Invalid organization name"):
        local_hub.add_organization("a--b")
    with pytest.raises(ValueError, match="No user 'carol'"):
        local_hub.add_organization("team", members={"carol": "write"})
    with pytest.raises(ValueError, match="Invalid role 'owner'"):
        local_hub.add_organization("team", members={"bob": "owner"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="No organization 'nope'"):
        local_hub.set_org_role("nope", "bob", "read")
    assert isinstance(user_clash.value, HubMixinError) and isinstance(org_clash.value, HubMixinError)
    _refused(403, hf.create_repo, "team/repo")  # an org without the default user as a member
    assert hf.whoami()["orgs"] == []


def test_names_differing_only_by_case_clash(local_hub: LocalHub) -> None:
    mallory = local_hub.add_user("mallory")
    local_hub.add_organization("team", members={"mallory": "write"})
    for name, clash in [("LOCALUSER", "is a user \\('localuser'"), ("Team", "by case from the organization 'team'")]:
        with pytest.raises(ValueError, match=clash):
            local_hub.add_organization(name)
    for name, clash in [("MALLORY", "by case from the user 'mallory'"), ("TEAM", "is an organization \\('team'")]:
        with pytest.raises(ValueError, match=clash):
            local_hub.add_user(name)
    _refused(403, hf.create_repo, "LOCALUSER/n", token=mallory)  # nobody takes the user's repository names
    assert hf.create_repo("n").repo_id == f"{local_hub.username}/n"
    # namespaces match whatever their casing, as repository ids do; repositories take the account's casing
    assert hf.create_repo("LOCALUSER/m").repo_id == f"{local_hub.username}/m"
    assert hf.create_repo("TEAM/x", token=mallory).repo_id == "team/x"
    hf.upload_file(path_or_fileobj=b"1", path_in_repo="a.txt", repo_id="Team/X", token=mallory)
    local_hub.set_org_role("TEAM", "Mallory", "read")
    assert hf.whoami(token=mallory)["orgs"][0]["roleInOrg"] == "read"
    _refused(403, hf.upload_file, path_or_fileobj=b"2", path_in_repo="b.txt", repo_id="team/x", token=mallory)
    assert hf.get_organization_overview("TEAM").name == "team"


def test_buckets_and_collections_take_the_accounts_casing(local_hub: LocalHub) -> None:
    mallory = local_hub.add_user("mallory")
    local_hub.add_organization("Team", members={"mallory": "write"})
    bucket = hf.create_bucket("MALLORY/b", token=mallory)
    assert bucket.bucket_id == "mallory/b"
    assert [b.id for b in hf.list_buckets("Mallory", token=mallory)] == ["mallory/b"]
    collection = hf.create_collection("c", namespace="team", token=mallory)
    assert collection.slug.startswith("Team/")
    assert [c.slug for c in hf.list_collections(owner="TEAM")] == [collection.slug]


def test_a_username_differing_only_by_case_from_a_stored_user_is_refused(tmp_path: Path) -> None:
    with LocalHub(tmp_path / "hub"):
        pass
    with pytest.raises(HubMixinError, match="only by case from the user 'localuser'"):
        LocalHub(tmp_path / "hub", username="LocalUser").start()


@pytest.mark.filterwarnings(LFS_UPLOAD_WARNING_FILTER)
def test_orgs_persist_across_restarts(tmp_path: Path) -> None:
    root = tmp_path / "hub"
    with LocalHub(root) as hub:
        bob = hub.add_user("bob")
        hub.add_organization(ORG, members={"bob": "write"})
        with configure_client(hub.endpoint, token=bob):
            repo_id = hf.create_repo(f"{ORG}/kept", private=True).repo_id
    with LocalHub(root) as hub, configure_client(hub.endpoint, token=bob):
        assert hf.whoami()["orgs"][0]["name"] == ORG
        assert hf.model_info(repo_id).private is True
        hf.upload_file(path_or_fileobj=b"later", path_in_repo="later.txt", repo_id=repo_id)
        with pytest.raises(RepositoryNotFoundError):
            hf.model_info(repo_id, token=hub.token)  # the default user never was a member
    with pytest.raises(ValueError, match="is an organization"), LocalHub(root, username=ORG):
        pass


def test_a_data_folder_from_before_organizations_opens(tmp_path: Path) -> None:
    with LocalHub(tmp_path) as hub, hub.configure_client():
        repo_id = hf.create_repo("old", private=True).repo_id
    with closing(sqlite3.connect(tmp_path / "hub.sqlite")) as db:  # as versions without organizations left it
        db.executescript("DROP TABLE org_members; DROP TABLE orgs;")
    with LocalHub(tmp_path) as hub, hub.configure_client():
        assert hf.whoami()["orgs"] == [] and hf.model_info(repo_id).private is True
        hub.add_organization(ORG, members={hub.username: "admin"})
        hf.move_repo(repo_id, f"{ORG}/old")
        assert hf.whoami()["orgs"][0]["roleInOrg"] == "admin" and hf.model_info(f"{ORG}/old").private is True


def test_hub_serve_org_makes_the_default_user_its_admin(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "hubmixin_core.testing._cli", "hub", "serve", "--org", ORG, "--org", "team"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None
        banner = "".join(process.stdout.readline() for _ in range(4))
        assert f"organizations: {ORG}, team" in banner
        line = next(line for line in banner.splitlines() if line.strip().startswith("export "))
        env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")} | {"HF_HOME": str(tmp_path / "client")}
        env |= dict(part.split("=", 1) for part in line.split()[1:])
        hf_cli = Path(sys.executable).with_name("hf")
        whoami = subprocess.run([hf_cli, "auth", "whoami"], env=env, capture_output=True, text=True, timeout=120)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    assert whoami.returncode == 0, whoami.stderr
    assert f"{ORG},team" in whoami.stdout and "localuser" in whoami.stdout
