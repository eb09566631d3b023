"""``key_mapping`` renames each name by the first pattern that matches it, as transformers' ``key_mapping`` does
(``_get_key_renaming_mapping`` stops at the first ``re.subn`` that replaces): later patterns never see the result."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from hubmixin_core.errors import WeightsKeyError
from hubmixin_core.weights import open_checkpoint
from hubmixin_core.weights._settings import SETTINGS_KEY

TENSORS = {
    "fc1.weight": np.full((2, 2), 1, np.float32),
    "fc1.bias": np.full(2, 2, np.float32),
    "fc2.weight": np.full((2, 2), 3, np.float32),
    "fc2.bias": np.full(2, 4, np.float32),
}


def transformers_rename(key: str, key_mapping: dict[str, str]) -> str:
    """transformers' renaming of one key: the first pattern that replaces anything, and no other."""
    for pattern, replacement in key_mapping.items():
        new_key, count = re.subn(pattern, replacement, key)
        if count > 0:
            return new_key
    return key


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    save_file(TENSORS, str(tmp_path / "model.safetensors"))
    return tmp_path


@pytest.mark.parametrize(
    "mapping",
    [
        {r"^fc1\.": "fc2.", r"^fc2\.": "fc1."},  # a swap: chained, both would end as fc1
        {r"^fc1\.": "block.fc1.", r"^block\.": "model.block."},  # chained, fc1 would end under model.block
        {r"^fc2\.": "out.", r"fc": "dense", r"\.": "_"},  # a later pattern still renames what earlier ones miss
        {r"[fw]": "g", r"^gc1": "x"},  # every match of the first matching pattern (gc1.geight), and only it
    ],
)
def test_names_are_renamed_by_the_first_matching_pattern_as_transformers_does(
    saved: Path, mapping: dict[str, str]
) -> None:
    checkpoint = open_checkpoint(saved).renamed(mapping)
    expected = {transformers_rename(name, mapping): name for name in TENSORS}
    assert sorted(checkpoint.infos) == sorted(expected)
    read = checkpoint.read(list(expected))
    for new, old in expected.items():
        np.testing.assert_array_equal(read[new], TENSORS[old])


def test_a_swap_renames_tied_names_and_layer_settings_alike(tmp_path: Path) -> None:
    settings = json.dumps({"fc1": {"eps": 1e-5}, "fc2": {"eps": 1e-6}})
    metadata = {"format": "pt", "fc2.weight": "fc1.weight", SETTINGS_KEY: settings}  # fc2.weight tied to fc1
    save_file({"fc1.weight": TENSORS["fc1.weight"]}, str(tmp_path / "model.safetensors"), metadata)
    checkpoint = open_checkpoint(tmp_path).renamed({r"^fc1\.": "fc2.", r"^fc2\.": "fc1."})
    assert list(checkpoint.infos) == ["fc2.weight"]
    assert checkpoint.metadata["fc1.weight"] == "fc2.weight"
    assert json.loads(checkpoint.metadata[SETTINGS_KEY]) == {"fc2": {"eps": 1e-5}, "fc1": {"eps": 1e-6}}


def test_two_names_renamed_to_one_are_still_refused(saved: Path) -> None:
    with pytest.raises(WeightsKeyError, match=r"renames both 'fc1\.(bias|weight)' and 'fc2\.\1' to 'fc\.\1'"):
        open_checkpoint(saved).renamed({r"^fc1\.": "fc.", r"^fc2\.": "fc."})
