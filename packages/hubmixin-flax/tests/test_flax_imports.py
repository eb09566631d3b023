"""``import hubmixin_flax`` brings in jax and flax, never another framework; nor do a save and a load."""

from __future__ import annotations

import json
import subprocess
import sys

OTHER_FRAMEWORKS = ["torch", "tensorflow", "keras"]

CODE = """
import json, sys, tempfile
import hubmixin_flax
seen = {"import": {m: m in sys.modules for m in [*sys.argv[1:], "jax", "flax"]}}
from flax import nnx

class Tiny(nnx.Module, hubmixin_flax.FlaxModelHubMixin):
    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.linear = nnx.Linear(2, 2, rngs=rngs)

with tempfile.TemporaryDirectory() as tmp:
    Tiny(rngs=nnx.Rngs(0)).save_pretrained(tmp)
    Tiny.from_pretrained(tmp, strict=True)
seen["save and load"] = {m: m in sys.modules for m in sys.argv[1:]}
print(json.dumps(seen))
"""


def test_import_save_and_load_pull_no_other_framework() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CODE, *OTHER_FRAMEWORKS], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    none = dict.fromkeys(OTHER_FRAMEWORKS, False)
    assert seen == {"import": {**none, "jax": True, "flax": True}, "save and load": none}
