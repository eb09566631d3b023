"""The framework-neutral weights layer: safetensors files, shards, checkpoints, the strict policy, layout adapters.

Framework packages pass their own tensors and their safetensors writer; this layer never converts tensors.

Examples:
    >>> import numpy as np, tempfile
    >>> from safetensors.numpy import save_file
    >>> from hubmixin_core.weights import save_safetensors, resolve_weight_files, read_tensor_infos
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     tensors = {"a": np.zeros((4, 4), np.float32), "b": np.ones(8, np.float32)}
    ...     save_safetensors(tensors, tmp, save_file=save_file, nbytes=lambda t: t.nbytes, max_shard_size=64)
    ...     files = resolve_weight_files(tmp)
    ...     sorted(read_tensor_infos(files))
    ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json']
    ['a', 'b']
"""

from hubmixin_core.weights import transforms as transforms
from hubmixin_core.weights._attention import MultiHeadAttentionAdapter as MultiHeadAttentionAdapter
from hubmixin_core.weights._canonical import CanonicalLoad as CanonicalLoad
from hubmixin_core.weights._canonical import LazyTensor as LazyTensor
from hubmixin_core.weights._canonical import load_canonical as load_canonical
from hubmixin_core.weights._canonical import save_canonical as save_canonical
from hubmixin_core.weights._canonical import tied_names as tied_names
from hubmixin_core.weights._check import check_tensors as check_tensors
from hubmixin_core.weights._check import mismatch_error as mismatch_error
from hubmixin_core.weights._check import read_tensor_infos as read_tensor_infos
from hubmixin_core.weights._check import report_held_apart as report_held_apart
from hubmixin_core.weights._checkpoint import Checkpoint as Checkpoint
from hubmixin_core.weights._checkpoint import TensorReader as TensorReader
from hubmixin_core.weights._checkpoint import open_checkpoint as open_checkpoint
from hubmixin_core.weights._dtypes import ARRAY_DTYPE_NAMES as ARRAY_DTYPE_NAMES
from hubmixin_core.weights._dtypes import FLOATING_DTYPES as FLOATING_DTYPES
from hubmixin_core.weights._dtypes import NUMPY_DTYPES as NUMPY_DTYPES
from hubmixin_core.weights._dtypes import converted_by_dtype as converted_by_dtype
from hubmixin_core.weights._dtypes import dtype_name as dtype_name
from hubmixin_core.weights._dtypes import floating_dtype_name as floating_dtype_name
from hubmixin_core.weights._dtypes import is_floating as is_floating
from hubmixin_core.weights._dtypes import numpy_dtype as numpy_dtype
from hubmixin_core.weights._header import DTYPE_SIZES as DTYPE_SIZES
from hubmixin_core.weights._header import Header as Header
from hubmixin_core.weights._header import TensorInfo as TensorInfo
from hubmixin_core.weights._header import read_header as read_header
from hubmixin_core.weights._index import ShardIndex as ShardIndex
from hubmixin_core.weights._layout import IDENTITY as IDENTITY
from hubmixin_core.weights._layout import BidirectionalAdapter as BidirectionalAdapter
from hubmixin_core.weights._layout import ConvAdapter as ConvAdapter
from hubmixin_core.weights._layout import LayerTensors as LayerTensors
from hubmixin_core.weights._layout import LayoutAdapter as LayoutAdapter
from hubmixin_core.weights._layout import LayoutRegistry as LayoutRegistry
from hubmixin_core.weights._layout import MappedAdapter as MappedAdapter
from hubmixin_core.weights._layout import SubLayerAdapter as SubLayerAdapter
from hubmixin_core.weights._layout import TensorRule as TensorRule
from hubmixin_core.weights._metadata import CANONICAL_METADATA as CANONICAL_METADATA
from hubmixin_core.weights._metadata import FRAMEWORK_KEY as FRAMEWORK_KEY
from hubmixin_core.weights._metadata import LAYOUT_KEY as LAYOUT_KEY
from hubmixin_core.weights._metadata import LAYOUT_VERSION as LAYOUT_VERSION
from hubmixin_core.weights._metadata import canonical_metadata as canonical_metadata
from hubmixin_core.weights._names import CONFIG_NAME as CONFIG_NAME
from hubmixin_core.weights._names import PYTORCH_WEIGHTS_NAME as PYTORCH_WEIGHTS_NAME
from hubmixin_core.weights._names import SAFETENSORS_INDEX_NAME as SAFETENSORS_INDEX_NAME
from hubmixin_core.weights._names import SAFETENSORS_SINGLE_FILE as SAFETENSORS_SINGLE_FILE
from hubmixin_core.weights._names import check_relative_path as check_relative_path
from hubmixin_core.weights._names import is_weights_file as is_weights_file
from hubmixin_core.weights._names import shard_file_name as shard_file_name
from hubmixin_core.weights._report import MISSING_BYTES_FLOOR as MISSING_BYTES_FLOOR
from hubmixin_core.weights._report import MIXIN_CONVERT_HINT as MIXIN_CONVERT_HINT
from hubmixin_core.weights._report import LoadReport as LoadReport
from hubmixin_core.weights._report import check_checkpoint as check_checkpoint
from hubmixin_core.weights._report import check_missing_size as check_missing_size
from hubmixin_core.weights._resolve import WeightFiles as WeightFiles
from hubmixin_core.weights._resolve import resolve_weight_files as resolve_weight_files
from hubmixin_core.weights._save import SaveFile as SaveFile
from hubmixin_core.weights._save import plan_shards as plan_shards
from hubmixin_core.weights._save import save_safetensors as save_safetensors
from hubmixin_core.weights._settings import BUILD_KEY as BUILD_KEY
from hubmixin_core.weights._settings import SETTING_NAMES as SETTING_NAMES
from hubmixin_core.weights._settings import SETTINGS_KEY as SETTINGS_KEY
from hubmixin_core.weights._settings import Settings as Settings
from hubmixin_core.weights._settings import merged_settings as merged_settings
from hubmixin_core.weights._settings import recurrent_settings as recurrent_settings
from hubmixin_core.weights._settings import same_padding as same_padding
from hubmixin_core.weights._settings import saved_settings as saved_settings
from hubmixin_core.weights._settings import settings_metadata as settings_metadata
from hubmixin_core.weights._settings import transpose_crop as transpose_crop
from hubmixin_core.weights._settings import warn_settings as warn_settings
from hubmixin_core.weights._size import parse_size as parse_size
from hubmixin_core.weights._write import ALIGNMENT as ALIGNMENT
from hubmixin_core.weights._write import TensorBytes as TensorBytes
from hubmixin_core.weights._write import write_safetensors as write_safetensors

