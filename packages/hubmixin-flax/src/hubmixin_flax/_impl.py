"""The hand-written Flax side of ``FlaxModelHubMixin``: ``_save_pretrained`` and ``_from_pretrained``.

Files, shards, the header checks, the strict policy and the layouts are core's (``save_canonical``,
``load_canonical``); this module walks an NNX model and builds it abstractly; :mod:`._values` takes each
variable's value out of it and puts the stored one on its devices.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import re
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar, Unpack

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.sharding import Mesh, NamedSharding, Sharding
from jax.typing import DTypeLike

from hubmixin_core import DownloadOptions, ModelHubMixin
from hubmixin_core._override import takes_hub_keywords
from hubmixin_core._warn import warn_user
from hubmixin_core.errors import HubMixinTypeError, HubMixinValueError, LayoutError, WeightsError, format_names
from hubmixin_core.typing import ClassKeywords, Coders
from hubmixin_core.weights import (
    CONFIG_NAME,
    LayerTensors,
    floating_dtype_name,
    load_canonical,
    open_checkpoint,
    save_canonical,
    settings_metadata,
    warn_settings,
)
from hubmixin_flax._coders import DTYPE_CODERS, SPEC_CODERS, as_dtype, with_dtype_fields
from hubmixin_flax._construct import (
    RngCounts,
    abstract_paths,
    check_not_abstract,
    check_not_traced,
    construct_abstract,
    fresh_arguments,
    materialize,
)
from hubmixin_flax._extras import EXTRAS
from hubmixin_flax._host import to_numpy
from hubmixin_flax._layout import LAYOUTS
from hubmixin_flax._mesh import (
    annotations_unplaced,
    default_rngs,
    release_default_rngs,
    remake_default_rngs,
    rng_counters,
    set_rng_counters,
    unfit_annotation,
)
from hubmixin_flax._settings import model_settings
from hubmixin_flax._sharding import (
    ShardingSpec,
    _ambient_mesh,
    flat_sharding,
    mesh_of,
    outside_caller_mesh,
    resolve_sharding,
    without_unsaved_state,
)
from hubmixin_flax._stacked import StackedPiece, StackedVariable, nested_stack, with_layer_axis
from hubmixin_flax._ties import CrossLayoutCopy, cross_layout_copies, named_as_model, tied_aliases, tied_metadata
from hubmixin_flax._values import (
    conform,
    fill_variable,
    in_target,
    keep_own,
    naming_variable,
    other_width,
    place_tensor,
    read_as,
    saved_value,
    stored_dtype_name,
    tensor_infos,
    with_file_widths,
)
from hubmixin_flax._walk import (
    LayerVariables,
    dotted,
    layer_variables,
    legacy_layer_paths,
    torch_path,
    unsaved_variables,
)

__all__ = ["FlaxHubMixinBase"]

logger = logging.getLogger("hubmixin_flax")

_M = TypeVar("_M", bound="FlaxHubMixinBase")


def _as_module(obj: object) -> nnx.Module:
    if not isinstance(obj, nnx.Module):
        raise HubMixinTypeError(
            f"{type(obj).__qualname__} uses FlaxModelHubMixin but is not a flax.nnx.Module subclass"
        )
    return obj


class FlaxClassKeywords(ClassKeywords, total=False):
    """The class keywords of :class:`~hubmixin_flax.FlaxModelHubMixin`: every mixin's and ``stacked_layers``."""

    stacked_layers: list[str] | tuple[str, ...]


