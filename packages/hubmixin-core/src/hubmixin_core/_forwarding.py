"""What an ``__init__`` gives its base's ``__init__``: read from its source, so that a load gives back through
``**kwargs`` (and ``*args``) only what reaches the base that way, and never an argument twice. And whether a
``_from_pretrained`` only passes its ``**kwargs`` on, so that the keywords given to ``from_pretrained`` are checked
against ``__init__`` before any download."""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap
import threading
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

__all__ = [
    "SuperCall",
    "builds_from_own_values",
    "builds_with_positional",
    "forwards_whole",
    "keys_read",
    "keywords_read",
    "literal",
    "kwargs_only_passed_on",
    "passes_on_whole",
    "reads_key",
    "super_call",
    "supplied_arguments",
    "wrapper_changes_signature",
]


class SuperCall(NamedTuple):
    """What an ``__init__`` passes to its base's ``__init__`` (``known`` False where its source cannot be read:
    then nothing is taken as passed on)."""

    positional: int
    """Arguments passed by position before any ``*args``."""
    keywords: frozenset[str]
    """Names passed by keyword (``classes=num_labels``)."""
    args: bool
    """Whether ``*args`` is passed on."""
    kwargs: bool
    """Whether ``**kwargs`` is passed on."""
    known: bool = True


_UNKNOWN = SuperCall(0, frozenset(), args=False, kwargs=False, known=False)


_PARSING = threading.Lock()
"""Held while parsing: CPython 3.11's AST constructor keeps a process-wide depth counter, and two threads parsing
at once can make it raise ``SystemError`` (models built in threads)."""


def literal(text: str) -> Any:
    """``ast.literal_eval(text)``, one thread at a time (see :data:`_PARSING`)."""
    with _PARSING:
        return ast.literal_eval(text)


def _source_tree(function: Callable[..., Any]) -> ast.Module | None:
    """The syntax tree of ``function``'s source; ``None`` where it cannot be read (built-in, made at run time)."""
    try:
        source = textwrap.dedent(inspect.getsource(inspect.unwrap(function)))
        with _PARSING:
            return ast.parse(source)
    except (OSError, TypeError, SyntaxError):
        return None


def _function_node(function: Callable[..., Any]) -> ast.FunctionDef | None:
    """The definition of ``function`` in its source's syntax tree; ``None`` where the source cannot be read."""
    tree = _source_tree(function)
    return None if tree is None else next((n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)), None)


@functools.cache
def super_call(init: Callable[..., Any], base: type | None = None) -> SuperCall:
    """What ``init`` passes to its base's ``__init__``: ``super().__init__(...)``, or ``Base.__init__(self, ...)``
    where ``Base`` is ``base`` (the next class in the MRO; another class's ``__init__``, a helper's, is not the
    base's). Unknown where the source cannot be read, where the calls differ (branches), or where a starred
    argument is not the ``*args`` it takes, passed on unchanged and last (``*args[1:]``, ``*reversed(args)``):
    the values ``*args`` took cannot then be named."""
    node = _function_node(init)
    if node is None:
        return _UNKNOWN
    named = _resolved(init, base)
    calls = [
        c
        for c in ast.walk(node)
        if isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute) and _is_base_init(c.func, named)
    ]
    if not calls or len({ast.dump(_given(c)) for c in calls}) > 1:
        return _UNKNOWN
    given = _given(calls[0])
    stars = [i for i, a in enumerate(given.args) if isinstance(a, ast.Starred)]
    varargs = node.args.vararg.arg if node.args.vararg is not None else None
    last = given.args[-1] if given.args else None
    if stars and (stars != [len(given.args) - 1] or not (isinstance(last, ast.Starred) and _is(last.value, varargs))):
        return _UNKNOWN
    return SuperCall(
        len(given.args) - len(stars),
        frozenset(k.arg for k in given.keywords if k.arg is not None),
        args=bool(stars),
        kwargs=any(k.arg is None for k in given.keywords),
    )


def _given(call: ast.Call) -> ast.Call:
    """What ``call`` gives the base's ``__init__`` (without the ``self`` of ``Base.__init__(self, ...)``), as a
    call comparable with another's."""
    args = (
        call.args[1:] if isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name) else call.args
    )
    return ast.Call(func=ast.Name(id="init"), args=args, keywords=call.keywords)


def _is(node: ast.expr, name: str | None) -> bool:
    return name is not None and isinstance(node, ast.Name) and node.id == name


