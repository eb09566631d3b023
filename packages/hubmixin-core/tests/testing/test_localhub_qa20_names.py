"""LocalHub regressions of QA round 20: names and ids are checked whole (a trailing newline is no longer taken for the
end of the text), and a Xet hash is 64 hex digits, nothing that ``int(text, 16)`` also reads."""

from __future__ import annotations

import json
from typing import Any

import huggingface_hub as hf
import pytest
from localhub_raw import raw_request

from hubmixin_core.errors import HubMixinValueError
from hubmixin_core.testing import LocalHub
from hubmixin_core.testing._gitmeta import validate_ref_name

_JSON = {"Content-Type": "application/json"}
_LFS = {"Accept": "application/vnd.git-lfs+json", "Content-Type": "application/vnd.git-lfs+json"}


def _post(url: str, token: str, body: object, headers: dict[str, str] = _JSON) -> tuple[int, bytes]:
    status, _, answer = raw_request("POST", url, token=token, body=json.dumps(body).encode(), headers=headers)
    return status, answer


def test_names_ending_in_a_newline_are_refused(local_hub: LocalHub) -> None:
    api, token = f"{local_hub.endpoint}/api", local_hub.token
    assert _post(f"{api}/repos/create", token, {"name": "model\n", "type": "model"})[0] == 400
    repo_id = hf.create_repo("model").repo_id
    assert [m.id for m in hf.list_models(author=local_hub.username)] == [repo_id]

    assert _post(f"{api}/models/{repo_id}/branch/dev%0A", token, {})[0] == 400
    assert _post(f"{api}/models/{repo_id}/tag/main", token, {"tag": "v1\n"})[0] == 400
    refs = hf.list_repo_refs(repo_id)
    assert [b.name for b in refs.branches] == ["main"] and refs.tags == []
    with pytest.raises(HubMixinValueError, match="Invalid reference name"):
        validate_ref_name("dev\n")

    batch = {"operation": "upload", "transfers": ["basic"], "objects": [{"oid": "a" * 64 + "\n", "size": 2}]}
    status, answer = _post(f"{local_hub.endpoint}/{repo_id}.git/info/lfs/objects/batch", token, batch, _LFS)
    (obj,) = json.loads(answer)["objects"]
    assert status == 200 and "actions" not in obj and obj["error"]["code"] == 422

    bucket_id = hf.create_bucket("bucket").bucket_id
    op = {"type": "addFile", "path": "a.txt", "xetHash": "0" * 64 + "\n"}
    status, answer = _post(f"{api}/buckets/{bucket_id}/batch", token, op)
    assert status == 422 and "'xetHash' must be 64 hex digits" in json.loads(answer)["failed"][0]["error"]

    with pytest.raises(HubMixinValueError, match="Invalid user name"):
        local_hub.add_user("bob\n")
    with pytest.raises(HubMixinValueError, match="Invalid organization name"):
        local_hub.add_organization("org\n")


def _xet_format() -> Any:
    """The Xet format module, which needs the ``[hub]`` extra (blake3): the test is skipped without it."""
    return pytest.importorskip("hubmixin_core.testing.xet._format", reason="the [hub] extra (blake3) is not installed")


@pytest.mark.parametrize("text", ["+" + "0" * 63, " " + "0" * 63, "0" * 63 + " ", "0_" + "0" * 62, "-" + "0" * 63])
def test_a_xet_hash_is_hex_digits_only(text: str) -> None:
    fmt = _xet_format()
    with pytest.raises(fmt.FormatError, match="64 hex digits"):
        fmt.hex_hash(text)


def test_a_canonical_xet_hash_round_trips() -> None:
    fmt = _xet_format()
    raw = bytes(range(32))
    assert fmt.hex_hash(fmt.hash_hex(raw)) == fmt.hex_hash(fmt.hash_hex(raw).upper()) == raw


def test_a_xorb_named_by_a_signed_hash_gets_a_400(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("m").repo_id
    status, _, body = raw_request(
        "GET", f"{local_hub.endpoint}/api/models/{repo_id}/xet-write-token/main", token=local_hub.token
    )
    assert status == 200
    grant = json.loads(body)
    name = "-" + "0" * 14 + "1" + "0" * 48
    status, _, answer = raw_request(
        "POST", f"{grant['casUrl']}/v1/xorbs/default/{name}", token=grant["accessToken"], body=b"junk"
    )
    assert status == 400 and b"Malformed hash in path" in answer