class FlaxHubMixinBase(ModelHubMixin, coders={**DTYPE_CODERS, **SPEC_CODERS}):
    """Hand-written core of :class:`hubmixin_flax.FlaxModelHubMixin`; use that class, not this one."""

    _hub_builds_from_arguments = True  # _from_pretrained calls cls(**model_kwargs): core checks them first
    _hub_mixin_framework = "flax"

    _hub_mixin_json_forms_taken = tuple(DTYPE_CODERS)  # JAX takes a dtype's name wherever it takes a dtype
    # The run's own, never saved: the devices (the load's sharding= mesh fills them) and RNG streams under any
    # argument name (`rng: nnx.Rngs`; one named `rngs` is a runtime argument by name): fresh ones at load.
    _hub_mixin_runtime_types = (Mesh, nnx.Rngs)
    _hub_mixin_runtime_annotations = (Mesh,)
    _hub_mixin_runtime_option = "sharding"
    _hub_flax_stacked_layers: ClassVar[tuple[str, ...]] = ()
    """Dotted attribute paths of the modules built by ``nnx.vmap`` (the class's ``stacked_layers``)."""

    @classmethod
    def _hub_flax_init_subclass(cls, *, stacked_layers: Iterable[str] = (), **kwargs: Any) -> None:
        """``stacked_layers``: the attribute paths (``"blocks"``, ``"encoder.layers"``) of modules built by
        ``nnx.vmap`` to scan over layers; each is saved as torch's ``nn.ModuleList`` of its layers."""
        super().__init_subclass__(**kwargs)
        if not isinstance(stacked_layers, list | tuple) or not all(isinstance(p, str) for p in stacked_layers):
            given = f"{type(stacked_layers).__name__} {stacked_layers!r:.60}"
            message = f"{cls.__qualname__}: stacked_layers must be a list of attribute paths (strings), got {given}"
            raise HubMixinTypeError(message)
        cls._hub_flax_stacked_layers = tuple(dict.fromkeys((*cls._hub_flax_stacked_layers, *stacked_layers)))

    if TYPE_CHECKING:  # the class keywords, typed for mypy

        def __init_subclass__(cls, **kwargs: Unpack[FlaxClassKeywords]) -> None: ...

    else:
        __init_subclass__ = _hub_flax_init_subclass

    @classmethod
    def _hub_decode_argument(cls, key: str, value: Any, hints: Mapping[str, Any], coders: Coders, source: str) -> Any:
        """Core's decoding; then a dtype argument as Flax's modules declare them (``dtype=None`` unannotated, or
        ``dtype: Dtype | None``, a type taking anything), saved by name, comes back as a dtype, not a string; so do
        such fields of a dataclass argument."""
        decoded = super()._hub_decode_argument(key, value, hints, coders, source)
        return as_dtype(key, with_dtype_fields(decoded, coders), hints.get(key, Any), coders)

    @classmethod
    def _hub_apply_config(cls, raw: dict[str, Any], model_kwargs: dict[str, Any], *, source: str = CONFIG_NAME) -> Any:
        """Core's; then the dtype fields of a dataclass ``config`` (``dtype: Dtype | None``) come back as dtypes,
        as the same ``__init__`` arguments do (core decodes that ``config`` without ``_hub_decode_argument``)."""
        given = "config" in model_kwargs
        config = super()._hub_apply_config(raw, model_kwargs, source=source)
        fixed = with_dtype_fields(config, cls._all_coders())
        if not given and model_kwargs.get("config") is config:
            model_kwargs["config"] = fixed
        return fixed

    @classmethod
    def _hub_mixin_capture(
        cls,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        unsaved: dict[str, str] | None = None,
        beside: list[str] | None = None,
    ) -> Any:
        """Core's; an ``nnx.Rngs`` given as ``rngs`` through a ``**kwargs`` that no base's ``__init__`` names it in
        is recorded as not saved, as one under another name is, so that ``from_pretrained`` gives it again (it
        gives ``rngs`` unrecorded only to an ``__init__`` that names it)."""
        config = super()._hub_mixin_capture(args, kwargs, unsaved, beside)
        if unsaved is not None and isinstance(kwargs.get("rngs"), nnx.Rngs) and not cls._hub_init_takes("rngs"):
            unsaved["rngs"] = nnx.Rngs.__qualname__
        return config

    @classmethod
    def _hub_give_unsaved(
        cls,
        unsaved: Mapping[str, str],
        provided: Mapping[str, Any],
        model_kwargs: dict[str, Any],
        *,
        supplied: Collection[str] = (),
        defer: bool = False,
    ) -> dict[str, str]:
        """Core's, an ``nnx.Rngs`` recorded as not saved given fresh ``nnx.Rngs(0)`` where no load options are
        (``hubmixin convert`` builds the model from config.json alone)."""
        provided = {nnx.Rngs.__qualname__: nnx.Rngs(0), **provided}
        return super()._hub_give_unsaved(unsaved, provided, model_kwargs, supplied=supplied, defer=defer)

    @classmethod
    def _hub_runtime_values(cls, load_kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """The mesh of ``sharding=`` (a ``Mesh``, or that of its ``NamedSharding`` s), for a ``Mesh`` argument; fresh
        ``nnx.Rngs(0)`` for an ``nnx.Rngs`` argument of another name than ``rngs``."""
        mesh = mesh_of(load_kwargs.get("sharding"))
        rngs = {nnx.Rngs.__qualname__: default_rngs()}  # as for an argument named rngs
        return rngs if mesh is None else {Mesh.__qualname__: mesh, **rngs}

    @classmethod
    def _hub_check_model_class(cls) -> None:
        """Refuse a class that is no ``nnx.Module`` (the mixin itself: it cannot build a model).

        Raises:
            HubMixinTypeError: ``cls`` is not an ``nnx.Module`` subclass.
        """
        if not issubclass(cls, nnx.Module):
            raise HubMixinTypeError(
                f"{cls.__qualname__}.from_pretrained: {cls.__qualname__} is not a flax.nnx.Module subclass: call "
                "from_pretrained on your model class (class Net(nnx.Module, FlaxModelHubMixin)), not on the mixin"
            )

    def _hub_write_weights(
        self,
        save_directory: Path,
        *,
        max_shard_size: int | str | None = EXTRAS.defaults["max_shard_size"],
        dtype: DTypeLike | None = EXTRAS.defaults["dtype"],
    ) -> None:
        """Write ``nnx.Param`` and ``nnx.BatchStat`` values in the canonical layout (one file or shards)."""
        unsaved = unsaved_variables(_as_module(self))
        if unsaved:
            kinds = ", ".join(sorted(set(unsaved.values())))
            warn_user(
                f"{type(self).__qualname__}: variables {format_names(list(unsaved))} ({kinds}) are not saved: a "
                "checkpoint holds nnx.Param and nnx.BatchStat variables; make such state a subclass of one of "
                "those to save it",
                UserWarning,
            )
        layers = [
            LayerTensors(
                group.path,
                group.layer,
                {n: saved_value(v.get_value(), f"{group.path}.{n}".lstrip(".")) for n, v in group.variables.items()},
            )
            for group in _layers(_as_module(self), self._hub_flax_stacked_layers)
        ]
        _add_cross_layout_copies(layers, cross_layout_copies(_as_module(self), LAYOUTS))
        stacked = _graph_paths(_as_module(self), self._hub_flax_stacked_layers)
        settings = model_settings(_as_module(self), ((group.path, group.layer) for group in layers), stacked)
        save_canonical(
            layers,
            LAYOUTS,
            save_directory,
            max_shard_size=max_shard_size,
            dtype=floating_dtype_name(dtype),
            framework="flax",
            metadata={**tied_metadata(_as_module(self), LAYOUTS), **settings_metadata(settings)},
            host=to_numpy,
        )

    if TYPE_CHECKING:  # huggingface_hub's signature, so that a library's override written for it type-checks

        def _save_pretrained(self, save_directory: Path) -> None: ...

    else:  # the save extras arrive as keywords: an override forwards them with **kwargs
        _save_pretrained = _hub_write_weights

    @classmethod
    @takes_hub_keywords
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        download: DownloadOptions,
        model_kwargs: dict[str, Any],
        sharding: ShardingSpec | None = EXTRAS.defaults["sharding"],  # the spec's: a changed one reaches an
        strict: bool = EXTRAS.defaults["strict"],  # override leaving them to super()._from_pretrained(**kwargs)
        key_mapping: Mapping[str, str] | None = EXTRAS.defaults["key_mapping"],
        dtype: DTypeLike | None = EXTRAS.defaults["dtype"],
    ) -> Self:
        """Build the model abstractly, then fill each variable from the checkpoint, straight onto its devices.

        The checkpoint is opened first (a repository without weights fails before anything is built); shapes,
        dtypes and keys are checked from its headers before any tensor is read.

        Also takes huggingface_hub's signature (``revision``, ``token``, ... and the ``__init__`` arguments as
        keywords), so an override written for huggingface_hub forwards to ``super()._from_pretrained`` unchanged.
        """
        check_not_abstract(cls.__qualname__)  # inside another model's abstract __init__: it is built normally
        check_not_traced(cls.__qualname__)
        sharding = flat_sharding(sharding)
        target = floating_dtype_name(dtype)
        checkpoint = open_checkpoint(model_id, download).renamed(key_mapping)
        kwargs = dict(model_kwargs)  # as given: each construction gets copies of its own (fresh_arguments)
        if cls._hub_init_takes("rngs") and "rngs" not in kwargs:
            kwargs["rngs"] = default_rngs()  # made again for each construction tried (_construct)
        rng_counts: RngCounts = []
        model, mesh, placed = _construct(cls, kwargs, sharding, rng_counts)
        release_default_rngs(kwargs)  # (the model may hold them: the caller's from now on)
        with outside_caller_mesh() as caller:  # (where each array is, whatever mesh the caller set)
            checkpoint = checkpoint.renamed(_sequential_aliases(_as_module(model), checkpoint.infos))
            checkpoint = named_as_model(_as_module(model), checkpoint, LAYOUTS, strict=strict, owner=cls.__qualname__)
            groups = _groups_naming(_as_module(model), cls._hub_flax_stacked_layers, checkpoint.infos.keys())
            stacked = _graph_paths(_as_module(model), cls._hub_flax_stacked_layers)
            ours = model_settings(_as_module(model), ((path, group.layer) for path, group in groups.items()), stacked)
            warn_settings(checkpoint.metadata, ours, cls.__qualname__, checkpoint.description, checkpoint.infos)
            stacks = _stacks(groups.values())
            abstract = _abstract_values(groups.values(), stacks)  # with a mesh, they carry the model's annotations
            if isinstance(sharding, Mapping):  # RNG state named, nested or flat (nnx.to_flat_state): not placed
                sharding = without_unsaved_state(sharding, _as_module(model))
                sharding = _as_our_paths(sharding, abstract, _as_module(model))
                _check_sharding_paths(sharding, abstract, _checkpoint_names(groups.values()))
            load = load_canonical(
                [with_file_widths(tensor_infos(group, target), checkpoint) for group in groups.values()],
                checkpoint,
                LAYOUTS,
                strict=strict,
                convert_floating=target is not None,
            )
            loaded: set[str] = set()
            for layer, tensors in load.lazily():
                variables = groups[layer.path].variables
                for name, tensor in tensors.items():
                    variable = variables[name]
                    path = layer.full_name(name)
                    held = variable.stacked.variable if isinstance(variable, StackedPiece) else variable  # not host()
                    wanted = stored_dtype_name(held.get_value(), path)
                    if isinstance(variable, StackedPiece):  # gathered on the host, placed whole once complete
                        variable.stacked.fill(variable.index, read_as(tensor, wanted))
                        continue
                    placement = resolve_sharding(sharding, path, abstract[path])
                    with naming_variable(path, tensor.info.shape, placement):
                        if not other_width(tensor, wanted):
                            fill_variable(variable, place_tensor(tensor, placement))
                        else:  # an integer of the other width (torch's int64 into JAX's int32), checked to fit
                            fill_variable(variable, jax.device_put(read_as(tensor, wanted), placement))
                    loaded.add(layer.full_name(name))
            for stack in (stack for stack in stacks if stack.complete):
                placement = _stack_sharding(sharding, stack, abstract[stack.path])
                host = in_target(stack.release(), target, stack.path)
                with naming_variable(stack.path, host.shape, placement):
                    fill_variable(stack.variable, jax.device_put(host, placement))
            # under the mesh it was built under (the caller's, unless sharding= gives one), placed or not as it was
            under = jax.set_mesh(caller) if mesh is None and caller is not None else contextlib.nullcontext()
            with under, contextlib.nullcontext() if placed else annotations_unplaced():
                materialize(_as_module(model), cls, fresh_arguments(kwargs), mesh, rng_counts=rng_counts)
            for stack in (stack for stack in stacks if not stack.complete):  # some layers (or none) were read
                placement = _stack_sharding(sharding, stack, abstract[stack.path])
                if not stack.filled:  # none read: the model's own
                    keep_own(stack.variable, target, placement, stack.path)
                    continue
                host, filled = stack.release(), sorted(stack.filled)
                merged = np.array(stack.variable.get_value(), dtype=host.dtype)
                merged[filled] = host[filled]
                value = jnp.asarray(merged)
                with naming_variable(stack.path, tuple(value.shape), placement):
                    fill_variable(stack.variable, conform(value, target, placement, stack.path))
            for group in groups.values():  # weights the checkpoint lacks: the model's own, in dtype and placement
                for name, variable in group.variables.items():
                    path = f"{group.path}.{name}" if group.path else name
                    if path not in loaded and not isinstance(variable, StackedPiece):
                        keep_own(variable, target, resolve_sharding(sharding, path, abstract[path]), path)
            left = abstract_paths(_as_module(model))
            if left:
                raise WeightsError(f"{cls.__qualname__}: variables {sorted(map(str, left))[:5]} have no value")
            load.report.log(logger, cls.__qualname__, checkpoint.description)
            return model


