"""fairvision: accurate and fair vision models across demographic groups."""

from fairvision.errors import ConfigError, DatasetError, FairvisionError

__version__ = "0.1.0"

__all__ = ["ConfigError", "DatasetError", "FairvisionError", "__version__"]
