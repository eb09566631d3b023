"""Organizations: namespaces of their own whose members read or write the repositories by their role.

Roles are the Hub's: ``read`` (read the organization's private repositories), ``write`` (also create, push to,
rename, duplicate into and delete its repositories, merge their pull requests) and ``admin`` (``write`` plus the
organization's settings, which LocalHub does not serve). A user's own namespace counts as ``admin`` for them.
"""

from __future__ import annotations

from typing import Literal, get_args

from hubmixin_core.testing._storage import Storage, now_iso

__all__ = ["ROLES", "WRITE_ROLES", "OrgRole", "OrgStore"]

OrgRole = Literal["read", "write", "admin"]
"""A member's role in an organization."""

ROLES: tuple[OrgRole, ...] = get_args(OrgRole)
WRITE_ROLES = frozenset({"write", "admin"})
"""Roles that may write to a namespace's repositories."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orgs (name TEXT PRIMARY KEY, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS org_members (
    org TEXT NOT NULL, user TEXT NOT NULL, role TEXT NOT NULL, PRIMARY KEY (org, user));
CREATE INDEX IF NOT EXISTS org_members_by_user ON org_members (user);
"""


class OrgStore:
    """Organizations and their members, in the metadata database of `Storage` (same connection and lock)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        with storage._lock:
            storage._db.executescript(_SCHEMA)

    def create(self, name: str) -> bool:
        """Create the organization ``name`` unless it exists; ``False`` if a user or an organization has that name
        in another casing (names are case-insensitive, as on the Hub)."""
        with self.storage._tx() as db:
            if db.execute("SELECT 1 FROM users WHERE name = ? COLLATE NOCASE", (name,)).fetchone() is not None:
                return False
            found = db.execute("SELECT name FROM orgs WHERE name = ? COLLATE NOCASE", (name,)).fetchone()
            if found is not None:
                return bool(found[0] == name)
            db.execute("INSERT INTO orgs VALUES (?, ?)", (name, now_iso()))
        return True

    def exists(self, name: str) -> bool:
        """Whether the organization exists (whatever the casing of ``name``)."""
        return self.name(name) is not None

    def name(self, name: str) -> str | None:
        """The name of the organization ``name`` whatever its casing, as created; ``None`` if there is none."""
        row = self.storage._one("SELECT name FROM orgs WHERE name = ? COLLATE NOCASE", name)
        return None if row is None else str(row[0])

    def set_role(self, org: str, user: str, role: OrgRole | None) -> None:
        """Make ``user`` a member of ``org`` with ``role``, or no member with ``None``."""
        with self.storage._tx() as db:
            if role is None:
                db.execute("DELETE FROM org_members WHERE org = ? AND user = ?", (org, user))
            else:
                db.execute("INSERT OR REPLACE INTO org_members VALUES (?, ?, ?)", (org, user, role))

    def role(self, org: str, user: str) -> OrgRole | None:
        """The role of ``user`` in ``org``, ``None`` for a non-member."""
        row = self.storage._one("SELECT role FROM org_members WHERE org = ? COLLATE NOCASE AND user = ?", org, user)
        return None if row is None else _role(row[0])

    def memberships(self, user: str) -> dict[str, OrgRole]:
        """The organizations ``user`` belongs to, with their role, by name."""
        rows = self.storage._all("SELECT org, role FROM org_members WHERE user = ? ORDER BY org", user)
        return {str(org): _role(role) for org, role in rows}

    def members(self, org: str) -> dict[str, OrgRole]:
        """The members of ``org`` with their role, by user name."""
        rows = self.storage._all("SELECT user, role FROM org_members WHERE org = ? ORDER BY user", org)
        return {str(user): _role(role) for user, role in rows}


def _role(value: object) -> OrgRole:
    return next((role for role in ROLES if role == value), "read")  # an unknown stored role grants the least
