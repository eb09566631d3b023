"""The one definition of the parameters shared by every mixin's public methods.

Each :class:`Param` names a parameter, its type (as source text), its default (as source text) and its
documentation. ``python -m codegen`` reads this module (and each framework package's ``_extras.py``) to write
the typed public methods; the runtime reads it too, so a parameter is written and documented only here.

Examples:
    >>> from hubmixin_core.params import DOWNLOAD_PARAMS
    >>> [p.name for p in DOWNLOAD_PARAMS][:2]
    ['revision', 'cache_dir']
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ARGUMENT_DOCS",
    "DOWNLOAD_PARAMS",
    "METHOD_DOCS",
    "MAX_SHARD_SIZE",
    "SAVE_PARAMS",
    "SPEC_VERSION",
    "STRICT",
    "KEY_MAPPING",
    "UPLOAD_PARAMS",
    "FrameworkExtras",
    "Param",
    "param_names",
]

SPEC_VERSION = "1"


@dataclass(frozen=True)
class Param:
    """One keyword-only parameter of a public method.

    Args:
        name: The keyword.
        annotation: Its type, as source text valid in the generated module (``"str | None"``).
        default: Its default, as a Python literal in source text (``"None"``, ``"False"``, ``'"main"'``).
        doc: One paragraph of documentation, written once, here.
        imports: Import lines the annotation needs in a generated module (``"from pathlib import Path"``).
        secret: Whether the value is a credential: kept out of ``repr`` and logs.
    """

    name: str
    annotation: str
    default: str
    doc: str
    imports: tuple[str, ...] = field(default=())
    secret: bool = False
    _value: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Parsed once, here (at import): CPython 3.11's AST constructor may fail with a SystemError when two
        # threads parse at once, and every save and load reads these defaults.
        object.__setattr__(self, "_value", ast.literal_eval(self.default))

    @property
    def value(self) -> Any:
        """The default as a Python value."""
        return self._value


@dataclass(frozen=True)
class FrameworkExtras:
    """What a framework package adds to the generated public methods.

    A framework package declares one ``EXTRAS`` of this type in its ``_extras.py`` module; codegen loads that
    file without importing the framework.

    Args:
        package: The import name of the package (``"hubmixin_torch"``).
        class_name: Name of the generated class holding the public methods.
        base: ``"module:Class"`` of the hand-written class the generated one extends.
        load: Extra keyword parameters of ``from_pretrained``, forwarded to ``_from_pretrained``.
        save: Extra keyword parameters of ``save_pretrained`` and ``push_to_hub``, forwarded to
            ``_save_pretrained``.
        runtime_args: ``__init__`` arguments the framework owns (Flax's ``rngs``; Keras' ``name``, ``dtype``,
            ``trainable``): never written to ``config.json``; the framework package supplies them at load.
    """

    package: str
    class_name: str
    base: str
    load: tuple[Param, ...] = ()
    save: tuple[Param, ...] = ()
    runtime_args: tuple[str, ...] = ()

    @property
    def defaults(self) -> dict[str, Any]:
        """The default of each extra, as a Python value (a load and a save extra sharing a name share it).

        The framework's ``_from_pretrained`` and ``_save_pretrained`` take their defaults from here, so that a
        changed default reaches an override that leaves the extra to them (``super()._from_pretrained(**kwargs)``).
        """
        return {p.name: p.value for p in (*self.save, *self.load)}


_PATH = "from pathlib import Path"
_ANY = "from typing import Any"

_ENDPOINT = Param(
    "endpoint",
    "str | None",
    "None",
    "Base URL of the Hub to talk to, for a private or enterprise Hub or a local test server. Defaults to "
    "`HF_ENDPOINT`, or `https://huggingface.co`.",
)

DOWNLOAD_PARAMS: tuple[Param, ...] = (
    Param(
        "revision",
        "str | None",
        "None",
        "Revision of the model on the Hub: a branch name, a tag or a commit sha. Defaults to the latest commit "
        "on the `main` branch. Ignored when loading from a local directory.",
    ),
    Param(
        "cache_dir",
        "str | Path | None",
        "None",
        "Folder where downloaded files are cached. Defaults to the `huggingface_hub` cache (`HF_HUB_CACHE`).",
        (_PATH,),
    ),
    Param(
        "force_download",
        "bool",
        "False",
        "Whether to download the files again even if they are already in the cache.",
    ),
    Param(
        "local_files_only",
        "bool",
        "False",
        "If `True`, never reach the network: use only files already in the cache, and fail if they are not.",
    ),
    Param(
        "token",
        "str | bool | None",
        "None",
        "Hugging Face access token used as HTTP bearer authorization. `None` uses the token saved by "
        "`hf auth login` (or `HF_TOKEN`); `False` sends none. Tokens are never written to disk or logged.",
        secret=True,
    ),
    _ENDPOINT,
    Param(
        "max_workers",
        "int",
        "8",
        "How many files (weight shards) to download in parallel.",
    ),
)
"""Parameters of `from_pretrained` that say where and how files are downloaded."""

UPLOAD_PARAMS: tuple[Param, ...] = (
    Param(
        "config",
        "dict[str, Any] | DataclassInstance | None",
        "None",
        "Model configuration as a dict or a dataclass instance. Defaults to the configuration captured from "
        "`__init__`.",
        (_ANY, "from hubmixin_core.typing import DataclassInstance"),
    ),
    Param(
        "commit_message",
        "str",
        '"Push model using huggingface_hub."',
        "Message of the commit that uploads the model.",
    ),
    Param(
        "private",
        "bool | None",
        "None",
        "Whether the repository is created private. `None` uses the Hub's default (public unless the "
        "organization defaults to private). Has no effect on an existing repository.",
    ),
    Param(
        "token",
        "str | None",
        "None",
        "Hugging Face access token with write access. `None` uses the token saved by `hf auth login` (or "
        "`HF_TOKEN`). Tokens are never written to disk or logged.",
        secret=True,
    ),
    Param(
        "branch",
        "str | None",
        "None",
        "Git branch to push to. Defaults to `main`.",
    ),
    Param(
        "create_pr",
        "bool | None",
        "None",
        "Whether to open a pull request with the commit instead of pushing to the branch directly.",
    ),
    Param(
        "allow_patterns",
        "list[str] | str | None",
        "None",
        "If given, only files matching at least one of these glob patterns are pushed.",
    ),
    Param(
        "ignore_patterns",
        "list[str] | str | None",
        "None",
        "If given, files matching any of these glob patterns are not pushed.",
    ),
    Param(
        "delete_patterns",
        "list[str] | str | None",
        "None",
        "If given, remote files matching any of these glob patterns are deleted in the same commit.",
    ),
    Param(
        "model_card_kwargs",
        "dict[str, Any] | None",
        "None",
        "Extra values passed to the model card template.",
        (_ANY,),
    ),
    _ENDPOINT,
)
"""Parameters of `push_to_hub` (and of `save_pretrained(push_to_hub=True)`)."""

SAVE_PARAMS: tuple[Param, ...] = (
    Param(
        "repo_id",
        "str | None",
        "None",
        "Repository to push to when `push_to_hub=True`. Defaults to the name of `save_directory`.",
    ),
    Param(
        "push_to_hub",
        "bool",
        "False",
        "Whether to push the saved model to the Hub after saving it.",
    ),
)
"""Parameters of `save_pretrained` beyond the upload parameters."""


STRICT = Param(
    "strict",
    "bool",
    "False",
    "Whether the checkpoint must match the model exactly. If `True`, missing or unexpected keys raise "
    "`WeightsKeyError` and a dtype other than the model's raises `WeightsDtypeError` (unless `dtype` is given); "
    "if `False`, missing weights keep the model's own initialisation and both lists are logged as a warning, "
    "unless they would take more bytes than the checkpoint's tensors (and than 256 MiB): then `WeightsKeyError` "
    "names them before anything is allocated, so a config asking for a larger model than its weights is refused. "
    "A shape mismatch raises `WeightsShapeError` either way.",
)
"""The load extra of every framework package that loads through core's strict policy (``check_checkpoint``)."""

