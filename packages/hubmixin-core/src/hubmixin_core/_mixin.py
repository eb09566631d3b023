"""``ModelHubMixin``: the public base class."""

from __future__ import annotations

from hubmixin_core._generated._methods import ModelHubMixinMethods

__all__ = ["ModelHubMixin"]


class ModelHubMixin(ModelHubMixinMethods):
    """Give any model class ``save_pretrained``, ``from_pretrained`` and ``push_to_hub``.

    A drop-in replacement of ``huggingface_hub.ModelHubMixin``: subclass it and implement ``_save_pretrained``
    and ``_from_pretrained``. The arguments your ``__init__`` receives are captured into ``config.json`` and
    given back to it on load. Metadata for the model card goes in the class definition's keywords:
    ``library_name``, ``tags``, ``repo_url``, ``paper_url``, ``docs_url``, ``license``, ``license_name``,
    ``license_link``, ``pipeline_tag``, ``language``, ``model_card_template``; ``coders`` maps a type to an
    ``(encoder, decoder)`` pair for arguments JSON cannot hold; ``strict_config=True`` raises
    :class:`~hubmixin_core.errors.ConfigEncodingError` instead of warning when an argument cannot be saved.

    Examples:
        >>> import json
        >>> from pathlib import Path
        >>> from hubmixin_core import ModelHubMixin
        >>> class Counter(ModelHubMixin, library_name="counter-lib", tags=["demo"]):
        ...     def __init__(self, start: int = 0, step: int = 1) -> None:
        ...         self.value = start
        ...     def _save_pretrained(self, save_directory: Path) -> None:
        ...         (save_directory / "state.json").write_text(json.dumps(self.value))
        ...     @classmethod
        ...     def _from_pretrained(cls, *, model_id, revision, cache_dir, force_download,
        ...                          local_files_only, token, **model_kwargs):
        ...         model = cls(**model_kwargs)
        ...         model.value = json.loads((Path(model_id) / "state.json").read_text())
        ...         return model
        >>> counter = Counter(start=3)
        >>> counter._hub_mixin_config
        {'start': 3, 'step': 1}
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     counter.save_pretrained(tmp)
        ...     Counter.from_pretrained(tmp).value
        3
    """
