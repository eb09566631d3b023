"""Regressions of QA round 14 (core mixin): a dataclass ``config`` with a field JSON cannot hold, an unsaved
``config`` with a class's own loader, non-contiguous arrays in ``save_safetensors``, links into the shared Xet
blob store, a push token held by a model argument, and an ``__init__`` taking a keyword named ``self``."""

from __future__ import annotations

import json
import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Self

import huggingface_hub
import numpy as np
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import RepositoryNotFoundError
from safetensors.numpy import save_file

from hubmixin_core import ConfigEncodingError, DownloadOptions, ModelHubMixin
from hubmixin_core._paths import warn_if_linked_outside
from hubmixin_core.errors import ConfigEncodingWarning, ConfigError, HubMixinValueError, MissingArgumentError
from hubmixin_core.testing import LocalHub
from hubmixin_core.weights import open_checkpoint, save_safetensors


class Act:
    """An object JSON cannot hold (an activation class's instance, a callable)."""


@dataclass
class Cfg:
    hidden: int = 4
    act: Any = None


@dataclass
class Outer:
    inner: Cfg = field(default_factory=Cfg)


class _Own(ModelHubMixin):
    """A plain core model with hubmixin's loader signature."""

    def _save_pretrained(self, save_directory: Path) -> None:
        pass

    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        return cls(**model_kwargs)


class OptionalCfg(_Own):
    def __init__(self, config: Cfg | None = None, depth: int = 1) -> None:
        self.config = config
        self.depth = depth


class RequiredCfg(_Own):
    def __init__(self, config: Cfg) -> None:
        self.config = config


class NestedCfg(_Own):
    def __init__(self, config: Outer | None = None) -> None:
        self.config = config


class Unannotated(_Own):
    def __init__(self, config=None) -> None:  # type: ignore[no-untyped-def]
        self.config = config