def _resolved(init: Callable[..., Any], base: type | None) -> frozenset[str]:
    """The names under which ``init``'s code reaches the class ``base`` (a global, or a class of an enclosing
    function)."""
    if base is None:
        return frozenset()
    try:
        found = inspect.getclosurevars(inspect.unwrap(init))
    except (TypeError, ValueError):
        return frozenset()
    return frozenset(n for scope in (found.nonlocals, found.globals) for n, v in scope.items() if v is base)


def _is_base_init(func: ast.Attribute, base: frozenset[str]) -> bool:
    """``super().__init__``, ``super(Cls, self).__init__`` or ``Name.__init__`` with ``Name`` one of ``base``."""
    if func.attr != "__init__":
        return False
    owner = func.value
    if isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) and owner.func.id == "super":
        return True
    return isinstance(owner, ast.Name) and owner.id in base


def wrapper_changes_signature(function: Callable[..., Any]) -> bool:
    """Whether a decorator on ``function`` (``functools.wraps``) takes other parameters than the function it wraps
    (transformers' ``@deprecate_kwarg`` renaming a keyword, a wrapper adding ``verbose=``): the wrapped function's
    source and signature then do not say which keywords a call takes. ``True`` where a signature cannot be read."""
    function = getattr(function, "__func__", function)  # (a classmethod's, bound anew at each access)
    while (inner := getattr(function, "__wrapped__", None)) is not None:
        try:
            outer_signature = inspect.signature(function, follow_wrapped=False)
            if not _same_signature(outer_signature, inspect.signature(inner, follow_wrapped=False)):
                return True
        except (TypeError, ValueError):
            return True
        function = inner
    return False


def _same_signature(one: inspect.Signature, other: inspect.Signature) -> bool:
    """``one == other``, with defaults and annotations whose ``==`` is no truth value (a tensor default) compared
    by identity."""
    pairs = list(zip(one.parameters.values(), other.parameters.values(), strict=False))
    return (
        len(one.parameters) == len(other.parameters)
        and _same(one.return_annotation, other.return_annotation)
        and all(
            a.name == b.name and a.kind == b.kind and _same(a.default, b.default) and _same(a.annotation, b.annotation)
            for a, b in pairs
        )
    )


def _same(one: object, other: object) -> bool:
    if one is other:
        return True
    try:
        return bool(one == other)
    except Exception:  # (an array's ==, elementwise: no single truth value)
        return False


def passes_on_whole(method: Callable[..., Any], name: str) -> bool:
    """Whether ``method`` uses its ``**name`` only to pass it on whole to the model's class
    (``cls(**model_kwargs)``): then each keyword in it is an ``__init__`` argument. ``False`` where the method reads
    it (``model_kwargs.pop("device")``: an option of its own), passes it elsewhere (another ``_from_pretrained``,
    which may take options of its own), or its source cannot be read."""
    found = _builds(method)
    return found is not None and found.whole == name and not wrapper_changes_signature(method)


def forwards_whole(
    method: Callable[..., Any], name: str, *, through_wrappers: bool = False, keeping: str | None = None
) -> bool:
    """Whether ``method`` (a ``_from_pretrained``) uses its ``**name`` only to pass it on whole to its base's
    (``super()._from_pretrained(..., **model_kwargs)``, huggingface_hub's integration pattern): then each keyword
    in it is one that loader takes. ``False`` where it reads it, or its source cannot be read, or (unless
    ``through_wrappers``: a keyword's way through, not which keywords are taken) a decorator changes its
    signature. With ``keeping`` (a download option, ``endpoint``), whether that one keyword reaches the base's: it
    may then also read, set or remove other keywords by a constant key (``model_kwargs.pop("compile", False)``,
    ``del model_kwargs["device"]``, ``**{**model_kwargs, "strict": False}``), options of its own; never ``keeping``,
    nor a key it does not name (``model_kwargs.pop(key)``), nor the mapping otherwise (rebound, copied, filtered)."""
    function = getattr(method, "__func__", method)  # (a classmethod's, bound anew at each access)
    if not through_wrappers and wrapper_changes_signature(function):
        return False
    try:
        return _read_forwards(function, name, keeping)
    except TypeError:  # not hashable (a mock's stand-in): nothing to read
        return False


