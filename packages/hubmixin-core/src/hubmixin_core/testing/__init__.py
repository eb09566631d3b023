"""A Hub-compatible HTTP server for tests and offline work.

`LocalHub` serves the Hub API the official ``huggingface_hub`` client uses (repositories, commits,
regular, LFS and Xet uploads, downloads, branches, tags, pull requests, storage buckets) from a local folder, with
Hub-like access control (users, tokens, organizations with member roles, gated repositories with access requests)
and `Fault` injection for reliability tests. The pytest plugin of this package provides a ``local_hub`` fixture;
``hubmixin hub serve`` runs the server from the command line.
"""

from __future__ import annotations

from hubmixin_core.testing._client_config import configure_client
from hubmixin_core.testing._faults import ROUTES, Fault
from hubmixin_core.testing._orgs import OrgRole
from hubmixin_core.testing._server import DataFolderError, LocalHub

__all__ = ["ROUTES", "DataFolderError", "Fault", "LocalHub", "OrgRole", "configure_client"]