__all__ = [
    "ALIGNMENT",
    "ARRAY_DTYPE_NAMES",
    "BidirectionalAdapter",
    "CANONICAL_METADATA",
    "CONFIG_NAME",
    "DTYPE_SIZES",
    "FLOATING_DTYPES",
    "Header",
    "IDENTITY",
    "MISSING_BYTES_FLOOR",
    "MIXIN_CONVERT_HINT",
    "NUMPY_DTYPES",
    "PYTORCH_WEIGHTS_NAME",
    "SAFETENSORS_INDEX_NAME",
    "SAFETENSORS_SINGLE_FILE",
    "CanonicalLoad",
    "ConvAdapter",
    "Checkpoint",
    "LayerTensors",
    "LayoutAdapter",
    "LayoutRegistry",
    "LazyTensor",
    "LoadReport",
    "MappedAdapter",
    "MultiHeadAttentionAdapter",
    "SaveFile",
    "ShardIndex",
    "SubLayerAdapter",
    "TensorInfo",
    "TensorBytes",
    "TensorReader",
    "TensorRule",
    "WeightFiles",
    "check_checkpoint",
    "check_missing_size",
    "check_relative_path",
    "check_tensors",
    "converted_by_dtype",
    "dtype_name",
    "floating_dtype_name",
    "is_floating",
    "is_weights_file",
    "load_canonical",
    "mismatch_error",
    "numpy_dtype",
    "open_checkpoint",
    "parse_size",
    "plan_shards",
    "read_header",
    "read_tensor_infos",
    "report_held_apart",
    "resolve_weight_files",
    "save_canonical",
    "save_safetensors",
    "shard_file_name",
    "tied_names",
    "transforms",
    "write_safetensors",
]