def _build(cls: type[_Own], *args: Any) -> tuple[_Own, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = cls(*args)
    return model, [str(w.message) for w in caught if issubclass(w.category, ConfigEncodingWarning)]


def _config_json(directory: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((directory / "config.json").read_text())
    return loaded


# 1. a dataclass config with a field JSON cannot hold


@pytest.mark.parametrize(
    ("cls", "config", "where"),
    [
        (OptionalCfg, Cfg(8, Act()), "config.act: test_config_edge_cases_and_token_guard.Act"),
        (RequiredCfg, Cfg(8, Act()), "config.act: test_config_edge_cases_and_token_guard.Act"),
        (OptionalCfg, Cfg(8, print), "config.act: types.BuiltinFunctionType"),
        (NestedCfg, Outer(Cfg(8, Act())), "config.inner.act: test_config_edge_cases_and_token_guard.Act"),
        (Unannotated, Cfg(8, Act()), "config.act: test_config_edge_cases_and_token_guard.Act"),
    ],
)
def test_a_dataclass_config_json_cannot_hold_is_warned_about_and_recorded_unsaved(
    tmp_path: Path, cls: type[_Own], config: Any, where: str
) -> None:
    model, messages = _build(cls, config)
    assert len(messages) == 1, messages
    named = f"{type(config).__module__}.{type(config).__qualname__}"
    assert f"argument 'config' of type {named} (at {where})" in messages[0]
    assert "Unencodable" not in messages[0] and "<unencodable>" not in messages[0]
    model.save_pretrained(tmp_path)
    saved = _config_json(tmp_path)
    assert saved["_hub_mixin_unsaved"] == {"config": type(config).__qualname__}
    with pytest.raises(MissingArgumentError, match="'config'"):
        cls.from_pretrained(tmp_path)
    again = cls.from_pretrained(tmp_path, model_kwargs={"config": config})
    assert again.config is config  # type: ignore[attr-defined]


def test_the_other_arguments_beside_an_unsaved_dataclass_config_are_saved(tmp_path: Path) -> None:
    model, _ = _build(OptionalCfg, Cfg(8, Act()), 3)
    model.save_pretrained(tmp_path)
    assert _config_json(tmp_path) == {"depth": 3, "_hub_mixin_unsaved": {"config": "Cfg"}}
    again = OptionalCfg.from_pretrained(tmp_path, model_kwargs={"config": Cfg(8, Act())})
    assert again.depth == 3 and again.config is not None and again.config.hidden == 8


def test_an_explicit_config_saves_a_model_whose_dataclass_config_json_cannot_hold(tmp_path: Path) -> None:
    model, _ = _build(RequiredCfg, Cfg(8, Act()))
    model.save_pretrained(tmp_path, config={"hidden": 8})
    assert _config_json(tmp_path) == {"hidden": 8}


class Strict(ModelHubMixin, strict_config=True):
    def __init__(self, config: Cfg) -> None:
        self.config = config


class StrictOptional(ModelHubMixin, strict_config=True):
    def __init__(self, config: Cfg | None = None) -> None:
        self.config = config


@pytest.mark.parametrize("cls", [Strict, StrictOptional])
def test_strict_config_refuses_a_dataclass_config_json_cannot_hold(cls: type[ModelHubMixin]) -> None:
    with pytest.raises(ConfigEncodingError, match=r"argument 'config' of type .*Cfg \(at config\.act: .*Act\)"):
        cls(Cfg(8, Act()))


def test_a_dataclass_config_json_holds_is_still_saved_whole(tmp_path: Path) -> None:
    model, messages = _build(OptionalCfg, Cfg(8, "gelu"))
    assert messages == []
    model.save_pretrained(tmp_path)
    assert _config_json(tmp_path) == {"hidden": 8, "act": "gelu"}
    assert OptionalCfg.from_pretrained(tmp_path).config == Cfg(8, "gelu")


ACTS = {"act": Act}


def _encode_cfg(config: Cfg) -> dict[str, Any]:
    return {"hidden": config.hidden, "act": next(name for name, kind in ACTS.items() if isinstance(config.act, kind))}


def _decode_cfg(data: dict[str, Any]) -> Cfg:
    return Cfg(data["hidden"], ACTS[data["act"]]())


class CodedCfg(_Own, coders={Cfg: (_encode_cfg, _decode_cfg)}):
    def __init__(self, config: Cfg | None = None) -> None:
        self.config = config


def test_a_dataclass_config_with_a_coder_is_saved_through_it(tmp_path: Path) -> None:
    model, messages = _build(CodedCfg, Cfg(8, Act()))
    assert messages == []
    model.save_pretrained(tmp_path)
    assert _config_json(tmp_path) == {"hidden": 8, "act": "act"}
    loaded = CodedCfg.from_pretrained(tmp_path).config
    assert isinstance(loaded, Cfg) and loaded.hidden == 8 and isinstance(loaded.act, Act)


class OnlyOptions(_Own):
    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self.options = options


@pytest.mark.parametrize(
    ("cls", "name", "value"), [(RequiredCfg, "config", Cfg(8, Act())), (OnlyOptions, "options", {"a": Act})]
)
def test_a_model_loaded_with_an_argument_given_again_records_it_unsaved_again(
    tmp_path: Path, cls: type[_Own], name: str, value: Any
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigEncodingWarning)
        cls(value).save_pretrained(tmp_path / "first")
        cls.from_pretrained(tmp_path / "first", model_kwargs={name: value}).save_pretrained(tmp_path / "again")
    assert _config_json(tmp_path / "again") == {"_hub_mixin_unsaved": {name: type(value).__qualname__}}
    with pytest.raises(MissingArgumentError, match=f"'{name}'"):
        cls.from_pretrained(tmp_path / "again")


# 5. an unsaved config with a class's own loader


class DictConfig(_Own):
    def __init__(self, config: dict[str, Any] | None = None, x: int = 3) -> None:
        self.config, self.x = config, x


class HubSignature(ModelHubMixin):
    """A loader written to huggingface_hub's signature."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.config = config

    def _save_pretrained(self, save_directory: Path) -> None:
        pass

    @classmethod
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        revision: str | None,
        cache_dir: str | None,
        force_download: bool,
        local_files_only: bool,
        token: str | bool | None,
        **model_kwargs: Any,
    ) -> Self:
        return cls(**model_kwargs)


class NamingConfig(_Own):
    """A loader naming ``config`` (huggingface_hub gives it config.json there)."""

    def __init__(self, config: dict[str, Any] | None = None, x: int = 3) -> None:
        self.config, self.x = config, x

    @classmethod
    def _from_pretrained(
        cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any], config: Any = None
    ) -> Self:
        model_kwargs.setdefault("config", config)
        return cls(**model_kwargs)


class Pair(NamedTuple):
    a: int = 1
    b: Any = None


class TupleConfig(_Own):
    def __init__(self, config: Pair | None = None) -> None:
        self.config = config


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (DictConfig, {"config": {"hidden": 64, "act": Act}}),
        (DictConfig, {"config": {"hidden": 64, "act": Act}, "x": 5}),
        (HubSignature, {"config": {"hidden": 64, "act": Act}}),
        (NamingConfig, {"config": {"hidden": 64, "act": Act}, "x": 5}),
        (TupleConfig, {"config": Pair(2, Act())}),
        (OptionalCfg, {"config": Cfg(64, Act())}),
    ],
)
def test_an_unsaved_config_is_asked_for_by_a_class_loading_itself(
    tmp_path: Path, cls: type[ModelHubMixin], kwargs: dict[str, Any]
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigEncodingWarning)
        cls(**kwargs).save_pretrained(tmp_path)
    assert "config" in _config_json(tmp_path)["_hub_mixin_unsaved"]
    with pytest.raises(MissingArgumentError, match="'config'"):
        cls.from_pretrained(tmp_path)
    again = cls.from_pretrained(tmp_path, model_kwargs={"config": kwargs["config"]})
    assert again.config is kwargs["config"]  # type: ignore[attr-defined]
    if hasattr(again, "x"):
        assert again.x == kwargs.get("x", 3)


# 6. save_safetensors and tensors not laid out row-major


@pytest.mark.parametrize(
    "view",
    [
        lambda a: a.T,
        lambda a: np.asfortranarray(a),
        lambda a: a[:, ::2],
        lambda a: a[::-1],
        lambda a: a[::-1, ::-1],
        lambda a: np.broadcast_to(a[:1], a.shape),
    ],
)
def test_save_safetensors_writes_numpy_views_in_their_element_order(tmp_path: Path, view: Any) -> None:
    tensor = view(np.arange(1000 * 6, dtype=np.float32).reshape(1000, 6))
    assert not tensor.flags.c_contiguous
    save_safetensors({"t": tensor}, tmp_path, save_file=save_file, nbytes=lambda a: a.nbytes)
    np.testing.assert_array_equal(open_checkpoint(tmp_path).read(["t"])["t"], tensor)


def test_save_safetensors_writes_non_contiguous_shards_in_their_element_order(tmp_path: Path) -> None:
    tensors = {f"t{i}": np.arange(64, dtype=np.int64).reshape(8, 8).T * i for i in range(4)}
    written = save_safetensors(tensors, tmp_path, save_file=save_file, nbytes=lambda a: a.nbytes, max_shard_size=600)
    assert len(written) > 2
    read = open_checkpoint(tmp_path).read(list(tensors))
    for name, tensor in tensors.items():
        np.testing.assert_array_equal(read[name], tensor)


def test_save_safetensors_writes_torch_views_in_their_element_order(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file as save_torch

    tensor = torch.arange(12, dtype=torch.float32).reshape(3, 4).T
    save_safetensors({"t": tensor}, tmp_path, save_file=save_torch, nbytes=lambda t: t.numel() * t.element_size())
    np.testing.assert_array_equal(open_checkpoint(tmp_path).read(["t"])["t"], tensor.numpy())


# 4. links into the cache-wide blob store


def _snapshot_linked_to(cache: Path, blob: Path) -> tuple[Path, Path]:
    """A snapshot directory of a cache laid out as huggingface_hub 2.4 lays out Xet files: the snapshot's file
    links to the repository's blob, which links to ``blob``."""
    repo = cache / "models--user--net"
    snapshot = repo / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    (repo / "blobs").mkdir()
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(b"weights")
    (repo / "blobs" / "etag").symlink_to(os.path.relpath(blob, repo / "blobs"))
    (snapshot / "model.safetensors").symlink_to(Path("..", "..", "blobs", "etag"))
    return snapshot, snapshot / "model.safetensors"


def test_a_link_into_the_caches_shared_blob_store_is_not_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "hub"
    snapshot, linked = _snapshot_linked_to(cache, cache / "blobs" / "c6" / ("c6" + "0" * 62))
    with caplog.at_level(logging.WARNING, logger="hubmixin_core"):
        warn_if_linked_outside(snapshot, linked)
    assert "outside the model directory" not in caplog.text


@pytest.mark.parametrize(
    "blob",
    [
        Path("elsewhere", "blobs", "c6", "c6" + "0" * 62),  # another folder's "blobs", not this cache's
        Path("hub", "blobs", "secrets", "key"),  # not a 2-hex prefix folder
        Path("hub", "blobs", "c6", "id_rsa"),  # not a blob named by its hash
    ],
)
def test_a_link_outside_the_caches_blob_store_is_still_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, blob: Path
) -> None:
    snapshot, linked = _snapshot_linked_to(tmp_path / "hub", tmp_path / blob)
    with caplog.at_level(logging.WARNING, logger="hubmixin_core"):
        warn_if_linked_outside(snapshot, linked)
    assert "outside the model directory" in caplog.text


def test_a_clone_linking_into_a_cache_blob_store_is_still_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blob = tmp_path / "hub" / "blobs" / "c6" / ("c6" + "0" * 62)
    blob.parent.mkdir(parents=True)
    blob.write_bytes(b"weights")
    clone = tmp_path / "clone"
    clone.mkdir()
    (clone / "model.safetensors").symlink_to(blob)
    with caplog.at_level(logging.WARNING, logger="hubmixin_core"):
        warn_if_linked_outside(clone, clone / "model.safetensors")
    assert "outside the model directory" in caplog.text


class Weighted(_Own):
    def __init__(self, x: int = 1) -> None:
        self.w = np.full((4, 4), x, np.float32)

    def _save_pretrained(self, save_directory: Path) -> None:
        save_safetensors({"w": self.w}, save_directory, save_file=save_file, nbytes=lambda a: a.nbytes)

    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        model = cls(**model_kwargs)
        model.w = open_checkpoint(model_id, download).read(["w"])["w"]
        return model


def test_loading_a_snapshot_download_warns_of_no_link(local_hub: LocalHub, caplog: pytest.LogCaptureFixture) -> None:
    Weighted(x=3).push_to_hub("localuser/weighted")
    snapshot = huggingface_hub.snapshot_download("localuser/weighted")
    with caplog.at_level(logging.WARNING, logger="hubmixin_core"):
        loaded = Weighted.from_pretrained(snapshot)
    assert loaded.w[0, 0] == 3
    assert "outside the model directory" not in caplog.text


# 2. a push token held by a model argument


class Fetching(_Own):
    """A model fetching a sub-model in ``__init__`` with the user's token."""

    def __init__(self, hidden: int = 1, hub_token: str | None = None) -> None:
        self.hidden = hidden


def _repo_exists(repo_id: str) -> bool:
    try:
        HfApi().repo_info(repo_id)
    except RepositoryNotFoundError:
        return False
    return True


@pytest.mark.parametrize("given", [True, False])
def test_a_push_never_publishes_its_token_held_by_a_model_argument(local_hub: LocalHub, given: bool) -> None:
    token = local_hub.token
    model = Fetching(hidden=2, hub_token=token)
    with pytest.raises(HubMixinValueError, match=r"config\.json \(keys \['hub_token'\]\).*runtime_args") as raised:
        model.push_to_hub("localuser/fetching", token=token if given else None)
    assert token not in str(raised.value)
    assert not _repo_exists("localuser/fetching")


def test_save_pretrained_with_push_never_publishes_its_token(local_hub: LocalHub, tmp_path: Path) -> None:
    token = local_hub.add_user("dave")
    with pytest.raises(HubMixinValueError, match="hub_token"):
        Fetching(hub_token=token).save_pretrained(
            tmp_path / "out", repo_id="dave/fetching", push_to_hub=True, token=token
        )
    assert not _repo_exists("dave/fetching")
    assert not (tmp_path / "out").exists()  # nor written locally
    assert list(tmp_path.iterdir()) == []  # no staging left behind


class Noted(_Own, model_card_template="---\n{{ card_data }}\n---\n{{ note }}\n"):
    def __init__(self, hidden: int = 1) -> None:
        self.hidden = hidden


def test_a_token_in_the_model_card_is_not_published(local_hub: LocalHub) -> None:
    token = local_hub.token
    with pytest.raises(HubMixinValueError, match=r"README\.md would publish") as raised:
        Noted().push_to_hub("localuser/card", model_card_kwargs={"note": f"pushed with {token}"})
    assert "model_card_kwargs" in str(raised.value) and "runtime_args" not in str(raised.value)
    assert not _repo_exists("localuser/card")


class Declared(_Own, runtime_args=["hub_token"]):
    def __init__(self, hidden: int = 1, hub_token: str | None = None) -> None:
        self.hidden = hidden


def test_a_token_argument_declared_runtime_is_pushed_without_it(local_hub: LocalHub) -> None:
    Declared(hidden=2, hub_token=local_hub.token).push_to_hub("localuser/declared")
    path = huggingface_hub.hf_hub_download("localuser/declared", "config.json")
    assert json.loads(Path(path).read_text()) == {"hidden": 2}


# 3. an __init__ taking a keyword named self


class Attention(ModelHubMixin):
    def __init__(this, width: int = 1, self: bool = False) -> None:  # (a self-attention flag)
        this.width, this.self_attention = width, self

    def _save_pretrained(this, save_directory: Path) -> None:
        pass

    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        return cls(**model_kwargs)


def test_an_init_taking_a_keyword_named_self_builds_saves_and_loads(tmp_path: Path) -> None:
    model = Attention(2, self=True)
    assert (model.width, model.self_attention) == (2, True)
    model.save_pretrained(tmp_path)
    assert _config_json(tmp_path) == {"width": 2, "self": True}
    loaded = Attention.from_pretrained(tmp_path)
    assert (loaded.width, loaded.self_attention) == (2, True)


class StrCodedCfg(_Own, coders={Cfg: (lambda config: f"{config.hidden}", lambda text: Cfg(int(text)))}):
    def __init__(self, config: Cfg | None = None) -> None:
        self.config = config


def test_a_dataclass_config_coder_giving_no_json_object_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"coder declared for Cfg returned str, but config\.json holds a JSON object"):
        StrCodedCfg(Cfg(8)).save_pretrained(tmp_path / "out")
    assert not (tmp_path / "out").exists()
