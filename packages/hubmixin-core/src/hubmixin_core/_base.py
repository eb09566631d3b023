"""The logic of ``ModelHubMixin``: class creation, and the save, push and load orchestration.

The public methods are generated (``_generated/_methods.py``) and forward here; a framework implements only
``_save_pretrained`` and ``_from_pretrained``. ``ModelHubMixinBase`` is the top of three layers, each a module of
one job: :mod:`._init_arguments` (what ``__init__`` takes, and how one argument is coded),
:mod:`._config_capture` (an instance's arguments as config.json holds them) and :mod:`._config_apply`
(config.json turned into the arguments of a load).
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, Unpack

from huggingface_hub import CommitInfo, ModelCard
from huggingface_hub import constants as hf_constants

from hubmixin_core._atomic import atomic_directory, push_folder, reading, remove_interrupted_saves, save_stamp
from hubmixin_core._capture import (
    LOADING,
    get_config,
    get_received,
    get_unsaved,
    loader_values,
    recording_builds,
    set_config,
)
from hubmixin_core._card import TEMPLATE_NOT_GIVEN, CardInfo
from hubmixin_core._checks import UNSAVED_KEY, check_keywords, closest, expand_location, same_value, takes_any_keyword
from hubmixin_core._config import dumps_config
from hubmixin_core._config_apply import ConfigApplication, builds_from_arguments
from hubmixin_core._config_capture import ConfigCapture
from hubmixin_core._forwarding import (
    forwards_whole,
    passes_on_whole,
)
from hubmixin_core._frameworks import check_framework_base
from hubmixin_core._generated._options import DownloadOptions, UploadOptions
from hubmixin_core._hub import check_whole_checkpoint, one_commit, upload_folder
from hubmixin_core._override import LEGACY_DOWNLOAD_KEYWORDS, drop_deprecated_keywords, model_arguments
from hubmixin_core._override_signatures import (
    accepted_keywords,
    base_loader_is_frameworks,
    check_override_takes,
    has_own_parameter,
    loader_is_own,
    loader_supplies,
    loader_takes,
    options_parameter,
    own_method,
    signature_parameters,
    unnamed_keywords,
)
from hubmixin_core._paths import check_local_location, check_probeable
from hubmixin_core._published import refuse_published_token
from hubmixin_core._warn import warn_user
from hubmixin_core.errors import (
    HubMixinTypeError,
    HubMixinValueError,
    LoaderOptionWarning,
    WeightsError,
    WeightsShapeError,
    format_names,
)
from hubmixin_core.params import DOWNLOAD_PARAMS, SAVE_PARAMS, UPLOAD_PARAMS
from hubmixin_core.typing import ClassKeywords, Coders
from hubmixin_core.weights._names import CONFIG_NAME, WEIGHTS_FILE_PATTERNS, is_weights_file, replaced_by_save
from hubmixin_core.weights._report import HeldReports

__all__ = ["ModelHubMixinBase"]

_README = "README.md"
_HF_LOADER_OPTIONS = frozenset(
    {"revision", "cache_dir", "force_download", "local_files_only", "token", "proxies", "resume_download"}
    | {"map_location", "strict"}  # PyTorchModelHubMixin's
)
"""The options huggingface_hub's ``from_pretrained`` takes itself (never gives to ``__init__``)."""
_ALWAYS_PASSED = ("revision", "cache_dir", "force_download", "local_files_only", "token")
"""The download keywords huggingface_hub's ``_from_pretrained`` contract always passes."""
_LOAD_ATTEMPTS = 5
"""Loads of a local directory that changed while it was read, before giving up (each is retried)."""


