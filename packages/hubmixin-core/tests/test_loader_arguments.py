"""What from_pretrained does with options named like the model's arguments, and arguments a config leaves out."""

from __future__ import annotations

import dataclasses
import enum
import importlib
import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from core_models import NumpyModelMixin

from hubmixin_core import ConfigEncodingWarning, LoaderOptionWarning
from hubmixin_core.errors import ConfigTypeError, HubMixinTypeError, HubMixinValueError


class Named(NumpyModelMixin):
    """An ``__init__`` taking arguments named like options huggingface_hub's loader lacks."""

    def __init__(self, max_workers: int = 1, endpoint: str = "none", model_kwargs: dict[str, Any] | None = None):
        self.max_workers, self.endpoint, self.extra = max_workers, endpoint, model_kwargs
        self.weights = {"w": np.arange(3, dtype=np.float32)}


def test_an_option_named_like_an_argument_warns_and_model_kwargs_sets_the_argument(tmp_path: Path) -> None:
    Named(max_workers=2).save_pretrained(tmp_path)
    with pytest.warns(
        LoaderOptionWarning, match=r"max_workers= is the loader's option.*model_kwargs=\{'max_workers'"
    ) as w:
        loaded = Named.from_pretrained(tmp_path, max_workers=4)
    assert loaded.max_workers == 2  # from config.json; the 4 went to the downloads
    assert w[0].filename == __file__  # the warning points at the caller's line
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Named.from_pretrained(tmp_path, max_workers=4, model_kwargs={"max_workers": 5}).max_workers == 5
        assert Named.from_pretrained(tmp_path).max_workers == 2  # options at their defaults: nothing to say


def test_an_argument_named_model_kwargs_is_named_in_the_error(tmp_path: Path) -> None:
    Named().save_pretrained(tmp_path)
    with pytest.raises(HubMixinTypeError, match=r"'depth'.*takes an argument named model_kwargs: pass model_kwargs="):
        Named.from_pretrained(tmp_path, model_kwargs={"depth": 3})
    assert Named.from_pretrained(tmp_path, model_kwargs={"model_kwargs": {"depth": 3}}).extra == {"depth": 3}


@pytest.mark.parametrize(
    ("value", "error"), [(0, HubMixinValueError), (-1, HubMixinValueError), ("4", HubMixinTypeError)]
)
def test_max_workers_must_be_a_positive_int(tmp_path: Path, value: Any, error: type[Exception]) -> None:
    Named().save_pretrained(tmp_path)
    with pytest.raises(error, match="max_workers"):
        Named.from_pretrained(tmp_path, max_workers=value, model_kwargs={"max_workers": 1})


def test_a_token_of_another_type_is_refused_not_ignored(tmp_path: Path) -> None:
    model = Named()
    model.save_pretrained(tmp_path)
    with pytest.raises(HubMixinTypeError, match="token must be a string, a bool or None, got list"):
        Named.from_pretrained(tmp_path, token=["hf_x"])  # type: ignore[arg-type]  # the client would send none
    with pytest.raises(HubMixinTypeError, match="got bytes"):
        model.push_to_hub("user/named", token=b"hf_x")  # type: ignore[arg-type]
    for empty in ("", "  "):  # the client would send an empty Authorization header
        with pytest.raises(HubMixinValueError, match="token is an empty string"):
            model.push_to_hub("user/named", token=empty)
    assert Named.from_pretrained(tmp_path, token="") is not None  # a local directory: no request, no token


@dataclasses.dataclass
class Config:
    hidden: int = 4


class WithDataclass(NumpyModelMixin):
    def __init__(self, config: Config, dropout: float = 0.0) -> None:
        self.config, self.dropout = config, dropout
        self.weights = {"w": np.zeros(config.hidden, dtype=np.float32)}


def test_arguments_beside_a_dataclass_config_are_named_as_not_saved(tmp_path: Path) -> None:
    with pytest.warns(ConfigEncodingWarning, match=r"arguments \['dropout'\] are not saved") as w:
        model = WithDataclass(Config(hidden=3), dropout=0.5)
    assert w[0].filename == __file__
    model.save_pretrained(tmp_path)
    assert WithDataclass.from_pretrained(tmp_path).dropout == 0.0  # as huggingface_hub: the default
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        WithDataclass(Config(), dropout=0.0)  # at its default: nothing lost
        assert WithDataclass.from_pretrained(tmp_path, model_kwargs={"dropout": 0.5}).dropout == 0.5


