"""The fast path for reading a data file: libyaml's C parser, the values ruamel would give.

ruamel's round-trip loader is pure Python and gathers comments: three quarters of ``check`` on
the shipped days.yaml went into it. Here libyaml (through PyYAML) scans and parses, and the
values are built from its events with their lines, keeping the meaning ruamel gives a file:
YAML 1.2 scalars (``09:00`` and ``yes`` stay text), no duplicate keys.

Only plain files take this path. Anything out of the ordinary (a parse error, anchors and
aliases, tags, directives, several documents, merge keys, a duplicate or complex key, a number
other than a plain decimal integer, a date-time, deep nesting) makes ``fast_load`` answer
``DECLINED``, and the caller uses ruamel, whose refusals and messages stay the ones users see.
The values carry an ``lc`` like ruamel's (``line``, ``key(k)``, ``item(i)``: 0-based), so
``yamlio._line_of`` reads lines from either.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

DECLINED: Any = object()  # "use ruamel": not a value a document can have
MAX_FAST_DEPTH = 20  # deeper files are rare and go through ruamel's depth limit

# YAML 1.2 as ruamel resolves plain scalars (ruamel.yaml.resolver, version (1, 2)).
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_DECIMAL = re.compile(r"^[-+]?[1-9][0-9]*$")  # "0" is a ScalarInt in ruamel: declined
_INT = re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?[0-9_]+|[-+]?0x[0-9a-fA-F_]+)$")
_FLOAT = re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.X)
_DATE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$")
_TIMESTAMP = re.compile(r"""^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
    |[0-9][0-9][0-9][0-9] -[0-9][0-9]? -[0-9][0-9]?
    (?:[Tt]|[ \t]+)[0-9][0-9]?
    :[0-9][0-9] :[0-9][0-9] (?:\.[0-9]*)?
    (?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$""", re.X)
_SPECIAL = frozenset(("<<", "="))  # merge and value keys: ruamel's business


class Lines:
    """Where a mapping's keys or a sequence's items start, as ruamel's ``lc`` tells it."""

    __slots__ = ("col", "line", "marks")

    def __init__(self, line: int, col: int) -> None:
        self.line = line
        self.col = col
        self.marks: dict[Any, tuple[int, int]] = {}

    def key(self, key: Any) -> tuple[int, int]:
        return self.marks[key]

    def item(self, index: int) -> tuple[int, int]:
        return self.marks[index]


class LineMap(dict):  # type: ignore[type-arg]
    __slots__ = ("lc",)


class LineList(list):  # type: ignore[type-arg]
    __slots__ = ("lc",)


class _Decline(Exception):
    pass


def _plain(value: str) -> Any:
    """A plain scalar's value under YAML 1.2, or _Decline where ruamel should decide."""
    if _NULL.match(value):
        return None
    if _BOOL.match(value):
        return value[0] in "tT"
    if value in _SPECIAL:
        raise _Decline
    first = value[0]
    if first in "-+0123456789.":
        if _DECIMAL.match(value):
            return int(value)
        if _INT.match(value) or _FLOAT.match(value):
            raise _Decline
    if first in "0123456789" and _TIMESTAMP.match(value):
        m = _DATE.match(value)
        if m is None:
            raise _Decline
        try:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            raise _Decline from None
    return value


def _scalar(event: Any) -> Any:
    if event.anchor is not None or event.tag is not None:
        raise _Decline
    if not event.style:  # plain: '' from libyaml
        return _plain(event.value)
    return event.value


def fast_load(text: str) -> Any:
    """The document's value, or DECLINED when ruamel should read this file."""
    try:
        import yaml.events
        from yaml._yaml import CParser
    except ImportError:  # PyYAML built without libyaml: ruamel reads everything
        return DECLINED
    parser = CParser(text)
    try:
        return _build(parser, yaml.events)
    except Exception:  # noqa: BLE001 - a parse error or a surprise: ruamel reads and reports
        return DECLINED
    finally:
        parser.dispose()


def _build(parser: Any, yaml: Any) -> Any:
    ScalarEvent = yaml.ScalarEvent  # noqa: N806 - the classes, looked up once
    MappingStartEvent = yaml.MappingStartEvent  # noqa: N806
    SequenceStartEvent = yaml.SequenceStartEvent  # noqa: N806
    MappingEndEvent = yaml.MappingEndEvent  # noqa: N806
    SequenceEndEvent = yaml.SequenceEndEvent  # noqa: N806
    get = parser.get_event

    event = get()  # stream start
    event = get()
    if isinstance(event, yaml.StreamEndEvent):
        return None
    if not isinstance(event, yaml.DocumentStartEvent) or event.version or event.tags:
        raise _Decline
    # Open collections: [container, pending key (maps), has-key flag]
    stack: list[list[Any]] = []
    root: Any = DECLINED
    while True:
        event = get()
        cls = type(event)
        if cls is ScalarEvent:
            value = _scalar(event)
            mark = (event.start_mark.line, event.start_mark.column)
        elif cls is MappingStartEvent or cls is SequenceStartEvent:
            if event.anchor is not None or event.tag is not None or len(stack) >= MAX_FAST_DEPTH:
                raise _Decline
            value = LineMap() if cls is MappingStartEvent else LineList()
            mark = (event.start_mark.line, event.start_mark.column)
            value.lc = Lines(*mark)
        elif cls is MappingEndEvent or cls is SequenceEndEvent:
            value = stack.pop()[0]
            if stack:
                _finish(stack[-1], value, value.lc.line, value.lc.col, closed=True)
                continue
            root = value
            break
        elif isinstance(event, yaml.DocumentEndEvent):
            break
        else:  # aliases, or anything else unexpected
            raise _Decline
        if not stack:
            if cls is ScalarEvent:
                root = value
                continue
            stack.append([value, None, False])
            continue
        if cls is ScalarEvent:
            _finish(stack[-1], value, *mark, closed=False)
        else:
            top = stack[-1]
            if isinstance(top[0], LineMap) and not top[2]:
                raise _Decline  # a collection as a key
            stack.append([value, None, False])
    event = get()
    if isinstance(event, yaml.DocumentEndEvent):
        event = get()
    if not isinstance(event, yaml.StreamEndEvent):
        raise _Decline  # a second document: ruamel says it expected one
    return None if root is DECLINED else root


def _finish(top: list[Any], value: Any, line: int, col: int, *, closed: bool) -> None:
    """Put a finished node into the open collection on top of the stack."""
    container = top[0]
    if isinstance(container, LineList):
        container.lc.marks[len(container)] = (line, col)
        container.append(value)
        return
    if not top[2]:  # a key
        if closed or isinstance(value, list | dict) or value in container:
            raise _Decline  # a complex or duplicate key
        try:
            hash(value)
        except TypeError:
            raise _Decline from None
        top[1], top[2] = value, True
        container.lc.marks[value] = (line, col)
        return
    container[top[1]] = value
    top[1], top[2] = None, False
