"""A ``_from_pretrained`` written to huggingface_hub's contract that takes an option of its own from its
``**model_kwargs`` (``model_kwargs.pop("compile", False)``) and passes the rest on to ``super()._from_pretrained``
still passes ``endpoint`` and ``max_workers`` on to the base, which applies them; one that may remove them, or
passes on something else than that mapping, keeps ``endpoint`` refused."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import textwrap
from pathlib import Path
from typing import Any, ClassVar, Self

import pytest

from hubmixin_core import ModelHubMixin
from hubmixin_core._forwarding import forwards_whole
from hubmixin_core.errors import HubMixinTypeError


class Framework(ModelHubMixin):
    """A framework's loader (huggingface_hub's keywords, and ``endpoint`` and ``max_workers``): records them."""

    _hub_builds_from_arguments = True
    seen: ClassVar[dict[str, Any]] = {}

    def __init__(self, v: int = 0) -> None:
        self.v = v

    def _save_pretrained(self, save_directory: Path) -> None:
        (save_directory / "w.json").write_text(json.dumps(self.v))

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
        endpoint: str | None = None,
        max_workers: int = 8,
        strict: bool = False,
        **model_kwargs: Any,
    ) -> Self:
        Framework.seen = {"endpoint": endpoint, "max_workers": max_workers, "strict": strict}
        return cls(**model_kwargs)


_OVERRIDE = """
class Legacy(Framework):
    @classmethod
    def _from_pretrained(cls, *, model_id, revision, cache_dir, force_download, local_files_only, token,
                         **model_kwargs):
{body}
        return super()._from_pretrained(model_id=model_id, revision=revision, cache_dir=cache_dir,
            force_download=force_download, local_files_only=local_files_only, token=token, **{passed})
"""


def _legacy(tmp_path: Path, body: str, passed: str = "model_kwargs") -> Any:
    """``Legacy``, an override of :class:`Framework`'s loader doing ``body`` and passing ``**passed`` on, from a
    module file (its source readable)."""
    source = _OVERRIDE.format(body=textwrap.indent(textwrap.dedent(body).strip(), " " * 8), passed=passed)
    name = f"legacy_override_{hashlib.sha256(source.encode()).hexdigest()[:16]}"  # (a file each: linecache)
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    module.Framework = Framework  # type: ignore[attr-defined]
    spec.loader.exec_module(module)
    return module.Legacy


_KEEPING = {
    "pop with a default": ('cls.compiled = model_kwargs.pop("compile", False)', "model_kwargs", True),
    "in, pop, del": (
        """
        cls.compiled = "compile" in model_kwargs and model_kwargs.pop("compile")
        if "device" in model_kwargs:
            del model_kwargs["device"]
        """,
        "model_kwargs",
        True,
    ),
    "get, set": (
        """
        cls.compiled = model_kwargs.get("strict", False)
        model_kwargs["strict"] = True
        """,
        "model_kwargs",
        False,
    ),
    "setdefault": ('model_kwargs.setdefault("strict", True)', "model_kwargs", False),
    "a display": ("", '{**model_kwargs, "strict": True}', False),
}


@pytest.mark.parametrize(("body", "passed", "compiles"), _KEEPING.values(), ids=_KEEPING)
def test_an_override_taking_options_of_its_own_passes_the_endpoint_on(
    body: str, passed: str, compiles: bool, tmp_path: Path
) -> None:
    legacy = _legacy(tmp_path, body, passed)
    Framework(v=3).save_pretrained(tmp_path / "m")
    own = {"compile": True} if compiles else {}  # (its own option: not checked against __init__)
    loaded = legacy.from_pretrained(tmp_path / "m", endpoint="https://hub.example.org", max_workers=3, **own)
    assert isinstance(loaded, legacy) and loaded.v == 3
    assert Framework.seen["endpoint"] == "https://hub.example.org" and Framework.seen["max_workers"] == 3
    assert forwards_whole(legacy._from_pretrained, "model_kwargs", keeping="max_workers")
    assert not forwards_whole(legacy._from_pretrained, "model_kwargs")  # (not every keyword is __init__'s)


_REMOVING = {
    "pop by a name": ('key = "compile"\nmodel_kwargs.pop(key, None)', "model_kwargs"),
    "del by a name": (
        'for key in ["compile"]:\n    if key in model_kwargs:\n        del model_kwargs[key]',
        "model_kwargs",
    ),
    "rebound": ("model_kwargs = dict(model_kwargs)", "model_kwargs"),
    "a filtered copy": ("", '{k: v for k, v in model_kwargs.items() if k != "compile"}'),
    "another mapping spread": ("extra: dict[str, object] = {}", "{**model_kwargs, **extra}"),
    "a key by a name": ('key = "strict"', "{**model_kwargs, key: True}"),
}


@pytest.mark.parametrize(("body", "passed"), _REMOVING.values(), ids=_REMOVING)
def test_an_override_that_may_not_pass_the_endpoint_on_is_refused_it(body: str, passed: str, tmp_path: Path) -> None:
    legacy = _legacy(tmp_path, body, passed)
    Framework(v=3).save_pretrained(tmp_path / "m")
    with pytest.raises(HubMixinTypeError, match=r"Legacy\._from_pretrained does not accept it"):
        legacy.from_pretrained(tmp_path / "m", endpoint="https://hub.example.org")
    assert legacy.from_pretrained(tmp_path / "m", max_workers=3).v == 3
    assert Framework.seen["max_workers"] == 8  # (left out: it may not reach the base)


def test_an_override_removing_the_option_itself_does_not_pass_it_on(tmp_path: Path) -> None:
    for body in ('model_kwargs.pop("max_workers", None)', 'del model_kwargs["max_workers"]'):
        legacy = _legacy(tmp_path, body)
        assert forwards_whole(legacy._from_pretrained, "model_kwargs", keeping="endpoint")
        assert not forwards_whole(legacy._from_pretrained, "model_kwargs", keeping="max_workers")
    passed = '{**model_kwargs, "max_workers": 1}'
    assert not forwards_whole(_legacy(tmp_path, "", passed)._from_pretrained, "model_kwargs", keeping="max_workers")
