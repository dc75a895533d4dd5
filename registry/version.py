"""The tool's name and version, as written into every custody entry.

The version is stated here, not looked up in the installed metadata (``importlib.metadata``
costs every command tens of milliseconds); ``pyproject.toml`` reads it from this file.
"""

TOOL_NAME = "evidence-registry"
__version__ = "0.1.0"
