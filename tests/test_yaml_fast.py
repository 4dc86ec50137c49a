"""libyaml's fast path reads a file exactly as ruamel does, or leaves it to ruamel.

Same values, same kinds of value (YAML 1.2: ``09:00`` and ``yes`` stay text), same lines; and
every file with something to report is reported by ruamel (tests/test_bad_input.py holds the
messages)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from calendar_service.base.errors import DataError
from calendar_service.data.days import load_days
from calendar_service.data.yamlfast import DECLINED, LineList, LineMap, fast_load
from calendar_service.data.yamlio import _Report
from calendar_service.data.yamlsafe import _decode, _parse

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted({*ROOT.glob("*.yaml"), *ROOT.glob("tests/**/*.yaml")})


def _slow(text: str) -> Any:
    return _parse(text, _Report("x"))


def _same(fast: Any, slow: Any, where: str = "") -> None:
    """Equal values of the same kind, with ruamel's line for every key and item."""
    if isinstance(slow, dict):
        assert isinstance(fast, LineMap), where
        assert list(fast) == list(slow), where
        assert fast.lc.line == slow.lc.line, where
        for key in slow:
            assert fast.lc.key(key)[0] == slow.lc.key(key)[0], f"{where}.{key}"
            _same(fast[key], slow[key], f"{where}.{key}")
    elif isinstance(slow, list):
        assert isinstance(fast, LineList), where
        assert len(fast) == len(slow), where
        assert fast.lc.line == slow.lc.line, where
        for i, item in enumerate(slow):
            assert fast.lc.item(i)[0] == slow.lc.item(i)[0], f"{where}[{i}]"
            _same(fast[i], item, f"{where}[{i}]")
    else:
        assert fast == slow, where
        kind = str if isinstance(slow, str) else type(slow)  # ruamel's block scalars: str kinds
        assert type(fast) is kind, f"{where}: {type(fast).__name__} for {type(slow).__name__}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_data_file_reads_as_ruamel_reads_it_or_is_left_to_ruamel(path: Path) -> None:
    text = _decode(path.read_bytes(), _Report(str(path)))
    if text is None:
        return  # refused before any parser sees it
    fast = fast_load(text)
    if fast is not DECLINED:
        _same(fast, _slow(text))


@pytest.mark.parametrize("name", ["days.yaml", "offices.yaml"])
def test_the_shipped_files_take_the_fast_path(name: str) -> None:
    text = (ROOT / name).read_text(encoding="utf-8")
    assert fast_load(text) is not DECLINED


@pytest.mark.parametrize("text", [
    "a: &x 1\nb: *x\n",            # anchors and aliases: ruamel counts them
    "a: !!str 1\n",                # tags
    "%YAML 1.1\n---\na: yes\n",    # a directive changes what scalars mean
    "a: 1\na: 2\n",                # duplicate keys: ruamel refuses them
    "a: 1\n---\nb: 2\n",           # two documents
    "<<: {a: 1}\n",                # merge keys
    "? [a]\n: 1\n",                # a list as a key
    "a: 0x1F\n", "a: 0o17\n", "a: 1_000\n", "a: 007\n", "a: 0\n", "a: 1.5\n", "a: .inf\n",
    "a: 2026-03-01 10:00:00\n", "a: 2026-02-30\n",
    "a: 'unclosed\n",
    "a:\n\tb: 1\n",
    "[" * 30 + "]" * 30 + "\n",
])
def test_anything_out_of_the_ordinary_is_left_to_ruamel(text: str) -> None:
    assert fast_load(text) is DECLINED


PLAIN = st.text(st.sampled_from("0123456789-+._:eEoxXbB~ntrufalsNTRUFALSYyOo <=#"), min_size=1,
                max_size=12).map(str.strip).filter(lambda s: s and not s.startswith(("#", "-")))


@settings(max_examples=1500, deadline=None)
@given(PLAIN)
@example("09:00")
@example("yes")
@example("on")
@example("No")
@example("2026-03-01")
@example("+12")
@example("-3")
@example("1e3")
@example("~")
@example("TRUE")
def test_a_plain_scalar_means_what_it_means_to_ruamel(value: str) -> None:
    text = f"k: {value}\n"
    fast = fast_load(text)
    try:
        slow = _slow(text)
    except Exception:  # noqa: BLE001 - ruamel's own surprise: the fast path must decline
        slow = DECLINED
    if fast is not DECLINED:
        assert slow is not DECLINED and slow is not None
        _same(fast, slow)


@pytest.mark.parametrize("style", ["'09:00'", '"yes"', "|\n  yes\n", ">\n  a\n  b\n", "'a''b'"])
def test_quoted_and_block_scalars_are_text_as_in_ruamel(style: str) -> None:
    text = f"k: {style}\n"
    _same(fast_load(text), _slow(text))


def test_a_file_with_a_problem_is_reported_from_ruamels_reading(tmp_path: Path) -> None:
    bad = tmp_path / "days.yaml"
    bad.write_text((ROOT / "tests/data/bad/base/days.yaml").read_text(encoding="utf-8")
                   .replace("version: 1", "version: 1\nextra: 1", 1), encoding="utf-8")
    with pytest.raises(DataError) as caught:
        load_days(bad)
    assert getattr(caught.value, "read_fast", None) is False
    assert [p.line for p in caught.value.problems] == [3]
