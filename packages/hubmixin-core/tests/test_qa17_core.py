"""Entries that are there but are not files, writes beside a model during its load, paths no OS takes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Self

import pytest
from core_models import MLP
from huggingface_hub import HfApi

from hubmixin_core import DownloadOptions
from hubmixin_core.errors import ConfigError, HubMixinValueError, SaveLocationError, ShardIndexError, WeightsError
from hubmixin_core.testing import LocalHub


@pytest.mark.parametrize("entry", ["directory", "dangling link"])
def test_a_config_that_is_not_a_file_is_an_error_not_the_defaults(tmp_path: Path, entry: str) -> None:
    MLP(hidden=6, seed=1).save_pretrained(tmp_path)
    config = tmp_path / "config.json"
    config.unlink()
    if entry == "directory":
        config.mkdir()
    else:
        config.symlink_to(tmp_path / "gone.json")
    with pytest.raises(
        ConfigError, match=rf"{config}: not a file \(a {'directory' if entry == 'directory' else 'link'}"
    ):
        MLP.from_pretrained(tmp_path)  # (not MLP(hidden=8) silently, with the checkpoint's weights refused)


class LogsWhileLoading(MLP):
    """Appends to a log beside its weights while it loads, as a training run logging into its folder would."""

    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        with (Path(model_id) / "train_log.jsonl").open("a") as log:
            log.write('{"loss": 0.1}\n')
        return super()._from_pretrained(model_id=model_id, download=download, model_kwargs=model_kwargs)


def test_a_file_written_in_place_beside_the_model_does_not_make_its_load_start_again(tmp_path: Path) -> None:
    model = LogsWhileLoading(seed=2)
    model.save_pretrained(tmp_path)
    (tmp_path / "train_log.jsonl").write_text("")
    loaded = LogsWhileLoading.from_pretrained(tmp_path)  # (was: "changed while it was read, 5 times in a row")
    assert (loaded.weights["fc1.weight"] == model.weights["fc1.weight"]).all()
    assert len((tmp_path / "train_log.jsonl").read_text().splitlines()) == 1  # read once, not again


def test_a_save_landing_during_a_load_still_makes_it_read_again(tmp_path: Path) -> None:
    from hubmixin_core._atomic import save_stamp
    from hubmixin_core.weights._names import replaced_by_save

    MLP(seed=1).save_pretrained(tmp_path)
    (tmp_path / "notes.txt").write_text("a user's")
    before = save_stamp(tmp_path, replaced_by_save)
    with (tmp_path / "notes.txt").open("a") as notes:
        notes.write("appended in place")
    assert save_stamp(tmp_path, replaced_by_save) == before
    MLP(seed=2).save_pretrained(tmp_path)
    assert save_stamp(tmp_path, replaced_by_save) != before


def test_an_empty_weight_map_is_named_as_empty(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": {}}))
    with pytest.raises(ShardIndexError, match=r"'weight_map' is empty: it names no tensor"):
        MLP.from_pretrained(tmp_path)


def test_a_path_holding_a_nul_character_is_a_typed_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(HubMixinValueError, match=r"save_directory '.*a\\x00b' holds a NUL character"):
        MLP().save_pretrained(f"{tmp_path}/a\0b")
    with pytest.raises(HubMixinValueError, match=r"pretrained_model_name_or_path '.*a\\x00b' holds a NUL"):
        MLP.from_pretrained(f"{tmp_path}/a\0b")


def test_saving_into_a_loop_of_links_says_so(tmp_path: Path) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(SaveLocationError, match="a loop of symbolic links") as raised:
        MLP().save_pretrained(loop)
    assert raised.value.errno == 40 or os.name != "posix"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loop"]


def test_saving_below_a_loop_of_links_names_it(tmp_path: Path) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(SaveLocationError, match=f"its parent {loop} is a loop of symbolic links"):
        MLP().save_pretrained(loop / "model")


def test_pattern_tuples_are_taken_as_lists(local_hub: LocalHub) -> None:
    ignore = ("README.md",)
    MLP(seed=1).push_to_hub(
        "localuser/tuples",
        ignore_patterns=ignore,  # type: ignore[arg-type]  # (an untyped caller's tuple)
        delete_patterns=("*.bin",),  # type: ignore[arg-type]
    )
    assert "README.md" not in HfApi().list_repo_files("localuser/tuples") and ignore == ("README.md",)


def test_a_tensor_named_like_the_headers_metadata_is_refused_before_writing(tmp_path: Path) -> None:
    model = MLP()
    model.weights = {**model.weights, "__metadata__": model.weights["fc1.bias"]}
    with pytest.raises(WeightsError, match=r"cannot save tensor '__metadata__': safetensors keeps that name"):
        model.save_pretrained(tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_scan_a_save_keeps_cutting_short_equals_no_other_stamp(tmp_path: Path) -> None:
    """Both stamps ``None`` compared equal: a load overlapping saves could take one save's config with another's
    weights."""
    from hubmixin_core._atomic import save_stamp

    made = iter(range(100))

    def read(name: str) -> bool:  # a save landing at each entry: the others renamed away, new ones in
        for other in tmp_path.iterdir():
            if other.name != name:
                other.unlink()
        (tmp_path / f"shard-{next(made)}").write_text("x")
        return True

    (tmp_path / "a").write_text("x")
    (tmp_path / "b").write_text("x")
    first, second = save_stamp(tmp_path, read), save_stamp(tmp_path, read)
    assert first is not None and first != second


def test_saves_and_loads_parse_no_python_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CPython 3.11's parser may raise SystemError when two threads parse at once: models saved and loaded from
    threads must not parse (the options' defaults are read once, at import)."""
    import ast

    MLP(seed=1).save_pretrained(tmp_path / "warm")  # (a class's own source is read once, on first use)
    MLP.from_pretrained(tmp_path / "warm")

    parsed: list[str] = []
    literal_eval, parse = ast.literal_eval, ast.parse

    def literal_eval_seen(text: str) -> Any:
        parsed.append(text)
        return literal_eval(text)

    def parse_seen(text: str, *args: Any, **kwargs: Any) -> Any:
        parsed.append(text[:40])
        return parse(text, *args, **kwargs)

    monkeypatch.setattr(ast, "literal_eval", literal_eval_seen)
    monkeypatch.setattr(ast, "parse", parse_seen)
    MLP(seed=2).save_pretrained(tmp_path / "again")
    loaded = MLP.from_pretrained(tmp_path / "again")
    monkeypatch.undo()
    assert parsed == []
    assert (loaded.weights["fc1.bias"] == MLP(seed=2).weights["fc1.bias"]).all()
