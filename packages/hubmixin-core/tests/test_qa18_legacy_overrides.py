"""A ``_from_pretrained`` written to huggingface_hub's contract (no ``endpoint``, no ``max_workers``): ``endpoint=``
is refused before anything is read (its own downloads would go to the default Hub, with the token), and
``max_workers`` never reaches ``__init__``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, Self

import pytest
from huggingface_hub import hf_hub_download

from hubmixin_core import DownloadOptions, ModelHubMixin
from hubmixin_core.errors import HubMixinTypeError
from hubmixin_core.testing import LocalHub


class Downloads(ModelHubMixin):
    """Downloads its weights itself, as integrations written for huggingface_hub do."""

    def __init__(self, v: int = 0, **kwargs: Any) -> None:
        self.v, self.w, self.kwargs = v, -1, kwargs

    def _save_pretrained(self, save_directory: Path) -> None:
        (save_directory / "w.json").write_text(json.dumps(self.v))

    @classmethod
    def _from_pretrained(  # huggingface_hub's signature
        cls,
        *,
        model_id: str,
        revision: str | None,
        cache_dir: str | Path | None,
        force_download: bool,
        local_files_only: bool,
        token: str | bool | None,
        **model_kwargs: Any,
    ) -> Self:
        path = Path(model_id, "w.json")
        if not path.is_file():
            path = Path(
                hf_hub_download(
                    model_id,
                    "w.json",
                    revision=revision,
                    cache_dir=cache_dir,
                    force_download=force_download,
                    local_files_only=local_files_only,
                    token=token,
                )
            )
        model = cls(**model_kwargs)
        model.w = json.loads(path.read_text())
        return model


class Plain(ModelHubMixin):
    def __init__(self, v: int = 0) -> None:
        self.v = v

    def _save_pretrained(self, save_directory: Path) -> None:
        (save_directory / "w.json").write_text(json.dumps(self.v))

    @classmethod
    def _from_pretrained(  # huggingface_hub's signature
        cls,
        *,
        model_id: str,
        revision: str | None,
        cache_dir: str | Path | None,
        force_download: bool,
        local_files_only: bool,
        token: str | bool | None,
        **model_kwargs: Any,
    ) -> Self:
        return cls(**model_kwargs)


class NamesThem(Downloads):
    """Names the options only hubmixin has: it receives them."""

    seen: ClassVar[dict[str, Any]] = {}

    @classmethod
    def _from_pretrained(  # type: ignore[override]
        cls,
        *,
        model_id: str,
        revision: str | None,
        cache_dir: str | Path | None,
        force_download: bool,
        local_files_only: bool,
        token: str | bool | None,
        endpoint: str | None,
        max_workers: int,
        **model_kwargs: Any,
    ) -> Self:
        cls.seen = {"endpoint": endpoint, "max_workers": max_workers}
        path = hf_hub_download(
            model_id, "w.json", revision=revision, cache_dir=cache_dir, token=token, endpoint=endpoint
        )
        model = cls(**model_kwargs)
        model.w = json.loads(Path(path).read_text())
        return model


class TakesDownload(Downloads):
    @classmethod
    def _from_pretrained(  # type: ignore[override]
        cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]
    ) -> Self:
        path = hf_hub_download(model_id, "w.json", cache_dir=download.cache_dir, endpoint=download.endpoint)
        model = cls(**model_kwargs)
        model.w = json.loads(Path(path).read_text())
        return model


def test_endpoint_is_refused_before_anything_is_read(tmp_path: Path) -> None:
    with LocalHub() as default, LocalHub() as other, default.configure_client():
        Downloads(v=1).push_to_hub("localuser/m")
        Downloads(v=2).push_to_hub("localuser/m", endpoint=other.endpoint, token=other.token)
        Downloads(v=3).push_to_hub("localuser/only-other", endpoint=other.endpoint, token=other.token, private=True)
        cache = tmp_path / "cache"
        message = r"endpoint='http://[^']+' given, but Downloads\._from_pretrained does not accept it.*name `endpoint`"
        with pytest.raises(HubMixinTypeError, match=message):  # (not other's config.json with default's weights)
            Downloads.from_pretrained("localuser/m", endpoint=other.endpoint, token=False, cache_dir=cache)
        with pytest.raises(HubMixinTypeError, match="download: DownloadOptions"):  # (other's token not sent to default)
            Downloads.from_pretrained(
                "localuser/only-other", endpoint=other.endpoint, token=other.token, cache_dir=cache
            )
        assert not cache.exists()
        loaded = Downloads.from_pretrained("localuser/m", cache_dir=cache)  # the default Hub: as before
        assert (loaded.v, loaded.w, loaded.kwargs) == (1, 1, {})


def test_overrides_taking_the_endpoint_load_from_it(tmp_path: Path) -> None:
    with LocalHub() as default, LocalHub() as other, default.configure_client():
        Downloads(v=1).push_to_hub("localuser/m")
        Downloads(v=2).push_to_hub("localuser/m", endpoint=other.endpoint, token=other.token)
        for cls in (NamesThem, TakesDownload):
            loaded = cls.from_pretrained("localuser/m", endpoint=other.endpoint, token=False, cache_dir=tmp_path / "c")
            assert (loaded.v, loaded.w, loaded.kwargs) == (2, 2, {})
        NamesThem.from_pretrained("localuser/m", endpoint=other.endpoint, max_workers=3, cache_dir=tmp_path / "c")
        assert NamesThem.seen == {"endpoint": other.endpoint, "max_workers": 3}


@pytest.mark.parametrize("cls", [Plain, Downloads])
def test_max_workers_does_not_reach_init(cls: type[Plain | Downloads], tmp_path: Path) -> None:
    cls(v=3).save_pretrained(tmp_path)
    loaded = cls.from_pretrained(tmp_path, max_workers=2)
    assert loaded.v == 3
    assert getattr(loaded, "kwargs", {}) == {}


def test_endpoint_is_refused_for_a_directory_too(tmp_path: Path) -> None:
    Plain(v=3).save_pretrained(tmp_path)
    with pytest.raises(HubMixinTypeError, match=r"Plain\._from_pretrained does not accept it"):
        Plain.from_pretrained(tmp_path, endpoint="https://hub.example.org")
    assert Plain.from_pretrained(tmp_path, model_kwargs={"v": 4}).v == 4


def test_refusal_says_how_to_set_an_init_argument_named_endpoint(tmp_path: Path) -> None:
    class Named(Plain):
        def __init__(self, v: int = 0, endpoint: str = "e") -> None:
            self.v, self.endpoint = v, endpoint

    Named(v=1).save_pretrained(tmp_path)
    with pytest.raises(HubMixinTypeError, match=r"to set .*Named\.__init__'s endpoint, pass model_kwargs=\{'endpoint'"):
        Named.from_pretrained(tmp_path, endpoint="x")
    assert Named.from_pretrained(tmp_path, model_kwargs={"endpoint": "x"}, max_workers=2).endpoint == "x"


@pytest.mark.parametrize("endpoint", ["https://huggingface.co", "https://huggingface.co/"])
def test_the_default_endpoint_is_not_refused(endpoint: str, tmp_path: Path) -> None:
    Downloads(v=3).save_pretrained(tmp_path)
    loaded = Downloads.from_pretrained(tmp_path, endpoint=endpoint)
    assert (loaded.v, loaded.w, loaded.kwargs) == (3, 3, {})  # (the same Hub: nothing to mix, left out of the call)


def test_the_configured_endpoint_is_not_refused(tmp_path: Path) -> None:
    with LocalHub() as hub, hub.configure_client():
        Downloads(v=3).push_to_hub("localuser/m")
        for endpoint in (hub.endpoint, hub.endpoint + "/"):
            loaded = Downloads.from_pretrained("localuser/m", endpoint=endpoint, cache_dir=tmp_path / "c")
            assert (loaded.v, loaded.w, loaded.kwargs) == (3, 3, {})


class ReadsThem(Downloads):
    """Reads the options only hubmixin has from its ``**model_kwargs`` (hubmixin's earlier contract)."""

    seen: ClassVar[dict[str, Any]] = {}

    @classmethod
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        revision: str | None,
        cache_dir: str | Path | None,
        force_download: bool,
        local_files_only: bool,
        token: str | bool | None,
        **model_kwargs: Any,
    ) -> Self:
        endpoint = model_kwargs.pop("endpoint", None)
        cls.seen = {"endpoint": endpoint, "max_workers": model_kwargs.pop("max_workers", None)}
        path = hf_hub_download(
            model_id, "w.json", revision=revision, cache_dir=cache_dir, token=token, endpoint=endpoint
        )
        model = cls(**model_kwargs)
        model.w = json.loads(Path(path).read_text())
        return model


