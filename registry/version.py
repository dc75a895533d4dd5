"""The tool's name and version, as written into every custody entry."""

from importlib import metadata

TOOL_NAME = "evidence-registry"
try:
    __version__ = metadata.version(TOOL_NAME)
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.1.0"
