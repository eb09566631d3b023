"""File names of the safetensors layout, and the check that keeps them inside the model directory."""

from __future__ import annotations

import re
from collections.abc import Iterable

from hubmixin_core._paths import check_relative_path
from hubmixin_core.errors import WeightsError

__all__ = [
    "CONFIG_NAME",
    "replaced_by_save",
    "PYTORCH_WEIGHTS_NAME",
    "SAFETENSORS_INDEX_NAME",
    "SAFETENSORS_SINGLE_FILE",
    "WEIGHTS_FILE_PATTERNS",
    "check_relative_path",
    "check_tensor_names",
    "is_weights_file",
    "shard_file_name",
]

CONFIG_NAME = "config.json"
SAFETENSORS_SINGLE_FILE = "model.safetensors"
SAFETENSORS_INDEX_NAME = "model.safetensors.index.json"
PYTORCH_WEIGHTS_NAME = "pytorch_model.bin"

_SHARD = re.compile(r"^model-\d{5}-of-\d{5}\.safetensors$")

WEIGHTS_FILE_PATTERNS = (SAFETENSORS_SINGLE_FILE, SAFETENSORS_INDEX_NAME, "model-?????-of-?????.safetensors")
"""Glob patterns of the files a safetensors save writes (what a push of new weights replaces on the Hub)."""


def shard_file_name(number: int, total: int) -> str:
    """``model-0000i-of-0000n.safetensors`` as transformers and huggingface_hub name shards (1-based).

    Examples:
        >>> shard_file_name(1, 3)
        'model-00001-of-00003.safetensors'
    """
    return f"model-{number:05d}-of-{total:05d}.safetensors"


def is_weights_file(name: str) -> bool:
    """Whether ``name`` is one of the files a safetensors save writes (single file, shard or index)."""
    return name in (SAFETENSORS_SINGLE_FILE, SAFETENSORS_INDEX_NAME) or bool(_SHARD.match(name))


def replaced_by_save(name: str) -> bool:
    """Whether a save (or a conversion) into a directory replaces its file ``name`` (weights and ``config.json``:
    an old shard left beside a new single file, or the reverse, would be read instead)."""
    return is_weights_file(name) or name == CONFIG_NAME


def check_tensor_names(names: Iterable[str]) -> None:
    """Refuse a tensor name no safetensors file can hold: ``__metadata__``, the header's own key (a file written
    with it opens in no reader).

    Raises:
        WeightsError: naming the tensor.
    """
    if "__metadata__" in names:
        raise WeightsError(
            "cannot save tensor '__metadata__': safetensors keeps that name for the header's metadata; rename it"
        )
