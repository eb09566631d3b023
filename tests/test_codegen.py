"""codegen: the generated public methods follow the spec, and --check catches a stale file."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any, ClassVar

import pytest

from hubmixin_core import ModelHubMixin
from hubmixin_core.errors import HubMixinTypeError
from hubmixin_core.params import DOWNLOAD_PARAMS, SAVE_PARAMS, UPLOAD_PARAMS

ROOT = Path(__file__).parent.parent
GENERATED = sorted(ROOT.glob("packages/*/src/*/_generated/_methods.py"))


def _codegen(root: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codegen", "--root", str(root), *args],
        cwd=root if cwd is None else cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def _copy_sources(tmp: Path) -> Path:
    shutil.copytree(ROOT / "codegen", tmp / "codegen", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp / "pyproject.toml")
    for src in ROOT.glob("packages/*/src"):
        shutil.copytree(src, tmp / src.relative_to(ROOT), ignore=shutil.ignore_patterns("__pycache__"))
    return tmp


def test_generated_files_are_up_to_date() -> None:
    result = _codegen(ROOT, "--check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_spec_change_makes_check_fail_until_regenerated(tmp_path: Path) -> None:
    root = _copy_sources(tmp_path)
    params = root / "packages/hubmixin-core/src/hubmixin_core/params.py"
    text = params.read_text()
    old_doc = "How many files (weight shards) to download in parallel."
    assert old_doc in text and '"max_workers",\n        "int",\n        "8",' in text
    text = text.replace(old_doc, "Parallel downloads, changed by the test.")
    params.write_text(
        text.replace('"max_workers",\n        "int",\n        "8",', '"max_workers",\n        "int",\n        "3",')
    )

    stale = _codegen(root, "--check")
    assert stale.returncode == 1
    generated = sorted(p.relative_to(root).as_posix() for p in root.glob("packages/*/src/*/_generated/_methods.py"))
    assert len(generated) >= 2  # core and at least one framework package
    for rel in generated:
        assert f"+++ b/{rel}" in stale.stdout
    assert "+            Parallel downloads, changed by the test." in stale.stdout
    added = {line[1:].strip() for line in stale.stdout.splitlines() if line.startswith("+")}
    assert "max_workers: int = 3," in added

    assert _codegen(root).returncode == 0
    for rel in generated:
        body = (root / rel).read_text()
        assert "Parallel downloads, changed by the test." in body and "max_workers: int = 3," in body
    assert _codegen(root, "--check").returncode == 0


def test_another_roots_spec_is_the_one_generated_from(tmp_path: Path) -> None:
    root = _copy_sources(tmp_path)
    params = root / "packages/hubmixin-core/src/hubmixin_core/params.py"
    text = params.read_text()
    default = '"max_workers",\n        "int",\n        "{}",'
    params.write_text(text.replace(default.format(8), default.format(5)))
    assert _codegen(root, "--check", cwd=ROOT).returncode == 1  # run from this checkout: stale there
    assert _codegen(root, cwd=ROOT).returncode == 0
    torch_methods = root / "packages/hubmixin-torch/src/hubmixin_torch/_generated/_methods.py"
    assert "max_workers: int = 5," in torch_methods.read_text()


def test_generated_files_carry_the_header() -> None:
    from codegen._targets import render_all

    targets = render_all(ROOT)
    assert {t.path.name for t in targets} == {"__init__.py", "_methods.py", "_options.py"}
    for target in targets:
        head = " ".join(target.path.read_text().split('"""')[0].split())
        assert head.startswith("# DO NOT EDIT: generated from hubmixin_core/params.py"), target.path
        assert "by `python -m codegen`" in head, target.path
        package = target.path.parent.parent.name
        assert (f"{package}/_extras.py" in head) == (package != "hubmixin_core"), target.path


def test_shared_parameter_docs_are_written_only_in_the_spec() -> None:
    docs = {p.doc[:60] for p in (*DOWNLOAD_PARAMS, *UPLOAD_PARAMS, *SAVE_PARAMS)}
    hand_written = [
        p for p in ROOT.glob("packages/*/src/**/*.py") if "_generated" not in p.parts and p.name != "params.py"
    ]
    assert hand_written
    for path in hand_written:
        text = " ".join(path.read_text().split())
        for doc in docs:
            assert " ".join(doc.split()) not in text, f"{path} repeats the doc of a shared parameter"
    generated = " ".join(GENERATED[0].read_text().split())
    for doc in docs:
        assert " ".join(doc.split())[:40] in generated


_CLASHING = """
from hubmixin_core.params import FrameworkExtras, Param

EXTRAS = FrameworkExtras(
    package="hubmixin_foo",
    class_name="FooModelHubMixinMethods",
    base="hubmixin_foo._impl:FooHubMixinBase",
    load=(Param({name!r}, "int", "0", "An option."),),
)
"""


