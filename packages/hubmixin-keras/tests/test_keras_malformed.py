"""A config asking for a huge model with an empty checkpoint: refused before any variable is initialised."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

_PROBE = textwrap.dedent(
    """
    import resource, sys
    import keras
    from hubmixin_keras import KerasModelHubMixin

    class Huge(keras.Model, KerasModelHubMixin):
        def __init__(self, dim: int = 4, **kwargs: object) -> None:
            super().__init__(**kwargs)
            self.embed = keras.layers.Embedding(dim, dim)  # built in __init__: its variable is deferred
            self.dense = keras.layers.Dense(dim)  # built at its first call

        def call(self, x: object) -> object:
            return self.dense(self.embed(x))

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        Huge.from_pretrained(sys.argv[1])
    except Exception as error:
        print(type(error).__name__, error)
    print("GROWN", (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)
    """
)


def test_huge_config_with_an_empty_checkpoint_is_refused_before_allocating(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"dim": 50_000}))  # 10 GB of float32 weights
    (tmp_path / "model.safetensors").write_bytes(struct.pack("<Q", 2) + b"{}")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}  # the backend this run uses
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(tmp_path)], capture_output=True, text=True, timeout=300, env=env
    )
    output = done.stdout + done.stderr
    assert "WeightsKeyError" in output and "'embed.weight'" in output, output
    assert int(output.split("GROWN ")[1].split()[0]) < 500 * 2**20, output