KEY_MAPPING = Param(
    "key_mapping",
    "Mapping[str, str] | None",
    "None",
    "Renames the checkpoint's tensors before they are matched to the model, as transformers' `key_mapping` "
    "does: each checkpoint name is rewritten with `re.subn` by the first `pattern: replacement` pair, in order, "
    r'whose pattern matches it (`{r"^encoder\.attn\.": "enc.attention."}`); the later pairs are not applied to '
    "the result. Layer settings are compared under the new names. For "
    "two ports of a model whose attribute names differ. Two names renamed to the same one raise "
    "`WeightsKeyError`. The files are not changed.",
    ("from collections.abc import Mapping",),
)
"""The load extra of every framework package that reads through :meth:`Checkpoint.renamed`."""

MAX_SHARD_SIZE = Param(
    "max_shard_size",
    "int | str | None",
    "None",
    'Largest weights file to write, in bytes or as a string (`"5GB"`, `"500MiB"`). A model larger than this is '
    "written as `model-0000i-of-0000n.safetensors` shards plus `model.safetensors.index.json`, as transformers "
    "does; a smaller one stays a single `model.safetensors`. `None` always writes a single file (the one "
    "`huggingface_hub.PyTorchModelHubMixin` reads).",
)
"""The save extra of every framework package that writes through core's ``save_safetensors``."""


