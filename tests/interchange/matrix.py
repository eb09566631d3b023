"""One process of the interchange matrix: save, load or round-trip the reference architectures in its frameworks.

Keras' backend is fixed per process, so the matrix runs this module once per backend: the ``KERAS_BACKEND=jax``
process serves torch, flax and keras-jax; the others serve keras-torch and keras-tensorflow. Phases, each run
by every process before the next starts (:mod:`test_matrix` drives them)::

    python tests/interchange/matrix.py save DIR   # DIR/models/<fw>/<arch>/ and DIR/outputs/<fw>/<arch>.npy
    python tests/interchange/matrix.py load DIR   # each other framework's model: outputs, and saved again
    python tests/interchange/matrix.py back DIR   # those saved again, loaded back: bit-identical to the original

Each phase writes ``DIR/results/<phase>-<fw>.json``: one record per cell, with the error message if it raised.
Weights are random in every framework, set by the framework's own API (never through our adapters). Recurrent
hidden-side biases (torch's ``bias_hh_l0``, Keras GRU's recurrent bias) are held at zero: Flax's cells and Keras'
LSTM hold one bias, so only then is a round trip through them bit-identical.
"""

from __future__ import annotations

import json
import sys
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import keras
import numpy as np
import torch
from architectures import ARCHITECTURES, FLAX, HUB, KERAS, TORCH, inputs
from flax import nnx

from hubmixin_core.errors import LayerSettingsWarning

Array = np.ndarray[Any, Any]
FRAMEWORKS = ("torch", "flax", "keras-jax", "keras-torch", "keras-tensorflow", "huggingface_hub")
"""The last is torch under ``huggingface_hub.PyTorchModelHubMixin``, for the MLP and the CNN (see ``HUB``)."""


def pairs(architecture: str) -> list[tuple[str, str]]:
    """The ordered pairs of frameworks that both have ``architecture``."""
    have = [fw for fw in FRAMEWORKS if fw != "huggingface_hub" or architecture in HUB]
    return [(source, target) for source in have for target in have if source != target]


def _uniform(rng: np.random.Generator, name: str, shape: tuple[int, ...]) -> Array:
    """Random weights; a variance positive; a recurrent hidden-side bias zero (see the module docstring)."""
    if name.endswith(("running_var", ".var", "moving_variance")):
        return rng.uniform(0.5, 1.5, shape).astype(np.float32)
    array = rng.uniform(-0.5, 0.5, shape).astype(np.float32)
    if "bias_hh" in name:
        array[:] = 0
    elif "gru" in name and name.endswith("bias") and len(shape) == 2:
        array[1] = 0  # Keras GRU (reset_after): row 0 is the input bias, row 1 the recurrent one
    return array


@dataclass(frozen=True)
class Framework:
    """What the matrix does with one framework's models, through that framework's own API."""

    name: str
    classes: dict[str, Any]
    make: Callable[[str], Any]
    variables: Callable[[Any], dict[str, Array]]
    randomize: Callable[[Any, np.random.Generator], None]
    run: Callable[[Any, Array], Array]


def _torch_variables(model: Any) -> dict[str, Array]:
    return {name: tensor.detach().numpy().copy() for name, tensor in model.state_dict().items()}


def _torch_randomize(model: Any, rng: np.random.Generator) -> None:
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                tensor.copy_(torch.from_numpy(_uniform(rng, name, tuple(tensor.shape))))


def _torch_run(model: Any, x: Array) -> Array:
    with torch.no_grad():
        return np.asarray(model.eval()(torch.from_numpy(x)).numpy())


def _flax_variables(model: Any) -> dict[str, Array]:
    return {
        ".".join(map(str, path)): np.asarray(node.get_value())
        for path, node in nnx.iter_graph(model)
        if isinstance(node, nnx.Param | nnx.BatchStat)
    }


def _flax_randomize(model: Any, rng: np.random.Generator) -> None:
    for path, node in nnx.iter_graph(model):
        if isinstance(node, nnx.Param | nnx.BatchStat):
            name = ".".join(map(str, path))
            node.set_value(jnp.asarray(_uniform(rng, name, tuple(node.get_value().shape))))


def _keras_variables(model: Any) -> dict[str, Array]:
    # By position and name: paths hold auto-numbered layer names (dense_7), different in each model built.
    return {
        f"{index}:{variable.name}": np.asarray(keras.ops.convert_to_numpy(variable.value))
        for index, variable in enumerate(model.weights)
    }


def _keras_randomize(model: Any, rng: np.random.Generator) -> None:
    for variable in model.weights:
        variable.assign(_uniform(rng, variable.path, tuple(variable.shape)))


