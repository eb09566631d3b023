"""Regressions of QA round 18 (issue 14, first use): the unsaved-argument error shows the keyword form
(``from_pretrained(..., act=...)``), a loader option given in ``model_kwargs`` is named as an option, and the 403 for
creating a repository in a namespace the token's user cannot write names that user and what to do."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import huggingface_hub as hf
import numpy as np
import pytest
from core_models import MLP, NumpyModelMixin
from huggingface_hub.errors import HfHubHTTPError

from hubmixin_core import ConfigEncodingWarning, ConfigError
from hubmixin_core.errors import HubMixinTypeError
from hubmixin_core.testing import LocalHub


class Act(NumpyModelMixin):
    """Arguments JSON cannot hold: a function, one named like a download option, a dict holding a function."""

    def __init__(
        self,
        size: int = 2,
        act: Callable[[float], float] = math.tanh,
        token: object = None,
        table: dict[str, Any] | None = None,
    ) -> None:
        self.size, self.act, self.token, self.table = size, act, token, table
        self.weights = {}


@dataclass
class Cfg:
    size: int = 2
    act: Any = None


class WithConfig(NumpyModelMixin):
    """A dataclass config with a field JSON cannot hold."""

    def __init__(self, config: Cfg) -> None:
        self.config = config
        self.weights = {}


def _saved(model: Callable[[], NumpyModelMixin], path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigEncodingWarning)
        model().save_pretrained(path)


def test_an_unsaved_argument_is_asked_for_as_the_issue_gives_it(tmp_path: Path) -> None:
    _saved(lambda: Act(act=math.sin), tmp_path)
    with pytest.raises(ConfigError) as caught:
        Act.from_pretrained(tmp_path)
    message = str(caught.value)
    assert "Act.from_pretrained(..., act=...) (or model_kwargs={'act': ...})" in message
    assert "coders={types.BuiltinFunctionType: (encode, decode)}" in message
    assert Act.from_pretrained(tmp_path, act=math.sin).act is math.sin  # type: ignore[call-arg]


def test_an_unsaved_argument_named_like_a_download_option_is_asked_for_in_model_kwargs(tmp_path: Path) -> None:
    _saved(lambda: Act(token=math.sin), tmp_path)
    with pytest.raises(ConfigError) as caught:
        Act.from_pretrained(tmp_path)
    assert "Act.from_pretrained(..., model_kwargs={'token': ...})" in str(caught.value)
    assert "token=..." not in str(caught.value)  # (that is the download option)
    assert Act.from_pretrained(tmp_path, model_kwargs={"token": math.sin}).token is math.sin


def test_an_unsaved_dict_asks_for_a_coder_of_the_value_inside_not_of_dict(tmp_path: Path) -> None:
    _saved(lambda: Act(table={"f": math.sin}), tmp_path)
    with pytest.raises(ConfigError) as caught:
        Act.from_pretrained(tmp_path)
    message = str(caught.value)
    assert "JSON cannot hold a value inside it" in message and "coders={dict" not in message
    assert "table=..." in message


class Ids(NumpyModelMixin):
    def __init__(self, ids: frozenset[int] | set[int] = frozenset()) -> None:
        self.ids, self.weights = ids, {"w": np.zeros((2,), "float32")}


class CodedIds(Ids, coders={set: (sorted, set)}):
    pass


@pytest.mark.parametrize("ids", [{1, 2}, frozenset({3})])
def test_an_unsaved_set_asks_for_a_coder_of_its_own_type(ids: set[int], tmp_path: Path) -> None:
    _saved(lambda: Ids(ids), tmp_path)
    with pytest.raises(ConfigError) as caught:
        Ids.from_pretrained(tmp_path)
    message = str(caught.value)
    kind = type(ids).__name__
    assert f"'ids' (a {kind}): JSON cannot hold it" in message and f"coders={{{kind}: (encode, decode)}}" in message
    assert "value inside it" not in message  # (its ints are JSON's: the set is not)


def test_a_set_with_a_coder_of_its_type_is_given_back(tmp_path: Path) -> None:
    CodedIds({2, 1}).save_pretrained(tmp_path)
    assert CodedIds.from_pretrained(tmp_path).ids == {1, 2}


def test_an_unsaved_dataclass_config_points_at_its_field(tmp_path: Path) -> None:
    with pytest.warns(ConfigEncodingWarning, match=r"config\.act"):
        model = WithConfig(Cfg(3, math.sin))
    model.save_pretrained(tmp_path)
    with pytest.raises(ConfigError) as caught:
        WithConfig.from_pretrained(tmp_path)
    message = str(caught.value)
    assert "JSON cannot hold it or one of its fields" in message and "config.<field>" in message
    assert "a coder for that field's type" in message and "WithConfig.from_pretrained(..., config=...)" in message
    assert WithConfig.from_pretrained(tmp_path, config=Cfg(3, math.sin)).config.act is math.sin  # type: ignore[call-arg]


@pytest.mark.parametrize("option", ["revision", "token", "force_download", "max_workers"])
def test_a_loader_option_in_model_kwargs_is_named_as_an_option(tmp_path: Path, option: str) -> None:
    MLP().save_pretrained(tmp_path)
    with pytest.raises(HubMixinTypeError) as caught:
        MLP.from_pretrained(tmp_path, model_kwargs={option: None})
    message = str(caught.value)
    assert f"did you mean {option!r}" not in message
    assert f"model_kwargs gives {option!r}, which is not a parameter of MLP.__init__ but an option of " in message
    assert f"give it to from_pretrained directly, not in model_kwargs (`MLP.from_pretrained(..., {option}=...)`)" in (
        message
    )


class Revisions(NumpyModelMixin):
    def __init__(self, revisions: int = 1) -> None:
        self.revisions = revisions
        self.weights = {}


def test_a_loader_option_in_model_kwargs_also_names_a_close_init_argument(tmp_path: Path) -> None:
    Revisions().save_pretrained(tmp_path)
    with pytest.raises(TypeError, match=r"option of from_pretrained.*the argument 'revisions' of Revisions.__init__"):
        Revisions.from_pretrained(tmp_path, model_kwargs={"revision": "main"})


def test_model_kwargs_nested_in_model_kwargs_says_to_give_one(tmp_path: Path) -> None:
    MLP().save_pretrained(tmp_path)
    with pytest.raises(TypeError, match=r"gives 'model_kwargs'.*in one model_kwargs=\{\.\.\.\}, not nested"):
        MLP.from_pretrained(tmp_path, model_kwargs={"model_kwargs": {"hidden": 3}})


def test_creating_a_repository_in_another_namespace_names_the_token_user(local_hub: LocalHub) -> None:
    user = local_hub.username
    with pytest.raises(HfHubHTTPError) as caught:
        MLP().push_to_hub("user/model")
    message = str(caught.value)
    assert caught.value.response is not None and caught.value.response.status_code == 403
    assert "You don't have the rights to create a repository under the namespace 'user'" in message  # (the Hub's)
    assert f"this token belongs to the user {user!r}" in message and f"'{user}/<name>'" in message
    assert f"LocalHub.add_organization('user', members={{{user!r}: 'write'}})" in message
    assert "hubmixin hub serve --org user" in message
    MLP().push_to_hub(f"{user}/model")  # as the message says


def test_creating_a_repository_in_an_organization_read_only_names_the_role(local_hub: LocalHub) -> None:
    local_hub.add_organization("team", members={local_hub.username: "read"})
    with pytest.raises(HfHubHTTPError, match=r"'write' role in the organization 'team', where '\w+' is a member "):
        hf.create_repo("team/model")
    local_hub.add_user("other")
    with pytest.raises(HfHubHTTPError, match=r"'other' is another user"):
        hf.create_repo("other/model")
