"""Generator of hubmixin's typed public methods from ``hubmixin_core.params``.

Run ``python -m codegen`` from the repository root to rewrite the generated modules, ``python -m codegen
--check`` to fail (and print a diff) when one is stale.
"""

from codegen._bootstrap import import_spec_only

import_spec_only()

from codegen._targets import Target, discover_targets, render_all  # noqa: E402  (after the bootstrap)

__all__ = ["Target", "discover_targets", "render_all"]