_RESERVED = ["push_to_hub_kwargs", "init_kwargs", "model_id", "download", "proxies", "UploadOptions"]
"""Names of the generated methods' own ``**`` parameters, the keywords core's loader passes ``_from_pretrained``
beside the load extras, and a name the generated bodies call."""


@pytest.mark.parametrize(
    ("name", "why"),
    [("token", "already a parameter"), ("class", "not a Python parameter")]
    + [(name, "already a parameter") for name in _RESERVED],
)
def test_an_extra_named_like_a_parameter_is_refused(name: str, why: str, tmp_path: Path) -> None:
    from codegen._targets import load_extras

    (tmp_path / "_extras.py").write_text(_CLASHING.format(name=name))
    with pytest.raises(ValueError, match=why) as caught:
        load_extras(tmp_path / "_extras.py")
    assert repr(name) in str(caught.value) and "_extras.py" in str(caught.value)


def _documented(function: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, str]:
    """``name: annotation`` of each Args entry of a generated method's docstring (``**name`` for ``**kwargs``); a
    head too long for a line continues on the next ones, up to its closing ``):``."""
    doc = ast.get_docstring(function) or ""
    args = doc.split("Args:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    heads = []
    for i, line in enumerate(args):
        if line.startswith("    ") and not line.startswith("        "):
            end = next(j for j in range(i, len(args)) if args[j].endswith("):"))
            heads.append(" ".join(" ".join(args[i : end + 1]).split()))
    return {head.split(" (`")[0]: head.split(" (`")[1].split("`")[0] for head in heads}


def _generated_methods(path: Path) -> list[ast.FunctionDef]:
    """The public methods of a generated module that carry a docstring (implementations, not overloads)."""
    return [
        node
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_") and ast.get_docstring(node)
    ]


@pytest.mark.parametrize("path", GENERATED, ids=lambda p: p.parts[-3])
def test_every_parameter_is_documented_once_with_its_annotation(path: Path) -> None:
    methods = _generated_methods(path)
    assert {m.name for m in methods} == {"save_pretrained", "from_pretrained", "push_to_hub"}
    for method in methods:
        arguments = method.args
        expected = {
            a.arg: ast.unparse(a.annotation) for a in [*arguments.args[1:], *arguments.kwonlyargs] if a.annotation
        }
        if arguments.kwarg is not None and arguments.kwarg.annotation is not None:
            expected[f"**{arguments.kwarg.arg}"] = ast.unparse(arguments.kwarg.annotation)
        documented = _documented(method)
        missing = {k: v for k, v in expected.items() if documented.get(k) != v}
        assert not missing, f"{method.name} (line {method.lineno}): {missing} not documented as annotated"
    runtime = [m for m in methods if m.name == "from_pretrained" and m.args.kwarg is not None]
    assert len(runtime) == 1 and "**init_kwargs" in _documented(runtime[0])


_DOC = r'Layers named like `^blocks\.\d+\.` (a regex, C:\new), shown as """quoted""" or """" text; ends with \ '
_DEFAULT = r'"^a\\.b"'
"""A default is source text (a string literal holding a backslash)."""


def _docstrings(text: str) -> list[str]:
    """The docstrings of the classes and functions of ``text``, whitespace collapsed; an invalid escape fails."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an invalid escape sequence is a SyntaxWarning
        tree = ast.parse(text)
    nodes = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)]
    return [" ".join((ast.get_docstring(n) or "").split()) for n in nodes]


def test_doc_text_is_written_faithfully() -> None:
    from codegen._render import _options_class, render_facade
    from hubmixin_core.params import FrameworkExtras, Param

    param = Param("layer_filter", "str | None", _DEFAULT, _DOC)
    extras = FrameworkExtras("hubmixin_fake", "FakeMethods", "hubmixin_core._base:ModelHubMixinBase", load=(param,))
    doc = " ".join(_DOC.split())
    facade = _docstrings(render_facade(extras))
    assert sum(doc in d and f"defaults to `{_DEFAULT}`" in d for d in facade) == 2  # both from_pretrained
    options = _docstrings("\n".join(_options_class("Opts", _DOC, (param,))))
    assert options[0].startswith(doc) and options[0].count(doc) == 2  # the summary and the attribute


_URL = "https://huggingface.co/docs/huggingface_hub/main/en/package_reference/environment_variables#hf_hub_enable_hf_transfer"
_REGEX = (
    r"^(encoder|decoder)\.layers\.(\d+)\.(self_attn|cross_attn)\.(q_proj|k_proj|v_proj|o_proj)\.(weight|bias)$_and\w+"
)
_LONG = (
    "Sharding | Mesh | Mapping[str, Sharding | PartitionSpec | None] | Callable[[str], Sharding | PartitionSpec | None]"
    " | None"
)
"""Flax's ``sharding`` annotation without its alias: a docstring head longer than a line."""


def test_a_long_annotation_renders_a_head_continued_on_the_next_line_and_passes_ruff() -> None:
    from codegen.__main__ import _ruff, format_source
    from codegen._render import render_facade
    from hubmixin_core.params import FrameworkExtras, Param

    imports = ("from collections.abc import Callable", "from jax.sharding import Mesh, PartitionSpec, Sharding")
    name = "a_forty_seven_character_long_extra_name_for_fw"
    extras = FrameworkExtras(
        "hubmixin_foo",
        "FooMethods",
        "hubmixin_core._base:ModelHubMixinBase",
        load=(Param(name, _LONG, "None", "Where.", imports),),
        save=(Param("placement", _LONG, "None", "Where.", imports),),
    )
    path = ROOT / "packages/hubmixin-foo/src/hubmixin_foo/_generated/_methods.py"
    text = format_source(render_facade(extras), path, ROOT)
    common = ["--config", str(ROOT / "pyproject.toml"), "--stdin-filename", str(path), "-"]
    lint = subprocess.run([_ruff(), "check", *common], input=text, capture_output=True, text=True, check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    methods = [n for n in ast.walk(ast.parse(text)) if isinstance(n, ast.FunctionDef) and ast.get_docstring(n)]
    assert len(methods) == 4  # save_pretrained, from_pretrained twice, push_to_hub
    for method in methods:
        documented = _documented(method)
        assert documented.get(name, documented.get("placement")) == _LONG


def test_a_token_longer_than_a_line_is_kept_whole() -> None:
    from codegen._render import render_facade
    from hubmixin_core.params import FrameworkExtras, Param

    docs = {"url_opt": f"See {_URL} for details.", "regex_opt": f"Keys like {_REGEX} (a \\ at a line's end)."}
    params = tuple(Param(name, "str | None", "None", doc) for name, doc in docs.items())
    extras = FrameworkExtras("hubmixin_foo", "FooMethods", "hubmixin_core._base:ModelHubMixinBase", load=params)
    loaders = [d for d in _docstrings(render_facade(extras)) if "url_opt" in d]
    assert len(loaders) == 2
    for doc in docs.values():
        assert all(" ".join(doc.split()) in loader for loader in loaders), doc


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("base", "hubmixin_foo._impl.FooHubMixinBase"),
        ("base", "hubmixin_foo._impl:Foo.Base"),
        ("base", "hubmixin-foo._impl:FooHubMixinBase"),
        ("class_name", "Foo Methods"),
        ("class_name", "class"),
        ("package", "hubmixin-foo"),
    ],
)
def test_a_malformed_declaration_is_refused_naming_the_extras_file(field: str, value: str, tmp_path: Path) -> None:
    from codegen._targets import load_extras

    declared = {"package": "hubmixin_foo", "class_name": "FooMethods", "base": "hubmixin_foo._impl:FooBase"}
    arguments = ", ".join(f"{k}={v!r}" for k, v in {**declared, field: value}.items())
    (tmp_path / "_extras.py").write_text(
        f"from hubmixin_core.params import FrameworkExtras\n\nEXTRAS = FrameworkExtras({arguments})\n"
    )
    with pytest.raises(ValueError, match=field) as caught:
        load_extras(tmp_path / "_extras.py")
    assert str(caught.value).startswith(f"{tmp_path / '_extras.py'}: ") and repr(value) in str(caught.value)