def test_an_override_reading_them_from_its_kwargs_receives_them(tmp_path: Path) -> None:
    with LocalHub() as default, LocalHub() as other, default.configure_client():
        Downloads(v=1).push_to_hub("localuser/m")
        Downloads(v=2).push_to_hub("localuser/m", endpoint=other.endpoint, token=other.token)
        loaded = ReadsThem.from_pretrained(
            "localuser/m", endpoint=other.endpoint, token=other.token, max_workers=2, cache_dir=tmp_path
        )
        assert (loaded.v, loaded.w, loaded.kwargs) == (2, 2, {})
        assert ReadsThem.seen == {"endpoint": other.endpoint, "max_workers": 2}


_NO_SOURCE = """
def _from_pretrained(cls, *, model_id, revision, cache_dir, force_download, local_files_only, token, **model_kwargs):
    return cls(**model_kwargs)
"""


def test_an_override_without_source_gets_the_endpoint_as_before(tmp_path: Path) -> None:
    namespace: dict[str, Any] = {}
    exec(compile(_NO_SOURCE, "<generated>", "exec"), namespace)  # noqa: S102  (no source for inspect to read)

    class Generated(Downloads):
        _from_pretrained: Any = classmethod(namespace["_from_pretrained"])

    Generated(v=3).save_pretrained(tmp_path)
    loaded = Generated.from_pretrained(tmp_path, endpoint="https://hub.example.org", max_workers=2)
    assert (loaded.v, loaded.kwargs) == (3, {"endpoint": "https://hub.example.org"})  # (max_workers left out)


def test_a_user_module_named_like_hubmixin_is_not_hubmixins(tmp_path: Path) -> None:
    class Mine(Downloads):
        __module__ = "hubmixin_mymodels"
        _from_pretrained = vars(Downloads)["_from_pretrained"]

    Mine(v=3).save_pretrained(tmp_path)
    with pytest.raises(HubMixinTypeError, match=r"Mine\.from_pretrained: endpoint=.* does not accept it"):
        Mine.from_pretrained(tmp_path, endpoint="https://hub.example.org")
    assert Mine.from_pretrained(tmp_path, max_workers=3).kwargs == {}
