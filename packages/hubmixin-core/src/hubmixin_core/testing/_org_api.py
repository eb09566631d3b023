"""Organization pages of the API: ``get_organization_overview`` and ``list_organization_members``."""

from __future__ import annotations

from hubmixin_core.testing._access import namespace_role
from hubmixin_core.testing._http import Exchange, HubError

__all__ = ["existing_org", "handle_org_members", "handle_org_overview"]


def existing_org(ex: Exchange) -> str:
    """The name of the organization the route names (whatever its casing); 404 if there is none."""
    org = ex.app.orgs.name(ex.match.arg)
    if org is None:
        raise HubError(404, f"Organization not found: {ex.match.arg}")
    return org


def handle_org_overview(ex: Exchange) -> None:
    """``GET /api/organizations/{org}/overview``: name, member count and public repository counts."""
    org = existing_org(ex)
    counts = ex.app.storage.public_repo_counts(org)
    overview: dict[str, object] = {"name": org, "fullname": org, "avatarUrl": "", "isVerified": False}
    overview |= {"numUsers": len(ex.app.orgs.members(org)), "numModels": counts["model"]}
    overview |= {"numDatasets": counts["dataset"], "numSpaces": counts["space"], "numFollowers": 0, "numPapers": 0}
    ex.send_json(overview)


def handle_org_members(ex: Exchange) -> None:
    """``GET /api/organizations/{org}/members``: the members; their ``role`` only for the organization's members."""
    org = existing_org(ex)
    member = namespace_role(ex, org) is not None
    users: list[dict[str, object]] = []
    for user, role in ex.app.orgs.members(org).items():
        item: dict[str, object] = {"user": user, "fullname": user, "avatarUrl": "", "type": "user", "isPro": False}
        users.append(item | ({"role": role} if member else {}))
    ex.send_json(users)
