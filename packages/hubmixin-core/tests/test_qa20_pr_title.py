"""A pull request opened by push_to_hub(create_pr=True) takes any commit message: the Hub takes titles of 3 to 200
characters, and the message was the title as it was (``commit_message="v2"`` raised BadRequestError)."""

from __future__ import annotations

import pytest
from core_models import MLP
from huggingface_hub import HfApi

from hubmixin_core.testing import LocalHub


@pytest.mark.parametrize(("message", "title"), [("v2", "Push: v2"), ("x" * 250, "x" * 199 + "…")])
def test_a_pull_request_push_takes_a_short_or_long_commit_message(
    local_hub: LocalHub, message: str, title: str
) -> None:
    repo_id = "localuser/pr-title"
    MLP(seed=1).push_to_hub(repo_id)
    commit = MLP(seed=2).push_to_hub(repo_id, create_pr=True, commit_message=message)
    assert commit.pr_num is not None
    details = HfApi().get_discussion_details(repo_id, commit.pr_num)
    assert details.title == title
    assert HfApi().list_repo_commits(repo_id, revision=commit.pr_revision)[0].title == message
