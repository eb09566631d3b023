"""Rendering of the generated modules' source text from the parameter spec."""

from __future__ import annotations

import textwrap

from hubmixin_core.params import (
    ARGUMENT_DOCS,
    DOWNLOAD_PARAMS,
    METHOD_DOCS,
    SAVE_PARAMS,
    SPEC_VERSION,
    UPLOAD_PARAMS,
    FrameworkExtras,
    Param,
)

__all__ = ["header", "render_facade", "render_options"]


def header(package: str) -> str:
    """The comment opening each generated file of ``package``: the generator and the files it is generated from."""
    spec = f"hubmixin_core/params.py (spec version {SPEC_VERSION})"
    if package == "hubmixin_core":
        return (
            f"# DO NOT EDIT: generated from {spec} by `python -m codegen`.\n"
            "# Change the spec, then run `python -m codegen` from the repository root.\n"
        )
    return (
        f"# DO NOT EDIT: generated from {spec} and {package}/_extras.py\n"
        "# by `python -m codegen`. Change either, then run `python -m codegen` from the repository root.\n"
    )


_WIDTH = 120


def _escaped(text: str) -> str:
    """``text`` as the source of a (non-raw) docstring that reads back as ``text``: backslashes doubled, and
    triple quotes, which would end the docstring, escaped. Neither contains a space, so wrapping keeps them whole."""
    return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def _wrapped(text: str, width: int, indent: str = "", hanging: str = "") -> list[str]:
    """Docstring source lines of ``text`` at most ``width`` characters long, ``indent`` (and on all but the first
    line ``hanging``) included; a token longer than that (a URL, a regular expression) is kept whole on a line of
    its own (E501 exempts such a line)."""
    return textwrap.wrap(
        _escaped(text),
        width,
        initial_indent=indent,
        subsequent_indent=indent + hanging,
        break_long_words=False,
        break_on_hyphens=False,
    )


def _doc_lines(name: str, annotation: str, default: str | None, doc: str, indent: str) -> list[str]:
    """An Args entry: ``name (`annotation`, *optional*, defaults to `default`):`` (continued at the doc's indent
    where too long for a line), then the doc."""
    optional = "" if default is None else f", *optional*, defaults to `{default}`"
    head = _wrapped(f"{name} (`{annotation}`{optional}):", _WIDTH, indent, _LEVEL)
    return [*head, *(f"{indent}    {line}" for line in _wrapped(doc, _WIDTH - len(indent) - 4))]


_MAPPING = "from collections.abc import Mapping"


def _imports(params: tuple[Param, ...]) -> list[str]:
    return sorted({line for p in params for line in p.imports})


# OPTIONS


def _options_class(name: str, summary: str, params: tuple[Param, ...]) -> list[str]:
    lines = [
        "",
        "",
        "@dataclass(frozen=True, kw_only=True)",
        f"class {name}:",
        f'    """{_escaped(summary)}',
        "",
        "    Attributes:",
    ]
    for p in params:
        lines += _doc_lines(p.name, p.annotation, p.default, p.doc, " " * 8)
    lines.append('    """')
    lines.append("")
    for p in params:
        default = f"field(default={p.default}, repr=False)" if p.secret else p.default
        lines.append(f"    {p.name}: {p.annotation} = {default}")
    return lines


def render_options() -> str:
    """``hubmixin_core/_generated/_options.py``: the option bundles the runtime passes around."""
    upload = tuple(p for p in UPLOAD_PARAMS)
    lines = [
        header("hubmixin_core").rstrip("\n"),
        '"""Option bundles of the shared download and upload parameters."""',
        "",
        "from __future__ import annotations",
        "",
        "from dataclasses import dataclass, field",
        *_imports(DOWNLOAD_PARAMS + upload),
        "",
        '__all__ = ["DownloadOptions", "UploadOptions"]',
    ]
    lines += _options_class("DownloadOptions", "Where and how `from_pretrained` downloads files.", DOWNLOAD_PARAMS)
    lines += _options_class("UploadOptions", "Where and how `push_to_hub` uploads a model.", upload)
    return "\n".join(lines) + "\n"


# FACADES


def _signature(params: tuple[Param, ...], overrides: dict[str, str] | None = None) -> list[str]:
    overrides = overrides or {}
    out = []
    for p in params:
        if p.name in overrides:
            out.append(f"        {p.name}: {overrides[p.name]},")
        else:
            out.append(f"        {p.name}: {p.annotation} = {p.default},")
    return out


