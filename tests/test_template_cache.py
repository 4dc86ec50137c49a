"""Compiled templates are kept on disk (jinja bytecode by source hash): a cache, never a source
of truth — an edit is seen at once, and a cache that cannot be used only costs time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import pytest

from calendar_service.base.errors import TemplateError
from calendar_service.mail.compose import template_env
from calendar_service.publishing.render import Renderer


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the templates jinja compiles from source (a cached one is not)."""
    names: list[str] = []
    real = jinja2.Environment.compile

    def counting(self: jinja2.Environment, source: Any, name: str | None = None,
                 *args: Any, **kwargs: Any) -> Any:
        names.append(str(name))
        return real(self, source, name, *args, **kwargs)

    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    return names


def _templates(tmp_path: Path, text: str) -> Path:
    root = tmp_path / "templates"
    (root / "site").mkdir(parents=True, exist_ok=True)
    (root / "site" / "hello.html").write_text(text, encoding="utf-8")
    return root


def test_a_second_process_renders_from_the_compiled_template(tmp_path: Path,
                                                             compiles: list[str]) -> None:
    root, cache = _templates(tmp_path, "Hola, {{ who }}.\n"), tmp_path / "cache"
    first = Renderer(root, cache=cache).render("site/hello.html", who="Ana")
    second = Renderer(root, cache=cache).render("site/hello.html", who="Ana")
    assert first == second == "Hola, Ana.\n"
    assert compiles == ["site/hello.html"]
    assert list(cache.iterdir())


def test_an_edited_template_is_compiled_again(tmp_path: Path, compiles: list[str]) -> None:
    root, cache = _templates(tmp_path, "Hola, {{ who }}.\n"), tmp_path / "cache"
    Renderer(root, cache=cache).render("site/hello.html", who="Ana")
    _templates(tmp_path, "Buenos días, {{ who }}.\n")
    assert Renderer(root, cache=cache).render("site/hello.html", who="Ana") == "Buenos días, Ana.\n"
    assert compiles == ["site/hello.html", "site/hello.html"]


def test_a_cache_folder_that_cannot_be_made_only_means_compiling(tmp_path: Path) -> None:
    root = _templates(tmp_path, "Hola, {{ who }}.\n")
    (tmp_path / "file").write_text("not a folder", encoding="utf-8")
    renderer = Renderer(root, cache=tmp_path / "file" / "cache")
    assert renderer.render("site/hello.html", who="Ana") == "Hola, Ana.\n"


def test_a_damaged_cache_entry_is_compiled_again(tmp_path: Path) -> None:
    root, cache = _templates(tmp_path, "Hola, {{ who }}.\n"), tmp_path / "cache"
    Renderer(root, cache=cache).render("site/hello.html", who="Ana")
    entries = [p for p in cache.rglob("*") if p.is_file()]
    assert entries
    for entry in entries:
        entry.write_bytes(entry.read_bytes()[:40] + b"\x00garbage")
    assert Renderer(root, cache=cache).render("site/hello.html", who="Ana") == "Hola, Ana.\n"


def test_an_error_from_a_cached_template_names_the_same_file_and_line(tmp_path: Path) -> None:
    root, cache = _templates(tmp_path, "Hola,\n\n{{ missing.name }}\n"), tmp_path / "cache"
    messages = []
    for _ in range(2):
        with pytest.raises(TemplateError) as caught:
            Renderer(root, cache=cache).render("site/hello.html")
        messages.append(str(caught.value))
    assert messages[0] == messages[1]
    assert messages[0].startswith("site/hello.html:3: ")


def test_the_mail_templates_share_the_cache(tmp_path: Path, compiles: list[str]) -> None:
    root, cache = tmp_path / "templates", tmp_path / "cache"
    (root / "email").mkdir(parents=True)
    (root / "email" / "subject.txt").write_text("Recordatorio: {{ day }}\n", encoding="utf-8")
    for _ in range(2):
        env = template_env(root, cache)
        assert env.get_template("subject.txt").render(day="8 de marzo") == \
            "Recordatorio: 8 de marzo\n"
    assert compiles == ["subject.txt"]


def test_another_release_does_not_use_code_compiled_by_this_one(tmp_path: Path,
                                                                 compiles: list[str],
                                                                 monkeypatch: pytest.MonkeyPatch
                                                                 ) -> None:
    """jinja keys an entry by the template's text only; options or versions that shape the
    compiled code are in the folder's name, so an upgrade compiles afresh."""
    import calendar_service

    root, cache = _templates(tmp_path, "Hola, {{ who }}.\n"), tmp_path / "cache"
    Renderer(root, cache=cache).render("site/hello.html", who="Ana")
    monkeypatch.setattr(calendar_service, "__version__", "99.0.0")
    Renderer(root, cache=cache).render("site/hello.html", who="Ana")
    assert compiles == ["site/hello.html", "site/hello.html"]
    assert len(list(cache.iterdir())) == 2


def test_a_cache_folder_others_can_write_is_not_used(tmp_path: Path, compiles: list[str]
                                                     ) -> None:
    """Its entries are code that would be run: only a folder of this user's alone is used."""
    root, cache = _templates(tmp_path, "Hola, {{ who }}.\n"), tmp_path / "cache"
    Renderer(root, cache=cache).render("site/hello.html", who="Ana")
    for folder in cache.iterdir():
        folder.chmod(0o777)
    Renderer(root, cache=cache).render("site/hello.html", who="Ana")
    assert compiles == ["site/hello.html", "site/hello.html"]
