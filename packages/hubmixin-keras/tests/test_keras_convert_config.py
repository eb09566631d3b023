"""`hubmixin convert` of a Keras ``.weights.h5`` whose ``--model`` needs an argument that no config gives: the
error names the argument and the command line's remedy (``--config``)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from hubmixin_core.cli import main
from hubmixin_keras import KerasModelHubMixin

_TO_TORCH = pytest.mark.skipif(importlib.util.find_spec("hubmixin_torch") is None, reason="converts --to torch")


class Needs(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """A model that cannot be built without its ``units``."""

    def __init__(self, units: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fc = keras.layers.Dense(units)

    def call(self, x: Any) -> Any:
        return self.fc(x)


@_TO_TORCH
def test_without_a_config_the_error_says_to_pass_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = Needs(2)
    model(np.zeros((1, 3), "float32"))
    source = tmp_path / "needs.weights.h5"
    model.save_weights(str(source))
    args = ["convert", str(source), str(tmp_path / "out"), "--to", "torch", "--model", f"{__name__}:Needs"]
    assert main([*args, "--input-shape", "1,3", "--quiet"]) == 1
    assert capsys.readouterr().err == (
        f"hubmixin: error: --model {__name__}:Needs: cannot build the model without ['units']: there is no "
        f"config.json beside {source}: pass the model's config with --config PATH\n"
    )
    assert not (tmp_path / "out").exists()


@_TO_TORCH
def test_unknown_keys_of_a_given_config_are_named_by_its_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    model = Needs(2)
    model(np.zeros((1, 3), "float32"))
    source = tmp_path / "needs.weights.h5"
    model.save_weights(str(source))
    config = tmp_path / "given.json"
    config.write_text('{"units": 2, "colour": "red"}')
    args = ["convert", str(source), str(tmp_path / "out"), "--to", "torch", "--model", f"{__name__}:Needs"]
    with caplog.at_level("WARNING", logger="hubmixin_core"):
        assert main([*args, "--input-shape", "1,3", "--quiet", "--config", str(config)]) == 0
    (message,) = [record.getMessage() for record in caplog.records if "colour" in record.getMessage()]
    assert f"found in {config} " in message and "config.json of" not in message