@functools.cache
def _read_forwards(function: Callable[..., Any], name: str, keeping: str | None) -> bool:
    node = _function_node(function)
    if node is None or node.args.kwarg is None or node.args.kwarg.arg != name:
        return False
    calls = [
        c
        for c in ast.walk(node)
        if isinstance(c, ast.Call)
        and isinstance(c.func, ast.Attribute)
        and c.func.attr == "_from_pretrained"
        and _is_super(c.func.value)
    ]
    passed = [k for c in calls for k in c.keywords if k.arg is None and _passed_whole(k.value, name, keeping)]
    uses = [n for n in ast.walk(node) if isinstance(n, ast.Name) and n.id == name]
    own = [] if keeping is None else [n for n in ast.walk(node) if _keyword_read(n, name) not in (None, keeping)]
    return bool(passed) and len(uses) == len(passed) + len(own)


def _passed_whole(value: ast.expr, name: str, keeping: str | None) -> bool:
    """Whether ``value``, given as ``**value``, is the mapping ``name`` or (with ``keeping``) a display of it that
    sets only other keys, by constants (``{**model_kwargs, "strict": False}``): ``keeping`` then comes from ``name``."""
    if _is(value, name):
        return True
    if keeping is None or not isinstance(value, ast.Dict):
        return False
    entries = list(zip(value.keys, value.values, strict=True))
    spread = [v for k, v in entries if k is None]
    keys = [k for k, _ in entries if k is not None]
    return (
        len(spread) == 1
        and _is(spread[0], name)
        and all(isinstance(k, ast.Constant) and isinstance(k.value, str) and k.value != keeping for k in keys)
    )


def reads_key(method: Callable[..., Any], name: str) -> bool | None:
    """Whether the source of ``method`` (through ``functools.wraps`` decorators) reads ``name`` from a dict, as
    from its ``**kwargs`` (``model_kwargs.pop("endpoint")``, ``kwargs["endpoint"]``): the name as a string; a
    keyword of its own calls (``snapshot_download(..., endpoint=MIRROR)``) is no read. ``None`` where its source
    cannot be read (``.pyc`` only, generated code)."""
    function = getattr(method, "__func__", method)  # (a classmethod's, bound anew at each access)
    try:
        return _read_key_reads(function, name)
    except TypeError:  # not hashable (a mock's stand-in): nothing to read
        return None


@functools.cache
def _read_key_reads(function: Callable[..., Any], name: str) -> bool | None:
    node = _function_node(function)
    if node is None:
        return None
    return any(isinstance(n, ast.Constant) and n.value == name for n in ast.walk(node))


@functools.cache
def kwargs_only_passed_on(init: Callable[..., Any]) -> bool:
    """Whether ``init`` uses its ``**kwargs`` only to pass them on whole (``super().__init__(**kwargs)``), never
    reading or popping one (``kwargs.pop("extra")``: a keyword of its own). ``False`` where its source cannot be
    read."""
    node = _function_node(init)
    if node is None or node.args.kwarg is None:
        return False
    name = node.args.kwarg.arg
    passed = [k for c in ast.walk(node) if isinstance(c, ast.Call) for k in c.keywords if k.arg is None]
    uses = [n for n in ast.walk(node) if isinstance(n, ast.Name) and n.id == name]
    return len(uses) == len([k for k in passed if _is(k.value, name)]) > 0


def keywords_read(init: Callable[..., Any]) -> frozenset[str] | None:
    """The keywords ``init`` reads from its ``**kwargs`` where it does nothing else with them (``kwargs.get("dtype")``,
    ``kwargs.pop("dtype")``, ``kwargs["dtype"]``, ``"dtype" in kwargs``): any other keyword is dropped. ``None``
    where that is not known: no ``**kwargs``, other uses (passed on, stored, looped over), or no source to read."""
    try:
        return _read_keywords(init)
    except TypeError:  # not hashable (a mock's stand-in): nothing to read
        return None


@functools.cache
def _read_keywords(init: Callable[..., Any]) -> frozenset[str] | None:
    node = _function_node(init)
    if node is None or node.args.kwarg is None:
        return None
    name = node.args.kwarg.arg
    nodes = list(_own_nodes(node, name))
    uses = [n for n in nodes if isinstance(n, ast.Name) and n.id == name]
    read = [k for n in nodes if (k := _keyword_read(n, name)) is not None]
    return frozenset(read) if len(read) == len(uses) else None


