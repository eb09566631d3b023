"""QA round 19: ``from_pretrained`` inside the caller's own ``keras.StatelessScope()`` (JAX stateless code) loads;
the variables it gave a value leave Keras' pending list (the scope's exit initialised them again: "Variable ... is
already initialized"), those still deferred (a Dropout's seed, a metric's state) are initialised at that exit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from keras.src.backend.common import global_state

from hubmixin_keras import KerasModelHubMixin

X = np.random.default_rng(0).normal(size=(2, 3)).astype(np.float32)


def _numpy(value: Any) -> np.ndarray[Any, Any]:
    return np.asarray(keras.ops.convert_to_numpy(value))


def _pending() -> list[Any]:
    return list(global_state.get_global_attribute("uninitialized_variables") or [])


class Plain(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """One Dense: every variable is in the file."""

    def __init__(self, dim: int = 4, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fc = keras.layers.Dense(dim)

    def call(self, x: Any) -> Any:
        return self.fc(x)


class WithExtras(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """Variables no file holds: a Dropout's seed generator and a metric's state."""

    def __init__(self, dim: int = 4, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fc = keras.layers.Dense(dim)
        self.drop = keras.layers.Dropout(0.5)
        self.tracker = keras.metrics.Mean(name="loss")

    def call(self, x: Any, training: bool = False) -> Any:
        return self.drop(self.fc(x), training=training)


class Task(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """Its ``__init__`` loads a pretrained part with ``from_pretrained`` (a load nested in another)."""

    def __init__(self, part: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.part = part
        self.backbone = WithExtras.from_pretrained(part)
        self.head = keras.layers.Dense(2)

    def call(self, x: Any) -> Any:
        return self.head(self.backbone(x))


@pytest.fixture(autouse=True)
def _nothing_left_pending() -> Any:
    yield
    global_state.set_global_attribute("uninitialized_variables", [])  # (a failed test leaves others a clean list)


def _saved(model: keras.Model, directory: Path) -> np.ndarray[Any, Any]:
    expected = _numpy(model(X))
    model.save_pretrained(directory)
    return expected


@pytest.mark.parametrize("cls", [Plain, WithExtras])
def test_a_load_inside_the_callers_stateless_scope_loads(tmp_path: Path, cls: type[keras.Model]) -> None:
    expected = _saved(cls(), tmp_path)
    with keras.StatelessScope():
        loaded = cls.from_pretrained(tmp_path)  # was: "Variable ... is already initialized" at the scope's exit
        assert not any(v is p for v in loaded.fc.variables for p in _pending())  # (the exit initialised them)
    np.testing.assert_allclose(_numpy(loaded(X)), expected, atol=1e-6)
    variables = [*loaded.variables, *loaded.metrics_variables] if cls is WithExtras else loaded.variables
    assert all(variable._value is not None for variable in variables) and not _pending()


def test_a_nested_load_inside_the_callers_stateless_scope_loads(tmp_path: Path) -> None:
    _saved(WithExtras(), tmp_path / "part")
    expected = _saved(Task(part=str(tmp_path / "part")), tmp_path / "task")
    with keras.StatelessScope():
        loaded = Task.from_pretrained(tmp_path / "task")
    np.testing.assert_allclose(_numpy(loaded(X)), expected, atol=1e-6)
    assert all(variable._value is not None for variable in loaded.backbone.tracker.variables) and not _pending()


def test_a_load_in_a_scope_that_initialises_nothing_leaves_only_the_deferred_pending(tmp_path: Path) -> None:
    _saved(WithExtras(), tmp_path)
    with keras.StatelessScope(initialize_variables=False):
        loaded = WithExtras.from_pretrained(tmp_path)
    pending = _pending()
    assert pending and all(variable._value is None for variable in pending)  # the seed's and the metric's
    assert not any(v is p for v in loaded.fc.variables for p in pending)
