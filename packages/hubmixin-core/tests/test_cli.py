"""The `hubmixin` console script and its `hubmixin.commands` entry points."""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from hubmixin_core import cli
from hubmixin_core.cli import main

PLUGIN = """
import argparse


def add(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser("hello", help="say hello")
    parser.set_defaults(func=lambda args: print("hello from a plugin") or 0)


def add_fails(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    raise RuntimeError("cannot add")
"""


@pytest.fixture
def plugin_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A distribution `hubmixin-testplugin` on sys.path with one good and two broken sub-commands."""
    (tmp_path / "hubmixin_testplugin.py").write_text(PLUGIN)
    info = tmp_path / "hubmixin_testplugin-0.9.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hubmixin-testplugin\nVersion: 0.9.0\n")
    (info / "entry_points.txt").write_text(
        f"[{cli.GROUP}]\n"
        "hello = hubmixin_testplugin:add\n"
        "missing = hubmixin_no_such_module:add\n"
        "raises = hubmixin_testplugin:add_fails\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "hubmixin_testplugin", raising=False)
    return tmp_path


def test_core_commands_come_from_the_entry_point_group() -> None:
    dists = {ep.name: ep.dist.name if ep.dist else None for ep in metadata.entry_points(group=cli.GROUP)}
    assert dists["env"] == dists["hub"] == "hubmixin-core"
    commands = cli.commands()
    assert commands["env"] is cli._add_env and commands["hub"] is cli._add_hub


def test_env_lists_versions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["env"]) == 0
    out = capsys.readouterr().out
    assert "hubmixin-core: 0.1.0" in out and "huggingface_hub: " in out and "ml_dtypes: " in out
    for framework in ("torch", "jax", "flax", "keras", "tensorflow"):
        assert f"\n{framework}: " in out
    installed = {d.metadata["Name"] for d in importlib.metadata.distributions()}
    if "tensorflow-cpu" in installed and "tensorflow" not in installed:  # the CPU build, under its own name
        assert "\ntensorflow: " in out and "(tensorflow-cpu)" in out


@pytest.mark.usefixtures("plugin_dist")
def test_plugin_commands_are_added_and_broken_ones_skipped(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hello"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "hello from a plugin\n"
    assert "'missing' (hubmixin_no_such_module:add, group hubmixin.commands): ModuleNotFoundError" in captured.err
    assert "'raises': RuntimeError: cannot add" in captured.err
    assert main(["env"]) == 0
    assert "hubmixin-testplugin: 0.9.0" in capsys.readouterr().out


def test_commands_registered_in_process(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def add(subparsers: cli._SubParsers) -> None:
        subparsers.add_parser("inproc").set_defaults(func=lambda args: 7)

    monkeypatch.setattr(cli, "COMMANDS", [add])
    assert main(["inproc"]) == 7
    assert capsys.readouterr().err == ""


def test_console_script_is_installed() -> None:
    script = shutil.which("hubmixin", path=str(Path(sys.executable).parent))
    assert script is not None
    result = subprocess.run([script, "--version"], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "hubmixin 0.1.0"


def test_unknown_command_fails(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["no-such-command"])
    assert info.value.code == 2