def keys_read(init: Callable[..., Any]) -> frozenset[str]:
    """The keywords ``init`` reads (or sets, or removes) in its ``**kwargs`` by a constant key
    (``kwargs.pop("extra", 0)``), whatever else it does with them (passes them on): keywords of its own. Empty where
    it takes no ``**kwargs`` or its source cannot be read."""
    try:
        return _read_keys(init)
    except TypeError:  # not hashable (a mock's stand-in): nothing to read
        return frozenset()


@functools.cache
def _read_keys(init: Callable[..., Any]) -> frozenset[str]:
    node = _function_node(init)
    if node is None or node.args.kwarg is None:
        return frozenset()
    name = node.args.kwarg.arg
    return frozenset(k for n in _own_nodes(node, name) if (k := _keyword_read(n, name)) is not None)


def _own_nodes(function: ast.FunctionDef, name: str) -> Iterator[ast.AST]:
    """The nodes of ``function``'s body where ``name`` is ``function``'s own: those of the functions, lambdas and
    classes it defines too, unless one takes a parameter of that name (its own ``**kwargs``, another mapping: then
    only its defaults, decorators and annotations); a closure reading ``function``'s reads it."""
    stack: list[ast.AST] = list(function.body)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) and _binds(node.args, name):
            stack.extend(_enclosing_parts(node))
        else:
            stack.extend(ast.iter_child_nodes(node))


def _enclosing_parts(function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> list[ast.AST]:
    """The parts of a function definition that run in the scope defining it: its parameters' defaults (``lambda
    kwargs=kwargs: ...`` reads the enclosing ``kwargs``), decorators and annotations."""
    arguments = function.args
    parts: list[ast.AST | None] = [*arguments.defaults, *arguments.kw_defaults]
    if not isinstance(function, ast.Lambda):
        parts += [*function.decorator_list, function.returns, *(a.annotation for a in _parameters(arguments))]
    return [part for part in parts if part is not None]


def _binds(arguments: ast.arguments, name: str) -> bool:
    """Whether a function with ``arguments`` takes a parameter called ``name``."""
    return any(a.arg == name for a in _parameters(arguments))


def _parameters(arguments: ast.arguments) -> list[ast.arg]:
    """Every parameter of a function with ``arguments``, ``*args`` and ``**kwargs`` included."""
    found = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg]
    return [a for a in found if a is not None]


def _keyword_read(node: ast.AST, name: str) -> str | None:
    """The keyword ``node`` reads (or sets, or removes) in the mapping ``name`` by a constant key, if it does."""
    key: ast.expr | None = None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and _is(node.func.value, name):
        key = node.args[0] if node.func.attr in ("get", "pop", "setdefault") and node.args else None
    elif isinstance(node, ast.Subscript) and _is(node.value, name):
        key = node.slice
    elif isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.In | ast.NotIn):
        key = node.left if _is(node.comparators[0], name) else None
    return key.value if isinstance(key, ast.Constant) and isinstance(key.value, str) else None


def _is_super(node: ast.expr) -> bool:
    """``super()`` or ``super(Cls, cls)``."""
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"


def builds_with_positional(method: Callable[..., Any]) -> bool:
    """Whether ``method`` builds the model's class with positional arguments (``cls(*layers)``): it supplies what
    an ``__init__``'s ``*args`` takes, which config.json cannot hold."""
    found = _builds(method)
    return found is not None and found.positional


def builds_from_own_values(method: Callable[..., Any]) -> bool:
    """Whether ``method`` (a ``_from_pretrained``) builds its class only from values it makes itself (setfit's
    rebuilds the modules it saved, then calls ``cls(model_body=body, ...)``): it calls ``cls(...)`` and never passes
    on to it the arguments or the config it was given (``**model_kwargs``, or a name assigned from them). ``False``
    where it calls no ``cls(...)`` (it may hand them to ``super()._from_pretrained``) or its source cannot be read."""
    found = _builds(method)
    return found is not None and found.own_values


def supplied_arguments(method: Callable[..., Any]) -> frozenset[str]:
    """The ``__init__`` arguments ``method`` (a ``_from_pretrained``) gives ``cls(...)`` by keyword from values it
    makes itself (setfit's ``cls(model_body=body, ...)``, rebuilt from the files it saved): config.json need not hold
    them. Empty where its source cannot be read."""
    found = _builds(method)
    return frozenset() if found is None else found.supplies


class _Builds(NamedTuple):
    whole: str | None
    """The ``**name`` passed on whole to ``cls(...)`` and used nowhere else, if any."""
    positional: bool
    """Whether a ``cls(...)`` call gives positional arguments."""
    own_values: bool
    """Whether it calls ``cls(...)``, never giving it anything of the arguments or config it was given."""
    supplies: frozenset[str]
    """The keywords it gives ``cls(...)`` values of its own (none read from the arguments or config it was given)."""