def _add_cross_layout_copies(layers: list[LayerTensors[Any]], copies: Iterable[CrossLayoutCopy]) -> None:
    """Each tied variable's value also in the layer of each other path of another layout (in its group if it has
    one, else a group of its own), so that the file holds it in that layer's layout too."""
    by_path = {group.path: group for group in layers}
    for copy in copies:
        value = saved_value(copy.variable.get_value(), f"{copy.layer_path}.{copy.name}".lstrip("."))
        group = by_path.get(copy.layer_path)
        if group is None:
            group = by_path[copy.layer_path] = LayerTensors(copy.layer_path, copy.layer, {})
            layers.append(group)
        group.tensors[copy.name] = value


def _construct(
    cls: type[_M], kwargs: dict[str, Any], sharding: ShardingSpec | None, rng_counts: RngCounts
) -> tuple[_M, Mesh | None, bool]:
    """The model built abstractly, the mesh it is built under, and whether its annotations are placed.

    The mesh is that of ``sharding`` (:func:`mesh_of`), or, for a model annotated with ``nnx.with_partitioning``
    (which Flax builds under a mesh only) loaded with a callable, that of the first ``NamedSharding`` the callable
    gives for its variables. Where ``sharding=`` says where each parameter goes itself (a ``Sharding``, a mapping
    or a callable), the annotations are not needed: a model whose annotations name an axis that mesh lacks is
    built with them left unplaced.

    Each construction tried gets copies of the config arguments of ``kwargs`` (:func:`fresh_arguments`): one that
    failed may have consumed its own.

    Raises:
        HubMixinValueError: the model needs a mesh and ``sharding`` (``None`` included) gives none; or an
            annotation names an axis the mesh lacks, and ``sharding=`` (a ``Mesh``, or none) places by them.
    """
    mesh, counters = mesh_of(sharding), rng_counters(kwargs)
    try:
        remake_default_rngs(kwargs, mesh)
        return construct_abstract(cls, fresh_arguments(kwargs), mesh, rng_counts=rng_counts), mesh, True
    except ValueError as error:  # Flax's "An auto mesh context or metadata is required ...", or a JAX axis's
        set_rng_counters(counters)  # (the normal construction tried drew from the caller's streams)
        under = mesh if mesh is not None else _ambient_mesh()
        unplaced = _unplaced(cls, kwargs, sharding, under, rng_counts, error) if under is not None else None
        if unplaced is not None:
            return unplaced, None, False
        annotated = "with annotation" in str(error)  # (not a model's own error that names a mesh)
        if mesh is not None or "mesh" not in str(error) or (sharding is None and not annotated):
            raise
        found = _mesh_of_callable(cls, kwargs, sharding) if sharding is not None and _is_callable(sharding) else None
        if found is None:
            given = "no sharding= is given" if sharding is None else "sharding= gives no NamedSharding to take one from"
            raise HubMixinValueError(
                f"{cls.__qualname__} has variables annotated with nnx.with_partitioning, which Flax creates under a "
                f"mesh only, and {given}: load it under "
                f"`with jax.set_mesh(mesh):`, or pass the Mesh (sharding=mesh) or NamedShardings "
                f"({str(error).splitlines()[0]})"
            ) from error
    try:
        remake_default_rngs(kwargs, found)
        return construct_abstract(cls, fresh_arguments(kwargs), found, rng_counts=rng_counts), found, True
    except ValueError as error:
        set_rng_counters(counters)
        unplaced = _unplaced(cls, kwargs, sharding, found, rng_counts, error)
        if unplaced is None:
            raise
        return unplaced, None, False


