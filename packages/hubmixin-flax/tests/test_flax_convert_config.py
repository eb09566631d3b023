"""`hubmixin convert` of a Flax msgpack whose ``--model`` needs an argument that no config gives: the error
names the argument and the command line's remedy (``--config``)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from flax import nnx, serialization

from hubmixin_core.cli import main
from hubmixin_flax import FlaxModelHubMixin

_TO_TORCH = pytest.mark.skipif(importlib.util.find_spec("hubmixin_torch") is None, reason="converts --to torch")


class Needs(nnx.Module, FlaxModelHubMixin):
    """A model that cannot be built without its ``width``."""

    def __init__(self, width: int, *, rngs: nnx.Rngs) -> None:
        self.fc = nnx.Linear(width, 2, rngs=rngs)


@pytest.fixture
def native(tmp_path: Path) -> Path:
    """A msgpack of ``Needs(3)`` with no ``config.json`` beside it."""
    model = Needs(3, rngs=nnx.Rngs(0))
    (tmp_path / "native").mkdir()
    source = tmp_path / "native" / "state.msgpack"
    source.write_bytes(serialization.to_bytes(nnx.to_pure_dict(nnx.state(model))))
    return source


def _convert(source: Path, out: Path, *extra: str) -> int:
    args = ["convert", str(source), str(out), "--to", "torch", "--model", f"{__name__}:Needs", "--quiet"]
    return main([*args, *extra])


@_TO_TORCH
def test_without_a_config_the_error_says_to_pass_one(native: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _convert(native, native.parent / "out") == 1
    assert capsys.readouterr().err == (
        f"hubmixin: error: --model {__name__}:Needs: cannot build the model without ['width']: there is no "
        f"config.json beside {native}: pass the model's config with --config PATH\n"
    )
    assert not (native.parent / "out").exists()
    config = native.parent.parent / "needs.json"
    config.write_text(json.dumps({"width": 3}))
    assert _convert(native, native.parent / "out", "--config", str(config)) == 0
    saved = json.loads((native.parent / "out" / "config.json").read_text())
    assert saved == {"width": 3}
    np.testing.assert_array_equal(
        np.asarray(Needs.from_pretrained(native.parent / "out").fc.kernel[...]),
        np.asarray(serialization.msgpack_restore(native.read_bytes())["fc"]["kernel"]),
    )


@_TO_TORCH
def test_a_config_without_the_argument_is_named(native: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (native.parent / "config.json").write_text(json.dumps({"widht": 3}))
    assert _convert(native, native.parent / "out") == 1
    err = capsys.readouterr().err
    assert err.startswith(f"hubmixin: error: --model {__name__}:Needs: cannot build the model without ['width']: ")
    assert f"{native.parent / 'config.json'} does not hold them" in err and "--config PATH" in err
    assert "(did you mean: 'width' (config.json has 'widht')?)" in err
    assert "model_kwargs" not in err and len(err.splitlines()) == 1


@_TO_TORCH
def test_unknown_keys_of_a_given_config_are_named_by_its_file(native: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = native.parent.parent / "needs.json"
    config.write_text(json.dumps({"width": 3, "colour": "red"}))
    with caplog.at_level("WARNING", logger="hubmixin_core"):
        assert _convert(native, native.parent / "out", "--config", str(config)) == 0
    (message,) = [record.getMessage() for record in caplog.records if "colour" in record.getMessage()]
    assert f"found in {config} " in message and "config.json of" not in message
