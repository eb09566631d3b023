"""``import hubmixin_keras`` brings in no framework beyond what ``import keras`` itself does under this backend
(Keras imports jax whenever it is installed), and never flax; nor do a save and a load."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import keras

FRAMEWORKS = ["torch", "tensorflow", "jax", "flax"]

CODE = """
import json, sys, tempfile

def frameworks():
    return sorted(m for m in sys.argv[1:] if m in sys.modules)

seen = {"start": frameworks()}
import keras
seen["keras"] = frameworks()
import hubmixin_keras
seen["hubmixin_keras"] = frameworks()

class Tiny(keras.Model, hubmixin_keras.KerasModelHubMixin):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(2)

    def call(self, x):
        return self.dense(x)

model = Tiny()
model(keras.ops.ones((1, 3)))
with tempfile.TemporaryDirectory() as tmp:
    model.save_pretrained(tmp)
    Tiny.from_pretrained(tmp, strict=True)
seen["save and load"] = frameworks()
print(json.dumps(seen))
"""


def test_import_save_and_load_pull_no_framework_beyond_keras() -> None:
    backend = keras.backend.backend()
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", CODE, *FRAMEWORKS], capture_output=True, text=True, check=False, env=env
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["start"] == []
    assert backend in seen["keras"] and "flax" not in seen["keras"]
    assert seen["hubmixin_keras"] == seen["keras"]
    assert seen["save and load"] == seen["keras"]
