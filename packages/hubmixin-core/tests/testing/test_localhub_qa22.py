"""LocalHub regressions of QA round 22 (hubapi): .gitattributes matched as git matches it, ref names git refuses,
``:`` in repository paths, a folder deleted without its trailing ``/``, the squash-merge commit of a pull request,
card metadata validated as the Hub validates it, and the Hub's error texts."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import huggingface_hub as hf
import pytest
from core_models import MLP, NumpyModelMixin
from localhub_raw import raw_request

from hubmixin_core._paths import check_relative_path
from hubmixin_core.errors import HubMixinValueError, InvalidRepoPathError
from hubmixin_core.testing import LocalHub
from hubmixin_core.testing._cards import card_errors, parse_card_metadata
from hubmixin_core.testing._gitmeta import (
    DEFAULT_GITATTRIBUTES,
    is_lfs_path,
    lfs_patterns,
    validate_ref_name,
    validate_repo_path,
)
from hubmixin_core.testing._storage import RepoKey

_ATTRIBUTES = (
    DEFAULT_GITATTRIBUTES
    + "data/**/*.csv filter=lfs diff=lfs merge=lfs -text\n"
    + "**/*.jsonl filter=lfs diff=lfs merge=lfs -text\n"
    + "docs/*.txt filter=lfs diff=lfs merge=lfs -text\n"
    + "*.json filter=lfs diff=lfs merge=lfs -text\n"
    + "config.json -filter -diff -merge text\n"
)
# What `git check-attr filter` answers for each path with the .gitattributes above (lfs: True).
_GIT_LFS = {
    "data/x.csv": True,
    "data/sub/y.csv": True,
    "x.jsonl": True,
    "a/b.jsonl": True,
    "saved_model/meta.txt": True,  # the Hub's default `saved_model/**/*`
    "saved_model/v/meta.txt": True,
    "other.csv": False,
    "docs/a.txt": True,
    "docs/sub/b.txt": False,  # `*` does not cross a `/`
    "m.json": True,
    "config.json": False,  # the later `config.json -filter` unsets it
    "sub/config.json": False,
}


def test_gitattributes_patterns_match_as_git_matches_them() -> None:
    rules = lfs_patterns(_ATTRIBUTES)
    assert {path: is_lfs_path(path, rules) for path in _GIT_LFS} == _GIT_LFS
    more = lfs_patterns(
        "a[0-9].bin filter=lfs\nb[!0-9]c filter=lfs\nd[/]e filter=lfs\nf/ filter=lfs\n/g.txt filter=lfs"
    )
    assert is_lfs_path("x/a1.bin", more) and not is_lfs_path("x/a.bin", more)
    assert is_lfs_path("bxc", more) and not is_lfs_path("b1c", more)
    assert not is_lfs_path("d/e", more)  # a bracket never matches "/"
    assert not is_lfs_path("f/x", more)  # a folder pattern gives its files no attribute
    assert is_lfs_path("g.txt", more) and not is_lfs_path("s/g.txt", more)  # a leading "/" anchors at the root
    assert is_lfs_path("x.bin", lfs_patterns("*.bin filter=lfs\n*.bin !filter\n*.bin filter=lfs"))
    assert not is_lfs_path("x.bin", lfs_patterns("*.bin filter=lfs\n*.bin filter=other"))


def test_preupload_follows_the_revision_gitattributes(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("attrs").repo_id
    hf.upload_file(path_or_fileobj=_ATTRIBUTES.encode(), path_in_repo=".gitattributes", repo_id=repo_id)
    operations = [hf.CommitOperationAdd(path, f"text of {path}\n".encode()) for path in _GIT_LFS]
    hf.create_commit(repo_id, operations, commit_message="files")
    siblings = hf.model_info(repo_id, files_metadata=True).siblings or []
    stored = {s.rfilename: s.lfs is not None for s in siblings if s.rfilename in _GIT_LFS}
    assert stored == _GIT_LFS


def test_ref_names_git_refuses_are_refused(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("refs").repo_id
    for name in (".hidden", "a/.b", "a.lock", "a//b", "x.", "b.lock/c"):
        with pytest.raises(hf.errors.BadRequestError, match="Invalid reference name"):
            hf.create_branch(repo_id, branch=name)
        with pytest.raises(HubMixinValueError):
            validate_ref_name(name)
    assert validate_ref_name("release/v1.2-rc_3") == "release/v1.2-rc_3"
    hf.create_tag(repo_id, tag="v1")
    hf.create_branch(repo_id, branch="feat/one")
    for kind, name, clash in (
        ("branch", "main/x", "refs/heads/main"),  # git: 'refs/heads/main' exists; cannot create 'refs/heads/main/x'
        ("branch", "feat", "refs/heads/feat/one"),
        ("tag", "v1/rc", "refs/tags/v1"),
    ):
        with pytest.raises(hf.errors.BadRequestError, match=f"Invalid reference '{name}': '{clash}' exists"):
            if kind == "branch":  # a 400, which exist_ok=True does not take for "exists" (a 409)
                hf.create_branch(repo_id, branch=name, exist_ok=True)
            else:
                hf.create_tag(repo_id, tag=name, exist_ok=True)
    hf.create_branch(repo_id, branch="v1")  # another namespace: a branch beside the tag is git's too
    refs = hf.list_repo_refs(repo_id)
    assert sorted(b.name for b in refs.branches) == ["feat/one", "main", "v1"] and [t.name for t in refs.tags] == ["v1"]
    hf.hf_hub_download(repo_id, ".gitattributes", revision="main")  # the client's cache keeps refs/main a file


def test_a_colon_in_a_top_level_path_is_accepted(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("colons").repo_id
    for path in ("eval_2024-01-01T10:00:00.json", "run:1/metrics.json"):
        hf.upload_file(path_or_fileobj=b"{}", path_in_repo=path, repo_id=repo_id)
        assert Path(hf.hf_hub_download(repo_id, path)).read_bytes() == b"{}"
    assert validate_repo_path("C:x") == "C:x"
    for bad in ("", "/a", "a/../b", "..", "a/./b", "a//b", ".git/x", "a\\b", "a\x00"):
        with pytest.raises(ValueError):
            validate_repo_path(bad)
    with pytest.raises(InvalidRepoPathError):  # the client-side check of local paths keeps refusing drives
        check_relative_path("C:x", "index.json")


def test_a_folder_deleted_without_its_trailing_slash(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("folders").repo_id
    files = {"1/file_1.md": b"1", "1/file_2.md": b"2", "2/file_3.md": b"3"}
    hf.create_commit(repo_id, [hf.CommitOperationAdd(p, d) for p, d in files.items()], commit_message="files")
    hf.create_commit(repo_id, [hf.CommitOperationDelete(path_in_repo="1")], commit_message="delete folder")
    assert hf.list_repo_files(repo_id) == [".gitattributes", "2/file_3.md"]
    with pytest.raises(hf.errors.EntryNotFoundError):
        hf.create_commit(repo_id, [hf.CommitOperationDelete(path_in_repo="3")], commit_message="nothing")


def test_a_merged_pull_request_is_squashed_as_on_the_hub(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("merged").repo_id
    bob = local_hub.add_user("bob")
    first = hf.upload_file(
        path_or_fileobj=b"a", path_in_repo="a.txt", repo_id=repo_id, create_pr=True, commit_message="Add a", token=bob
    )
    assert first.pr_num is not None
    second = hf.upload_file(
        path_or_fileobj=b"b", path_in_repo="b.txt", repo_id=repo_id, revision=f"refs/pr/{first.pr_num}"
    )
    hf.merge_pull_request(repo_id, first.pr_num)
    head = hf.list_repo_commits(repo_id)[0]
    assert head.title == f"Add a (#{first.pr_num})"
    assert head.message.splitlines() == [
        f"- Add a ({first.oid[:7]})",
        f"- Upload b.txt with huggingface_hub ({second.oid[:7]})",
        "",
        "",
        "Co-authored-by: bob <bob@users.noreply.huggingface.co>",
    ]


def _readme(text: str) -> hf.CommitOperationAdd:
    return hf.CommitOperationAdd("README.md", text.encode())


@pytest.mark.parametrize(
    ("card", "error"),
    [
        ("---\nlicense: asdf\n---\n# m\n", '"license" must be one of \\[apache-2.0, mit, '),
        ("---\nlicense: [mit, asdf]\n---\n", r'"license\[1\]" must be one of'),
        ("---\nbase_model: /workspace/mirror/qwen\nlibrary_name: peft\n---\n", '"base_model" with value'),
        ("---\nbase_model: [org/a, ../b]\n---\n", r'"base_model\[1\]" with value "../b" is not valid'),
        ("---\nlicense: mit\ntags: [a\n---\n", "Invalid YAML in the metadata block"),
        ("---\n- a\n- b\n---\n", '"value" must be of type object'),
        (
            "\n---\nmodel-index: foo\n---\n\nThis is a modelcard with an invalid metadata section.\n",
            '"model-index" must be an array',
        ),
    ],
)
def test_card_metadata_the_hub_refuses_is_refused(local_hub: LocalHub, card: str, error: str) -> None:
    repo_id = hf.create_repo("cards", exist_ok=True).repo_id
    with pytest.raises(ValueError, match=f"Invalid metadata in README.md.\n- {error}"):
        hf.create_commit(repo_id, [_readme(card), hf.CommitOperationAdd("w.txt", b"w")], commit_message="card")
    assert hf.list_repo_files(repo_id) == [".gitattributes"]
    if "license: asdf" in card:  # RepoCard.validate asks for text/plain: huggingface_hub's own test matches this
        with pytest.raises(ValueError, match='- Error: "license" must be one of'):
            hf.RepoCard(card).validate()
    # a commit sent without the client's validate-yaml call is refused the same way
    header = {"key": "header", "value": {"summary": "card"}}
    add = {"key": "file", "value": {"path": "README.md", "content": _b64(card), "encoding": "base64"}}
    body = "\n".join(json.dumps(line) for line in (header, add)).encode()
    url = f"{local_hub.endpoint}/api/models/{repo_id}/commit/main"
    status, _, answer = raw_request("POST", url, token=local_hub.token, body=body, headers=_NDJSON)
    assert status == 400 and "Invalid metadata in README.md" in json.loads(answer)["error"]


_NDJSON = {"Content-Type": "application/x-ndjson"}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_card_metadata_the_hub_takes_is_taken(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("good-cards").repo_id
    for card in (
        "---\nlicense: other\nlicense_name: my-license\nbase_model: [org/a, gpt2]\n---\n",
        "---\nlicense: cc-by-nc-sa-4.0\nbase_model: HuggingFaceH4/zephyr-7b-beta\nmodel-index: []\n---\n",
        "---\nlicense: llama3.1\ndate: 2024-01-31\n---\n",
    ):
        hf.create_commit(repo_id, [_readme(card)], commit_message="card")  # no error, no warning
    data = hf.create_repo("rows", repo_type="dataset").repo_id
    hf.create_commit(data, [_readme("---\nlicense: [mit, cc0-1.0]\n---\n")], commit_message="c", repo_type="dataset")
    hf.create_commit(repo_id, [_readme("# A card without metadata\n")], commit_message="bare card")  # (no warning)


class _Carded(
    NumpyModelMixin,
    license="other",
    license_name="my-license",
    license_link="https://example.org/license",
    language=["en", "fr"],
    pipeline_tag="tabular-classification",
    tags=["tiny"],
):
    def __init__(self) -> None:
        self.weights = MLP().weights


def test_the_cards_our_mixins_write_are_valid_and_a_bad_license_is_refused(local_hub: LocalHub) -> None:
    MLP().push_to_hub(f"{local_hub.username}/plain")  # no warning either (warnings are errors here)
    _Carded().push_to_hub(f"{local_hub.username}/carded")
    assert hf.model_info(f"{local_hub.username}/carded").card_data.license == "other"  # type: ignore[union-attr]

    class Unlicensed(NumpyModelMixin, license="asdf"):
        def __init__(self) -> None:
            self.weights = MLP().weights

    with pytest.raises(ValueError, match='"license" must be one of'):
        Unlicensed().push_to_hub(f"{local_hub.username}/unlicensed")


def test_error_texts_are_the_hubs(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("texts").repo_id
    hf.create_branch(repo_id, branch="cool-branch")
    with pytest.raises(hf.errors.HfHubHTTPError, match=r"Reference refs/heads/cool-branch already exists"):
        hf.create_branch(repo_id, branch="cool-branch")
    with pytest.raises(hf.errors.HfHubHTTPError, match=r"Reference refs/heads/main already exists"):
        hf.create_branch(repo_id, branch="main")
    hf.create_tag(repo_id, tag="t")
    with pytest.raises(hf.errors.HfHubHTTPError, match=r"Reference refs/tags/t already exists"):
        hf.create_tag(repo_id, tag="t")
    with pytest.raises(hf.errors.HfHubHTTPError, match="Cannot delete refs/heads/main") as raised:
        hf.delete_branch(repo_id, branch="main")
    assert "token has the correct permissions" not in str(raised.value)  # not a permission problem
    old = hf.list_repo_commits(repo_id)[0].commit_id
    hf.upload_file(path_or_fileobj=b"1", path_in_repo="one.txt", repo_id=repo_id)
    with pytest.raises(hf.errors.HfHubHTTPError) as conflict:
        hf.upload_file(path_or_fileobj=b"2", path_in_repo="two.txt", repo_id=repo_id, parent_commit=old)
    assert conflict.value.response.status_code == 412
    assert "The branch was updated since you opened this page. Please refresh and try again." in str(conflict.value)


# QA round 22 (reg22b): regressions of the round's LocalHub changes.


def test_a_long_gitattributes_is_compiled_once() -> None:
    text = DEFAULT_GITATTRIBUTES + "".join(f"data/train-{i:05d}.parquet filter=lfs\n" for i in range(1100))
    rules = lfs_patterns(text)
    assert lfs_patterns(text) is rules  # (was: each pattern compiled again per path past 1024 lines)
    start = time.perf_counter()
    verdicts = [is_lfs_path(f"meta/f{i}.json", rules) for i in range(100)]
    assert time.perf_counter() - start < 2 and not any(verdicts)  # (was: ~7 s)
    assert is_lfs_path("data/train-01099.parquet", rules) and is_lfs_path("x.safetensors", rules)
    assert not is_lfs_path("x.bin", lfs_patterns(text + "*.bin -filter\n"))  # the last line that matches decides


def test_a_nested_branch_push_names_the_clash(local_hub: LocalHub) -> None:
    repo_id = f"{local_hub.username}/nested"
    MLP().push_to_hub(repo_id)
    hf.create_branch(repo_id, branch="release")
    with pytest.raises(hf.errors.BadRequestError, match="Invalid reference 'release/v1': 'refs/heads/release' exists"):
        MLP().push_to_hub(repo_id, branch="release/v1")  # (was: RevisionNotFoundError for release/v1)


def test_refs_of_any_name_can_be_deleted(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("legacy-refs").repo_id
    storage = local_hub._running_app().storage
    repo = storage.get_repo(RepoKey("model", local_hub.username, "legacy-refs"))
    assert repo is not None
    head = hf.list_repo_commits(repo_id)[0].commit_id
    names = ["release.", "wip.lock", ".hidden"]  # names an older LocalHub took (a persistent root keeps them)
    for name in names:
        assert storage.create_ref(repo, f"refs/heads/{name}", head) is None
        assert storage.create_ref(repo, f"refs/tags/{name}", head) is None
    for name in names:
        hf.delete_branch(repo_id, branch=name)
        hf.delete_tag(repo_id, tag=name)
    refs = hf.list_repo_refs(repo_id)
    assert [b.name for b in refs.branches] == ["main"] and refs.tags == []
    with pytest.raises(hf.errors.RevisionNotFoundError):
        hf.delete_branch(repo_id, branch="release.")
    with pytest.raises(hf.errors.HfHubHTTPError) as missing:
        hf.delete_tag(repo_id, tag="nope")
    assert missing.value.response.status_code == 404


def test_card_metadata_read_as_huggingface_hub_reads_it(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("fences").repo_id
    card = "---\nlicense: mit\ntags: [vision]\n--- \n\n# My model\n\nIntro.\n\n---\n\n## Training\n"
    data = hf.ModelCard(card).data  # huggingface_hub's reading
    assert (data.get("license"), data.get("tags")) == ("mit", ["vision"])
    hf.create_commit(repo_id, [_readme(card)], commit_message="card")  # (was: refused)
    assert hf.model_info(repo_id).tags == ["vision", "license:mit"]
    start = time.perf_counter()
    assert card_errors("---\n" + "\n" * 2000, "model") == []  # no closing fence: no metadata
    assert time.perf_counter() - start < 1  # (was: ~7 s, cubic backtracking)


def test_a_date_pyyaml_alone_refuses_stays_a_string(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("dates").repo_id
    hf.create_commit(repo_id, [_readme("---\nlicense: mit\ndate: 2024-02-30\n---\n")], commit_message="card")
    card_data = hf.model_info(repo_id).card_data  # (was: refused)
    assert card_data is not None and card_data.get("date") == "2024-02-30"
    # valid timestamps read as before
    card = "---\nd: 2024-01-31\nt: 2024-01-31T10:00:00Z\n---\n"
    assert parse_card_metadata(card) == {"d": "2024-01-31", "t": "2024-01-31 10:00:00+00:00"}


def test_validate_yaml_quotes_a_lone_surrogate(local_hub: LocalHub) -> None:
    card = '---\nbase_model: "\\ud800x"\n---\n'
    with pytest.raises(ValueError, match='"base_model" with value'):  # (was: a 500)
        hf.ModelCard(card, ignore_metadata_errors=True).validate()