class ModelHubMixinBase(ConfigApplication):
    """Hand-written core of :class:`hubmixin_core.ModelHubMixin`; use that class, not this one."""

    @classmethod
    def _hub_mixin_init_subclass(
        cls,
        *,
        repo_url: str | None = None,
        paper_url: str | None = None,
        docs_url: str | None = None,
        model_card_template: str | None = TEMPLATE_NOT_GIVEN,
        language: str | list[str] | None = None,
        library_name: str | None = None,
        license: str | None = None,
        license_name: str | None = None,
        license_link: str | None = None,
        pipeline_tag: str | None = None,
        tags: list[str] | None = None,
        coders: Coders | None = None,
        strict_config: bool | None = None,
        runtime_args: Iterable[str] = (),
        **kwargs: Any,
    ) -> None:
        try:
            super().__init_subclass__(**kwargs)
        except TypeError as error:
            if not kwargs or "keyword" not in str(error):
                raise
            raise _unknown_class_keywords(cls, kwargs) from error
        check_framework_base(cls, cls._hub_mixin_framework)
        # huggingface_hub declares _hub_mixin_config as a class attribute; one re-declared as such (a plain value,
        # here or in a helper mixin before this base) would shadow the property and leave config.json unwritten.
        config_attr = next(vars(k)["_hub_mixin_config"] for k in cls.__mro__ if "_hub_mixin_config" in vars(k))
        if not hasattr(type(config_attr), "__get__"):  # (a descriptor, a library's own property, is kept)
            type.__setattr__(cls, "_hub_mixin_config", vars(ConfigCapture)["_hub_mixin_config"])
        cls._hub_mixin_info = (
            CardInfo.from_info(cls._hub_mixin_info)
            .derive(
                **({} if model_card_template is TEMPLATE_NOT_GIVEN else {"template": model_card_template}),
                repo_url=repo_url,
                paper_url=paper_url,
                docs_url=docs_url,
                language=language,
                library_name=library_name,
                license=license,
                license_name=license_name,
                license_link=license_link,
                pipeline_tag=pipeline_tag,
                tags=tags,
            )
            .info()
        )
        if coders is not None and (not isinstance(coders, Mapping) or not all(map(_is_coder, coders.items()))):
            wrong = (
                coders
                if not isinstance(coders, Mapping)
                else dict([next(i for i in coders.items() if not _is_coder(i))])
            )
            raise HubMixinTypeError(
                f"{cls.__qualname__}: class keyword coders= must map types to (encode, decode), got {wrong!r:.120} "
                "(each a type, and a pair of callables)"
            )
        if strict_config is not None and not isinstance(strict_config, bool):
            raise HubMixinTypeError(
                f"{cls.__qualname__}: class keyword strict_config= must be a bool, got {strict_config!r}"
            )
        cls._hub_mixin_coders = {**cls._hub_mixin_coders, **(coders or {})}
        cls._hub_mixin_jsonable_custom_types = tuple(cls._hub_mixin_coders)
        if strict_config is not None:
            cls._hub_mixin_strict_config = strict_config
        if isinstance(runtime_args, str):
            raise HubMixinTypeError(f"{cls.__qualname__}: runtime_args must be a list of argument names, not a string")
        cls._hub_mixin_runtime_args = cls._hub_mixin_runtime_args | frozenset(runtime_args)
        cls._hub_mixin_declared_runtime_args = cls._hub_mixin_declared_runtime_args | frozenset(runtime_args)
        if cls.__module__.endswith("._generated._methods"):
            for name in ("push_to_hub", "save_pretrained"):
                if name in cls.__dict__:
                    setattr(cls, name, _suggesting(cls.__dict__[name]))
        cls._hub_mixin_inspect_init(creating=True)
        cls._hub_mixin_inject_config = has_own_parameter(inspect.signature(cls._from_pretrained).parameters, "config")

    if TYPE_CHECKING:  # the class keywords, typed for mypy: a misspelled one is an error there too

        def __init_subclass__(cls, **kwargs: Unpack[ClassKeywords]) -> None: ...

    else:
        __init_subclass__ = _hub_mixin_init_subclass

    def _hub_save(
        self,
        save_directory: str | Path,
        *,
        repo_id: str | None,
        push_to_hub: bool,
        upload: UploadOptions,
        save_kwargs: dict[str, Any],
        push_kwargs: Mapping[str, Any] | None = None,
    ) -> CommitInfo | None:
        if not isinstance(save_directory, str | os.PathLike):
            raise HubMixinTypeError(f"save_directory must be a path, got {type(save_directory).__qualname__}")
        if _holds_nul(save_directory):  # (the OS's calls raise a bare ValueError naming no path)
            raise HubMixinValueError(f"save_directory {os.fspath(save_directory)!r} holds a NUL character")
        save_directory = Path(expand_location(Path(save_directory)))  # as from_pretrained expands it
        # What is called: the instance's own push_to_hub too (a wrapper, a Mock), as huggingface_hub calls it.
        push = signature_parameters(self.push_to_hub) if push_to_hub else None  # type: ignore[attr-defined]
        if push_kwargs:  # only an overriding push_to_hub may take more keywords: checked before writing anything
            options = [p.name for p in (*UPLOAD_PARAMS, *SAVE_PARAMS)] + list(save_kwargs)
            method = f"{type(self).__qualname__}.save_pretrained"
            check_keywords(method, push_kwargs, push or {}, options, lambda: _class_keywords(type(self)))
        # The options push_to_hub will be given (those not at their default), which an override must take too.
        given = {
            p.name: getattr(upload, p.name) for p in UPLOAD_PARAMS if not same_value(getattr(upload, p.name), p.value)
        }
        given.update({k: v for k, v in save_kwargs.items() if not same_value(v, self._hub_extra_defaults.get(k))})
        refused = sorted(given.keys() - push.keys()) if push is not None and not takes_any_keyword(push) else []
        if refused:  # checked before writing anything, as an unknown keyword is
            called = getattr(self.push_to_hub, "__qualname__", "push_to_hub")  # type: ignore[attr-defined]
            raise HubMixinTypeError(
                f"{type(self).__qualname__}.save_pretrained: {', '.join(f'{n}=' for n in refused)} given with "
                f"push_to_hub=True, but {called}, which it ends with (as huggingface_hub does), does not take it: "
                "add it to that override's parameters (or **kwargs passed to super())"
            )
        own = self._hub_config_dict(self._hub_mixin_config)
        config = own if upload.config is None else self._hub_config_dict(upload.config, given=True)
        if config is not None and config != own:
            self._hub_check_given_config(config)
        # Unsaved arguments a config= given does not provide either are recorded too (one built from the model's own,
        # a head added), so that from_pretrained asks for them instead of building another model; a config given
        # provides ``config`` (a dataclass config JSON cannot hold, saved as the config given).
        other_config = config is not None and config != own
        unsaved = {
            name: kind
            for name, kind in get_unsaved(self).items()
            if config is None or (name not in config and not (other_config and name == "config"))
        }
        config_dict = {**(config or {}), UNSAVED_KEY: unsaved} if unsaved else config
        with atomic_directory(
            save_directory, replaces=replaced_by_save, replaces_in_folders=is_weights_file
        ) as staging:
            self._save_pretrained(
                staging,
                **accepted_keywords(type(self)._save_pretrained, save_kwargs, self._hub_extra_defaults, forward=True),
            )
            if config_dict is not None and not (staging / CONFIG_NAME).exists():
                (staging / CONFIG_NAME).write_text(dumps_config(config_dict), encoding="utf-8")
            if not (save_directory / _README).exists() and not (staging / _README).exists():
                self.generate_model_card(**(upload.model_card_kwargs or {})).save(staging / _README)
            if push_to_hub and not own_method(self, "push_to_hub"):  # (an override decides what it uploads: the
                # base push_to_hub it reaches checks that.) Refused before the target is replaced: the local copy
                # must not hold it either.
                refuse_published_token(type(self).__qualname__, staging, upload)
                check_whole_checkpoint(staging, upload, WEIGHTS_FILE_PATTERNS)
        if not push_to_hub:
            return None
        # As huggingface_hub does: end with self.push_to_hub, so a class overriding it runs, with the keywords
        # given here (the options that differ from their defaults, and any extra ones meant for the override).
        given.update(push_kwargs or {})
        if config is not None:  # as a dict, as huggingface_hub passes it (a dataclass config too)
            given["config"] = config
        given["model_card_kwargs"] = upload.model_card_kwargs or {}
        commit: CommitInfo = self.push_to_hub(repo_id=repo_id or save_directory.absolute().name, **given)  # type: ignore[attr-defined]
        return commit

    def _hub_push(self, repo_id: str, *, upload: UploadOptions, save_kwargs: dict[str, Any]) -> CommitInfo:
        _check_token(upload.token)
        with push_folder() as tmp:
            folder = Path(tmp) / "model"
            if own_method(self, "save_pretrained"):
                # As huggingface_hub does: a library's save_pretrained may write more files (a tokenizer, a
                # vocabulary); the save options given to push_to_hub reach it where they are not the defaults.
                given = {k: v for k, v in save_kwargs.items() if not same_value(v, self._hub_extra_defaults.get(k))}
                check_override_takes(type(self).__qualname__, self.save_pretrained, given)  # type: ignore[attr-defined]
                config, card_kwargs = upload.config, upload.model_card_kwargs
                self.save_pretrained(folder, config=config, model_card_kwargs=card_kwargs, **given)  # type: ignore[attr-defined]
            else:
                self._hub_save(folder, repo_id=None, push_to_hub=False, upload=upload, save_kwargs=save_kwargs)
            refuse_published_token(type(self).__qualname__, folder, upload)
            return upload_folder(repo_id, folder, upload, replaced=WEIGHTS_FILE_PATTERNS)

    def _save_pretrained(self, save_directory: Path) -> None:
        """Write the model's files (weights, and anything else it needs) into ``save_directory``.

        Implemented by each framework. ``save_directory`` is a fresh staging directory: the public method moves
        its content into place only if this returns without error.
        """
        raise NotImplementedError(
            f"{type(self).__qualname__} implements no _save_pretrained: subclass a framework's mixin (hubmixin_torch, "
            "hubmixin_flax, hubmixin_keras), or implement _save_pretrained and _from_pretrained"
        )

    def generate_model_card(self, *args: Any, **kwargs: Any) -> ModelCard:
        """The model card of this model: the class's card template filled with its metadata and ``kwargs``."""
        card = CardInfo.from_info(self._hub_mixin_info)  # a copy: rendering must not change the class's
        values = {"repo_url": card.repo_url, "paper_url": card.paper_url, "docs_url": card.docs_url, **kwargs}
        model_card: ModelCard = ModelCard.from_template(
            card_data=card.card_data(), template_str=card.template, **values
        )
        return model_card

    @classmethod
    def _hub_model_kwargs(cls, model_kwargs: Mapping[str, Any] | None, init_kwargs: dict[str, Any]) -> dict[str, Any]:
        """The ``__init__`` arguments of a ``from_pretrained`` call: ``model_kwargs`` and the keywords, which may
        not both give one argument (which would win is not obvious)."""
        if model_kwargs is not None and not isinstance(model_kwargs, Mapping):
            raise HubMixinTypeError(
                f"{cls.__qualname__}.from_pretrained: model_kwargs must be a mapping of __init__ arguments, "
                f"got {type(model_kwargs).__name__}"
            )
        both = sorted(init_kwargs.keys() & (model_kwargs or {}).keys())
        if both:
            raise HubMixinTypeError(
                f"{cls.__qualname__}.from_pretrained: {format_names(both)} given both in model_kwargs and as keywords"
            )
        return {**(model_kwargs or {}), **init_kwargs}

    @classmethod
    def _hub_check_model_class(cls) -> None:
        """Refuse, first in ``from_pretrained`` (before anything is read or fetched), a class that cannot build a
        model: a framework's mixin itself (``PyTorchModelHubMixin.from_pretrained(repo)``). Frameworks check it,
        where the framework's own ``_from_pretrained`` would build it (an override may dispatch to a model class)."""

    @classmethod
    def _hub_load(
        cls,
        pretrained_model_name_or_path: str | Path,
        *,
        download: DownloadOptions,
        load_kwargs: dict[str, Any],
        model_kwargs: dict[str, Any],
    ) -> Self:
        if builds_from_arguments(cls):  # (an own loader may dispatch elsewhere: a library's AutoModel base)
            cls._hub_check_model_class()
        if not isinstance(pretrained_model_name_or_path, str | os.PathLike):
            raise HubMixinTypeError(
                "pretrained_model_name_or_path must be a repo id or a directory, "
                f"got {type(pretrained_model_name_or_path).__qualname__}"
            )
        given = pretrained_model_name_or_path
        if isinstance(given, str) and not given.strip():  # an unset option or variable; Path("") if cwd is meant
            raise HubMixinValueError("pretrained_model_name_or_path is empty: give a repo id or a directory")
        if _holds_nul(given):
            raise HubMixinValueError(f"pretrained_model_name_or_path {os.fspath(given)!r} holds a NUL character")
        location = expand_location(Path(given) if isinstance(given, os.PathLike) else given)
        model_id = str(location)
        check_probeable(location)
        if Path(location).is_dir() or Path(location).parent.is_dir():  # a path given as a string too
            remove_interrupted_saves(Path(location))  # also one whose first save was killed before it existed
        check_local_location(location, "from_pretrained takes a model directory or a repo id")
        _check_token(download.token, remote=not Path(location).is_dir())
        if Path(location).is_dir():
            _warn_hub_options_ignored(f"{cls.__qualname__}.from_pretrained", given, download)
        if isinstance(download.max_workers, bool) or not isinstance(download.max_workers, int):
            raise HubMixinTypeError(f"max_workers must be an int, got {type(download.max_workers).__name__}")
        if download.max_workers < 1:
            raise HubMixinValueError(f"max_workers must be at least 1, got {download.max_workers}")
        model_kwargs = dict(model_kwargs)
        drop_deprecated_keywords(f"{cls.__qualname__}.from_pretrained", model_kwargs, cls._hub_init_takes)
        call = cls._hub_loader_arguments(download, load_kwargs)
        parameters = inspect.signature(cls._from_pretrained).parameters
        cls._hub_mixin_inspect_init()
        hub_style = has_own_parameter(parameters, "model_kwargs")  # (model_kwargs: dict[str, Any]) else **model_kwargs
        loader = ("model_id", "model_kwargs", "config") if hub_style else ("model_id",)
        own = {
            n: p
            for n, p in parameters.items()
            if n not in (*loader, *call) and not (p.kind is p.VAR_KEYWORD and cls._hub_passes_on(hub_style, n))
        }
        options = [*(p.name for p in DOWNLOAD_PARAMS), *load_kwargs, "model_kwargs"]
        init = cls._hub_keyword_parameters()
        accepted = {**own, **init}
        cls._hub_warn_options_named_like_arguments(download, load_kwargs, model_kwargs)
        try:
            method = f"{cls.__qualname__}.from_pretrained"
            check_keywords(method, model_kwargs, accepted or init, options, lambda: _class_keywords(cls))
        except HubMixinTypeError as error:
            if "model_kwargs" not in init:
                raise
            hint = "pass model_kwargs={'model_kwargs': ...}"
            message = f"{error} ({cls.__qualname__}.__init__ takes an argument named model_kwargs: {hint})"
            raise HubMixinTypeError(message) from None
        if hub_style:  # the override's own options (``device: str = "cpu"``), not the model's arguments
            call.update({name: model_kwargs.pop(name) for name in own.keys() - init.keys() if name in model_kwargs})
        cls._hub_check_given_arguments(model_kwargs)
        provided = cls._hub_runtime_values(load_kwargs)
        cls._hub_give_runtime_args(provided, model_kwargs)
        if not Path(location).is_dir():
            with one_commit():  # the config and the weights of one push, even if another lands meanwhile
                return cls._hub_build(model_id, download, call, model_kwargs, provided)
        # A save to the directory while it is read (from another thread or process) would mix the two saves'
        # files: the load is done again until the directory held still throughout.
        changed = WeightsError(
            f"{location}: changed while it was read, {_LOAD_ATTEMPTS} times in a row: another thread or process keeps "
            "saving to it; load it once that save is done"
        )
        reports = HeldReports()  # (what an attempt given up found is not said)
        for _ in range(_LOAD_ATTEMPTS):
            before = save_stamp(Path(location), replaced_by_save)
            try:
                with reading(location), reports:  # a save moving files in one at a time waits, and is waited for
                    instance = cls._hub_build(model_id, download, dict(call), dict(model_kwargs), provided)
            except Exception as error:  # caused by a save landing meanwhile, or by the files themselves
                if save_stamp(Path(location), replaced_by_save) != before:
                    changed.__cause__ = error
                    continue
                reports.release()
                raise
            if save_stamp(Path(location), replaced_by_save) == before:
                reports.release()
                return instance
        raise changed

    @classmethod
    def _hub_passes_on(cls, hub_style: bool, var_keyword: str) -> bool:
        """Whether the keywords ``_from_pretrained``'s ``**kwargs`` (named ``var_keyword``) takes are all
        ``__init__``'s, so that ``from_pretrained`` checks them against it: with hubmixin's signature the model's
        arguments come in ``model_kwargs``, and its ``**kwargs`` take none; with huggingface_hub's, they are the
        model's where it only passes them on (an override reading one, ``model_kwargs.pop("device")``, takes it as
        an option of its own, as huggingface_hub lets it)."""
        loader = cls._from_pretrained
        forwarded = forwards_whole(loader, var_keyword) and base_loader_is_frameworks(cls)
        return hub_style or passes_on_whole(loader, var_keyword) or forwarded

    @classmethod
    def _hub_build(
        cls,
        model_id: str,
        download: DownloadOptions,
        call: dict[str, Any],
        model_kwargs: dict[str, Any],
        provided: Mapping[str, Any],
    ) -> Self:
        """Read the config of ``model_id``, then build the model and load its weights with ``_from_pretrained``."""
        parameters = inspect.signature(cls._from_pretrained).parameters
        given = list(model_kwargs)  # (the caller's, before config.json's join them)
        read = cls._hub_read_config_for(model_id, download)
        raw, config_file = read if read is not None else (None, None)
        unsaved = raw.pop(UNSAVED_KEY, None) if raw is not None else None
        deferred: dict[str, str] = {}  # (a class's own loader may rebuild them itself, as setfit's does)
        if isinstance(unsaved, dict):
            own = loader_is_own(cls)
            deferred = cls._hub_give_unsaved(unsaved, provided, model_kwargs, supplied=loader_supplies(cls), defer=own)
        held = "config" in deferred  # not saved: the rest of config.json is not it (the loader must give it)
        config: Any = None if raw is None else cls._hub_config_beside(raw, model_kwargs, str(config_file), held=held)
        # huggingface_hub's: given if asked for
        if has_own_parameter(parameters, "config") or cls._hub_mixin_inject_config:
            if has_own_parameter(parameters, "model_kwargs"):
                call["config"] = None if held else config
            else:
                model_kwargs.setdefault("config", None if held else config)
        if builds_from_arguments(cls):  # what config.json and the caller give must make a call to __init__
            cls._hub_check_required(model_kwargs, raw, str(config_file) if config_file is not None else model_id)
        secrets = [v for p in DOWNLOAD_PARAMS if p.secret and isinstance(v := getattr(download, p.name), str)]
        loading = LOADING.set(True)
        try:
            with loader_values(secrets=secrets), recording_builds() as builds:  # (secrets: never captured)
                try:
                    instance = cls._hub_call_from_pretrained(model_id, call, model_kwargs, parameters)
                except Exception as error:
                    source = str(config_file) if config_file is not None else model_id
                    if raw is None and isinstance(error, WeightsShapeError):
                        cls._hub_note_no_config(error, model_id, model_kwargs)
                    cls._hub_check_failed_build(deferred, builds, error, model_kwargs, raw, source)
                    cls._hub_note_init_failure(error, raw, given, source)
                    raise
        finally:
            LOADING.reset(loading)
        received = get_received(instance) if isinstance(instance, cls) else None
        if deferred and received is not None:
            cls._hub_check_received(deferred, received)
        if config is not None and get_config(instance) in (None, {}):  # (what it was built without stays recorded)
            set_config(instance, config, get_unsaved(instance))
        return instance

    @classmethod
    def _hub_runtime_values(cls, load_kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Objects of :attr:`_hub_mixin_runtime_types` that the load options give, by type name: such an argument
        left out of config.json takes them (Flax: the ``Mesh`` given as ``sharding=``). None by default."""
        return {}

    @classmethod
    def _hub_warn_options_named_like_arguments(
        cls,
        download: DownloadOptions,
        load_kwargs: Mapping[str, Any],
        model_kwargs: Mapping[str, Any],
    ) -> None:
        """A :class:`LoaderOptionWarning` for each option huggingface_hub's loader lacks (``dtype``, ``endpoint``,
        ...) given where ``__init__`` takes an argument of that name (and ``model_kwargs`` does not give it): the
        loader takes it, where huggingface_hub's gives it to ``__init__``."""
        given = {p.name for p in DOWNLOAD_PARAMS if not same_value(getattr(download, p.name), p.value)}
        given |= {k for k, v in load_kwargs.items() if not same_value(v, cls._hub_extra_defaults.get(k))}
        parameters = cls._hub_mixin_init_parameters.items()
        taken = {n for n, p in parameters if p.kind is not inspect.Parameter.VAR_KEYWORD}
        for name in sorted((given - _HF_LOADER_OPTIONS - cls._hub_mixin_runtime_args) & taken - model_kwargs.keys()):
            warn_user(
                f"{cls.__qualname__}.from_pretrained: {name}= is the loader's option, not the {name!r} argument of "
                f"{cls.__qualname__}.__init__ (huggingface_hub's loader, which has no such option, gives it to "
                f"__init__); to set the argument, pass model_kwargs={{{name!r}: ...}}",
                LoaderOptionWarning,
            )

    @classmethod
    def _hub_call_from_pretrained(
        cls, model_id: str, call: dict[str, Any], model_kwargs: dict[str, Any], parameters: Mapping[str, Any]
    ) -> Self:
        """``_from_pretrained`` called with the loader's options and the model's arguments, the way it takes them."""
        if has_own_parameter(parameters, "model_kwargs"):
            # (no model argument passed as a keyword: this may run inside another model's load)
            forwarded = unnamed_keywords(parameters, call)
            with model_arguments(()), loader_values(forwarded=forwarded):
                instance = cls._from_pretrained(model_id=model_id, **call, model_kwargs=model_kwargs)
            return cls._hub_forget_forwarded(instance, forwarded)
        defaults = {**{p.name: p.value for p in DOWNLOAD_PARAMS}, **cls._hub_extra_defaults}
        for name in model_kwargs.keys() & call.keys() & defaults.keys():
            # An option left at its default yields its keyword to the model's argument, where the override
            # takes it through **kwargs (and so forwards it); one it names would be taken as the option.
            if not has_own_parameter(parameters, name) and same_value(call[name], defaults[name]):
                del call[name]
        clash = sorted(model_kwargs.keys() & {*call, "model_id"})
        if clash:
            raise HubMixinTypeError(
                f"{cls.__qualname__}._from_pretrained takes the loader options as keywords, so the model "
                f"arguments {clash} cannot reach __init__: declare `download: DownloadOptions` and "
                "`model_kwargs: dict[str, Any]` parameters in its signature instead"
            )
        # The base knows these keywords are the model's; the options that reach **kwargs are not captured.
        forwarded = unnamed_keywords(parameters, call)
        with model_arguments(model_kwargs), loader_values(forwarded=forwarded):
            instance = cls._from_pretrained(model_id=model_id, **call, **model_kwargs)
        return cls._hub_forget_forwarded(instance, forwarded)

    @classmethod
    def _hub_forget_forwarded(cls, instance: Self, forwarded: Mapping[str, Any]) -> Self:
        """``instance`` without the loader's options its ``__init__`` got through ``**kwargs`` in its config: a
        model built on another thread (a loader's pool) was captured where the load's context is unknown."""
        config = get_config(instance)
        if isinstance(config, dict):
            for name, value in forwarded.items():
                if name in config and config[name] is value and not cls._hub_init_takes(name):
                    del config[name]
        return instance

    @classmethod
    def _hub_loader_arguments(cls, download: DownloadOptions, load_kwargs: dict[str, Any]) -> dict[str, Any]:
        """The keywords ``_from_pretrained`` is called with, besides ``model_id`` and the model's arguments.

        The download options go as one ``download`` argument if it declares one, else as huggingface_hub's
        keywords (``endpoint`` and ``max_workers`` if named or, through its ``**kwargs``, if not at their default and
        a loader takes them, see :func:`loader_takes`; ``proxies`` and ``resume_download``, as ``None``, only if
        named, as older huggingface_hub releases passed them); then the framework's load extras it names, or,
        through its ``**kwargs``, those not at their default.
        """
        parameters = inspect.signature(cls._from_pretrained).parameters
        options = options_parameter(parameters)
        if options is not None:
            call: dict[str, Any] = {options: download}
        else:
            shared = {p.name: getattr(download, p.name) for p in DOWNLOAD_PARAMS}
            call = {k: shared.pop(k) for k in _ALWAYS_PASSED}
            call.update({k: v for k, v in LEGACY_DOWNLOAD_KEYWORDS.items() if has_own_parameter(parameters, k)})
            defaults = {p.name: p.value for p in DOWNLOAD_PARAMS}
            # huggingface_hub's contract has no endpoint nor max_workers: where they reach no loader applying them,
            # max_workers (a speed setting) is left out, not handed to __init__; endpoint is refused (below) unless
            # it is the default Hub. Where a loader's source cannot be read, endpoint goes on as it always did.
            takes = {k: loader_takes(cls, k) for k in shared}
            shared = {k: v for k, v in shared.items() if takes[k] or (takes[k] is None and k == "endpoint")}
            if takes.get("endpoint", True) is False:
                cls._hub_refuse_unrouted_endpoint(parameters, download)
            call.update(accepted_keywords(cls._from_pretrained, shared, defaults, forward=True))
        cls._hub_refuse_stranded_extras(parameters, load_kwargs)
        call.update(accepted_keywords(cls._from_pretrained, load_kwargs, cls._hub_extra_defaults, forward=True))
        return call

    @classmethod
    def _hub_refuse_unrouted_endpoint(
        cls, parameters: Mapping[str, inspect.Parameter], download: DownloadOptions
    ) -> None:
        """Refuse an ``endpoint`` other than the default Hub (``HF_ENDPOINT``, or ``https://huggingface.co``) that
        ``_from_pretrained``, written to huggingface_hub's contract (which has none), does not apply: ``config.json``
        would come from that Hub, and the files it downloads itself from the default one, with the token meant for
        the other.

        Raises:
            HubMixinTypeError: before anything is read, naming the override and what to change.
        """
        if download.endpoint is None or download.endpoint.rstrip("/") == hf_constants.ENDPOINT.rstrip("/"):
            return
        owner = cls._from_pretrained.__qualname__
        var_keyword = next((n for n, p in parameters.items() if p.kind is p.VAR_KEYWORD), None)
        fixes = ["name `endpoint` in its parameters and pass it to its downloads", "take `download: DownloadOptions`"]
        if var_keyword is not None and base_loader_is_frameworks(cls):
            fixes.append(f"pass **{var_keyword} on to super()._from_pretrained")
        argument = cls._hub_init_takes("endpoint")  # (then meant, maybe, as huggingface_hub gives it: to __init__)
        hint = (
            f"; to set {cls.__qualname__}.__init__'s endpoint, pass model_kwargs={{'endpoint': ...}}"
            if argument
            else ""
        )
        raise HubMixinTypeError(
            f"{cls.__qualname__}.from_pretrained: endpoint={download.endpoint!r} given, but {owner} does not accept "
            "it: it takes huggingface_hub's download keywords, which have no endpoint, so config.json would come "
            "from that Hub and the files it downloads itself from the default one (sent the token meant for the "
            f"other). In that override, {', '.join(fixes[:-1])} or {fixes[-1]}{hint}"
        )

    @classmethod
    def _hub_refuse_stranded_extras(
        cls, parameters: Mapping[str, inspect.Parameter], load_kwargs: dict[str, Any]
    ) -> None:
        """Refuse the load extras (``dtype``, ``key_mapping``) asked for that an override written for
        huggingface_hub would hand to an ``__init__`` that provably drops them: the override does not name them,
        and passes its ``**kwargs`` whole to ``cls(...)``, so the framework's base never applies them, and
        ``__init__`` neither names them nor reads them from its ``**kwargs`` (``kwargs.get("dtype")`` does, as
        huggingface_hub lets it). Where what ``__init__``'s ``**kwargs`` do is not known, they go there.

        Raises:
            HubMixinTypeError: before any download, naming the override and the option.
        """
        var_keyword = next((n for n, p in parameters.items() if p.kind is p.VAR_KEYWORD), None)
        if var_keyword is None or has_own_parameter(parameters, "model_kwargs") or not loader_is_own(cls):
            return
        if not passes_on_whole(cls._from_pretrained, var_keyword):
            return
        taken = cls._hub_keyword_parameters()  # (with the framework base's keywords its **kwargs takes)
        read = cls._hub_init_reads() if takes_any_keyword(taken) else frozenset()
        if read is None:
            return
        init = {n for n, p in taken.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)} | read
        defaults = cls._hub_extra_defaults
        stranded = [
            f"{k}={v!r}"
            for k, v in load_kwargs.items()
            if not has_own_parameter(parameters, k)
            and k not in init
            and not cls._hub_init_takes(k)
            and not same_value(v, defaults.get(k))
        ]
        if stranded:
            owner = cls._from_pretrained.__qualname__
            raise HubMixinTypeError(
                f"{cls.__qualname__}.from_pretrained: {', '.join(stranded)} given, but {owner} does not accept it: "
                f"it builds cls(**{var_keyword}) itself, and {cls.__qualname__}.__init__ neither names it nor reads "
                f"it from its **kwargs, so it would be dropped. Name it in that override's parameters and apply it, "
                f"or pass **{var_keyword} on to super()._from_pretrained"
            )

    @classmethod
    def _from_pretrained(cls, *args: Any, **kwargs: Any) -> Self:
        """Build the model and load its weights from ``model_id`` (a local directory or a repo id).

        Implemented by each framework, with either signature (the loader finds out which from the names):

        - ``_from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any],
          **load_extras)``: the download options as one argument and the ``__init__`` arguments as one dict,
          so a model may have ``__init__`` parameters named like any loader option (``revision``, ``dtype``);
        - huggingface_hub's ``_from_pretrained(cls, *, model_id, revision, cache_dir, force_download,
          local_files_only, token, **model_kwargs)`` (plus ``endpoint`` and ``max_workers`` if it names them,
          and ``proxies`` and ``resume_download``, given as ``None``, as older huggingface_hub releases did).

        Either may name ``config`` to receive the loaded configuration, and the framework's load extras; the
        second receives, through its ``**model_kwargs``, the load extras and download options it does not name
        whose value is not their default (``endpoint`` and ``max_workers`` only where its source reads them, or it
        passes them whole to a ``super()._from_pretrained`` taking them: else ``max_workers`` is left out, and an
        ``endpoint`` other than the default Hub refused, its own downloads going to the default Hub). Each
        framework's base ``_from_pretrained`` takes both signatures, so an override written for huggingface_hub may
        forward everything to ``super()._from_pretrained``.
        """
        raise NotImplementedError(
            f"{cls.__qualname__} implements no _from_pretrained: subclass a framework's mixin (hubmixin_torch, "
            "hubmixin_flax, hubmixin_keras), or implement _save_pretrained and _from_pretrained"
        )


