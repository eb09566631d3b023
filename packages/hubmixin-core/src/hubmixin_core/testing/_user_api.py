"""User pages of the API: ``get_user_overview``, ``list_user_followers`` / ``list_user_following`` and
``list_organization_followers``.

LocalHub has no following: the follower and following lists of an existing user or organization are empty.
"""

from __future__ import annotations

from hubmixin_core.testing._access import can_read
from hubmixin_core.testing._http import Exchange, HubError
from hubmixin_core.testing._org_api import existing_org

__all__ = ["existing_user", "handle_org_followers", "handle_user_follows", "handle_user_overview"]


def existing_user(ex: Exchange) -> str:
    """The user the route names; 404 if there is none."""
    user = ex.match.arg
    if not ex.app.storage.user_exists(user):
        raise HubError(404, f"User not found: {user}")
    return user


def handle_user_overview(ex: Exchange) -> None:
    """``GET /api/users/{user}/overview``: name, public repository counts, likes given and organizations."""
    user = existing_user(ex)
    counts = ex.app.storage.public_repo_counts(user)
    orgs = [{"name": org, "fullname": org, "avatarUrl": ""} for org in ex.app.orgs.memberships(user)]
    overview: dict[str, object] = {"user": user, "fullname": user, "avatarUrl": "", "type": "user", "isPro": False}
    overview |= {"numModels": counts["model"], "numDatasets": counts["dataset"], "numSpaces": counts["space"]}
    likes = sum(can_read(ex, like.repo) for like in ex.app.likes.liked_by(user))  # as the user's likes listing shows
    overview |= {"numLikes": likes, "numFollowers": 0, "numFollowing": 0, "orgs": orgs}
    ex.send_json(overview)


def handle_user_follows(ex: Exchange) -> None:
    """``GET /api/users/{user}/followers`` and ``.../following``: empty lists."""
    existing_user(ex)
    ex.send_json([])


def handle_org_followers(ex: Exchange) -> None:
    """``GET /api/organizations/{org}/followers``: an empty list."""
    existing_org(ex)
    ex.send_json([])