def test_a_rendering_ruff_rejects_fails_with_ruffs_message() -> None:
    from codegen.__main__ import format_source

    path = ROOT / "packages/hubmixin-foo/src/hubmixin_foo/_generated/_methods.py"
    with pytest.raises(SystemExit) as caught:
        format_source("class Foo Methods:\n    pass\n", path, ROOT)
    message = str(caught.value)
    assert str(path) in message and "ruff format" in message and "parse" in message.lower()
    with pytest.raises(SystemExit) as caught:
        format_source(f"X = 1  # {'x ' * 80}\n", path, ROOT)
    assert "ruff check" in str(caught.value) and "E501" in str(caught.value)


_OVERRIDE = textwrap.dedent(
    """
    import os, tempfile, warnings
    from typing import Any, Self
    from torch import nn
    import hubmixin_core
    from hubmixin_core.errors import WeightsKeyError
    from hubmixin_torch import PyTorchModelHubMixin

    assert hubmixin_core.__file__.startswith(os.getcwd()), hubmixin_core.__file__
    warnings.simplefilter("ignore")

    class Small(nn.Module, PyTorchModelHubMixin):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(2, 2)

    class Big(Small):  # one layer more than the checkpoint holds
        def __init__(self) -> None:
            super().__init__()
            self.b = nn.Linear(2, 2)

    class BigOverride(Big):  # the override docs/integrating.md shows
        @classmethod
        def _from_pretrained(cls, **kwargs: Any) -> Self:
            return super()._from_pretrained(**kwargs)

    with tempfile.TemporaryDirectory() as tmp:
        Small().save_pretrained(tmp)
        for model in (Big, BigOverride):
            try:
                model.from_pretrained(tmp)
                print(model.__name__, "loaded")
            except WeightsKeyError:
                print(model.__name__, "strict")
    """
)