def _builds(method: Callable[..., Any]) -> _Builds | None:
    """How ``method`` (a classmethod) calls its class, read from its source; ``None`` where it cannot be read."""
    function = getattr(method, "__func__", method)  # (a classmethod's, bound anew at each access)
    try:
        return _read_builds(function)
    except TypeError:  # not hashable (a mock's stand-in): nothing to read
        return None


@functools.cache
def _read_builds(function: Callable[..., Any]) -> _Builds | None:
    tree = _source_tree(function)
    if tree is None:
        return None
    node = next((n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)), None)
    if node is None or not node.args.args:
        return None
    owner = node.args.args[0].arg  # ``cls``
    builds = [
        c for c in ast.walk(tree) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name) and c.func.id == owner
    ]
    name = node.args.kwarg.arg if node.args.kwarg is not None else None  # ``model_kwargs``
    passed = [
        k for c in builds for k in c.keywords if k.arg is None and isinstance(k.value, ast.Name) and k.value.id == name
    ]
    uses = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == name]
    whole = name if passed and len(uses) == len(passed) else None
    parameters = {a.arg for a in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)}
    sources = {n for n in ("model_kwargs", "config") if n in parameters} | ({name} if name is not None else set())
    arguments = _taken_from(tree, sources)  # (hubmixin's signature names ``model_kwargs``; hf's ``**kwargs``)
    given = parameters | arguments | ({node.args.vararg.arg} if node.args.vararg is not None else set())
    values = [v for c in builds for v in (*c.args, *(k.value for k in c.keywords))]
    own_values = bool(builds) and not any(_reads(v) & arguments for v in values)  # (model_kwargs["hidden"] too)
    unsure = arguments | _bound_otherwise(tree) | _mutated_from(tree, arguments)
    supplies = frozenset(
        k.arg for c in builds for k in c.keywords if k.arg is not None and not _reads(k.value) & unsure
    )
    positional = any(not _passed_on(arg, given) for c in builds for arg in c.args)
    return _Builds(whole, positional, own_values, supplies)


def _bound_otherwise(tree: ast.AST) -> set[str]:
    """Names bound other than by ``name = value`` (unpacked, annotated, augmented, loop and ``with`` targets):
    where their values come from is not followed, so they are never taken for the loader's own."""
    targets: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            targets += [t for t in node.targets if not isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.For | ast.AsyncFor | ast.NamedExpr):
            targets.append(node.target)
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            targets.append(node.optional_vars)
    return {n.id for target in targets for n in ast.walk(target) if isinstance(n, ast.Name)}


def _mutated_from(tree: ast.AST, arguments: set[str]) -> set[str]:
    """Names a method call fills from the caller's arguments (``kwargs.update(model_kwargs)``), and the names
    assigned from them."""
    found: set[str] = set()
    while True:
        filled = {
            call.func.value.id
            for call in ast.walk(tree)
            if isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Name)
            and any(_reads(v) & (arguments | found) for v in (*call.args, *(k.value for k in call.keywords)))
        }
        more = _taken_from(tree, filled | found)
        if more <= found:
            return found
        found |= more


def _reads(expression: ast.expr) -> set[str]:
    return {n.id for n in ast.walk(expression) if isinstance(n, ast.Name)}


def _taken_from(tree: ast.AST, sources: set[str]) -> set[str]:
    """``sources`` (the caller's arguments) and the names assigned from them, at any remove
    (``model_args = model_kwargs.pop("model_args", ())``, ``kwargs = dict(model_kwargs)``)."""
    assigns = [a for a in ast.walk(tree) if isinstance(a, ast.Assign)]
    found = set(sources)
    while True:
        more = {
            target.id
            for assign in assigns
            if any(isinstance(n, ast.Name) and n.id in found for n in ast.walk(assign.value))
            for target in assign.targets
            if isinstance(target, ast.Name)
        }
        if more <= found:
            return found
        found |= more


def _passed_on(arg: ast.expr, given: set[str]) -> bool:
    """Whether ``arg`` is ``*name`` of what the loader's caller gave (``cls(*model_args)``), not values the loader
    reads itself (from a file it saved)."""
    return isinstance(arg, ast.Starred) and isinstance(arg.value, ast.Name) and arg.value.id in given
