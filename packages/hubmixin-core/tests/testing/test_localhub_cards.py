"""Card metadata gives repositories their tags: list_models(filter=...), model_info(...).tags and card_data."""

from __future__ import annotations

import huggingface_hub as hf
import pytest

from hubmixin_core.testing import LocalHub
from hubmixin_core.testing._cards import card_tags, parse_card_metadata

_CARD = """---
library_name: hubmixin
pipeline_tag: image-classification
license: mit
language: [en, fr]
datasets: [mnist]
tags: [tiny, vision]
date: 2024-01-31
---
# A model
"""


def test_card_metadata_becomes_tags_and_filters_listings(local_hub: LocalHub) -> None:
    tagged = hf.create_repo("tagged").repo_id
    hf.upload_file(path_or_fileobj=_CARD.encode(), path_in_repo="README.md", repo_id=tagged)
    plain = hf.create_repo("plain").repo_id
    hf.upload_file(path_or_fileobj=b"# no metadata\n", path_in_repo="README.md", repo_id=plain)  # (no warning)

    info = hf.model_info(tagged)
    assert info.tags == [
        "hubmixin",
        "tiny",
        "vision",
        "image-classification",
        "en",
        "fr",
        "license:mit",
        "dataset:mnist",
    ]
    assert (info.library_name, info.pipeline_tag) == ("hubmixin", "image-classification")
    assert info.card_data is not None and info.card_data.license == "mit"
    assert hf.model_info(plain).tags == [] and hf.model_info(plain).card_data is None

    assert [m.id for m in hf.list_models(filter="hubmixin")] == [tagged]
    assert [m.id for m in hf.list_models(filter=["vision", "license:mit"])] == [tagged]
    assert list(hf.list_models(filter=["vision", "license:apache-2.0"])) == []
    assert [m.id for m in hf.list_models(pipeline_tag="image-classification")] == [tagged]
    assert [m.id for m in hf.list_models(trained_dataset="mnist")] == [tagged]
    listed = {m.id: m for m in hf.list_models(cardData=True)}
    assert listed[tagged].library_name == "hubmixin" and listed[tagged].card_data is not None
    assert listed[plain].tags == []


def test_dataset_cards_and_bad_metadata(local_hub: LocalHub) -> None:
    data = hf.create_repo("rows", repo_type="dataset").repo_id
    card = "---\ntask_categories: [text-classification]\nlicense: cc0-1.0\ntags: [small]\n---\n"
    hf.upload_file(path_or_fileobj=card.encode(), path_in_repo="README.md", repo_id=data, repo_type="dataset")
    assert hf.dataset_info(data).tags == ["small", "task_categories:text-classification", "license:cc0-1.0"]
    assert [d.id for d in hf.list_datasets(filter="task_categories:text-classification")] == [data]

    broken = hf.create_repo("broken").repo_id
    with pytest.raises(ValueError, match=r"Invalid metadata in README\.md"):  # refused, as on the Hub
        hf.upload_file(path_or_fileobj=b"---\n[unclosed\n---\n", path_in_repo="README.md", repo_id=broken)
    assert parse_card_metadata("---\n[unclosed\n---\n") == {}  # (a card stored before: no tags, no error)


def test_parse_card_metadata() -> None:
    assert parse_card_metadata("no metadata") == {}
    assert parse_card_metadata("---\n- a list\n---\n") == {}
    assert parse_card_metadata("---\ndate: 2024-01-31\n---\n") == {"date": "2024-01-31"}
    bomb = "---\na: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n---\n"
    assert parse_card_metadata(bomb) == {}  # aliases are refused
    assert card_tags("model", {"tags": "one", "license": ["", 3], "language": "en"}) == ["one", "en"]
    assert card_tags("space", {"tags": ["demo"], "library_name": "ignored"}) == ["demo"]
