"""YAML bytes -> data, refusing what could hang, exhaust or crash a reader, each at FILE:LINE.

What is refused (and the tests in tests/test_yaml_limits.py say so; any faster parser must keep
them passing): text that is not UTF-8 (UTF-16, Latin-1), NUL bytes and other control characters,
nesting deeper than ``MAX_DEPTH``, more than ``MAX_ALIASES`` aliases, an alias that refers to
itself or to something holding aliases (the "billion laughs"), and aliases that would expand to
more than ``MAX_EXPANDED_NODES`` nodes. A UTF-8 byte order mark and CRLF line ends are accepted.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING, Any

from calendar_service.data.yamlfast import DECLINED, fast_load

if TYPE_CHECKING:
    from calendar_service.data.yamlio import _Report

MAX_DEPTH = 50
MAX_ALIASES = 100
MAX_EXPANDED_NODES = 100_000

# In the file itself: C0 controls but tab, CR and LF; DEL; C1 controls (NEL included: a YAML line
# break that only mojibake produces); the Unicode line separators; bidirectional overrides, which
# can make text read differently from what it is ("Trojan Source").
RAW_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# In values after YAML escapes ("\0", "\a", "\r" in double quotes): the same, and CR too.
VALUE_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def char_name(ch: str) -> str:
    names = {"\x00": "NUL", "\x07": "BEL", "\x08": "BS", "\x1b": "ESC", "\x7f": "DEL",
             "\r": "CR", "\x0b": "VT", "\x0c": "FF", "\x85": "NEL"}
    name = names.get(ch) or unicodedata.name(ch, "")
    return f"U+{ord(ch):04X}" + (f" ({name})" if name else "")


def _line_at(data: bytes | str, index: int) -> int:
    newline: Any = b"\n" if isinstance(data, bytes) else "\n"
    return data.count(newline, 0, index) + 1


def _decode(data: bytes, report: _Report) -> str | None:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(data) > 1 and b"\x00" in data[:2]
                                                      and data.count(b"\x00") * 3 > len(data)):
        report.add(1, "", "the file is UTF-16 text; save it as UTF-8")
        return None
    nul = data.find(b"\x00")
    if nul >= 0:
        more = data.count(b"\x00") - 1
        report.add(_line_at(data, nul), "",
                   "a NUL byte (\\0): the file is damaged or not plain text; remove it"
                   + (f" (and {more} more in the file)" if more else ""))
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        byte = data[exc.start]
        report.add(_line_at(data, exc.start), "",
                   f"not UTF-8 text (byte 0x{byte:02X}); save the file as UTF-8 (it looks like "
                   "Latin-1 or Windows-1252)")
        return None
    text = text.removeprefix("\ufeff")  # a UTF-8 byte order mark: harmless, editors add it
    found = list(RAW_CONTROL.finditer(text))
    if found:
        first = found[0]
        report.add(_line_at(text, first.start()), "",
                   f"control character {char_name(first.group())} in the text; remove it"
                   + (f" (and {len(found) - 1} more in the file)" if len(found) > 1 else ""))
        return None
    return text


def _tab_line(text: str, line: int | None) -> bool:
    """Whether that line is indented with a tab (YAML's scanner error for it is cryptic)."""
    lines = text.splitlines()
    if line is None or not 0 < line <= len(lines):
        return False
    row = lines[line - 1]
    return "\t" in row[:len(row) - len(row.lstrip())]


def _composer_class() -> type:
    from ruamel.yaml.composer import Composer
    from ruamel.yaml.error import MarkedYAMLError
    from ruamel.yaml.events import AliasEvent

    class Refused(MarkedYAMLError):
        pass

    class BoundedComposer(Composer):  # type: ignore[misc]
        """Counts aliases and what they expand to while composing, and refuses early."""

        refused = Refused

        def compose_document(self) -> Any:
            self.aliases = 0
            self.expanded = 0
            self.nodes = 0
            self.open_anchors: list[str | None] = []
            self.holding_alias: set[str] = set()
            self.sizes: dict[str, int] = {}
            return super().compose_document()

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.parser.check_event(AliasEvent):
                event = self.parser.peek_event()
                name = event.anchor
                self.aliases += 1
                if self.aliases > MAX_ALIASES:
                    raise Refused(None, None, f"more than {MAX_ALIASES} aliases (*name); write "
                                  "the values out instead", event.start_mark)
                if name in self.open_anchors:
                    raise Refused(None, None, f"the alias *{name} refers to itself", event.start_mark)
                if name in self.holding_alias:
                    raise Refused(None, None, f"the alias *{name} refers to something that holds "
                                  "aliases itself, which multiplies (a \"billion laughs\" file); "
                                  "write the values out", event.start_mark)
                self.expanded += self.sizes.get(name, 1)
                if self.expanded > MAX_EXPANDED_NODES:
                    raise Refused(None, None, f"aliases expand to more than {MAX_EXPANDED_NODES} "
                                  "values; write the values out", event.start_mark)
                self.holding_alias.update(a for a in self.open_anchors if a is not None)
                return super().compose_node(parent, index)
            anchor = self.parser.peek_event().anchor
            if anchor is not None:
                self.holding_alias.discard(anchor)  # a redefinition starts afresh
            self.open_anchors.append(anchor)
            start = self.nodes
            self.nodes += 1
            try:
                return super().compose_node(parent, index)
            finally:
                self.open_anchors.pop()
                if anchor is not None:
                    self.sizes[anchor] = self.nodes - start

    return BoundedComposer


def _parse(text: str, report: _Report) -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.composer import MaxDepthExceededError
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = YAML(typ="rt")
    yaml.max_depth = MAX_DEPTH
    composer = _composer_class()
    yaml.Composer = composer
    try:
        return yaml.load(text)
    except MaxDepthExceededError as exc:
        mark = exc.problem_mark
        report.add(mark.line + 1 if mark else None, "",
                   f"nested deeper than {MAX_DEPTH} levels; these files need far fewer")
    except composer.refused as exc:  # type: ignore[attr-defined]
        mark = exc.problem_mark
        report.add(mark.line + 1 if mark else None, "", str(exc.problem))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = str(exc.problem)
        if "\\t" in problem and _tab_line(text, line):
            report.add(line, "", "a tab in the indentation; YAML indents with spaces only")
            return None
        dup = re.match(r'found duplicate key "(.*?)" with value', problem)
        if dup:
            report.add(line, "", f"the key {dup.group(1)!r} appears twice in the same mapping; "
                                 "keep one")
            return None
        what = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        report.add(line, "", f"YAML syntax error: {what.strip()}; check indentation and quoting")
    except YAMLError as exc:
        report.add(None, "", f"YAML syntax error: {exc}")
    except RecursionError:  # a parser path the depth limit does not cover: refused all the same
        report.add(None, "", f"nested deeper than {MAX_DEPTH} levels; these files need far fewer")
    return None


def _walk(node: Any, field: str, line: int | None, report: _Report) -> None:
    """Every string, keys included, free of control characters: a NUL or BEL written as a YAML
    escape ("\\0", "\\a") would otherwise pass into e-mails, feeds and pages."""
    from calendar_service.data.yamlio import _line_of

    stack: list[tuple[Any, str, int | None]] = [(node, field, line)]
    while stack:
        value, where, at = stack.pop()
        if isinstance(value, str):
            m = VALUE_CONTROL.search(value)
            if m:
                report.add(at, where, f"contains the control character {char_name(m.group())}; "
                                      "remove it (it would break e-mails, feeds and pages)")
        elif isinstance(value, dict):
            for key, item in value.items():
                key_line = _line_of(value, key) or at
                sub = f"{where}.{key}" if where else str(key)
                if isinstance(key, str) and VALUE_CONTROL.search(key):
                    stack.append((key, where or "(key)", key_line))
                    continue
                stack.append((item, sub, key_line))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                stack.append((item, f"{where}[{i}]", _line_of(value, i) or at))


def load_limited(data: bytes, report: _Report, fast: bool = False) -> Any:
    """The data of a YAML file's bytes, or None with the problems added to ``report``.

    ``fast``: libyaml reads it when it is a plain file (see ``yamlfast``), else ruamel."""
    text = _decode(data, report)
    if text is None:
        return None
    root = DECLINED
    if fast:
        root = fast_load(text)
        report.read_fast = root is not DECLINED
    if root is DECLINED:
        root = _parse(text, report)
    if root is not None and not report.problems:
        before = len(report.problems)
        _walk(root, "", 1, report)
        if len(report.problems) > before:
            report.problems.sort(key=lambda p: (p.line or 0))
    return root