def _explicit(sharding: ShardingSpec | None) -> bool:
    """Whether ``sharding`` says where each parameter goes itself, without the model's annotations."""
    return isinstance(sharding, Sharding | Mapping) or (sharding is not None and _is_callable(sharding))


def _unplaced(
    cls: type[_M],
    kwargs: dict[str, Any],
    sharding: ShardingSpec | None,
    mesh: Mesh,
    rng_counts: RngCounts,
    error: ValueError,
) -> _M | None:
    """The model built with its annotations left unplaced, where building it under ``mesh`` failed (``error``)
    because an annotation names an axis ``mesh`` lacks, and ``sharding`` places every parameter itself; ``None``
    where the annotations are not the cause.

    Raises:
        HubMixinValueError: ``sharding`` (a ``Mesh``, or none: the caller's ``jax.set_mesh``) places by the
            annotations; names the variable, its annotation and the mesh's axes.
    """
    built = _unplaced_build(cls, kwargs)
    unfit = unfit_annotation(_as_module(built[0]), mesh) if built is not None else None
    if built is None or unfit is None:
        return None
    if _explicit(sharding):
        rng_counts.extend(built[1])
        return built[0]
    path, spec, axis, logical = unfit
    where = "the Mesh given as sharding=" if sharding is not None else "the mesh of your jax.set_mesh"
    named = f"{axis!r}" if logical is None else f"{axis!r} (its logical axis {logical!r} by the sharding rules)"
    raise HubMixinValueError(
        f"{cls.__qualname__}: variable {path!r} is annotated {spec} (nnx.with_partitioning), whose axis {named} is "
        f"not one of {where}: {mesh.axis_names}; load it onto a mesh with that axis, or give each parameter its "
        "sharding (sharding= NamedShardings on this mesh: one for all, a mapping or a callable of the path)"
    ) from error


