"""An override of ``_from_pretrained`` written for huggingface_hub, forwarding to ``super()``, loads unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import keras
import numpy as np
import pytest
from keras_models import IDS, IMAGE, Net, assert_same_variables, keras_variables, numpy, randomize

from hubmixin_core.errors import WeightsKeyError
from hubmixin_core.testing import LocalHub
from hubmixin_keras import KerasModelHubMixin


class HubSignatureNet(Net):
    """huggingface_hub's full signature (as older releases had it), forwarding every argument to ``super()``."""

    extra = 0

    @classmethod
    def _from_pretrained(  # type: ignore[override]  # huggingface_hub's signature: type checkers flag it
        cls,
        *,
        model_id: str,
        revision: str | None,
        cache_dir: str | Path | None,
        force_download: bool,
        proxies: dict[str, str] | None,
        resume_download: bool | None,
        local_files_only: bool,
        token: str | bool | None,
        strict: bool = False,
        **model_kwargs: Any,
    ) -> Self:
        model: Self = super()._from_pretrained(  # type: ignore[call-arg]
            model_id=model_id,
            revision=revision,
            cache_dir=cache_dir,
            force_download=force_download,
            proxies=proxies,
            resume_download=resume_download,
            local_files_only=local_files_only,
            token=token,
            strict=strict,
            **model_kwargs,
        )
        model.extra = 1
        return model


class KwargsNet(Net):
    """``**kwargs`` only, forwarded to ``super()``."""

    extra = 0

    @classmethod
    def _from_pretrained(cls, **kwargs: Any) -> Self:
        model: Self = super()._from_pretrained(**kwargs)
        model.extra = 1
        return model


OVERRIDES = [HubSignatureNet, KwargsNet]


def _make(cls: type[Any], seed: int = 0, **kwargs: Any) -> Any:
    model = cls(**kwargs)
    model(IDS, IMAGE)
    randomize(model, seed)
    return model


def _check_loads(cls: type[Any], source: str | Path, saved: Any) -> None:
    loaded = cls.from_pretrained(source)
    assert loaded.extra == 1
    assert_same_variables(saved, loaded)

    half = cls.from_pretrained(source, dtype="float16")
    assert half.extra == 1
    original = keras_variables(saved)
    floating = 0
    for key, variable in keras_variables(half).items():
        value, before = numpy(variable), numpy(original[key])
        if np.issubdtype(before.dtype, np.floating):
            floating += 1
            assert value.dtype == np.float16, key
            np.testing.assert_array_equal(value, before.astype(np.float16))
        else:
            assert value.dtype == before.dtype, key
    assert floating


@pytest.mark.parametrize("cls", OVERRIDES)
def test_override_loads_from_a_directory(cls: type[Any], tmp_path: Path) -> None:
    net = _make(cls)
    net.save_pretrained(tmp_path)
    _check_loads(cls, tmp_path, net)


@pytest.mark.parametrize("cls", OVERRIDES)
def test_override_loads_from_the_hub(cls: type[Any], local_hub: LocalHub) -> None:
    repo_id = f"{local_hub.username}/{cls.__name__.lower()}"
    first = _make(cls, seed=1)
    commit = first.push_to_hub(repo_id)
    latest = _make(cls, seed=2)
    latest.push_to_hub(repo_id)
    _check_loads(cls, repo_id, latest)
    assert_same_variables(first, cls.from_pretrained(repo_id, revision=commit.oid))  # revision reaches the base


@pytest.mark.parametrize("cls", OVERRIDES)
def test_strict_and_model_arguments_reach_the_base(cls: type[Any], tmp_path: Path) -> None:
    _make(cls, depth=3).save_pretrained(tmp_path)
    shallow = cls.from_pretrained(tmp_path, depth=2)  # a model argument as a keyword; the surplus block ignored
    assert shallow.extra == 1 and len(shallow.blocks) == 2
    with pytest.raises(WeightsKeyError, match=r"blocks\.2"):
        cls.from_pretrained(tmp_path, depth=2, strict=True)


class NamedLikeExtras(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """``__init__`` arguments named like the base's load options, loaded through an override that forwards them."""

    def __init__(self, strict: str = "no", key_mapping: str = "none", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = (strict, key_mapping)
        self.dense = keras.layers.Dense(2)

    def call(self, x: Any) -> Any:
        return self.dense(x)

    @classmethod
    def _from_pretrained(cls, **kwargs: Any) -> Self:
        return super()._from_pretrained(**kwargs)


def test_model_arguments_named_like_load_options_reach_init(tmp_path: Path) -> None:
    saved = NamedLikeExtras(strict="yes", key_mapping="rows")
    x = np.ones((1, 3), np.float32)
    saved(x)
    saved.save_pretrained(tmp_path)
    loaded = NamedLikeExtras.from_pretrained(tmp_path)  # not taken as the load's strictness or key mapping
    assert loaded.settings == ("yes", "rows")
    np.testing.assert_array_equal(numpy(loaded(x)), numpy(saved(x)))


@pytest.mark.parametrize("dtype", ["float64", np.float64, np.dtype("float64")])
def test_a_dtype_equal_to_none_in_numpy_reaches_a_kwargs_override(dtype: Any, tmp_path: Path) -> None:
    # np.dtype("float64") == None holds in numpy: it must not be taken for the default
    if keras.backend.backend() == "jax":
        pytest.skip("JAX holds no float64 without jax_enable_x64")
    _make(KwargsNet).save_pretrained(tmp_path)
    loaded = KwargsNet.from_pretrained(tmp_path, dtype=dtype)
    assert {str(v.dtype) for v in loaded.weights if "float" in str(v.dtype)} == {"float64"}