class Act(enum.Enum):
    GELU = "gelu"
    RELU = "relu"


class Loose(NumpyModelMixin):
    """Arguments whose type nothing in the signature says, or only their default does."""

    def __init__(  # type: ignore[no-untyped-def]
        self,
        act=Act.RELU,
        settings: dict[str, Any] | None = None,
        shape: tuple[int, ...] = (1,),
        opt=None,
        root=Path("data"),
        kernel=(3, 3),
        blocks=((1, 2), (3, 4)),
    ):
        self.args = (act, settings, shape, opt, root, kernel, blocks)
        self.weights = {"w": np.zeros(2, dtype=np.float32)}


@pytest.mark.parametrize(
    ("kwargs", "where", "back"),
    [
        ({"opt": Act.GELU}, r"opt \(Act\) is saved as JSON that from_pretrained gives back as str", "gelu"),
        ({"root": Path("x")}, r"root \(PosixPath\) .* back as str", "x"),
        ({"settings": {"path": Path("/x")}}, r"settings\['path'\] \(PosixPath\) .* back as str", {"path": "/x"}),
        ({"settings": {"dims": (2, 3)}}, r"settings\['dims'\] \(tuple\) .* back as list", {"dims": [2, 3]}),
        ({"opt": (2, 3)}, r"opt \(tuple\) .* back as list", [2, 3]),
    ],
)
def test_an_argument_given_back_as_another_type_is_named(
    kwargs: dict[str, Any], where: str, back: Any, tmp_path: Path
) -> None:
    with pytest.warns(ConfigEncodingWarning, match=where) as w:
        model = Loose(**kwargs)
    assert w[0].filename == __file__
    model.save_pretrained(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = Loose.from_pretrained(tmp_path)  # as the warning said, and nothing said again at load
        Loose(shape=(2, 3), settings={"a": [1, "b"]})  # annotated, or JSON as it is: nothing to say
    (name,) = kwargs
    assert loaded.args[["act", "settings", "shape", "opt", "root"].index(name)] == back


def test_unannotated_arguments_come_back_as_their_defaults_type(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the default says the type: nothing to warn about
        Loose(act=Act.GELU, kernel=(5, 5, 5), blocks=((5, 6), (7, 8), (9, 10))).save_pretrained(tmp_path)
        act, *_, kernel, blocks = Loose.from_pretrained(tmp_path).args
    assert act is Act.GELU and kernel == (5, 5, 5) and blocks == ((5, 6), (7, 8), (9, 10))
    Loose(act="nonmember", kernel=[1, 2]).save_pretrained(tmp_path / "b")
    act, *_, kernel, _ = Loose.from_pretrained(tmp_path / "b").args
    assert act == "nonmember" and kernel == (1, 2)  # what the enum refuses is given as it is


def test_defaults_are_saved_unless_they_would_come_back_as_another_type(tmp_path: Path) -> None:
    Loose().save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert "root" not in config  # "data" would come back a str: the default applies at load
    assert config["act"] == "relu" and config["shape"] == [1] and config["kernel"] == [3, 3]
    assert Loose.from_pretrained(tmp_path).args == (Act.RELU, None, (1,), None, Path("data"), (3, 3), ((1, 2), (3, 4)))


class Annotated(NumpyModelMixin):
    """Annotations that say the type, though not the exact one given (timm's signatures)."""

    def __init__(
        self,
        img_size: int | tuple[int, int] = 224,
        depths: Sequence[int] = (2, 2),
        root: str | os.PathLike[str] = "r",
        settings: dict[str, Any] | None = None,
    ) -> None:
        self.args = (img_size, depths, root, settings)
        self.weights = {"w": np.zeros(2, dtype=np.float32)}


def test_annotated_arguments_are_trusted(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Annotated(img_size=(256, 192), depths=(3, 3), root=Path("x"), settings={"a": [1, 2]}).save_pretrained(tmp_path)
        loaded = Annotated.from_pretrained(tmp_path).args
        assert loaded[0] == (256, 192) and loaded[1] == (3, 3)  # by the union's tuple member; the default's tuple
    with pytest.warns(ConfigEncodingWarning, match=r"settings\['act'\] \(Act\) .* back as str"):
        Annotated(settings={"act": Act.GELU})  # the Any inside says nothing


class Flags(enum.StrEnum):
    ON = "on"
    OFF = "off"


class Plain(NumpyModelMixin):
    def __init__(self, flag=Flags.OFF, bias: bool = False, mode=None) -> None:  # type: ignore[no-untyped-def]
        self.args = (flag, bias, mode)
        self.weights = {"w": np.zeros(2, dtype=np.float32)}


def test_a_str_enum_is_no_str_and_a_bool_no_int(tmp_path: Path) -> None:
    with pytest.warns(ConfigEncodingWarning, match=r"mode \(Flags\) .* back as str"):
        Plain(mode=Flags.ON)
    Plain(flag=Flags.ON).save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["flag"] == "on"
    assert Plain.from_pretrained(tmp_path).args[0] is Flags.ON  # as its default's type
    with pytest.warns(ConfigEncodingWarning, match=r"bias is 1, which its annotation bool does not take"):
        Plain(bias=1)  # type: ignore[arg-type]


@dataclasses.dataclass
class Extra:
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


class WithExtra(NumpyModelMixin):
    def __init__(self, config: Extra) -> None:
        self.config = config
        self.weights = {"w": np.zeros(2, dtype=np.float32)}


def test_a_value_inside_a_dataclass_config_is_checked_too() -> None:
    with pytest.warns(ConfigEncodingWarning, match=r"config\.extra\['act'\] \(Act\) .* back as str"):
        WithExtra(Extra({"act": Act.GELU}))


_UNRESOLVED = """
from __future__ import annotations

import enum
from typing import TYPE_CHECKING

import numpy as np
from core_models import NumpyModelMixin

if TYPE_CHECKING:
    from numpy.typing import NDArray


class Mode(enum.Enum):
    A = "a"
    B = "b"


class Hidden(NumpyModelMixin):
    def __init__(self, mode: Mode = Mode.A, table: NDArray[np.float32] | None = None, size: tuple[int, int] = (1, 1)):
        self.args = (mode, size)
        self.weights = {"w": np.zeros(2, dtype=np.float32)}


def build():
    return Hidden(mode=Mode.B, size=(2, 3))  # the warnings' line
"""


def test_annotations_resolve_one_by_one_and_warnings_point_at_the_user_line_in_a_folder_named_torch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "torch").mkdir()  # a user's folder named like a framework is the user's code
    source = tmp_path / "torch" / "hidden_model.py"
    source.write_text(_UNRESOLVED)
    monkeypatch.syspath_prepend(str(tmp_path / "torch"))
    module = importlib.import_module("hidden_model")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Mode and the tuple are resolved, though NDArray is not
        model = module.build()
    model.save_pretrained(tmp_path / "saved")
    assert module.Hidden.from_pretrained(tmp_path / "saved").args == (module.Mode.B, (2, 3))
    with pytest.warns(ConfigEncodingWarning) as caught:
        module.Hidden(table=np.zeros(2, dtype=np.float32))  # not encodable: named at the caller's line
    assert caught[0].filename == __file__


_TYPE_CHECKING_ONLY = """
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from core_models import NumpyModelMixin

if TYPE_CHECKING:
    from modes import Mode


class Checked(NumpyModelMixin):
    def __init__(self, mode: Mode | None = None, size: int = 1):
        self.args = (mode, size)
        self.weights = {"w": np.zeros(2, dtype=np.float32)}
"""


def test_an_annotation_only_type_checkers_can_resolve_is_warned_about(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "modes.py").write_text("import enum\n\nclass Mode(enum.Enum):\n    A = 'a'\n    B = 'b'\n")
    (tmp_path / "checked_model.py").write_text(_TYPE_CHECKING_ONLY)
    monkeypatch.syspath_prepend(str(tmp_path))
    module, modes = importlib.import_module("checked_model"), importlib.import_module("modes")
    with pytest.warns(
        ConfigEncodingWarning, match=r"argument mode \(Mode\) .* back as str: its annotation 'Mode \| None'"
    ):
        model = module.Checked(mode=modes.Mode.B, size=3)
    model.save_pretrained(tmp_path / "saved")
    assert module.Checked.from_pretrained(tmp_path / "saved").args == ("b", 3)  # as the warning said
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        module.Checked(size=2)  # nothing lost: no warning


def test_a_string_annotation_naming_a_coders_type_is_decoded_by_it(tmp_path: Path) -> None:
    class Point:  # defined in a function: the module cannot resolve the annotation "Point"
        def __init__(self, x: int, y: int) -> None:
            self.x, self.y = x, y

    class WithPoint(NumpyModelMixin, coders={Point: (lambda p: [p.x, p.y], lambda v: Point(*v))}):
        def __init__(self, at: Point, other: Point | None = None) -> None:
            self.at, self.other = at, other
            self.weights = {"w": np.zeros(2, dtype=np.float32)}

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        WithPoint(Point(1, 2), other=Point(3, 4)).save_pretrained(tmp_path)
    loaded = WithPoint.from_pretrained(tmp_path)
    assert isinstance(loaded.at, Point) and (loaded.at.x, loaded.at.y) == (1, 2)
    assert isinstance(loaded.other, Point) and (loaded.other.x, loaded.other.y) == (3, 4)


class Diffusers(NumpyModelMixin):
    """diffusers' annotations: ``Tuple[int]`` written for a tuple of any length, tuples inside unions."""

    def __init__(
        self,
        block_out_channels: tuple[int] = (32, 64, 64),  # type: ignore[assignment]
        attention_head_dim: int | tuple[int] = 8,
        padding: str | Sequence[tuple[int, int]] = "SAME",
        mode: Act | str | None = None,
    ) -> None:
        self.args = (block_out_channels, attention_head_dim, padding, mode)
        self.weights = {"w": np.zeros(2, dtype=np.float32)}


def test_tuples_and_enums_inside_unions_come_back_as_given(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        given = Diffusers(attention_head_dim=(5, 10, 20), padding=[(1, 1), (2, 2)], mode=Act.GELU)  # type: ignore[arg-type]
        given.save_pretrained(tmp_path / "given")
        Diffusers().save_pretrained(tmp_path / "defaults")
    loaded: Any = Diffusers.from_pretrained(tmp_path / "given").args
    assert loaded == ((32, 64, 64), (5, 10, 20), [(1, 1), (2, 2)], Act.GELU)
    defaults: Any = Diffusers.from_pretrained(tmp_path / "defaults").args
    assert defaults == ((32, 64, 64), 8, "SAME", None)


@dataclasses.dataclass
class WithRate:
    hidden: int = 4
    rate: float = 0.0


class RateBeside(NumpyModelMixin):
    def __init__(self, config: WithRate, rate: float = 0.0) -> None:
        self.config, self.rate = config, rate
        self.weights = {"w": np.zeros(config.hidden, dtype=np.float32)}


def test_an_argument_named_like_a_field_of_the_dataclass_config_comes_back_as_that_field(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        RateBeside(WithRate(rate=0.5), rate=0.5).save_pretrained(tmp_path)  # the field's value: nothing lost
    assert RateBeside.from_pretrained(tmp_path).rate == 0.5  # config.json's key reaches the argument too
    with pytest.warns(ConfigEncodingWarning, match=r"\['rate'\] are not saved.*their defaults \(or the config's"):
        RateBeside(WithRate(rate=0.1), rate=0.5)


@dataclasses.dataclass
class LooseFields:
    act: Any = Act.RELU
    kernel: Any = (3, 3)
    root: Any = Path("data")  # a path default gives no type (a URL would be mangled)


class WithLooseFields(NumpyModelMixin):
    def __init__(self, config: LooseFields) -> None:
        self.config = config
        self.weights = {"w": np.zeros(2, dtype=np.float32)}


def test_a_dataclass_field_annotated_any_comes_back_as_its_defaults_type(tmp_path: Path) -> None:
    with pytest.warns(ConfigEncodingWarning) as caught:  # only about the path
        WithLooseFields(LooseFields(act=Act.GELU, kernel=(5, 5))).save_pretrained(tmp_path)
    assert [str(w.message).split(" (")[0] for w in caught] == ["WithLooseFields: argument config.root"]
    config = WithLooseFields.from_pretrained(tmp_path).config
    assert config.act is Act.GELU and config.kernel == (5, 5) and config.root == "data"


class SloppyDefaults(NumpyModelMixin):
    """Defaults of another type than their annotations, as written in real code (huggingface_hub loads them)."""

    def __init__(self, flag: bool = 0, size: int = 1.5, scale: float = 1) -> None:  # type: ignore[assignment]
        self.args: tuple[Any, ...] = (flag, size, scale)
        self.weights = {"w": np.zeros(2, dtype=np.float32)}


def test_a_default_of_another_type_than_its_annotation_comes_back(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the class's own defaults are not the user's mistake: no warning
        SloppyDefaults().save_pretrained(tmp_path / "defaults")
    assert json.loads((tmp_path / "defaults" / "config.json").read_text()) == {"flag": 0, "size": 1.5, "scale": 1}
    loaded = SloppyDefaults.from_pretrained(tmp_path / "defaults")
    assert loaded.args == (0, 1.5, 1) and type(loaded.args[0]) is int
    assert SloppyDefaults(flag=True).args == (True, 1.5, 1)  # the annotated type, given: checked as before
    SloppyDefaults(flag=True, size=3).save_pretrained(tmp_path / "given")
    assert SloppyDefaults.from_pretrained(tmp_path / "given").args == (True, 3, 1)
    (tmp_path / "given" / "config.json").write_text(json.dumps({"flag": 1}))  # 1 is not the default 0: refused
    with pytest.raises(ConfigTypeError, match="'flag' must be bool"):
        SloppyDefaults.from_pretrained(tmp_path / "given")


class TakesProxies(NumpyModelMixin):
    def __init__(self, proxies: int = 0) -> None:
        self.proxies = proxies
        self.weights = {"w": np.zeros(2, dtype=np.float32)}


def test_keywords_huggingface_hub_deprecated_are_ignored_as_it_does(tmp_path: Path) -> None:
    Loose().save_pretrained(tmp_path)
    loose: Any = Loose  # the keywords are not in the typed signature
    with pytest.warns(FutureWarning) as caught:
        loose.from_pretrained(tmp_path, resume_download=True, force_filename="x")
    messages = [str(w.message) for w in caught]
    assert messages == [
        "Loose.from_pretrained: resume_download= is deprecated and ignored, as in huggingface_hub >= 1.0",
        "Loose.from_pretrained: force_filename= is deprecated and ignored, as in huggingface_hub >= 1.0",
    ]
    assert caught[0].filename == __file__  # the user's line
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loose.from_pretrained(tmp_path, proxies=None, resume_download=None, local_dir_use_symlinks=None)
    with pytest.raises(HubMixinValueError, match=r"proxies \(given for \['https'\]\)") as refused:
        loose.from_pretrained(tmp_path, proxies={"https": "http://user:secret@proxy"})
    assert "secret" not in str(refused.value)
    TakesProxies(proxies=3).save_pretrained(tmp_path / "p")
    takes: Any = TakesProxies
    assert takes.from_pretrained(tmp_path / "p", proxies=5).proxies == 5  # the model's own argument


class PopsOptions(NumpyModelMixin):
    """huggingface_hub's override pattern: its own load options popped from ``**model_kwargs``."""

    config_seen: Any = None

    def __init__(self, size: int = 1) -> None:
        self.size, self.device = size, "cpu"
        self.weights = {"w": np.zeros(size, dtype=np.float32)}

    @classmethod
    def _from_pretrained(  # type: ignore[override]
        cls,
        *,
        model_id: str,
        revision: str | None,
        cache_dir: Any,
        force_download: bool,
        local_files_only: bool,
        token: Any,
        config: Any = None,
        **model_kwargs: Any,
    ) -> Any:
        device = model_kwargs.pop("device", "cpu")
        model = cls(**{k: v for k, v in (config or {}).items() if k == "size"})
        model.device = device
        model.config_seen = config
        return model


class NamesOption(NumpyModelMixin):
    """hubmixin's signature, with a load option of the override's own."""

    def __init__(self, size: int = 1) -> None:
        self.size, self.device = size, "cpu"
        self.weights = {"w": np.zeros(size, dtype=np.float32)}

    @classmethod
    def _from_pretrained(
        cls, *, model_id: str, download: Any, model_kwargs: dict[str, Any], device: str = "cpu"
    ) -> Any:
        model = cls(**model_kwargs)
        model.device = device
        return model


def test_an_overrides_own_options_reach_it(tmp_path: Path) -> None:
    PopsOptions(size=2).save_pretrained(tmp_path / "pops")
    loaded = PopsOptions.from_pretrained(tmp_path / "pops", device="meta", config={"size": 3})  # type: ignore[call-arg]
    assert (loaded.size, loaded.device, loaded.config_seen) == (3, "meta", {"size": 3})
    NamesOption(size=2).save_pretrained(tmp_path / "names")
    named = NamesOption.from_pretrained(tmp_path / "names", device="meta")  # type: ignore[call-arg]
    assert (named.size, named.device) == (2, "meta")
    with pytest.raises(HubMixinTypeError, match="devise"):
        NamesOption.from_pretrained(tmp_path / "names", devise="meta")  # type: ignore[call-arg]


class BareContainers(NumpyModelMixin):
    def __init__(self, extra: dict | None = None, items: tuple = (), seq: Sequence = ()) -> None:  # type: ignore[type-arg]
        self.extra, self.items, self.seq = extra, items, seq
        self.weights = {"w": np.zeros(1, dtype=np.float32)}


@pytest.mark.parametrize("argument", ["extra", "items", "seq"])
def test_a_bare_container_annotation_warns_of_values_coming_back_as_json(argument: str) -> None:
    value: Any = {"act": Act.GELU} if argument == "extra" else (Act.GELU,)
    with pytest.warns(ConfigEncodingWarning, match=rf"argument {argument}\["):
        BareContainers(**{argument: value})


class Base(NumpyModelMixin):
    def __init__(self, hidden: int = 4, act: str = "relu") -> None:
        self.hidden, self.act = hidden, act
        self.weights = {"w": np.zeros(hidden, dtype=np.float32)}


class Forwarding(Base):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)


def test_positional_arguments_forwarded_through_args_are_saved_by_their_names(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Forwarding(8, "gelu").save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == {"hidden": 8, "act": "gelu"}
    loaded = Forwarding.from_pretrained(tmp_path)
    assert (loaded.hidden, loaded.act) == (8, "gelu")


class Takes(NumpyModelMixin):
    def __init__(self, hidden: int = 4, callback: Any = None) -> None:
        self.hidden, self.callback = hidden, callback
        self.weights = {"w": np.zeros(hidden, dtype=np.float32)}


class TakesNoMore(NumpyModelMixin):
    def __init__(self, hidden: int = 4) -> None:
        self.hidden = hidden
        self.weights = {"w": np.zeros(hidden, dtype=np.float32)}


def test_an_unsaved_argument_the_class_no_longer_takes_is_ignored(tmp_path: Path) -> None:
    with pytest.warns(ConfigEncodingWarning):
        Takes(hidden=2, callback=print).save_pretrained(tmp_path)
    assert TakesNoMore.from_pretrained(tmp_path).hidden == 2


@dataclasses.dataclass
class Required:
    hidden: int


class OptionalConfig(NumpyModelMixin):
    """Picks its own default configuration where it is given none."""

    def __init__(self, config: Required | None = None, layers: int = 1) -> None:
        self.config = config if config is not None else Required(hidden=512)
        self.layers = layers
        self.weights = {"w": np.zeros(layers, dtype=np.float32)}


def test_a_dataclass_config_left_at_none_comes_back_as_none(tmp_path: Path) -> None:
    OptionalConfig(layers=4).save_pretrained(tmp_path / "none")
    loaded = OptionalConfig.from_pretrained(tmp_path / "none")
    assert (loaded.config, loaded.layers) == (Required(hidden=512), 4)
    OptionalConfig(Required(hidden=3)).save_pretrained(tmp_path / "given")
    assert OptionalConfig.from_pretrained(tmp_path / "given").config == Required(hidden=3)


class Tree(NumpyModelMixin):
    def __init__(self, graph: Any = None) -> None:
        self.graph = graph
        self.weights = {"w": np.zeros(1, dtype=np.float32)}


def test_an_argument_holding_itself_is_named_not_saved(tmp_path: Path) -> None:
    graph: dict[str, Any] = {"children": []}
    graph["children"].append({"parent": graph})
    with pytest.warns(ConfigEncodingWarning, match=r"graph\['children'\]\[0\]\['parent'\]"):
        Tree(graph=graph).save_pretrained(tmp_path)
    assert "graph" not in json.loads((tmp_path / "config.json").read_text())


def test_malformed_coders_are_refused_at_class_creation() -> None:
    for coders in ({Path: str}, {"Path": (str, Path)}):
        with pytest.raises(HubMixinTypeError, match="coders="):

            class Bad(NumpyModelMixin, coders=coders):  # type: ignore[arg-type]
                pass


class Registry:
    created = 0

    def __new__(cls) -> Any:
        Registry.created += 1
        return super().__new__(cls)


class Registered(NumpyModelMixin, Registry):
    def __init__(self, size: int = 1) -> None:
        self.size = size
        self.weights = {"w": np.zeros(size, dtype=np.float32)}


def test_a_base_whose_new_takes_no_arguments_and_an_empty_name(tmp_path: Path) -> None:
    before = Registry.created
    model = Registered(size=3)
    assert Registry.created == before + 1 and model._hub_mixin_config == {"size": 3}
    with pytest.raises(HubMixinValueError, match="empty"):
        Registered.from_pretrained("")


@dataclasses.dataclass
class Scaled:
    hidden: int = 4
    scale: dataclasses.InitVar[float] = 1.0
    scaled: float = dataclasses.field(init=False, default=0.0)

    def __post_init__(self, scale: float) -> None:
        self.scaled = self.hidden * scale


class WithScaled(NumpyModelMixin):
    def __init__(self, config: Scaled, dropout: float = 0.0) -> None:
        self.config, self.dropout = config, dropout
        self.weights = {"w": np.zeros(1, dtype=np.float32)}


class WithDict(NumpyModelMixin):
    def __init__(self, config: dict[str, Any] | None = None, dropout: float = 0.0) -> None:
        self.config, self.dropout = config, dropout
        self.weights = {"w": np.zeros(1, dtype=np.float32)}


def test_what_a_config_would_lose_or_override_is_named() -> None:
    with pytest.warns(ConfigEncodingWarning, match=r"init-only fields \['scale'\]"):
        WithScaled(Scaled(hidden=4, scale=3.0))
    with pytest.warns(ConfigEncodingWarning, match=r"arguments \['dropout'\] are also keys of the config"):
        WithDict({"dropout": 0.1}, dropout=0.5)


class KeepsArgs(Base):
    """Keeps its ``*sizes`` and ``**options`` for itself: nothing of them reaches the base."""

    def __init__(self, *sizes: int, **options: Any) -> None:
        super().__init__()
        self.sizes, self.options = sizes, options


class WithDictBase(NumpyModelMixin):
    def __init__(self, config: dict[str, Any] | None = None, hidden: int = 4) -> None:
        self.config, self.hidden = config, hidden
        self.weights = {"w": np.zeros(1, dtype=np.float32)}


class KeepsKwargs(WithDictBase):
    def __init__(self, width: int = 2, **options: Any) -> None:
        super().__init__()
        self.width, self.options = width, options


def test_arguments_an_init_keeps_for_itself_are_not_given_to_its_base(tmp_path: Path) -> None:
    with pytest.warns(ConfigEncodingWarning, match=r"positional argument\(s\) given through \*sizes"):
        KeepsArgs(4, 3).save_pretrained(tmp_path / "args")
    saved = json.loads((tmp_path / "args" / "config.json").read_text())
    assert saved == {"_hub_mixin_unsaved": {"*sizes": "tuple"}}  # (its sizes were not the base's hidden and act)
    KeepsKwargs(width=3, bias=False).save_pretrained(tmp_path / "kwargs")
    loaded = KeepsKwargs.from_pretrained(tmp_path / "kwargs")
    assert (loaded.width, loaded.options, loaded.config) == (3, {"bias": False}, None)


class TypoChecked(NumpyModelMixin):
    def __init__(self, hidden: int = 4) -> None:
        self.hidden = hidden
        self.weights = {"w": np.zeros(1, dtype=np.float32)}

    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: Any, model_kwargs: dict[str, Any], **kwargs: Any) -> Any:
        return cls(**model_kwargs)


def test_a_hubmixin_style_override_with_kwargs_keeps_the_keyword_check(tmp_path: Path) -> None:
    TypoChecked().save_pretrained(tmp_path)
    with pytest.raises(HubMixinTypeError, match="did you mean 'hidden'"):
        TypoChecked.from_pretrained(tmp_path, hiden=3)  # type: ignore[call-arg]


class PositionalOnly(NumpyModelMixin):
    def __init__(self, width: int = 2, depth: int = 1, /, scale: float = 1.0) -> None:
        self.width, self.depth, self.scale = width, depth, scale
        self.weights = {"w": np.zeros(width, dtype=np.float32)}


def test_positional_only_arguments_come_back(tmp_path: Path) -> None:
    PositionalOnly(4, 3, scale=2.0).save_pretrained(tmp_path)
    loaded = PositionalOnly.from_pretrained(tmp_path)
    assert (loaded.width, loaded.depth, loaded.scale) == (4, 3, 2.0)