def _unplaced_build(cls: type[_M], kwargs: dict[str, Any]) -> tuple[_M, RngCounts] | None:
    """The model built abstractly with its annotations left unplaced (see :func:`annotations_unplaced`), and the
    counts it leaves the caller's streams at; ``None`` if it cannot be built so (its ``__init__`` needs the mesh).
    """
    counts: RngCounts = []
    counters = rng_counters(kwargs)
    try:
        with annotations_unplaced():
            remake_default_rngs(kwargs)
            return construct_abstract(cls, fresh_arguments(kwargs), rng_counts=counts), counts
    except ValueError:
        set_rng_counters(counters)
        return None


def _is_callable(sharding: ShardingSpec) -> bool:
    return callable(sharding) and not isinstance(sharding, Mapping | Sharding | Mesh)


def _mesh_of_callable(cls: type[FlaxHubMixinBase], kwargs: dict[str, Any], place: Any) -> Mesh | None:
    """The mesh of the first ``NamedSharding`` ``place`` gives for the model's variables, their paths found from
    a build that leaves annotated variables unplaced (it needs no mesh); ``None`` if it gives none, or if the
    model cannot be built so (its ``__init__`` reads the mesh). That build is thrown away: the caller's streams
    are set back to where they were (one needing concrete arrays is built normally, drawing from them)."""
    counters = rng_counters(kwargs)
    try:
        with annotations_unplaced():
            remake_default_rngs(kwargs)
            probe = _as_module(construct_abstract(cls, fresh_arguments(kwargs)))
    except ValueError:
        return None
    finally:
        set_rng_counters(counters)
    groups = _layers(probe, cls._hub_flax_stacked_layers)
    for path in _abstract_values(groups, _stacks(groups)):
        found = place(path)
        if isinstance(found, NamedSharding) and isinstance(found.mesh, Mesh):
            return found.mesh
    return None


