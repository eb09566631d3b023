"""fuzz26: a config.json that cannot be read, and a shard of a later layout, are typed errors naming the file."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest
from core_models import MLP
from safetensors.numpy import save_file

from hubmixin_core.errors import HubMixinOSError, LayoutError
from hubmixin_core.weights import open_checkpoint


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="an unreadable file made from /proc/self/mem")
def test_a_config_json_that_cannot_be_read_is_a_typed_os_error_naming_it(tmp_path: Path) -> None:
    MLP().save_pretrained(tmp_path)
    (tmp_path / "config.json").unlink()
    (tmp_path / "config.json").symlink_to("/proc/self/mem")  # reading it from offset 0 is an I/O error (EIO)
    with pytest.raises(HubMixinOSError, match=r"config\.json: cannot read the config: Input/output error") as raised:
        MLP.from_pretrained(tmp_path)
    assert isinstance(raised.value, OSError) and raised.value.errno == errno.EIO  # `except OSError` still holds


def test_a_permission_error_reading_a_config_stays_a_permission_error() -> None:
    error = HubMixinOSError(errno.EACCES, "config.json: cannot read the config: Permission denied")
    assert isinstance(error, PermissionError) and isinstance(error, HubMixinOSError)


@pytest.mark.parametrize("shard", [1, 2, 3])
def test_every_shard_of_a_later_layout_is_refused_by_name(tmp_path: Path, shard: int) -> None:
    tensors = {f"w{i}": np.full(4, i, np.float32) for i in range(3)}
    weight_map: dict[str, str] = {}
    for i, (name, tensor) in enumerate(tensors.items(), start=1):
        file = f"model-{i:05d}-of-00003.safetensors"
        layout = "2" if i == shard else "1"
        save_file({name: tensor}, str(tmp_path / file), {"format": "pt", "hubmixin.layout": layout})
        weight_map[name] = file
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    with pytest.raises(LayoutError, match="written in canonical layout version 2") as raised:
        open_checkpoint(tmp_path)
    assert f"model-{shard:05d}-of-00003.safetensors" in str(raised.value) or shard == 1
    assert os.fspath(tmp_path) in str(raised.value)