_BODY = " " * 8
"""Indentation of a method's body; a method declared under ``if TYPE_CHECKING:`` adds ``_LEVEL``."""
_LEVEL = " " * 4


def _args_doc(
    positional: list[tuple[str, str]],
    params: tuple[Param, ...],
    tail: list[tuple[str, str, str | None]],
    body: str = _BODY,
) -> list[str]:
    """The Args section: ``positional`` (name, annotation), ``params``, then ``tail`` (name, annotation, default)."""
    indent = body + _LEVEL
    lines = ["", f"{body}Args:"]
    for name, annotation in positional:
        lines += _doc_lines(name, annotation, None, ARGUMENT_DOCS[name], indent)
    for p in params:
        lines += _doc_lines(p.name, p.annotation, p.default, p.doc, indent)
    for name, annotation, default in tail:
        lines += _doc_lines(name, annotation, default, ARGUMENT_DOCS[name.lstrip("*")], indent)
    return lines


def _method_doc(method: str, args: list[str], body: str = _BODY) -> list[str]:
    summary, returns, raises = METHOD_DOCS[method]
    indent = body + _LEVEL
    lines = [f'{body}"""{_escaped(summary)}', *args, "", f"{body}Returns:"]
    lines += [f"{indent}{line}" for line in _wrapped(returns, _WIDTH - len(indent))]
    lines += ["", f"{body}Raises:"]
    for error, when in raises:
        wrapped = _wrapped(f"{error}: {when}", _WIDTH - len(indent) - 4)
        lines += [f"{indent}{wrapped[0]}", *(f"{indent}{_LEVEL}{line}" for line in wrapped[1:])]
    lines.append(f'{body}"""')
    return lines


def _kwargs(params: tuple[Param, ...]) -> str:
    return ", ".join(f"{p.name}={p.name}" for p in params)


def _dict(params: tuple[Param, ...]) -> str:
    return "{" + ", ".join(f'"{p.name}": {p.name}' for p in params) + "}"


_PUSH_KWARGS = "        **push_to_hub_kwargs: Any,"
"""In the implementation only: the overloads, which type checkers see, flag any keyword they do not name."""


def _save_pretrained(extras: FrameworkExtras) -> list[str]:
    upload = UPLOAD_PARAMS[:1] + SAVE_PARAMS + UPLOAD_PARAMS[1:] + extras.save
    head = "    def save_pretrained(\n        self,\n        save_directory: str | Path,\n        *,"
    lines: list[str] = []
    for literal, returns in (("Literal[False] = False", "None"), ("Literal[True]", "CommitInfo")):
        lines += [
            "",
            "    @overload",
            head,
            *_signature(upload, {"push_to_hub": literal}),
            f"    ) -> {returns}: ...",
        ]
    lines += ["", "    @overload", head, *_signature(upload), "    ) -> CommitInfo | None: ..."]
    lines += ["", head, *_signature(upload), _PUSH_KWARGS, "    ) -> CommitInfo | None:"]
    args = _args_doc([("save_directory", "str | Path")], upload, [("**push_to_hub_kwargs", "Any", None)])
    lines += _method_doc("save_pretrained", args)
    lines += [
        "        return self._hub_save(",
        "            save_directory,",
        "            repo_id=repo_id,",
        "            push_to_hub=push_to_hub,",
        f"            upload=UploadOptions({_kwargs(UPLOAD_PARAMS)}),",
        f"            save_kwargs={_dict(extras.save)},",
        "            push_kwargs=push_to_hub_kwargs,",
        "        )",
    ]
    return lines


def _push_to_hub(extras: FrameworkExtras) -> list[str]:
    params = UPLOAD_PARAMS + extras.save
    lines = [
        "",
        "    def push_to_hub(",
        "        self,",
        "        repo_id: str,",
        "        *,",
        *_signature(params),
    ]
    lines += ["    ) -> CommitInfo:"]
    lines += _method_doc("push_to_hub", _args_doc([("repo_id", "str")], params, []))
    lines += [
        "        return self._hub_push(",
        "            repo_id,",
        f"            upload=UploadOptions({_kwargs(UPLOAD_PARAMS)}),",
        f"            save_kwargs={_dict(extras.save)},",
        "        )",
    ]
    return lines


