"""QA round 20 (LocalHub): pull-request status changes are atomic under concurrency, the fault helpers refuse
misuse, a spent fault injected again and a ``cut_after`` fault without a method, ``storagePercent``."""

from __future__ import annotations

import contextlib
import http.client
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import huggingface_hub as hf
import numpy as np
import pytest
from huggingface_hub.errors import HfHubHTTPError
from localhub_raw import raw_request

from hubmixin_core.errors import HubMixinTypeError, HubMixinValueError
from hubmixin_core.testing import Fault, LocalHub, _discussions

_WAIT = 1.0  # how long a paused merge waits for the other request: the time that request has to slip in


@pytest.fixture
def repo_id(local_hub: LocalHub) -> str:
    """A public repo of the default user holding ``a.txt``."""
    repo_id = hf.create_repo("race").repo_id
    hf.upload_file(path_or_fileobj=b"a", path_in_repo="a.txt", repo_id=repo_id)
    return repo_id


def _pr(repo_id: str, name: str) -> int:
    info = hf.upload_file(path_or_fileobj=b"pr", path_in_repo=name, repo_id=repo_id, create_pr=True)
    assert info.pr_num is not None
    return info.pr_num


@pytest.fixture
def pause_merge(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Callable[[], None]], None]]:
    """Make the next merges stop just after reading the pull request's files, calling the given function there
    (once per merge): the window in which a concurrent request used to slip between check and change."""
    pauses: list[Callable[[], None]] = []
    read = _discussions._changes

    def paused(*args: Any) -> Any:
        files = read(*args)
        if pauses:
            pauses[0]()
        return files

    monkeypatch.setattr(_discussions, "_changes", paused)
    yield pauses.append


def _status(error: BaseException | None) -> int | None:
    return error.response.status_code if isinstance(error, HfHubHTTPError) else None