def _is_coder(item: tuple[Any, Any]) -> bool:
    """Whether a ``coders=`` entry is a type and an ``(encode, decode)`` pair of callables."""
    key, pair = item
    return (
        isinstance(key, type)
        and isinstance(pair, tuple | list)
        and len(pair) == 2
        and all(callable(function) for function in pair)
    )


def _holds_nul(path: str | os.PathLike[Any]) -> bool:
    """Whether ``path`` holds a NUL character, which no operating system takes in a path."""
    text = os.fspath(path)
    return ("\0" if isinstance(text, str) else b"\0") in text


def _warn_hub_options_ignored(method: str, given: str | os.PathLike[str], download: DownloadOptions) -> None:
    """Warn that the options only a Hub repository has (``revision``, ``force_download``) do nothing for the
    local directory ``given`` (which wins over a repository of the same name)."""
    ignored = [f"revision={download.revision!r}"] if download.revision is not None else []
    ignored += ["force_download=True"] if download.force_download else []
    if ignored:
        warn_user(
            f"{method}: {os.fspath(given)!r} is a local directory, which is loaded as it is: {', '.join(ignored)} "
            "only applies to a Hub repository; to load the Hub's, run from another directory or move that folder",
            UserWarning,
        )


def _unknown_class_keywords(cls: type, given: Mapping[str, Any]) -> HubMixinTypeError:
    """The error for class keywords no class in ``cls``'s bases takes, with the closest one each."""
    known = _class_keywords(cls)
    parts = []
    for name in given:
        guess = closest(name, known)
        parts.append(f"{name!r}" + (f" (did you mean {guess!r}?)" if guess else ""))
    return HubMixinTypeError(
        f"{cls.__qualname__}: unexpected class keyword {', '.join(parts)}; class keywords: {sorted(set(known))}"
    )


