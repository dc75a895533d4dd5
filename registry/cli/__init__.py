"""The ``evidence`` command line: thin Click wrappers over the Python API.

Each command opens the registry, calls one API function, and prints. Errors the tool
raises on purpose become a one-line message and exit code 1; usage errors exit 2.

``base`` holds the group ``cli`` and what the commands share; importing the command
modules here adds their commands to it:

- ``items``: init, ingest, show, list;
- ``near``: match, dupes, reindex;
- ``log``: custody, verify, rebuild, key (create, list), note, checkpoint, prove;
- ``export``: export;
- ``imports``: import;
- ``accounts``: user (add, grant, revoke, list), token (create, revoke), serve.
"""

from __future__ import annotations

from registry.cli import (  # noqa: F401  (they register commands)
    accounts,
    export,
    imports,
    items,
    log,
    near,
)
from registry.cli.base import cli

__all__ = ["cli", "main"]


def main() -> None:
    cli(prog_name="evidence")
