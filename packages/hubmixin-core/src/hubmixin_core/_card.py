"""Model card metadata gathered from class-definition keywords."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from huggingface_hub import ModelCardData
from huggingface_hub.hub_mixin import MixinInfo

from hubmixin_core.errors import HubMixinTypeError

__all__ = ["DEFAULT_MODEL_CARD", "TEMPLATE_NOT_GIVEN", "CardInfo"]

DEFAULT_MODEL_CARD = """
---
# For reference on model card metadata, see the spec: https://github.com/huggingface/hub-docs/blob/main/modelcard.md?plain=1
# Doc / guide: https://huggingface.co/docs/hub/model-cards
{{ card_data }}
---

This model has been pushed to the Hub using [hubmixin](https://pypi.org/project/hubmixin-core/), a drop-in
replacement of the `huggingface_hub` ModelHubMixin integration:
- Code: {{ repo_url | default("[More Information Needed]", true) }}
- Paper: {{ paper_url | default("[More Information Needed]", true) }}
- Docs: {{ docs_url | default("[More Information Needed]", true) }}
"""

BASE_TAG = "model_hub_mixin"

TEMPLATE_NOT_GIVEN: Any = object()
"""The default of the ``model_card_template`` class keyword: not given (the parent's template is kept), which an
explicit ``None`` is not (huggingface_hub's card template then: ``ModelCard.from_template(template_str=None)``)."""


@dataclass
class CardInfo:
    """What a mixin class puts in its models' cards. Each class holds its own copy (no sharing with siblings)."""

    template: str | None = DEFAULT_MODEL_CARD
    repo_url: str | None = None
    paper_url: str | None = None
    docs_url: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=lambda: [BASE_TAG])

    @classmethod
    def from_info(cls, info: MixinInfo) -> CardInfo:
        """The card a class's ``_hub_mixin_info`` describes, as it is now (a library may have changed it)."""
        data: dict[str, Any] = info.model_card_data.to_dict()  # type: ignore[no-untyped-call]
        tags = data.pop("tags", None) or []
        template = info.model_card_template
        return cls(template, info.repo_url, info.paper_url, info.docs_url, data, list(tags))

    def info(self) -> MixinInfo:
        """This card as huggingface_hub's ``MixinInfo``, the class's ``_hub_mixin_info``."""
        template: Any = self.template  # (``None`` as huggingface_hub keeps it: its card template)
        return MixinInfo(template, self.card_data(), self.docs_url, self.paper_url, self.repo_url)

    def derive(self, **updates: Any) -> CardInfo:
        """A copy for a subclass: ``updates`` whose value is not ``None`` override (``template`` whenever given: an
        explicit ``None`` is huggingface_hub's card template, as there); tags are added.

        Raises:
            HubMixinTypeError: a value of another type than the class keyword takes (``tags=3``).
        """
        _check_card_keywords(updates)
        child = CardInfo(self.template, self.repo_url, self.paper_url, self.docs_url, dict(self.data), list(self.tags))
        for key in _ATTRIBUTES:
            if updates.get(key) is not None or (key == "template" and "template" in updates):
                setattr(child, key, updates[key])
        for key in _DATA:
            value = updates.get(key)
            if value is not None:
                child.data[key] = list(value) if isinstance(value, list | tuple) else value
        child.tags = sorted({*child.tags, *(updates.get("tags") or ())})
        return child

    def card_data(self) -> ModelCardData:
        """A fresh ``ModelCardData`` holding this metadata."""
        return ModelCardData(**self.data, tags=list(self.tags))


_ATTRIBUTES = ("template", "repo_url", "paper_url", "docs_url")
"""The card's keywords kept as attributes of :class:`CardInfo`."""
_DATA = ("language", "library_name", "license", "license_name", "license_link", "pipeline_tag")
"""The card's keywords kept in its ``ModelCardData``."""
_STRINGS = (*_ATTRIBUTES, *(key for key in _DATA if key != "language"))
"""The keywords that take a string (``language`` takes a list of them too)."""


def _check_card_keywords(updates: dict[str, Any]) -> None:
    """Each class keyword of the card is ``None`` or of the type it takes: a string, ``language`` a string or
    a list of strings, ``tags`` a list of strings."""
    for key in _STRINGS:
        value = updates.get(key)
        if value is not None and not isinstance(value, str):
            keyword = "model_card_template" if key == "template" else key
            raise HubMixinTypeError(f"class keyword {keyword}= must be a string, got {type(value).__name__}")
    for key, takes_string in (("language", True), ("tags", False)):
        value = updates.get(key)
        if value is None or (takes_string and isinstance(value, str)):
            continue
        if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
            kind = "a string or a list of strings" if takes_string else "a list of strings"
            raise HubMixinTypeError(f"class keyword {key}= must be {kind}, got {value!r:.80}")