def _class_keywords(cls: type) -> list[str]:
    """The keywords the ``__init_subclass__`` hooks of ``cls``'s bases take."""
    known = []
    for base in cls.__mro__[1:]:
        hook = base.__dict__.get("__init_subclass__")
        if hook is None:
            continue
        try:
            parameters = inspect.signature(getattr(hook, "__func__", hook)).parameters.values()
        except (TypeError, ValueError):  # a builtin's (object's takes no keyword)
            continue
        known += [p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY]
    return known


def _check_token(token: object, *, remote: bool = True) -> None:
    """``token`` is a string, ``True``/``False`` or ``None``, as huggingface_hub takes it: anything else would be
    ignored by the client, and the request sent without authentication."""
    if token is not None and not isinstance(token, str | bool):
        raise HubMixinTypeError(f"token must be a string, a bool or None, got {type(token).__name__}")
    if remote and isinstance(token, str) and not token.strip():  # the client would send "Bearer " (an HTTP error)
        raise HubMixinValueError("token is an empty string: pass a token, or None for the one you are logged in with")


def _suggesting(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method``, whose unexpected keywords raise a ``TypeError`` naming the closest parameter."""
    signature = inspect.signature(method)

    @functools.wraps(method)
    def checked(*args: Any, **kwargs: Any) -> Any:
        try:
            signature.bind(*args, **kwargs)
        except TypeError:
            if not args or not isinstance(args[0], ModelHubMixinBase):  # ``MyModel.push_to_hub("me/model")``
                raise HubMixinTypeError(
                    f"{method.__name__} is a method of a model, not of its class: build the model first, then call "
                    f"it on the model (`model = MyModel(...)`, `model.{method.__name__}(...)`)"
                ) from None
            parameters = dict(signature.parameters)
            owner = type(args[0]).__qualname__
            keywords = functools.partial(_class_keywords, type(args[0]))
            check_keywords(f"{owner}.{method.__name__}", kwargs, parameters, parameters, keywords)
            raise
        return method(*args, **kwargs)

    return checked