def param_names(params: tuple[Param, ...]) -> tuple[str, ...]:
    """The names of ``params``, in order."""
    return tuple(p.name for p in params)


ARGUMENT_DOCS: dict[str, str] = {
    "save_directory": "Directory to save the model in. It is written completely or left untouched.",
    "pretrained_model_name_or_path": "A repo id on the Hub (`user/model`) or a local directory written by "
    "`save_pretrained`.",
    "repo_id": "Repository to push to (`user/model`); created if it does not exist.",
    "push_to_hub_kwargs": "With `push_to_hub=True`, more keywords for `push_to_hub`, which `save_pretrained` "
    "calls at the end (as huggingface_hub does), so a class overriding `push_to_hub` receives them. Accepted at "
    "run time only: type checkers flag them, as they flag a misspelled option.",
    "model_kwargs": "Keyword arguments for the model's `__init__`, overriding values read from `config.json`.",
    "init_kwargs": "More keyword arguments for the model's `__init__`, as `model_kwargs` gives them (not both for "
    "one argument). Accepted at run time only, for compatibility with `huggingface_hub`: type checkers flag them, "
    "as they flag a misspelled option, whatever the value's type. Prefer `model_kwargs`.",
}
"""Documentation of the arguments that are not shared parameters."""

METHOD_DOCS: dict[str, tuple[str, str, tuple[tuple[str, str], ...]]] = {
    "save_pretrained": (
        "Save the model's weights, `config.json` and model card to a local directory.",
        "`CommitInfo` of the upload (a `str`: the commit URL) if `push_to_hub=True`, else `None`.",
        (
            ("ConfigError", "the configuration cannot be written as JSON."),
            ("WeightsError", "the framework cannot write the weights (the directory is left untouched)."),
        ),
    ),
    "from_pretrained": (
        "Load a model from the Hub or from a local directory, with its configuration.",
        "An instance of the class this is called on.",
        (
            ("WeightsNotFoundError", "the directory or repository holds no weights, or a local path does not exist."),
            ("WeightsError", "the weights do not fit the model (the message names the key, shape, dtype or file)."),
            ("ConfigError", "`config.json` is not a JSON object."),
            ("huggingface_hub.errors.RepositoryNotFoundError", "the repository does not exist or is private."),
            ("huggingface_hub.errors.RevisionNotFoundError", "the revision does not exist."),
        ),
    ),
    "push_to_hub": (
        "Save the model to a temporary directory and upload it to the Hub in one commit.",
        "`CommitInfo` of the upload: a `str` holding the commit URL, with `.oid` and `.pr_url`.",
        (("huggingface_hub.errors.HfHubHTTPError", "the Hub refused the upload (e.g. no write access)."),),
    ),
}
"""Summary line, Returns text and Raises entries of each generated public method."""
