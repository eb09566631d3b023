"""QA round 18: a dotted layout version is a version (a later one asks to upgrade), and the warnings of a load's
layer settings point at the caller's line, not at hubmixin's."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from hubmixin_core.errors import LayerSettingsWarning, LayoutError
from hubmixin_core.weights import open_checkpoint
from hubmixin_core.weights._metadata import check_layout_version
from hubmixin_core.weights._settings import settings_metadata, warn_settings


@pytest.mark.parametrize("version", ["2.0", "1.5", "1.0.1", "10", "0002"])
def test_a_later_dotted_layout_version_asks_to_upgrade(tmp_path: Path, version: str) -> None:
    path = tmp_path / "model.safetensors"
    save_file({"w": np.ones(1, np.float32)}, str(path), {"hubmixin.layout": version})
    with pytest.raises(LayoutError, match=rf"layout version {version}; .*up to version 1: upgrade hubmixin"):
        open_checkpoint(tmp_path)


@pytest.mark.parametrize("version", ["1.0", "01", "0.9", "1.00.0"])
def test_a_dotted_layout_version_up_to_ours_is_read(version: str) -> None:
    check_layout_version({"hubmixin.layout": version}, "model.safetensors")


@pytest.mark.parametrize("version", ["2.x", "v2", "1.", ".1", "", "2 "])
def test_a_layout_version_that_is_no_version_number_says_so(version: str) -> None:
    with pytest.raises(LayoutError, match=r"model\.safetensors: layout version .* is not a version number"):
        check_layout_version({"hubmixin.layout": version}, "model.safetensors")


def test_layer_settings_warnings_point_at_the_callers_line() -> None:
    saved = settings_metadata({"norm": {"eps": 1e-3}})
    for metadata, category in ((saved, LayerSettingsWarning), ({"hubmixin.settings": "{"}, UserWarning)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warn_settings(metadata, {"norm": {"eps": 1e-5}}, "Net", "model.safetensors")
        (warning,) = caught
        assert issubclass(warning.category, category)
        assert warning.filename == __file__, (warning.filename, warning.lineno)