def test_a_spec_default_change_reaches_an_override_leaving_the_extra_to_its_base(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    root = _copy_sources(tmp_path)
    params = root / "packages/hubmixin-core/src/hubmixin_core/params.py"
    head, tail = params.read_text().split("STRICT = Param(", 1)
    params.write_text(head + "STRICT = Param(" + tail.replace('    "False",', '    "True",', 1))
    assert _codegen(root).returncode == 0
    (root / "user.py").write_text(_OVERRIDE)
    path = ":".join(str(root / f"packages/hubmixin-{p}/src") for p in ("core", "torch"))
    result = subprocess.run(
        [sys.executable, "user.py"], cwd=root, env={"PYTHONPATH": path}, capture_output=True, text=True, check=False
    )
    assert result.stdout.split() == ["Big", "strict", "BigOverride", "strict"], result.stdout + result.stderr[-3000:]


class _HfPush(ModelHubMixin):
    """Its ``push_to_hub`` has huggingface_hub's signature (without hubmixin's ``endpoint`` and save extras)."""

    pushed: ClassVar[list[dict[str, Any]]] = []

    def _save_pretrained(self, save_directory: Path) -> None:
        (save_directory / "weights.bin").write_bytes(b"")

    def push_to_hub(  # type: ignore[override]
        self,
        repo_id: str,
        *,
        config: dict[str, Any] | None = None,
        commit_message: str = "Push model using huggingface_hub.",
        private: bool | None = None,
        token: str | None = None,
        branch: str | None = None,
        create_pr: bool | None = None,
        allow_patterns: list[str] | str | None = None,
        ignore_patterns: list[str] | str | None = None,
        delete_patterns: list[str] | str | None = None,
        model_card_kwargs: dict[str, Any] | None = None,
    ) -> str:
        self.pushed.append({"repo_id": repo_id, "commit_message": commit_message})
        return "pushed"


def test_a_typed_option_a_push_to_hub_override_does_not_take_is_refused_before_saving(tmp_path: Path) -> None:
    target = tmp_path / "m"
    with pytest.raises(HubMixinTypeError, match=r"endpoint= given with push_to_hub=True, but _HfPush\.push_to_hub"):
        _HfPush().save_pretrained(target, push_to_hub=True, repo_id="u/m", endpoint="http://localhost:9")
    assert not target.exists()
    assert _HfPush().save_pretrained(target, push_to_hub=True, repo_id="u/m", commit_message="c") == "pushed"
    assert _HfPush.pushed == [{"repo_id": "u/m", "commit_message": "c"}]


def test_a_save_extra_a_push_to_hub_override_does_not_take_is_refused_before_saving(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    import torch

    from hubmixin_torch import PyTorchModelHubMixin

    class Net(torch.nn.Module, PyTorchModelHubMixin):
        def __init__(self) -> None:
            super().__init__()
            self.fc = torch.nn.Linear(2, 2)

        push_to_hub = _HfPush.push_to_hub  # type: ignore[assignment]

    target = tmp_path / "m"
    for option in ({"dtype": torch.float16}, {"max_shard_size": "1MB"}):
        with pytest.raises(HubMixinTypeError, match=rf"{next(iter(option))}= given with push_to_hub=True"):
            Net().save_pretrained(target, push_to_hub=True, repo_id="u/m", **option)
        assert not target.exists()


def test_a_module_left_in_a_generated_folder_fails_the_check_until_removed(tmp_path: Path) -> None:
    root = _copy_sources(tmp_path)
    stray = root / "packages/hubmixin-torch/src/hubmixin_torch/_generated/_methods_old.py"
    stray.write_text("x = 1\n")
    checked = _codegen(root, "--check")
    assert checked.returncode == 1
    assert "packages/hubmixin-torch/src/hubmixin_torch/_generated/_methods_old.py" in checked.stdout
    assert stray.exists()  # (a check changes nothing)
    assert _codegen(root).returncode == 0 and not stray.exists()
    assert _codegen(root, "--check").returncode == 0