def _abstract_values(groups: Iterable[LayerVariables], stacks: Iterable[StackedVariable]) -> dict[str, Any]:
    """Each variable's abstract value by path (a stacked one's whole, not its layers')."""
    return {
        f"{group.path}.{name}" if group.path else name: _on_own_mesh(variable)
        for group in groups
        for name, variable in group.variables.items()
        if not isinstance(variable, StackedPiece)
    } | {stack.path: _on_own_mesh(stack.variable) for stack in stacks}


def _on_own_mesh(variable: nnx.Variable[Any]) -> Any:
    """The variable's value; an abstract one annotated with its own mesh (``nnx.with_partitioning(..., mesh=)``),
    which an ``Explicit`` mesh gives as an ``AbstractMesh``, with that concrete mesh, to be placed on."""
    value = variable.get_value()
    sharding, mesh = getattr(value, "sharding", None), variable.get_metadata().get("mesh")
    if not isinstance(value, jax.ShapeDtypeStruct) or not isinstance(sharding, NamedSharding):
        return value
    if not isinstance(mesh, Mesh) or isinstance(sharding.mesh, Mesh) or sharding.mesh != mesh.abstract_mesh:
        return value
    return jax.ShapeDtypeStruct(value.shape, value.dtype, sharding=NamedSharding(mesh, sharding.spec))  # type: ignore[no-untyped-call]


