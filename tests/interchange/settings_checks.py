"""What the settings tests read: the settings a file records, and the warnings a load of it gives."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from safetensors import safe_open

from hubmixin_core.errors import LayerSettingsWarning
from hubmixin_core.weights import SETTINGS_KEY


def settings_warnings(model: Any, path: Path, **kwargs: Any) -> list[str]:
    """The ``LayerSettingsWarning`` messages (from the layer's path on) of ``model.from_pretrained(path)``, strict,
    with ``kwargs`` as the model's arguments."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.from_pretrained(path, strict=True, model_kwargs=kwargs)
    return [str(w.message).split("differ: ", 1)[1] for w in caught if issubclass(w.category, LayerSettingsWarning)]


def recorded_settings(path: Path) -> Any:
    """The layer settings ``path``'s ``model.safetensors`` records (``{}`` where none)."""
    with safe_open(str(path / "model.safetensors"), "np") as opened:
        return json.loads(opened.metadata().get(SETTINGS_KEY) or "{}")