_MODEL_KWARGS = "Mapping[str, Any] | None"


def _from_pretrained_declaration(params: tuple[Param, ...], init_kwargs: bool) -> list[str]:
    """``from_pretrained``'s decorator, signature and docstring, one level deeper than a method's (under an ``if``)."""
    lines = ["", "        @classmethod", "        def from_pretrained(", "            cls,"]
    lines += ["            pretrained_model_name_or_path: str | Path,", "            *,"]
    lines += [f"{_LEVEL}{line}" for line in _signature(params)]
    lines += [f"            model_kwargs: {_MODEL_KWARGS} = None,"]
    lines += ["            **init_kwargs: Any,"] if init_kwargs else []
    lines += ["        ) -> Self:"]
    tail = [("model_kwargs", _MODEL_KWARGS, "None"), ("**init_kwargs", "Any", None)]
    args = _args_doc([("pretrained_model_name_or_path", "str | Path")], params, tail, _BODY + _LEVEL)
    return lines + _method_doc("from_pretrained", args, _BODY + _LEVEL)


def _from_pretrained(extras: FrameworkExtras) -> list[str]:
    """Type checkers see ``from_pretrained`` without ``**init_kwargs`` (a keyword that is no option is an error
    whatever its value's type, ``Any`` too, and a TypedDict of options unpacks into it); run time keeps them."""
    params = DOWNLOAD_PARAMS + extras.load
    lines = ["", "    if TYPE_CHECKING:  # no **init_kwargs: a keyword that is no option is a type error"]
    lines += [*_from_pretrained_declaration(params, init_kwargs=False), "            ..."]
    lines += ["", "    else:  # __init__ arguments given as keywords are accepted, as huggingface_hub accepts them"]
    lines += _from_pretrained_declaration(params, init_kwargs=True)
    lines += [
        "            return cls._hub_load(",
        "                pretrained_model_name_or_path,",
        f"                download=DownloadOptions({_kwargs(DOWNLOAD_PARAMS)}),",
        f"                load_kwargs={_dict(extras.load)},",
        "                model_kwargs=cls._hub_model_kwargs(model_kwargs, init_kwargs),",
        "            )",
    ]
    return lines


def render_facade(extras: FrameworkExtras) -> str:
    """The ``_generated/_methods.py`` of one package: its public methods, forwarding to the base class."""
    module, base = extras.base.split(":")
    params = DOWNLOAD_PARAMS + UPLOAD_PARAMS + extras.load + extras.save
    lines = [
        header(extras.package).rstrip("\n"),
        f'"""Typed public methods of `{extras.package}`, generated from the shared parameter spec."""',
        "",
        "from __future__ import annotations",
        "",
        "from pathlib import Path",
        "from typing import TYPE_CHECKING, Any, "
        f"{'ClassVar, ' if extras.load + extras.save + extras.runtime_args else ''}Literal, Self, overload",
        "",
        "from huggingface_hub import CommitInfo",
        "",
        *sorted({*_imports(params), _MAPPING}),
        "from hubmixin_core._generated._options import DownloadOptions, UploadOptions",
        f"from {module} import {base}",
        "",
        f'__all__ = ["{extras.class_name}"]',
        "",
        "",
        f"class {extras.class_name}({base}):",
        f'    """The public `save_pretrained`, `from_pretrained` and `push_to_hub` of `{extras.package}`."""',
    ]
    extra = extras.load + extras.save
    if extra:
        defaults: dict[str, str] = {}
        for p in extra:  # a load and a save extra may share a name (``dtype``), not a default
            if defaults.setdefault(p.name, p.default) != p.default:
                clash = f"{defaults[p.name]} and {p.default}"
                raise ValueError(f"{extras.package}: extra {p.name!r} has two defaults, {clash}")
        joined = ", ".join(f'"{name}": {default}' for name, default in defaults.items())
        lines += ["", f"    _hub_extra_defaults: ClassVar[dict[str, Any]] = {{{joined}}}"]
    if extras.runtime_args:
        names = ", ".join(f'"{name}"' for name in extras.runtime_args)
        lines += ["", f"    _hub_mixin_runtime_args: ClassVar[frozenset[str]] = frozenset({{{names}}})"]
    lines += _save_pretrained(extras) + _from_pretrained(extras) + _push_to_hub(extras)
    return "\n".join(lines) + "\n"
