"""The jinja2 environment over templates/: every word of a feed or page comes from there."""

from __future__ import annotations

import hashlib
from functools import cached_property
from pathlib import Path
from typing import Any

from calendar_service.base.errors import TemplateError
from calendar_service.base.files import FileRefused, read_bounded


class Renderer:
    """Loads templates once; HTML is autoescaped, undefined names are errors, not blanks."""

    def __init__(self, templates: Path, *, watch: bool = False, cache: Path | None = None
                 ) -> None:
        """``watch``: notice edited templates (a stat per use), for renderers that live as long
        as ``serve``; a build's renderer lives for one build and is made anew for the next.
        ``cache``: a folder for compiled templates (see ``bytecode_cache``)."""
        from jinja2 import Environment, StrictUndefined, select_autoescape

        from calendar_service.base.dates import format_day

        self.templates = Path(templates)
        if not self.templates.is_dir():
            raise TemplateError(f"{self.templates}: templates folder not found "
                                "(set CALENDAR_SERVICE_TEMPLATES)")
        self.env = Environment(
            loader=_bounded_loader(self.templates),
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
            keep_trailing_newline=True, auto_reload=watch,
            bytecode_cache=bytecode_cache(cache, "site", __file__))
        self.env.filters["day"] = format_day

    def render(self, name: str, **context: Any) -> str:
        from jinja2 import TemplateError as JinjaError

        try:
            return self.env.get_template(name).render(**context)
        except JinjaError as exc:
            where = getattr(exc, "filename", None) or name
            line = getattr(exc, "lineno", None)
            if line is None:  # render-time errors: jinja puts the template line in the traceback
                where, line = _template_frame(exc, self.templates) or (where, None)
            raise TemplateError(f"{where}{f':{line}' if line else ''}: {exc}") from None

    def words(self, lang: str) -> Any:
        """The words of one language: ``templates/words/LANG.j2`` as a module of names."""
        from jinja2 import TemplateError as JinjaError

        try:
            return self.env.get_template(f"words/{lang}.j2").module
        except JinjaError as exc:
            raise TemplateError(f"words/{lang}.j2: {exc}") from None

    @cached_property
    def fingerprint(self) -> str:
        """Changes when any feed-facing template changes, so feed revisions follow them."""
        h = hashlib.sha256()
        for sub in ("words", "feed"):
            for path in sorted((self.templates / sub).glob("*")):
                if path.is_file():
                    try:
                        h.update(path.name.encode() + b"\0" + read_bounded(path))
                    except (OSError, FileRefused) as exc:
                        raise TemplateError(f"{path}: {exc}") from None
        return h.hexdigest()[:16]


def bytecode_cache(folder: Path | None, kind: str, defined_in: str) -> Any:
    """Compiled templates kept on disk, by the hash of their source: compiling the templates
    was about half of what ``check`` and a small build spent rendering, in every process that
    cron or a coordinator starts. Only a cache: a folder that cannot be made or written, or a
    damaged entry, means compiling as before, never an error.

    jinja keys an entry by the template's name and text only, so the entries live in a folder
    named after what else shapes the compiled code: ``kind`` (which environment), jinja's and
    this package's versions, Python's, and the source of ``defined_in``, the module that sets
    the environment's options. An upgrade or an edited option starts a fresh folder instead of
    reusing stale code. A folder that is not this user's alone (mode 0700) is not trusted: its
    code would be run."""
    if folder is None:
        return None
    import contextlib
    import os
    import stat
    import sys

    import jinja2
    from jinja2 import FileSystemBytecodeCache

    from calendar_service import __version__

    class QuietCache(FileSystemBytecodeCache):
        def load_bytecode(self, bucket: Any) -> None:
            try:
                super().load_bytecode(bucket)
            except Exception:  # unreadable, truncated, damaged (pickle, marshal): compile
                bucket.reset()

        def dump_bytecode(self, bucket: Any) -> None:
            with contextlib.suppress(OSError):  # read-only or full disk: compile next time
                super().dump_bytecode(bucket)

    try:
        digest = _environment_digest(defined_in, jinja2.__version__, __version__, sys.version)
        place = folder / f"{kind}-{digest}"
        place.mkdir(parents=True, exist_ok=True, mode=0o700)
        st = place.stat()
    except OSError:
        return None
    if st.st_uid != os.getuid() or stat.S_IMODE(st.st_mode) & 0o077:
        return None
    return QuietCache(str(place))


def _environment_digest(defined_in: str, *versions: str) -> str:
    """The versions, and the source of the module that builds the template environment."""
    h = hashlib.sha256("\0".join(versions).encode())
    h.update(Path(defined_in).read_bytes())  # OSError: no cache (see bytecode_cache)
    return h.hexdigest()[:16]


def _bounded_loader(root: Path) -> Any:
    """jinja's FileSystemLoader, but each template is read like a data file: a regular file
    within the size and time limits, so a FIFO or a hung mount never wedges a render."""
    import os

    from jinja2 import FileSystemLoader
    from jinja2 import TemplateError as JinjaError
    from jinja2.exceptions import TemplateNotFound
    from jinja2.loaders import split_template_path

    class BoundedLoader(FileSystemLoader):
        def get_source(self, environment: Any, template: str) -> Any:
            path = os.path.join(str(root), *split_template_path(template))
            if not os.path.isfile(path):  # a FIFO or a device is not a template either
                raise TemplateNotFound(template)
            try:
                contents = read_bounded(path).decode("utf-8")
            except FileRefused as exc:
                raise JinjaError(f"{template} {exc}") from None
            except UnicodeDecodeError:
                raise JinjaError(f"{template} is not UTF-8 text; save it as UTF-8") from None
            mtime = os.path.getmtime(path)

            def uptodate() -> bool:
                try:
                    return os.path.getmtime(path) == mtime
                except OSError:
                    return False

            return contents, os.path.normpath(path), uptodate

    return BoundedLoader(str(root))


def _template_frame(exc: BaseException, root: Path) -> tuple[str, int] | None:
    """The innermost template file and line of an error raised while rendering."""
    found = None
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.startswith(str(root)):
            found = (str(Path(filename).relative_to(root)), tb.tb_lineno)
        tb = tb.tb_next
    return found
