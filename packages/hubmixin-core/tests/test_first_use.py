"""What a new user hits (misspelled keywords, unsaved arguments, the wrong class, paths): errors that say what to do."""

from __future__ import annotations

import json
import logging
import math
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import huggingface_hub as hf
import numpy as np
import pytest
from core_models import MLP, NumpyModelMixin
from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

from hubmixin_core import ConfigEncodingWarning, ConfigError, ModelHubMixin
from hubmixin_core.errors import HubMixinTypeError, WeightsNotFoundError
from hubmixin_core.testing import Fault, LocalHub


class WithFunction(NumpyModelMixin):
    """An argument JSON cannot hold."""

    def __init__(self, size: int = 2, act: Callable[[float], float] = math.tanh) -> None:
        self.size, self.act = size, act
        self.weights = {}


def test_misspelled_keyword_names_the_closest_option_before_any_request(local_hub: LocalHub) -> None:
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'revison'; did you mean 'revision'\?"):
        MLP.from_pretrained(f"{local_hub.username}/absent", revison="main")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"'hiden'; did you mean 'hidden'\?"):
        MLP.from_pretrained("unused/repo", model_kwargs={"hiden": 3})


def test_a_class_keyword_given_to_from_pretrained_says_where_it_goes(tmp_path: Path) -> None:
    MLP().save_pretrained(tmp_path)
    with pytest.raises(TypeError, match=r"'strict_config': it is a class keyword.*class MLP\(\.\.\., strict_config="):
        MLP.from_pretrained(tmp_path, strict_config=True)  # type: ignore[call-arg]


def test_misspelled_save_keyword(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"'comit_message'; did you mean 'commit_message'\?"):
        MLP().save_pretrained(tmp_path / "m", comit_message="x")  # type: ignore[call-overload]
    assert not (tmp_path / "m").exists()  # nothing written


def test_an_unsaved_argument_is_asked_for_at_load(tmp_path: Path) -> None:
    with pytest.warns(ConfigEncodingWarning, match="act"):
        model = WithFunction(size=3, act=math.sin)
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["_hub_mixin_unsaved"] == {
        "act": "builtin_function_or_method"
    }
    with pytest.raises(ConfigError, match=r"'act' .*JSON cannot hold it.*model_kwargs=\{'act': \.\.\.\}.*coders="):
        WithFunction.from_pretrained(tmp_path)
    with warnings.catch_warnings():  # given back at load, as asked: no warning about config.json then
        warnings.simplefilter("error", ConfigEncodingWarning)
        loaded = WithFunction.from_pretrained(tmp_path, model_kwargs={"act": math.sin})
    assert loaded.act is math.sin and loaded.size == 3
    loaded.save_pretrained(tmp_path / "again")  # still recorded as unsaved when saved again
    assert json.loads((tmp_path / "again" / "config.json").read_text())["_hub_mixin_unsaved"] == {
        "act": "builtin_function_or_method"
    }


class WithTokenizer(NumpyModelMixin, runtime_args=["tokenizer"]):
    """A required argument the class declares the run's own."""

    def __init__(self, tokenizer: object, size: int = 2) -> None:
        self.tokenizer, self.size = tokenizer, size
        self.weights = {}


def test_a_required_runtime_argument_is_asked_for_before_any_request(local_hub: LocalHub, tmp_path: Path) -> None:
    tokenizer = object()
    WithTokenizer(tokenizer, size=3).save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == {"size": 3}
    expected = r"without \['tokenizer'\]: the class declares them runtime_args.*model_kwargs=\{'tokenizer': \.\.\.\}"
    with pytest.raises(ConfigError, match=expected):
        WithTokenizer.from_pretrained(tmp_path)
    fault = local_hub.inject_fault(Fault(route="*", status=500, times=None))  # any request would fail otherwise
    with pytest.raises(ConfigError, match=expected):
        WithTokenizer.from_pretrained(f"{local_hub.username}/absent")
    assert fault.hits == 0
    local_hub.clear_faults()
    loaded = WithTokenizer.from_pretrained(tmp_path, model_kwargs={"tokenizer": tokenizer})
    assert loaded.tokenizer is tokenizer and loaded.size == 3


