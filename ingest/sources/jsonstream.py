"""JSON documents read with bounded memory: only the members an importer asks for are
built; everything else is parsed (so the whole document is checked) and dropped.

A yt-dlp sidecar written with ``--write-comments`` or a playlist sidecar written with
``--no-clean-info-json`` can hold hundreds of megabytes of comments, formats and
entries that an importer never looks at; ``ijson`` events let us skip them.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

from ingest.errors import UnreadableExport
from ingest.lazy import lazy_import

if TYPE_CHECKING:
    import ijson
else:
    ijson = lazy_import("ijson")

#: Decides whether a map member is built, given its path from the value being built:
#: its keys, with ``"*"`` for the items of an array (``("requested_downloads", "*",
#: "filepath")``).
Keep = Callable[[tuple[str, ...]], bool]

_BOM = b"\xef\xbb\xbf"
_OPEN = ("start_map", "start_array")
_CLOSE = ("end_map", "end_array")
_END = ("", None)


def keep_all(path: tuple[str, ...]) -> bool:
    """A ``Keep`` that builds every member."""
    return True


@contextlib.contextmanager
def open_json(path: str) -> Iterator[BinaryIO]:
    """The file opened for the event reader, past a UTF-8 byte order mark if it has one.

    Raises:
        UnreadableExport: The file cannot be opened.
    """
    try:
        f = open(path, "rb")  # noqa: SIM115 (closed below; the context manager is ours)
    except OSError as exc:
        raise UnreadableExport(exc.strerror or str(exc), path=path) from None
    with f:
        if f.read(len(_BOM)) != _BOM:
            f.seek(0)
        yield f


# The pure-Python parser: sidecars are small, and unlike yajl it reads integers of any
#: size (a tool may write a 20-digit id or date; yajl would call the file unreadable).
@functools.cache
def _parser() -> Any:
    return ijson.get_backend("python")


def _events(f: BinaryIO) -> Iterator[tuple[str, Any]]:
    try:
        yield from _parser().basic_parse(f, use_float=True)
    except (ijson.JSONError, UnicodeDecodeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnreadableExport(f"not valid JSON ({first})") from None
    except OSError as exc:
        raise UnreadableExport(exc.strerror or str(exc)) from None


def _skip(first: tuple[str, Any], events: Iterator[tuple[str, Any]]) -> None:
    """Consume the rest of the value that ``first`` starts."""
    if first[0] not in _OPEN:
        return
    depth = 1
    for event, _ in events:
        if event in _OPEN:
            depth += 1
        elif event in _CLOSE:
            depth -= 1
            if depth == 0:
                return


def _build(
    first: tuple[str, Any], events: Iterator[tuple[str, Any]], keep: Keep, path: tuple[str, ...]
) -> Any:
    """The value that ``first`` starts, without the members ``keep`` rejects."""
    event, value = first
    if event not in _OPEN:
        return value
    root: dict[str, Any] | list[Any] = {} if event == "start_map" else []
    stack: list[tuple[dict[str, Any] | list[Any], tuple[str, ...]]] = [(root, path)]
    key = ""
    for event, value in events:
        container, where = stack[-1]
        if event == "map_key":
            if keep((*where, value)):
                key = value
            else:
                _skip(next(events, _END), events)
            continue
        if event in _CLOSE:
            stack.pop()
            if not stack:
                return root
            continue
        inner = (*where, key) if isinstance(container, dict) else (*where, "*")
        item: Any = value
        if event in _OPEN:
            item = {} if event == "start_map" else []
            stack.append((item, inner))
        if isinstance(container, dict):
            container[key] = item
        else:
            container.append(item)
    raise UnreadableExport("not valid JSON (it ends early)")


def read_object(f: BinaryIO, keep: Keep) -> dict[str, Any]:
    """The document's top-level object with only the members ``keep`` accepts; the whole
    document is parsed, so a document that is cut short or has trailing garbage is refused.

    Raises:
        UnreadableExport: Not valid JSON, or not an object at the top.
    """
    events = _events(f)
    first = next(events, _END)
    if first[0] != "start_map":
        raise UnreadableExport("not a JSON object")
    found = _build(first, events, keep, ())
    for _ in events:  # the parser reports trailing garbage only when asked for more
        pass
    return found


def iter_array(f: BinaryIO, key: str, keep: Keep) -> Iterator[Any]:
    """Stream the items of the top-level member ``key`` (an array), one built at a time;
    nothing when the member is absent or not an array.

    Raises:
        UnreadableExport: Not valid JSON.
    """
    events = _events(f)
    if next(events, _END)[0] != "start_map":
        return
    for event, value in events:
        if event != "map_key":
            continue  # the end of the top-level object
        first = next(events, _END)
        if value != key or first[0] != "start_array":
            _skip(first, events)
            continue
        for item in events:
            if item[0] == "end_array":
                break
            yield _build(item, events, keep, ())


def top_keys(f: BinaryIO) -> Iterator[tuple[str, str]]:
    """Stream ``(key, event)`` for each member of the top-level object, where ``event`` is
    the first parser event of its value (``"string"``, ``"start_map"``, ...); the value is
    skipped when the caller asks for the next key. Nothing when the top is not an object.

    Raises:
        UnreadableExport: Not valid JSON (up to where the caller stopped reading).
    """
    events = _events(f)
    if next(events, _END)[0] != "start_map":
        return
    for event, value in events:
        if event != "map_key":
            return
        first = next(events, _END)
        yield value, first[0]
        _skip(first, events)
