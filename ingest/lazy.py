"""Heavy libraries imported on first use, so that a command pays only for what it runs.

OpenCV, PyAV, NumPy, Pillow and the hash libraries take most of a second to import, and
``evidence --help``, ``list`` or ``verify`` never decode a picture. A module that needs one
binds a stand-in instead of importing it::

    if TYPE_CHECKING:
        import cv2
    else:
        cv2 = lazy_import("cv2")

The library is imported the first time one of its attributes is looked up (type checkers
see the real module). ``tests/test_startup.py`` keeps the CLI's import free of them.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import Any


class LazyModule:
    """Stands for the module ``name`` and imports it at the first attribute lookup.

    ``home``: the namespace of the module that bound the stand-in. Once the library is
    imported, every name there bound to the stand-in is rebound to the library itself,
    so that later lookups (``np.zeros`` in a search loop) cost what a plain import does.
    """

    __slots__ = ("_home", "_module", "_name")

    def __init__(self, name: str, home: dict[str, Any] | None = None) -> None:
        self._name = name
        self._module: ModuleType | None = None
        self._home = home

    def _load(self) -> ModuleType:
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
            home = self._home
            if home is not None:
                for key in [k for k, v in home.items() if v is self]:
                    home[key] = module
        return module

    def __getattr__(self, attr: str) -> Any:
        # Only called for names the stand-in itself lacks: every name of the module.
        return getattr(self._load(), attr)

    def __setattr__(self, attr: str, value: Any) -> None:
        # Settings such as ``ImageFile.LOAD_TRUNCATED_IMAGES`` are the module's.
        if attr in LazyModule.__slots__:
            object.__setattr__(self, attr, value)
        else:
            setattr(self._load(), attr, value)

    def __repr__(self) -> str:
        state = "imported" if self._module is not None else "not imported yet"
        return f"<lazy module {self._name!r} ({state})>"


def lazy_import(name: str) -> Any:
    """A stand-in for the module ``name`` (dotted, e.g. ``"PIL.Image"``), imported when
    first used. Typed ``Any``: modules bind it under ``if not TYPE_CHECKING``."""
    return LazyModule(name, sys._getframe(1).f_globals)