def test_config_keys_the_class_does_not_take_are_named(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    MLP(hidden=5).save_pretrained(tmp_path)

    class Other(NumpyModelMixin):
        def __init__(self, hidden: int = 1) -> None:
            self.weights = MLP(hidden=hidden).weights

    with caplog.at_level(logging.WARNING, logger="hubmixin_core"):
        Other.from_pretrained(tmp_path)
    assert "Other.__init__ takes no ['activation', 'in_features', 'seed']" in caplog.text

    class StrictOther(Other, strict_config=True):
        pass

    with pytest.raises(ConfigError, match=r"StrictOther.__init__ takes no \['activation', 'in_features', 'seed'\]"):
        StrictOther.from_pretrained(tmp_path)


def test_home_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    os.chdir(tmp_path / "..")
    MLP(hidden=6).save_pretrained("~/models/x")  # in the home directory, not in a folder named "~"
    assert (tmp_path / "models" / "x" / "config.json").is_file() and not Path("~").exists()
    assert MLP.from_pretrained("~/models/x").hidden == 6
    assert MLP.from_pretrained(Path("~/models/x")).hidden == 6


def test_a_missing_relative_path_names_both_possibilities(local_hub: LocalHub, tmp_path: Path) -> None:
    os.chdir(tmp_path)
    with pytest.raises(RepositoryNotFoundError, match=r"'checkpoints/run1' is neither a local directory .* nor a repo"):
        MLP.from_pretrained("checkpoints/run1")
    MLP(hidden=7).save_pretrained(tmp_path / "checkpoints" / "run1")
    assert MLP.from_pretrained("checkpoints/run1").hidden == 7  # an existing local directory always wins


def test_a_repo_id_without_namespace_is_not_found(local_hub: LocalHub, tmp_path: Path) -> None:
    os.chdir(tmp_path)  # (a repository the Hub keeps from before namespaces, as "gpt2"; never on the local Hub)
    with pytest.raises(RepositoryNotFoundError, match=r"'gpt2' is neither a local directory .* nor a repo"):
        MLP.from_pretrained("gpt2")


def test_a_location_of_another_type_is_a_type_error() -> None:
    with pytest.raises(HubMixinTypeError, match="got int"):
        MLP.from_pretrained(123)  # type: ignore[arg-type]
    with pytest.raises(HubMixinTypeError, match="got NoneType"):
        MLP().save_pretrained(None)  # type: ignore[call-overload]


def test_a_gated_repo_says_so_until_access_is_granted(local_hub: LocalHub) -> None:
    repo_id = f"{local_hub.username}/gated"
    MLP(hidden=5).push_to_hub(repo_id)
    hf.update_repo_settings(repo_id, gated="manual")
    bob = local_hub.add_user("bob")
    with pytest.raises(GatedRepoError, match="gated"):  # not "neither a local directory nor a repository"
        MLP.from_pretrained(repo_id, token=bob)
    with pytest.raises(GatedRepoError):
        MLP.from_pretrained(repo_id, token=False)
    hf.grant_access(repo_id, "bob")
    assert MLP.from_pretrained(repo_id, token=bob).hidden == 5


def test_misspelled_push_keyword(local_hub: LocalHub) -> None:
    with pytest.raises(TypeError, match=r"^MLP\.push_to_hub\(\) got .*'privat'; did you mean 'private'\?"):
        MLP().push_to_hub(f"{local_hub.username}/m", privat=True)  # type: ignore[call-arg]


def test_an_unsaved_argument_is_recorded_on_the_hub_too(local_hub: LocalHub, tmp_path: Path) -> None:
    with pytest.warns(ConfigEncodingWarning, match="act"):
        model = WithFunction(size=3, act=math.sin)
    repo_id = f"{local_hub.username}/unsaved"
    model.save_pretrained(tmp_path / "saved", repo_id=repo_id, push_to_hub=True)
    pushed = json.loads(Path(hf.hf_hub_download(repo_id, "config.json", cache_dir=tmp_path / "cache")).read_text())
    assert pushed == json.loads((tmp_path / "saved" / "config.json").read_text())
    assert pushed["_hub_mixin_unsaved"] == {"act": "builtin_function_or_method"}
    with pytest.raises(ConfigError, match="'act'"):  # asked for, not built from its default
        WithFunction.from_pretrained(repo_id, cache_dir=tmp_path / "cache")


class NoArguments(NumpyModelMixin, runtime_args=["rng"]):
    """No argument a config would hold (``rng`` belongs to the run): no config.json is written."""

    def __init__(self, rng: object = None) -> None:
        self.weights = {"w": np.ones(2, np.float32)}


def test_a_missing_config_is_a_warning_only_where_one_was_expected(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    NoArguments().save_pretrained(tmp_path / "none")
    assert not (tmp_path / "none" / "config.json").exists()
    MLP().save_pretrained(tmp_path / "mlp")
    (tmp_path / "mlp" / "config.json").unlink()
    with caplog.at_level(logging.INFO, logger="hubmixin_core"):
        NoArguments.from_pretrained(tmp_path / "none")
        MLP.from_pretrained(tmp_path / "mlp")
    levels = {record.getMessage().rsplit("/", 1)[-1]: record.levelname for record in caplog.records}
    assert levels == {"none": "INFO", "mlp": "WARNING"}


@pytest.mark.parametrize("url", ["https://huggingface.co/someone/model", "hf://someone/model"])
def test_a_hub_url_given_as_the_id_is_answered_with_the_id(url: str) -> None:
    with pytest.raises(WeightsNotFoundError, match="pass its id: 'someone/model'"):
        MLP.from_pretrained(url)


def test_the_bare_core_mixin_says_what_to_implement(tmp_path: Path) -> None:
    class Bare(ModelHubMixin):
        pass

    with pytest.raises(NotImplementedError, match="implements no _save_pretrained: subclass a framework's mixin"):
        Bare().save_pretrained(tmp_path)
    with pytest.raises(NotImplementedError, match="implements no _from_pretrained"):
        Bare._from_pretrained(model_id="x")


def test_a_loads_keyword_given_to_a_push_names_the_pushs() -> None:
    with pytest.raises(HubMixinTypeError, match="unexpected keyword argument 'revision'; did you mean 'branch'"):
        MLP().push_to_hub("someone/model", revision="v2")  # type: ignore[call-arg]


class Sized(NumpyModelMixin):
    def __init__(self, hidden: int = 3, name: str = "sized") -> None:
        if hidden < 0:
            raise ValueError(f"negative dimensions are not allowed: {hidden}")
        self.hidden, self.name = hidden, name
        self.weights = {"w": np.zeros((hidden,), "float32")}


def test_an_error_init_raises_at_load_names_the_config_file_and_values(tmp_path: Path) -> None:
    Sized().save_pretrained(tmp_path / "m")
    config = tmp_path / "m" / "config.json"
    config.write_text(json.dumps({"hidden": -4, "name": "x" * 100}))
    with pytest.raises(ValueError, match="negative dimensions") as raised:
        Sized.from_pretrained(tmp_path / "m")
    (note,) = raised.value.__notes__
    assert f"Sized.__init__, given {config}'s hidden=-4, name='xxx" in note and len(note) < 300
    config.write_text(json.dumps({"hidden": 3, "name": "n"}))
    with pytest.raises(ValueError, match="negative dimensions") as raised:
        Sized.from_pretrained(tmp_path / "m", hidden=-2)  # type: ignore[call-arg]
    (note,) = raised.value.__notes__  # (the caller's value is not shown: it may be a secret)
    assert note.endswith(f"Sized.__init__, given {config}'s name='n' and from_pretrained's hidden")
    with pytest.raises(ValueError) as direct:  # (an error raised outside a load has none)
        Sized(hidden=-1)
    assert not getattr(direct.value, "__notes__", None)