def _keras_make(architecture: str) -> Any:
    model = KERAS[architecture]()
    model(inputs(architecture))  # builds the layers
    return model


def _keras_run(model: Any, x: Array) -> Array:
    return np.asarray(keras.ops.convert_to_numpy(model(x)))


def served() -> list[Framework]:
    """The frameworks this process serves (see the module docstring)."""
    keras_fw = Framework(
        f"keras-{keras.backend.backend()}", KERAS, _keras_make, _keras_variables, _keras_randomize, _keras_run
    )
    if keras.backend.backend() != "jax":
        return [keras_fw]
    return [
        Framework("torch", TORCH, lambda a: TORCH[a]().eval(), _torch_variables, _torch_randomize, _torch_run),
        Framework("huggingface_hub", HUB, lambda a: HUB[a]().eval(), _torch_variables, _torch_randomize, _torch_run),
        Framework(
            "flax",
            FLAX,
            lambda a: FLAX[a](rngs=nnx.Rngs(0)),
            _flax_variables,
            _flax_randomize,
            lambda m, x: np.asarray(m(jnp.asarray(x))),
        ),
        keras_fw,
    ]


def _cell(record: dict[str, Any], work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        record.update(work())
    except Exception as error:  # a failed cell is a result: the driver reports it with the others
        record["error"] = f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=-3)}"
    return record


def save(root: Path, fw: Framework) -> list[dict[str, Any]]:
    """Each architecture, random weights, saved with its outputs on the fixed input."""
    records = []
    for index, architecture in enumerate(ARCHITECTURES):
        if architecture not in fw.classes:
            continue

        def work(architecture: str = architecture, seed: int = index) -> dict[str, Any]:
            model = fw.make(architecture)
            fw.randomize(model, np.random.default_rng([FRAMEWORKS.index(fw.name), seed]))
            model.save_pretrained(root / "models" / fw.name / architecture)
            outputs = root / "outputs" / fw.name / f"{architecture}.npy"
            outputs.parent.mkdir(parents=True, exist_ok=True)
            np.save(outputs, fw.run(model, inputs(architecture)))
            return {}

        records.append(_cell({"architecture": architecture, "source": fw.name}, work))
    return records


def load(root: Path, fw: Framework) -> list[dict[str, Any]]:
    """Every other framework's models, strictly: the largest output difference, then saved again by ``fw``."""
    records = []
    for architecture in ARCHITECTURES:
        for source, target in pairs(architecture):
            if target != fw.name:
                continue

            def work(source: str = source, architecture: str = architecture) -> dict[str, Any]:
                model = fw.classes[architecture].from_pretrained(root / "models" / source / architecture, strict=True)
                expected = np.load(root / "outputs" / source / f"{architecture}.npy")
                got = fw.run(model, inputs(architecture))
                if got.shape != expected.shape:
                    raise AssertionError(f"outputs of shape {got.shape}, expected {expected.shape}")
                model.save_pretrained(root / "back" / source / fw.name / architecture)
                return {"max_abs_error": float(np.max(np.abs(got - expected)))}

            records.append(_cell({"architecture": architecture, "source": source, "target": fw.name}, work))
    return records


def back(root: Path, fw: Framework) -> list[dict[str, Any]]:
    """``fw``'s models saved again by every other framework, loaded back: every variable bit-identical."""
    records = []
    for architecture in ARCHITECTURES:
        for source, via in pairs(architecture):
            if source != fw.name:
                continue

            def work(via: str = via, architecture: str = architecture) -> dict[str, Any]:
                cls = fw.classes[architecture]
                original = fw.variables(cls.from_pretrained(root / "models" / fw.name / architecture, strict=True))
                returned = fw.variables(cls.from_pretrained(root / "back" / fw.name / via / architecture, strict=True))
                if original.keys() != returned.keys():
                    raise AssertionError(f"variables {sorted(original)} came back as {sorted(returned)}")
                differ = [n for n in original if not np.array_equal(original[n], returned[n], equal_nan=True)]
                return {"identical": not differ, "differ": differ}

            records.append(_cell({"architecture": architecture, "source": fw.name, "via": via}, work))
    return records


PHASES = {"save": save, "load": load, "back": back}


def main(argv: list[str]) -> int:
    warnings.simplefilter("error", LayerSettingsWarning)  # the ports are set alike: a warning is a failed cell
    phase, root = PHASES[argv[0]], Path(argv[1])
    results = root / "results"
    results.mkdir(parents=True, exist_ok=True)
    for fw in served():
        (results / f"{argv[0]}-{fw.name}.json").write_text(json.dumps(phase(root, fw), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
