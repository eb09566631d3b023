"""hubmixin-core: the framework-neutral ``ModelHubMixin`` and the weights layer of hubmixin.

Examples:
    >>> from hubmixin_core import ModelHubMixin
    >>> issubclass(ModelHubMixin, object)
    True
"""

from hubmixin_core import errors as errors
from hubmixin_core import params as params
from hubmixin_core._card import DEFAULT_MODEL_CARD as DEFAULT_MODEL_CARD
from hubmixin_core._generated._options import DownloadOptions as DownloadOptions
from hubmixin_core._generated._options import UploadOptions as UploadOptions
from hubmixin_core._hub import download_file as download_file
from hubmixin_core._hub import download_files as download_files
from hubmixin_core._hub import locate_file as locate_file
from hubmixin_core._mixin import ModelHubMixin as ModelHubMixin
from hubmixin_core.errors import ConfigEncodingError as ConfigEncodingError
from hubmixin_core.errors import ConfigEncodingWarning as ConfigEncodingWarning
from hubmixin_core.errors import ConfigError as ConfigError
from hubmixin_core.errors import HubMixinError as HubMixinError
from hubmixin_core.errors import LoaderOptionWarning as LoaderOptionWarning
from hubmixin_core.errors import WeightsError as WeightsError
from hubmixin_core.typing import DataclassInstance as DataclassInstance

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_MODEL_CARD",
    "ConfigEncodingError",
    "ConfigEncodingWarning",
    "LoaderOptionWarning",
    "ConfigError",
    "DataclassInstance",
    "DownloadOptions",
    "HubMixinError",
    "ModelHubMixin",
    "UploadOptions",
    "WeightsError",
    "__version__",
    "download_file",
    "download_files",
    "locate_file",
    "errors",
    "params",
]