def _groups_naming(model: nnx.Module, stacked: Collection[str], found: Collection[str]) -> dict[str, LayerVariables]:
    """The model's layers by path, grouped as the checkpoint's names (``found``) tell: as this release groups a
    composite layer's sub-modules (``attn.gate.weight``), or, where those name more of its tensors, as releases
    before grouped them all into the composite's (``attn.gate.kernel``), so that their files keep loading."""
    layers, stored = _layers(model, stacked), set(found)
    names = _canonical_names(layers)
    if names <= stored:
        return {group.path: group for group in layers}
    before = _layers(model, stacked, whole_composites=True)
    if len(_canonical_names(before) & stored) > len(names & stored):
        layers = before
    return {group.path: group for group in layers}


def _canonical_names(layers: list[LayerVariables]) -> set[str]:
    """The checkpoint keys ``layers`` read (none where their layouts clash)."""
    try:
        return set(LAYOUTS.to_canonical(tensor_infos(group, None) for group in layers))
    except LayoutError:
        return set()


def _layers(model: nnx.Module, stacked: Collection[str], *, whole_composites: bool = False) -> list[LayerVariables]:
    """:func:`layer_variables`, a stack nested in a stacked module refused (its layers' layouts cannot map it)."""
    layers = layer_variables(model, _graph_paths(model, stacked), whole_composites=whole_composites)
    first: dict[int, LayerVariables] = {}  # each layer module once (at its first index), not once per index
    for group in layers:
        if any(isinstance(held, StackedPiece) for held in group.variables.values()):
            first.setdefault(id(group.layer), group)
    for group in first.values():
        nested = nested_stack(group.layer)
        if nested is not None:
            name, shape, rank = nested
            raise LayoutError(
                f"layer {group.path!r} ({type(group.layer).__name__}) of a module named in stacked_layers holds "
                f"{name!r} of shape {shape}, {len(shape) - rank} axes more than the {rank} its type gives it: a "
                "module stacked by nnx.vmap inside a stacked module (vmapped experts in scanned layers)? Nested "
                "stacks are not supported, declared or not: hold the inner layers in an nnx.List"
            )
    return layers


def _graph_paths(model: nnx.Module, stacked: Collection[str]) -> Collection[str]:
    """``stacked`` (``stacked_layers``) with the modules inside an ``nnx.Sequential`` named by index, as checkpoints
    and ``sharding=`` name them (``seq.0``), given in NNX's own form (``seq.layers.0``), which the walk matches."""
    if not stacked:
        return stacked
    nodes = {tuple(path): node for path, node in nnx.iter_graph(model) if isinstance(node, nnx.Module)}
    graph = {dotted(path) for path in nodes}
    if all(name in graph for name in stacked):  # the common case: nothing to rename
        return stacked
    by_index = {dotted(torch_path(path, nodes)): dotted(path) for path in nodes if path}
    return [name if name in graph else by_index.get(name, name) for name in stacked]


_PER_LAYER = " A stacked variable is named once, without the layer index."


def _checkpoint_names(groups: Iterable[LayerVariables]) -> dict[str, str]:
    """The variable path each name of a checkpoint tensor stored as one variable stands for (``img.weight``:
    ``img.kernel``); a stacked layer's, per layer (``blocks.0.linear.weight``, also ``blocks.0.linear.kernel``)
    or without the index (``blocks.linear.weight``), the stacked variable's (``blocks.linear.kernel``), the
    per-layer ones with :data:`_PER_LAYER` appended."""
    names: dict[str, str] = {}
    for group in groups:
        for name, variable in group.variables.items():
            rule = LAYOUTS.find(group.layer).rule_for(group.layer, name)
            if rule is None:
                continue
            at = LayerTensors(group.path, group.layer, {})
            if isinstance(variable, StackedPiece):
                whole = variable.stacked.path
                names[at.full_name(rule.canonical)] = names[at.full_name(name)] = whole + _PER_LAYER
                names[f"{whole[: -len(name) - 1]}.{rule.canonical}"] = whole
            else:
                names[at.full_name(rule.canonical)] = at.full_name(name)
    return names


