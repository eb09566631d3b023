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
