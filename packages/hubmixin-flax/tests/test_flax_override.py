"""An override of ``_from_pretrained`` written for huggingface_hub, forwarding to ``super()``, loads unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from flax_models import Net, assert_same_variables, persistent, randomize

from hubmixin_core.errors import WeightsKeyError
from hubmixin_core.testing import LocalHub
from hubmixin_flax import FlaxModelHubMixin


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
        model = super()._from_pretrained(  # type: ignore[call-arg]
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
        model = super()._from_pretrained(**kwargs)
        model.extra = 1
        return model


OVERRIDES = [HubSignatureNet, KwargsNet]


def _make(cls: type[Net], seed: int = 0, **kwargs: int) -> Net:
    model = cls(**kwargs, rngs=nnx.Rngs(seed))
    randomize(model, seed + 1)
    return model


def _check_loads(cls: type[HubSignatureNet | KwargsNet], source: str | Path, saved: Net) -> None:
    loaded = cls.from_pretrained(source)
    assert loaded.extra == 1
    assert_same_variables(saved, loaded)

    half = cls.from_pretrained(source, dtype=jnp.float16)
    assert half.extra == 1
    original = persistent(saved)
    floating = 0
    for path, variable in persistent(half).items():
        value, before = np.asarray(variable.get_value()), np.asarray(original[path].get_value())
        if jnp.issubdtype(before.dtype, jnp.floating):
            floating += 1
            assert value.dtype == np.float16, path
            np.testing.assert_array_equal(value, before.astype(np.float16))
        else:
            assert value.dtype == before.dtype, path
    assert floating


@pytest.mark.parametrize("cls", OVERRIDES)
def test_override_loads_from_a_directory(cls: type[HubSignatureNet | KwargsNet], tmp_path: Path) -> None:
    net = _make(cls)
    net.save_pretrained(tmp_path)
    _check_loads(cls, tmp_path, net)


@pytest.mark.parametrize("cls", OVERRIDES)
def test_override_loads_from_the_hub(cls: type[HubSignatureNet | KwargsNet], local_hub: LocalHub) -> None:
    repo_id = f"{local_hub.username}/{cls.__name__.lower()}"
    first = _make(cls, seed=1)
    commit = first.push_to_hub(repo_id)
    latest = _make(cls, seed=2)
    latest.push_to_hub(repo_id)
    _check_loads(cls, repo_id, latest)
    assert_same_variables(first, cls.from_pretrained(repo_id, revision=commit.oid))  # revision reaches the base


@pytest.mark.parametrize("cls", OVERRIDES)
def test_strict_and_model_arguments_reach_the_base(cls: type[HubSignatureNet | KwargsNet], tmp_path: Path) -> None:
    _make(cls, depth=3).save_pretrained(tmp_path)
    shallow = cls.from_pretrained(tmp_path, depth=2)  # type: ignore[call-arg]  # a model argument as a keyword
    assert shallow.extra == 1 and len(shallow.blocks) == 2
    with pytest.raises(WeightsKeyError, match=r"blocks\.2"):
        cls.from_pretrained(tmp_path, model_kwargs={"depth": 2}, strict=True)


class NamedLikeExtras(nnx.Module, FlaxModelHubMixin):
    """``__init__`` arguments named like the base's load options, loaded through an override that forwards them."""

    def __init__(self, sharding: str = "none", strict: str = "no", dtype: str = "float32", *, rngs: nnx.Rngs) -> None:
        self.settings = (sharding, strict, dtype)
        self.linear = nnx.Linear(2, 2, rngs=rngs)

    @classmethod
    def _from_pretrained(cls, **kwargs: Any) -> Self:
        return super()._from_pretrained(**kwargs)


def test_model_arguments_named_like_load_options_reach_init(tmp_path: Path) -> None:
    saved = NamedLikeExtras(sharding="rows", strict="yes", dtype="bfloat16", rngs=nnx.Rngs(0))
    saved.save_pretrained(tmp_path)
    loaded = NamedLikeExtras.from_pretrained(tmp_path)  # not taken as the load's sharding, strictness or dtype
    assert loaded.settings == ("rows", "yes", "bfloat16")
    kernel = np.asarray(loaded.linear.kernel.get_value())
    assert kernel.dtype == np.float32
    np.testing.assert_array_equal(kernel, np.asarray(saved.linear.kernel.get_value()))
