"""Order of repository listings: ``sort=`` and ``direction=`` of ``list_models``/``list_datasets``/``list_spaces``.

``sort`` names a field of the listed items (the client sends ``lastModified``, ``createdAt``, ``trendingScore``
for its ``last_modified``, ``created_at``, ``trending_score``; those snake_case names are accepted too),
``downloads``, ``likes`` or ``id``. As on the Hub a sort is descending unless ``direction=1``; without ``sort``
the newest repositories come first. Ties keep creation order (newest first when descending).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from hubmixin_core.testing._http import HubError
from hubmixin_core.testing._storage import Repo

__all__ = ["SORT_FIELDS", "sort_listing"]

SORT_FIELDS = {
    "lastModified": "lastModified",
    "last_modified": "lastModified",
    "createdAt": "createdAt",
    "created_at": "createdAt",
    "downloads": "downloads",
    "likes": "likes",
    "trendingScore": "trendingScore",
    "trending_score": "trendingScore",
    "id": "id",
}
"""Accepted ``sort`` values and the item field each orders by."""

_Item = TypeVar("_Item", bound=dict[str, object])


def _key(value: object) -> tuple[int, str]:
    if isinstance(value, int) and not isinstance(value, bool):
        return value, ""
    return 0, str(value)


def sort_listing(found: Sequence[tuple[Repo, _Item]], sort: str | None, direction: str | None) -> list[_Item]:
    """The items of ``found`` (newest repository first) in the order ``sort``/``direction`` ask for; 400 if unknown."""
    if direction not in (None, "-1", "1"):
        raise HubError(400, f"direction must be -1 (descending) or 1 (ascending), not {direction!r}")
    descending = direction != "1"
    if sort is None:
        ordered = list(found) if descending else list(reversed(found))
        return [item for _, item in ordered]
    field = SORT_FIELDS.get(sort)
    if field is None:
        raise HubError(400, f"Cannot sort by {sort!r}: use one of {sorted(SORT_FIELDS)}")
    ordered = sorted(found, key=lambda pair: (_key(pair[1].get(field)), pair[0].id), reverse=descending)
    return [item for _, item in ordered]
