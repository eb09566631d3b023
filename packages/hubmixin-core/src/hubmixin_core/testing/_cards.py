"""Repository cards: the YAML metadata at the top of ``README.md`` gives a repository its tags, as on the Hub.

A model card's ``library_name``, ``tags``, ``pipeline_tag``, ``language``, ``license`` (``license:<id>``),
``datasets`` (``dataset:<id>``) and ``base_model`` (``base_model:<id>``) become the model's tags, which
``list_models(filter=...)`` matches; a dataset card's ``tags``, ``task_categories``, ``language``,
``license`` and ``size_categories`` (each ``<key>:<value>``, but ``tags``) become the dataset's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import yaml  # type: ignore[import-untyped,unused-ignore]  # a dependency of huggingface_hub
from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils._validators import validate_repo_id

from hubmixin_core.testing._licenses import HUB_LICENSES
from hubmixin_core.testing._storage import Repo

if TYPE_CHECKING:
    from hubmixin_core.testing._app import HubApp

__all__ = ["Card", "card_errors", "card_tags", "parse_card_metadata", "read_card"]

# What huggingface_hub.repocard reads as the metadata block (its REGEX_YAML_BLOCK since 2.4, as the Hub reads it):
# one line break at each fence, which keeps matching linear in time, and blanks after the closing "---".
_FRONT_MATTER = re.compile(r"^(\s*---(?:\r\n|\r|\n))([\S\s]*?)((?:\r\n|\r|\n)---[ \t]*(\r\n|\n|$))")
_CARD_LIMIT = 1024 * 1024
_MODEL_TAGS = {"library_name": "", "tags": "", "pipeline_tag": "", "language": "", "license": "license:"}
_MODEL_TAGS |= {"datasets": "dataset:", "base_model": "base_model:"}
_DATASET_TAGS = {"tags": "", "task_categories": "task_categories:", "language": "language:", "license": "license:"}
_DATASET_TAGS |= {"size_categories": "size_categories:"}
_SPACE_TAGS = {"tags": "", "license": "license:"}


class _CardLoader(yaml.SafeLoader):  # type: ignore[misc,unused-ignore]
    """PyYAML's safe loader, but a timestamp that is no date (``2024-02-30``) stays a string, as YAML 1.2 (the
    Hub's parser) reads it: PyYAML alone refuses the card."""


def _timestamp(loader: _CardLoader, node: yaml.ScalarNode) -> object:
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError:
        return loader.construct_scalar(node)


_CardLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


def _load(block: str) -> object:
    return yaml.load(block, Loader=_CardLoader)  # (a SafeLoader)


def parse_card_metadata(text: str) -> dict[str, object]:
    """The metadata block of a card's text as JSON-ready values; ``{}`` when absent or invalid.

    YAML aliases are refused (they could expand into huge values) and values JSON has no type for (dates)
    become strings.
    """
    match = _FRONT_MATTER.match(text)
    if match is None:
        return {}
    block = match.group(2)
    try:
        if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(block, Loader=yaml.SafeLoader)):
            return {}
        data = json.loads(json.dumps(_load(block), default=str))
    except (yaml.YAMLError, RecursionError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def card_errors(text: str, repo_type: str) -> list[str]:
    """What makes the Hub refuse a card's metadata, in its words (none: the card is taken).

    Checked, as the Hub checks them: the block is YAML and a mapping; ``license`` is one of the Hub's license ids
    (or a list of them; ``other`` for the rest); a model's ``base_model`` is a model id or a list of them (not a
    local path, as PEFT writes for a local base model) and its ``model-index`` a list. A card without a metadata
    block, or with an empty one, is taken without the Hub's warning (test suites often run with warnings as errors).
    """
    match = _FRONT_MATTER.match(text)
    try:
        metadata = None if match is None else _load(match.group(2))
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        return [f"Invalid YAML in the metadata block: {str(exc).splitlines()[0] if str(exc) else 'unreadable'}"]
    if metadata is None or metadata == {}:
        return []
    if not isinstance(metadata, dict):
        return [f'"value" must be of type object: the metadata block is a {type(metadata).__name__}']
    errors = [
        f'"{name}" must be one of [{", ".join(HUB_LICENSES)}]'
        for name, value in _items("license", metadata.get("license"))
        if not (isinstance(value, str) and value.lower() in HUB_LICENSES)
    ]
    if repo_type == "model":
        errors += [
            f'"{name}" with value "{value}" is not valid. Use a model id from https://hf.co/models.'
            for name, value in _items("base_model", metadata.get("base_model"))
            if not _is_repo_id(value)
        ]
        if "model-index" in metadata and not isinstance(metadata["model-index"], list):
            errors.append('"model-index" must be an array')
    return errors


def _items(key: str, value: object) -> list[tuple[str, object]]:
    """``value`` of ``key`` as ``(name, item)`` pairs: itself, or each item of a list (``key[0]`` ...)."""
    if value is None:
        return []
    if isinstance(value, list):
        return [(f"{key}[{index}]", item) for index, item in enumerate(value)]
    return [(key, value)]


def _is_repo_id(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        validate_repo_id(value)
    except HFValidationError:
        return False
    return True


def _card_metadata(app: HubApp, repo: Repo, commit: str) -> dict[str, object]:
    entry = app.storage.file(repo, commit, "README.md")
    if entry is None or entry.lfs or entry.size > _CARD_LIMIT:
        return {}
    try:
        text = app.read_small_blob(entry.sha256, _CARD_LIMIT).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    return parse_card_metadata(text)


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def card_tags(repo_type: str, metadata: dict[str, object]) -> list[str]:
    """The tags a repository of ``repo_type`` gets from its card metadata (in order, without repeats)."""
    keys = {"model": _MODEL_TAGS, "dataset": _DATASET_TAGS}.get(repo_type, _SPACE_TAGS)
    tags = [prefix + value for key, prefix in keys.items() for value in _strings(metadata.get(key)) if value.strip()]
    return list(dict.fromkeys(tags))


@dataclass(frozen=True)
class Card:
    """What a repository's card says about it: its metadata block and the tags derived from it."""

    repo_type: str
    metadata: dict[str, object]
    tags: list[str]

    def text(self, key: str) -> str | None:
        """A string field of the metadata (``library_name``, ``pipeline_tag`` ...), if there is one."""
        value = self.metadata.get(key)
        return value if isinstance(value, str) else None

    def fields(self, *, card_data: bool) -> dict[str, object]:
        """The repo info fields: ``tags``, for models ``library_name``/``pipeline_tag``, for Spaces ``sdk``,
        ``cardData`` if asked."""
        fields: dict[str, object] = {"tags": self.tags}
        if self.repo_type == "model":
            fields |= {key: value for key in ("library_name", "pipeline_tag") if (value := self.text(key))}
        if self.repo_type == "space" and (sdk := self.text("sdk")):
            fields["sdk"] = sdk
        if card_data and self.metadata:
            fields["cardData"] = self.metadata
        return fields


def read_card(app: HubApp, repo: Repo, commit: str | None) -> Card:
    """The card of ``repo`` at ``commit`` (``README.md``; an empty one when absent)."""
    metadata = _card_metadata(app, repo, commit) if commit is not None else {}
    return Card(repo.key.type, metadata, card_tags(repo.key.type, metadata))
