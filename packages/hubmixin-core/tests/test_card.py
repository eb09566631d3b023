"""Model card metadata from class keywords: values, tags, inheritance, isolation between siblings."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from core_models import MLP, NumpyModelMixin
from huggingface_hub import ModelCard

from hubmixin_core import ModelHubMixin


class Documented(
    MLP,
    repo_url="https://example.org/repo",
    paper_url="https://example.org/paper",
    docs_url="https://example.org/docs",
    license="other",
    license_name="my-license",
    license_link="https://example.org/license",
    pipeline_tag="text-classification",
    language=["en", "fr"],
    tags=["extra"],
):
    pass


def test_card_data_holds_every_class_keyword() -> None:
    card = Documented().generate_model_card()
    data = card.data.to_dict()  # type: ignore[no-untyped-call]
    assert data["library_name"] == "numpy-models"  # inherited from NumpyModelMixin
    assert data["license"] == "other" and data["license_name"] == "my-license"
    assert data["license_link"] == "https://example.org/license"
    assert data["pipeline_tag"] == "text-classification" and data["language"] == ["en", "fr"]
    assert data["tags"] == ["extra", "model_hub_mixin", "numpy"]
    assert "https://example.org/repo" in card.content and "https://example.org/paper" in card.content
    assert "https://example.org/docs" in card.content


def test_tags_are_inherited_and_never_leak_between_siblings() -> None:
    tags = ["shared"]

    class A(NumpyModelMixin, tags=tags):
        pass

    class B(NumpyModelMixin, tags=["b-only"]):
        pass

    class C(A, tags=["c-only"]):
        pass

    assert tags == ["shared"]  # the caller's list is not mutated
    assert A._hub_mixin_info.model_card_data.tags == ["model_hub_mixin", "numpy", "shared"]
    assert B._hub_mixin_info.model_card_data.tags == ["b-only", "model_hub_mixin", "numpy"]
    assert C._hub_mixin_info.model_card_data.tags == ["c-only", "model_hub_mixin", "numpy", "shared"]
    assert NumpyModelMixin._hub_mixin_info.model_card_data.tags == ["model_hub_mixin", "numpy"]


def test_an_instance_s_own_mixin_info_makes_its_card() -> None:
    model = MLP(2, 3)
    info = copy.deepcopy(model._hub_mixin_info)
    info.model_card_data.tags = [*(info.model_card_data.tags or []), "this-one"]
    model._hub_mixin_info = info  # type: ignore[misc]  # as huggingface_hub's card reads it: from the instance
    assert "this-one" in model.generate_model_card().data.to_dict()["tags"]  # type: ignore[no-untyped-call]
    assert "this-one" not in MLP(2, 3).generate_model_card().data.to_dict()["tags"]  # type: ignore[no-untyped-call]


def test_plain_subclass_always_has_the_base_tag() -> None:
    class Bare(ModelHubMixin):
        pass

    assert Bare._hub_mixin_info.model_card_data.tags == ["model_hub_mixin"]


def test_custom_template_and_card_kwargs(tmp_path: Path) -> None:
    class Templated(MLP, model_card_template="---\n{{ card_data }}\n---\n# {{ title }}\n"):
        pass

    Templated().save_pretrained(tmp_path, model_card_kwargs={"title": "My model"})
    card = ModelCard.load(tmp_path / "README.md")
    assert card.text.strip() == "# My model"
    assert card.data.library_name == "numpy-models"


def test_existing_readme_is_kept(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("my own card")
    MLP().save_pretrained(tmp_path)
    assert (tmp_path / "README.md").read_text() == "my own card"


def test_changes_to_hub_mixin_info_reach_the_card_and_later_subclasses(tmp_path: Path) -> None:
    # Libraries written for huggingface_hub set card metadata by changing the class's MixinInfo.
    class Lib(MLP, library_name="orig"):
        pass

    class Earlier(Lib):
        pass

    Lib._hub_mixin_info.model_card_data.library_name = "renamed"
    Lib._hub_mixin_info.model_card_data.tags = [*(Lib._hub_mixin_info.model_card_data.tags or []), "added"]
    Lib._hub_mixin_info.repo_url = "https://example.org/lib"

    class Later(Lib, tags=["later"]):
        pass

    Lib().save_pretrained(tmp_path / "lib")
    card: Any = ModelCard.load(tmp_path / "lib" / "README.md")
    assert card.data.library_name == "renamed" and "added" in card.data.tags
    assert "https://example.org/lib" in card.content
    later: Any = Later().generate_model_card()
    assert later.data.library_name == "renamed" and {"added", "later"} <= set(later.data.tags)
    assert "https://example.org/lib" in later.content
    earlier: Any = Earlier().generate_model_card()  # made before the change: keeps its own copy, as in huggingface_hub
    assert earlier.data.library_name == "orig" and "added" not in earlier.data.tags
    Lib().generate_model_card(title="x")
    assert Lib._hub_mixin_info.model_card_data.tags.count("added") == 1  # rendering leaves the class's info alone