def _run(*calls: Callable[[], object]) -> list[BaseException | None]:
    """Run ``calls`` in threads at once; each one's exception (or ``None``)."""
    errors: list[BaseException | None] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            calls[i]()
        except BaseException as exc:  # reported to the test
            errors[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_of_two_merges_at_once_one_merges(local_hub: LocalHub, repo_id: str, pause_merge: Any) -> None:
    num = _pr(repo_id, "b.txt")
    both = threading.Barrier(2)  # both merges past the status check: without the fix, both merge

    def wait() -> None:
        with contextlib.suppress(threading.BrokenBarrierError):  # the other merge waits for this one: the fix
            both.wait(timeout=_WAIT)

    pause_merge(wait)
    errors = _run(lambda: hf.merge_pull_request(repo_id, num), lambda: hf.merge_pull_request(repo_id, num))
    assert sorted(map(_status, errors), key=str) == [400, None]
    assert "status 'merged'" in str(next(e for e in errors if e is not None))
    titles = [c.title for c in hf.list_repo_commits(repo_id)]
    assert titles.count(f"Upload b.txt with huggingface_hub (#{num})") == 1
    events = hf.get_discussion_details(repo_id, num).events
    assert [e.new_status for e in events if isinstance(e, hf.DiscussionStatusChange)] == ["merged"]


def test_a_close_racing_a_merge_is_refused(local_hub: LocalHub, repo_id: str, pause_merge: Any) -> None:
    num = _pr(repo_id, "b.txt")
    merging, closed = threading.Event(), threading.Event()

    def wait() -> None:
        merging.set()
        closed.wait(_WAIT)

    pause_merge(wait)
    merge = threading.Thread(target=hf.merge_pull_request, args=(repo_id, num))
    merge.start()
    assert merging.wait(10)
    try:
        with pytest.raises(HfHubHTTPError, match="is merged") as caught:  # without the fix: closed, then merged
            hf.change_discussion_status(repo_id, num, "closed")
    finally:
        closed.set()
        merge.join()
    assert caught.value.response.status_code == 400
    assert hf.get_discussion_details(repo_id, num).status == "merged"


def test_a_commit_racing_a_merge_is_merged_or_refused(local_hub: LocalHub, repo_id: str, pause_merge: Any) -> None:
    num = _pr(repo_id, "b.txt")
    merging, pushed = threading.Event(), threading.Event()

    def wait() -> None:
        merging.set()
        pushed.wait(_WAIT)

    pause_merge(wait)
    merge = threading.Thread(target=hf.merge_pull_request, args=(repo_id, num))
    merge.start()
    assert merging.wait(10)
    try:  # without the fix: accepted on refs/pr/N after the merge read it, so never merged
        hf.upload_file(path_or_fileobj=b"c", path_in_repo="c.txt", repo_id=repo_id, revision=f"refs/pr/{num}")
    except HfHubHTTPError as exc:
        assert exc.response.status_code == 400 and "is merged" in str(exc)
        assert not hf.file_exists(repo_id, "c.txt", revision=f"refs/pr/{num}")
    else:
        pushed.set()
        merge.join()
        assert hf.file_exists(repo_id, "c.txt")
    finally:
        pushed.set()
        merge.join()
    assert hf.get_discussion_details(repo_id, num).status == "merged"


def test_a_push_to_a_merged_pull_request_says_to_open_a_new_one(local_hub: LocalHub, repo_id: str) -> None:
    merged, closed = _pr(repo_id, "b.txt"), _pr(repo_id, "c.txt")
    hf.merge_pull_request(repo_id, merged)
    hf.change_discussion_status(repo_id, closed, "closed")
    with pytest.raises(HfHubHTTPError, match="is merged: open a new pull request") as caught:
        hf.upload_file(path_or_fileobj=b"d", path_in_repo="d.txt", repo_id=repo_id, revision=f"refs/pr/{merged}")
    assert "reopen" not in str(caught.value)
    with pytest.raises(HfHubHTTPError, match="is closed: reopen it"):
        hf.upload_file(path_or_fileobj=b"d", path_in_repo="d.txt", repo_id=repo_id, revision=f"refs/pr/{closed}")


def _whoami_statuses(hub: LocalHub, n: int) -> list[int]:
    return [raw_request("GET", f"{hub.endpoint}/api/whoami-v2", token=hub.token)[0] for _ in range(n)]


def test_a_spent_fault_injected_again_affects_times_requests_again(local_hub: LocalHub) -> None:
    flaky = Fault("whoami", status=503)  # one object shared by several tests
    local_hub.inject_fault(flaky)
    assert _whoami_statuses(local_hub, 3) == [503, 200, 200]
    local_hub.inject_fault(flaky)  # without the fix: every request fails from now on
    assert _whoami_statuses(local_hub, 3) == [503, 200, 200]
    assert (flaky.hits, flaky.remaining) == (1, 0)
    with LocalHub() as first, LocalHub() as second:  # one fault active in two servers: `times` in all
        shared = first.inject_fault(second.inject_fault(Fault("whoami", status=503)))
        assert _whoami_statuses(first, 2) + _whoami_statuses(second, 2) == [503, 200, 200, 200]
        assert shared.hits == 1


def test_faults_take_compiled_patterns_and_any_integer(local_hub: LocalHub) -> None:
    """What the checks of wrong types must keep taking: a compiled `path`, numpy integers (a reg20c regression)."""
    numpy_ints: dict[str, Any] = {"status": np.int64(503), "times": np.int64(1)}  # (typed int: taken at run time)
    fault = local_hub.inject_fault(Fault("whoami", path=re.compile("whoami"), **numpy_ints))
    assert _whoami_statuses(local_hub, 2) == [503, 200]
    assert fault.status == 503 and type(fault.status) is int
    with LocalHub(port=np.int64(0)) as hub:  # type: ignore[arg-type]
        assert _whoami_statuses(hub, 1) == [200]


def test_inject_fault_refuses_anything_but_a_fault(local_hub: LocalHub) -> None:
    with pytest.raises(HubMixinTypeError, match=r"inject_fault expects a Fault, got str 'resolve': use Fault\("):
        local_hub.inject_fault("resolve")  # type: ignore[arg-type]
    assert _whoami_statuses(local_hub, 1) == [200]  # without the fix: 500 on every request


@pytest.mark.parametrize("method", ["FETCH", "GETT", "OPTIONS"])
def test_fault_refuses_a_method_the_server_does_not_answer(method: str) -> None:
    with pytest.raises(HubMixinValueError, match=rf"Unknown method '{method}'.*'GET', 'HEAD'"):
        Fault("resolve", method=method, status=503)
    assert Fault("resolve", method="get", status=503).method == "GET"


@pytest.mark.parametrize(
    ("make", "kwargs", "error", "words"),
    [
        (LocalHub, {"port": "8080"}, HubMixinTypeError, "port must be an int (0-65535), got str '8080'"),
        (LocalHub, {"port": True}, HubMixinTypeError, "port must be an int (0-65535), got bool True"),
        (LocalHub, {"token": 12345678}, HubMixinTypeError, "token must be a str, got int"),
        (Fault, {"status": "503"}, HubMixinTypeError, "Fault(status=...) must be int or None, got str '503'"),
        (Fault, {"status": True}, HubMixinTypeError, "Fault(status=...) must be int or None, got bool True"),
        (Fault, {"delay": "1"}, HubMixinTypeError, "Fault(delay=...) must be int or float, got str '1'"),
        (Fault, {"delay": -1}, HubMixinValueError, "must not be negative"),
        (Fault, {"method": "HEAD", "cut_after": 1}, HubMixinValueError, "a HEAD answer has none"),
    ],
)
def test_arguments_of_the_wrong_type_are_named(
    make: Callable[..., object], kwargs: dict[str, Any], error: type[Exception], words: str
) -> None:
    with pytest.raises(error) as caught:
        make(**kwargs)
    assert words in str(caught.value)


def test_helpers_name_arguments_of_the_wrong_type(local_hub: LocalHub) -> None:
    local_hub.add_user("bob")
    with pytest.raises(HubMixinTypeError, match="write must be a bool, got str 'no'"):
        local_hub.create_token("bob", write="no")  # type: ignore[arg-type]
    with pytest.raises(HubMixinTypeError, match="members must be a mapping"):
        local_hub.add_organization("org", members=["bob"])  # type: ignore[arg-type]
    with pytest.raises(HubMixinTypeError, match="xet must be a bool or None"):
        local_hub.configure_client(xet="no")  # type: ignore[arg-type]


def test_user_repos_list_the_share_of_storage(local_hub: LocalHub) -> None:
    big, small = hf.create_repo("big").repo_id, hf.create_repo("small").repo_id
    hf.upload_file(path_or_fileobj=b"\x00" * 30_000, path_in_repo="w.bin", repo_id=big)
    repos = {r.id: r for r in hf.list_user_repos()}
    assert sum(r.storage_percent for r in repos.values()) == pytest.approx(100)
    total = repos[big].storage + repos[small].storage
    assert repos[big].storage_percent == pytest.approx(100 * repos[big].storage / total)
    assert repos[big].storage_percent > 90 > repos[small].storage_percent > 0


@pytest.mark.local_hub(xet=False)
def test_a_cut_fault_without_a_method_is_not_spent_on_a_head(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("cut").repo_id
    hf.upload_file(path_or_fileobj=b"x" * 5000, path_in_repo="f.txt", repo_id=repo_id)
    cut = local_hub.inject_fault(Fault("resolve", cut_after=1000))
    url = f"{local_hub.endpoint}/{repo_id}/resolve/main/f.txt"
    assert raw_request("HEAD", url)[0] == 200
    assert cut.hits == 0  # without the fix: spent here, and the GET comes through whole
    with pytest.raises(http.client.IncompleteRead):
        raw_request("GET", url)
    assert cut.hits == 1