def _check_sharding_paths(sharding: Mapping[str, Any], abstract: Mapping[str, Any], stored: Mapping[str, str]) -> None:
    """A ``sharding`` mapping names variables of the model (a misspelled path would leave one unsharded); one
    named by its checkpoint key (``img.weight``) is pointed to the variable (``img.kernel``)."""
    unknown = sorted(set(sharding) - set(abstract))
    if unknown:
        named = ", ".join(f"{key!r}{_hint(key, abstract, stored)}" for key in unknown)
        raise HubMixinValueError(f"sharding names no variable of the model at {named}")


def _hint(key: str, abstract: Mapping[str, Any], stored: Mapping[str, str]) -> str:
    """`` (did you mean ...?)`` for a ``sharding`` key naming no variable, or nothing."""
    if key in stored:
        path = stored[key].removesuffix(_PER_LAYER)
        return f" (did you mean {path!r}?{_PER_LAYER if path != stored[key] else ''})"
    close = difflib.get_close_matches(key, list(abstract), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _as_our_paths(sharding: Mapping[str, Any], abstract: Mapping[str, Any], model: nnx.Module) -> Mapping[str, Any]:
    """``sharding`` with paths in NNX's own form for layers of an ``nnx.Sequential`` (``seq.layers.0.kernel``, as
    ``nnx.state`` prints them), and the other paths of a tied variable (``shared.embedding``), given as the model's
    variables' (``seq.0.kernel``, ``embed_tokens.embedding``).

    Raises:
        HubMixinValueError: two paths of one tied variable are given different shardings.
    """
    unknown = [key for key in sharding if key not in abstract]
    if not unknown:
        return sharding
    renames, tied = legacy_layer_paths(model).items(), tied_aliases(model)
    ours = dict(sharding)
    for key in unknown:
        if tied.get(key) in abstract:
            first = tied[key]
            if first in ours and ours[first] != ours[key]:
                message = f"sharding gives {key!r} and {first!r}, one variable (tied), different shardings"
                raise HubMixinValueError(message)
            ours[first] = ours.pop(key)
            continue
        for old, new in renames:
            if key.startswith(f"{old}."):
                renamed = (f"{new}." if new else "") + key[len(old) + 1 :]
                if renamed in abstract and renamed not in ours:
                    ours[renamed] = ours.pop(key)
                break
    return ours


def _sequential_aliases(model: nnx.Module, names: Iterable[str]) -> dict[str, str]:
    """Renames of the keys earlier releases gave the layers inside an ``nnx.Sequential`` (``mlp.layers.0.weight``,
    now ``mlp.0.weight``), for the layers the checkpoint holds under those keys; longest paths first (as
    ``legacy_layer_paths`` gives them), so that a nested sequential's layers are renamed whole."""
    names = [name for name in names if name.startswith("layers.") or ".layers." in name]
    if not names:  # no key of an earlier release: the model's graph is not walked again
        return {}
    aliases = {}
    for old, new in legacy_layer_paths(model).items():
        if any(name.startswith(f"{old}.") for name in names):
            aliases[rf"^{re.escape(old)}\."] = f"{new}." if new else ""
    return aliases


def _stack_sharding(spec: ShardingSpec | None, stack: StackedVariable, abstract: Any) -> Sharding | None:
    """Where the stacked variable goes: as ``spec`` resolves its path. A one-layer spec the model's annotation
    gives (with a ``Mesh`` or without ``spec``) gets the layer axis; the caller's shardings are taken as given
    (a spec shorter than the rank leaves the trailing axes unpartitioned, as in ``jax.device_put``)."""
    sharding = resolve_sharding(spec, stack.path, abstract)
    from_annotation = spec is None or isinstance(spec, Mesh)
    return with_layer_axis(sharding, len(abstract.shape)) if from_annotation else sharding


def _stacks(groups: Iterable[LayerVariables]) -> list[StackedVariable]:
    """The stacked variables whose layers ``groups`` hold, each once."""
    found = (v.stacked for group in groups for v in group.variables.values() if isinstance(v, StackedPiece))
    return list(dict.fromkeys(found))
