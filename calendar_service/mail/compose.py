"""Reminder batches -> e-mail bytes: jinja2 templates, Babel dates, an .ics attachment.

Building a MIME tree with the ``email`` package costs milliseconds, more than sending it, so the
body (multipart/alternative text + HTML, plus the .ics) is built and serialised once per
(language, set of reminders) and reused for every office that gets the same content; only the
few per-office headers (To, Message-ID, List-Unsubscribe with the office's one-click link) are
folded for each message.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any

from calendar_service.base import paths
from calendar_service.base.errors import DataError, Problem
from calendar_service.data.model import LANGUAGES, Catalog, Day, Office, has_control
from calendar_service.mail import unsubscribe
from calendar_service.mail.reminders import ADDED, LATE, ON_TIME, REQUESTED, Batch, DueReminder

if TYPE_CHECKING:
    import jinja2

    from calendar_service.base.settings import Settings

TEMPLATE_DIR = "email"
WORDS_DIR = "words"  # inside TEMPLATE_DIR: one vocabulary per language, WORDS_DIR/LANG.j2
POST_LIMIT = 280
Key = tuple[str, str, str, int]
# Image cards attached to one message, the whole message counted (base64 and headers included);
# past it the remaining cards are only linked (every body links all of them on the site).
ATTACH_LIMIT = 1_000_000
HEADROOM = 4096  # the per-office headers, added after the body is built
BODY_CACHE_BYTES = 48_000_000  # bodies with attachments are large: bound the cache by size too


class HeaderInjectionError(DataError):
    """A value meant for an e-mail header contains a line break or control character."""


def header_safe(value: str, what: str) -> str:
    if has_control(value):
        raise HeaderInjectionError([Problem("message", None, what,
                                            "contains a line break or control character; "
                                            "refusing to put it in an e-mail header")])
    return value


def message_id(keys: Iterable[Key], domain: str) -> str:
    """Stable for the same reminders: a resend after a crash carries the same Message-ID."""
    raw = "\n".join(sorted("|".join(str(part) for part in k) for k in keys))
    return f"<{hashlib.sha256(raw.encode()).hexdigest()}@{domain}>"


class Vocabulary:
    """The words of one language: the names ``email/words/LANG.j2`` sets, as attributes.

    A name the file does not set is a jinja undefined that names the file, so a word missing in
    one language fails (at ``check`` or when rendering) with "words/en.j2 has no word 'x'"
    rather than an anonymous "TemplateModule object has no attribute 'x'".
    """

    def __init__(self, file: str, names: dict[str, Any]) -> None:
        self.__dict__.update(names)
        self._file = file  # jinja exports no name starting with "_": no word can shadow these
        self._names = frozenset(names)

    def __getattr__(self, name: str) -> Any:  # only called for names the file does not set
        import jinja2

        if name.startswith("__"):
            raise AttributeError(name)
        return jinja2.StrictUndefined(hint=f"{self._file} has no word {name!r}", name=name)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Body:
    """A serialised MIME body shared by every office receiving the same content."""

    subject: str
    head: bytes  # MIME-Version and Content-Type lines of the top-level part
    payload: bytes  # everything after the blank line


@dataclass(frozen=True)
class Outgoing:
    """One message ready for a transport."""

    keys: tuple[Key, ...]
    office_id: str
    message_id: str
    sender: str  # envelope sender (addr-spec)
    recipients: tuple[str, ...]
    data: bytes
    subject: str


def _post_with_tags(post: str, hashtags: Sequence[str]) -> str:
    """Append the day's hashtags a post does not already carry, as long as it stays in 280."""
    out = post
    lowered = post.lower()
    for tag in hashtags:
        if tag.lower() in lowered:
            continue
        if len(out) + 1 + len(tag) > POST_LIMIT:
            break
        out = f"{out} {tag}"
    return out


def item_context(due: DueReminder, lang: str) -> dict[str, Any]:
    """Everything a template may print about one day; absent facts are empty, never invented."""
    from calendar_service.base.dates import format_day

    occ = due.occurrence
    day: Day = occ.day
    content = day.content_for(lang)
    override = day.override_for(occ.date.year)
    key_messages: Sequence[str] = content.key_messages if content else ()
    if override is not None and override.key_messages.get(lang):
        key_messages = override.key_messages[lang]
    hashtags = content.hashtags if content else ()
    body = day.proclaimed_by
    return {
        "id": day.id,
        "name": day.name.get(lang),
        "official_name": (day.official_name.only(lang) if day.official_name else None) or "",
        "date_text": format_day(occ.date, lang),
        "date_short": format_day(occ.date, lang, "day_month"),
        "date_iso": occ.date.isoformat(),
        "year": occ.date.year,
        "days_ahead": due.days_ahead,
        "lead": due.lead,
        "catch_up": due.catch_up,
        "reason": due.reason,
        "themes": [t.label.get(lang) for t in day.themes],
        "sdgs": list(day.sdgs),
        "summary": content.summary if content else "",
        "why": content.why if content else "",
        "note": day.note.get(lang) if day.note else "",
        "key_messages": list(key_messages),
        "posts": [_post_with_tags(p, hashtags) for p in (content.posts if content else ())],
        "press_line": content.press_line if content else "",
        "hashtags": list(hashtags),
        "url": day.link(lang, occ.date.year) or "",
        "year_theme": override.theme.get(lang) if override and override.theme else "",
        "proclaimed_by": body.label.get(lang) if body else "",
        "resolution": day.resolution or "",
        "origin": day.origin(lang),
    }


def ics_bytes(items: Sequence[DueReminder], lang: str, domain: str, stamp: datetime) -> bytes:
    """The occurrences as all-day events, with the same UIDs as the public feed."""
    from icalendar import Calendar, Event

    cal = Calendar()
    cal.add("prodid", "-//calendar-service//reminders//" + lang.upper())
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    seen = set()
    for due in items:
        occ = due.occurrence
        if occ.uid_key in seen:
            continue
        seen.add(occ.uid_key)
        day = occ.day
        content = day.content_for(lang)
        event = Event()
        event.add("uid", f"{occ.uid_key}@{domain}")
        event.add("dtstamp", stamp)
        event.add("dtstart", occ.date)
        event.add("dtend", occ.date + timedelta(days=1))
        event.add("summary", day.name.get(lang))
        if content is not None:
            event.add("description", content.summary)
        if day.themes:
            event.add("categories", [t.label.get(lang) for t in day.themes])
        link = day.link(lang, occ.date.year)
        if link:
            event.add("url", link)
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
    return cal.to_ical()


class Composer:
    """Renders and serialises messages; caches bodies so identical content is built once."""

    def __init__(self, settings: Settings, *, cache_size: int = 64) -> None:
        from email.policy import SMTP

        self.settings = settings
        self.env = template_env(settings.templates, settings.template_cache_dir)
        self._policy = SMTP
        self._bodies: OrderedDict[tuple[Any, ...], Body] = OrderedDict()
        self._cache_size = cache_size
        self.sender_header = header_safe(settings.smtp_from, "smtp_from")
        self.envelope_from = parseaddr(settings.smtp_from)[1] or settings.smtp_from
        self.bodies_built = 0
        self.cards_attached = 0
        self.renders = 0  # text and HTML renderings: once per content, whatever the offices
        self._one_click_enabled = unsubscribe.enabled(settings.unsubscribe_url, settings.base_url,
                                                      settings.secret)
        self._inliner: Any = None
        self._folded: dict[tuple[str, str], bytes] = {}
        self._words: dict[str, Vocabulary] = {}
        self._rendered: OrderedDict[tuple[Any, ...], tuple[Rendered, bytes]] = OrderedDict()
        self._cache_bytes = 0
        self._cards: Any = None  # the card maker, on first use (it imports Pillow)

    # -- rendering -------------------------------------------------------------------------

    def words(self, lang: str) -> Vocabulary:
        """The vocabulary of one language, loaded once (``email/words/LANG.j2``)."""
        vocabulary = self._words.get(lang)
        if vocabulary is None:
            name = f"{WORDS_DIR}/{lang}.j2"
            module = self.env.get_template(name).module
            names = {k: v for k, v in vars(module).items() if not k.startswith("_")}
            vocabulary = self._words[lang] = Vocabulary(name, names)
        return vocabulary

    def cards(self) -> Any:
        if self._cards is None:
            from calendar_service.mail.cards import MailCards

            self._cards = MailCards(self.settings)
        return self._cards

    def context(self, items: Sequence[DueReminder], lang: str, test: bool = False,
                second: bool = False) -> dict[str, Any]:
        base = self.settings.base_url.rstrip("/")
        contexts = [item_context(i, lang) for i in items]
        for ctx, due in zip(contexts, items, strict=True):
            ctx["cards"] = self.cards().links(due.occurrence, lang)
        return {
            "lang": lang,
            "test": test,  # a sample sent by ``send-test``: marked as such in subject and body
            "w": self.words(lang),
            "items": contexts,
            "catch_up": any(i.catch_up for i in items),
            "added": any(i.reason == ADDED for i in items),
            "requested": any(i.reason == REQUESTED for i in items),
            "second": second,  # a second message today: it says why (see mail/reminders.py)
            "same_date": len({i.occurrence.date for i in items}) == 1,
            "calendar_url": base + paths.feed(lang),
            "unsubscribe": self.settings.unsubscribe,
            # The link itself is per office, so it is only in the headers; the shared body just
            # says the mail program's unsubscribe button works.
            "one_click": self._one_click_enabled,
        }

    def render(self, items: Sequence[DueReminder], lang: str, test: bool = False,
               second: bool = False, *, inline: bool = True) -> Rendered:
        """``inline=False``: the HTML keeps its style sheet (for ``check``, which only needs
        the templates to render)."""
        ctx = self.context(items, lang, test, second)
        subject = " ".join(self.env.get_template("subject.txt").render(ctx).split())
        text = self.env.get_template("body.txt").render(ctx)
        html = self.env.get_template("body.html").render(ctx, subject=subject)
        return Rendered(subject, _tidy_text(text), self._inline(html) if inline else html)

    def _inline(self, html: str) -> str:
        if self._inliner is None:
            import css_inline

            self._inliner = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)
        return str(self._inliner.inline(html))

    # -- MIME --------------------------------------------------------------------------------

    def body(self, items: Sequence[DueReminder], lang: str, stamp: datetime,
             office: Office | None = None, test: bool = False, second: bool = False) -> Body:
        """The shared body for these reminders. Offices differ only in their image cards (none,
        or signed): the text and HTML are rendered once for all of them."""
        content = (lang, stamp, test, tuple((i.occurrence.day.id, i.occurrence.date, i.lead,
                                             i.days_ahead, i.reason) for i in items), second)
        attach = office is None or office.cards
        key = (*content, attach, office.signature if office is not None and attach else "")
        cached = self._bodies.get(key)
        if cached is not None:
            self._bodies.move_to_end(key)
            return cached
        body = self._build_body(items, lang, stamp, content, key)
        self._bodies[key] = body
        self._cache_bytes += len(body.payload)
        while self._bodies and (len(self._bodies) > self._cache_size
                                or self._cache_bytes > BODY_CACHE_BYTES):
            self._cache_bytes -= len(self._bodies.popitem(last=False)[1].payload)
        return body

    def _shared(self, items: Sequence[DueReminder], lang: str, stamp: datetime,
                content: tuple[Any, ...]) -> tuple[Rendered, bytes]:
        """Text, HTML and the .ics: the same for every office getting these reminders."""
        hit = self._rendered.get(content)
        if hit is None:
            hit = (self.render(items, lang, test=content[2], second=content[4]),
                   ics_bytes(items, lang, self.settings.uid_domain, stamp))
            self.renders += 1
            self._rendered[content] = hit
            if len(self._rendered) > self._cache_size:
                self._rendered.popitem(last=False)
        else:
            self._rendered.move_to_end(content)
        return hit

    def _build_body(self, items: Sequence[DueReminder], lang: str, stamp: datetime,
                    content: tuple[Any, ...], key: tuple[Any, ...]) -> Body:
        from email.message import EmailMessage

        rendered, ics = self._shared(items, lang, stamp, content)
        attach, signature = key[-2], key[-1]
        token = hashlib.sha256(repr(key).encode()).hexdigest()[:24]

        def build(cards: Sequence[Any]) -> bytes:
            msg = EmailMessage(policy=self._policy)
            msg.set_content(rendered.text, subtype="plain", charset="utf-8",
                            cte="quoted-printable")
            msg.add_alternative(rendered.html, subtype="html", charset="utf-8",
                                cte="quoted-printable")
            msg.add_attachment(ics, maintype="text", subtype="calendar",
                               filename=str(self.words(lang).attachment),
                               params={"method": "PUBLISH"}, cte="base64")
            for card in cards:
                msg.add_attachment(card.png, maintype="image", subtype="png",
                                   filename=card.filename, cte="base64")
                msg.get_payload()[-1]["Content-Description"] = card.alt
            # Deterministic boundaries: the same content serialises to the same bytes.
            for n, part in enumerate(p for p in msg.walk() if p.is_multipart()):
                part.set_boundary(f"=_{token}_{n}")
            return msg.as_bytes(policy=self._policy)

        raw = build(())
        if attach:
            cards = self.cards().attachments(items, lang, signature)
            budget = ATTACH_LIMIT - HEADROOM - len(raw)
            chosen = []
            for card in cards:  # in order of preference; stop at the first that does not fit
                if card.encoded_size > budget:
                    break
                chosen.append(card)
                budget -= card.encoded_size
            while chosen:
                raw = build(chosen)
                if len(raw) + HEADROOM <= ATTACH_LIMIT:
                    break
                chosen.pop()  # the estimate was short (long alt texts): one card fewer
            self.cards_attached += len(chosen)
        head, _, payload = raw.partition(b"\r\n\r\n")
        self.bodies_built += 1
        return Body(rendered.subject, head + b"\r\n", payload)

    def _fold(self, name: str, value: str) -> bytes:
        """Fold with the email package (RFC 2047 and all); ~1 ms, so only for headers that are
        the same for many messages (From, Subject, Date, List-Id), and cached."""
        header_safe(value, name)
        key = (name, value)
        hit = self._folded.get(key)
        if hit is None:
            if len(self._folded) > 4096:
                self._folded.clear()
            hit = self._policy.header_factory(name, value).fold(policy=self._policy).encode("ascii")
            self._folded[key] = hit
        return hit

    @staticmethod
    def _list(name: str, items: Sequence[str]) -> bytes:
        """A header of ASCII items (<URIs>), folded between items when long."""
        line = f"{name}: {', '.join(items)}"
        if len(line) <= 78:
            return (line + "\r\n").encode("ascii")
        return (f"{name}: " + ",\r\n ".join(items) + "\r\n").encode("ascii")

    @staticmethod
    def _addresses(name: str, pairs: Sequence[tuple[str, str]]) -> bytes:
        """An address header in microseconds instead of the email package's millisecond: plain
        words stay plain, runs of words with non-ASCII or special characters become one RFC 2047
        encoded-word (never two adjacent ones, which decoders join differently), folded between
        words at 78 columns."""
        tokens: list[str] = []
        for n, (display, addr) in enumerate(pairs):
            tokens += _phrase_tokens(display)
            tokens.append(f"<{addr}>" + ("," if n < len(pairs) - 1 else ""))
        return _fold_tokens(name, tokens)

    def headers(self, batch: Batch, body: Body, mid: str, stamp: datetime) -> bytes:
        """Per-office headers: the shared ones come folded from the cache, the rest are ASCII."""
        office = batch.office
        header_safe(office.name, f"office {office.id} name")
        for addr in office.emails:
            header_safe(addr, f"office {office.id} email")
            if not addr.isascii():
                raise HeaderInjectionError([Problem("message", None, f"office {office.id} email",
                                                    f"{addr!r} is not an ASCII address")])
        targets = [f"<{self.settings.unsubscribe}>"]
        one_click = self.one_click_url(office)
        if one_click:
            targets.insert(0, f"<{header_safe(one_click, 'unsubscribe_url')}>")
        parts = [
            self._fold("From", self.sender_header),
            self._addresses("To", [(office.name, a) for a in office.emails]),
            self._fold("Subject", body.subject),
            self._fold("Date", format_datetime(stamp)),
            f"Message-ID: {mid}\r\n".encode("ascii"),
            self._fold("List-Id", f"<reminders.{self.settings.uid_domain}>"),
            self._list("List-Unsubscribe", targets),
        ]
        if one_click:
            parts.append(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n")
        parts.append(self._fold("Content-Language", office.language))
        return b"".join(parts)

    def one_click_url(self, office: Office) -> str:
        """RFC 8058 one-click URL with the office's token: only with an https URL and a secret
        (else "" and the mailto alone). An HMAC per office: microseconds, so not kept (a cache
        would grow with the number of offices and each office gets one message a run)."""
        s = self.settings
        return unsubscribe.one_click_url(s.unsubscribe_url, s.base_url, s.secret, office.id)

    def message(self, batch: Batch, stamp: datetime, *, test: bool = False) -> Outgoing:
        """The bytes for one office: shared body, per-office headers.

        ``test``: a sample for ``send-test``, marked in subject and body, with a Message-ID of
        its own so that mail stores never take the real reminder for a copy of it.
        """
        stamp = stamp.astimezone(batch.local_now.tzinfo)
        body = self.body(batch.items, batch.office.language, stamp, batch.office, test,
                         batch.second)
        mid = message_id(batch.keys, self.settings.uid_domain)
        if test:
            import uuid

            mid = f"<test-{uuid.uuid4().hex}@{self.settings.uid_domain}>"
        data = self.headers(batch, body, mid, stamp) + body.head + b"\r\n" + body.payload
        return Outgoing(keys=batch.keys, office_id=batch.office.id, message_id=mid,
                        sender=self.envelope_from, recipients=batch.office.emails, data=data,
                        subject=body.subject)


_PHRASE_SPECIALS = frozenset('()<>[]:;@\\,."')


def _phrase_tokens(display: str) -> list[str]:
    from email.charset import Charset

    utf8 = Charset("utf-8")
    tokens: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            tokens.append(utf8.header_encode(" ".join(pending)))
            pending.clear()

    for word in display.split():
        if word.isascii() and not (_PHRASE_SPECIALS & set(word)) and "=?" not in word:
            flush()
            tokens.append(word)
        else:
            pending.append(word)
    flush()
    return tokens


def _fold_tokens(name: str, tokens: Sequence[str]) -> bytes:
    lines = [f"{name}:"]
    for token in tokens:
        if len(lines[-1]) + 1 + len(token) > 78 and lines[-1] != f"{name}:":
            lines.append("")
        lines[-1] += " " + token
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def _tidy_text(text: str) -> str:
    """Collapse the blank-line runs that optional sections leave behind."""
    lines = [ln.rstrip() for ln in text.splitlines()]
    out: list[str] = []
    for ln in lines:
        if not ln and out and not out[-1]:
            continue
        out.append(ln)
    while out and not out[-1]:
        out.pop()
    # RFC 3676 signature separator keeps its trailing space.
    return "\n".join("-- " if ln == "--" else ln for ln in out) + "\n"


def template_env(root: Path, cache: Path | None = None) -> jinja2.Environment:
    import jinja2

    from calendar_service.publishing.render import bytecode_cache

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(root) / TEMPLATE_DIR)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True, auto_reload=False,
        bytecode_cache=bytecode_cache(cache, "mail", __file__))
    env.filters["wordwrap"] = _remembered_wordwrap()
    return env


def _remembered_wordwrap() -> Any:
    """jinja's ``wordwrap``, remembering what it wrapped: the same texts are wrapped for every
    message that shows the day (and by ``check`` for every variant), and textwrap was a fifth
    of rendering the text part."""
    from functools import lru_cache

    import jinja2
    from jinja2.filters import do_wordwrap

    remembered = lru_cache(maxsize=4096)(do_wordwrap)

    @jinja2.pass_environment
    def wordwrap(environment: jinja2.Environment, s: Any, *args: Any, **kwargs: Any) -> str:
        if type(s) is str:
            try:
                return remembered(environment, s, *args, **kwargs)  # type: ignore[no-any-return]
            except TypeError:  # an argument that cannot be a key: wrap it as jinja does
                pass
        return do_wordwrap(environment, s, *args, **kwargs)

    return wordwrap


# -- check ------------------------------------------------------------------------------------


def _template_problem(exc: BaseException, root: Path, what: str) -> Problem:
    """Locate a jinja error in the template file (jinja rewrites tracebacks to template lines)."""
    import jinja2

    base = Path(root) / TEMPLATE_DIR
    if isinstance(exc, jinja2.TemplateSyntaxError):
        name = exc.filename or (str(base / exc.name) if exc.name else str(base))
        return Problem(name, exc.lineno, what, f"template syntax error: {exc.message}")
    if isinstance(exc, jinja2.TemplateNotFound):
        return Problem(str(base / exc.name), None, what, "template missing")
    file, line = str(base), None
    tb = exc.__traceback__
    while tb is not None:
        fname = tb.tb_frame.f_code.co_filename
        if fname.startswith(str(base)):
            file, line = fname, tb.tb_lineno
        tb = tb.tb_next
    return Problem(file, line, what, f"{type(exc).__name__}: {exc}")


def _vocabulary_problems(composer: Composer, root: Path) -> tuple[list[Problem], set[str]]:
    """Every vocabulary must load and set every word any other sets (a word only used in a branch
    the check does not render, such as the one-click sentence, is caught here too). Returns the
    problems and the languages whose vocabulary is sound."""
    problems: list[Problem] = []
    loaded: dict[str, frozenset[str]] = {}
    for lang in LANGUAGES:
        try:
            loaded[lang] = composer.words(lang)._names
        except Exception as exc:  # missing file, syntax error: located like any template fault
            problems.append(_template_problem(exc, root, lang))
    every = frozenset().union(*loaded.values())
    for lang, names in loaded.items():
        missing = sorted(every - names)
        if missing:
            elsewhere = ", ".join(f"{WORDS_DIR}/{o}.j2" for o, n in loaded.items()
                                  if o != lang and n & set(missing))
            problems.append(Problem(str(Path(root) / TEMPLATE_DIR / WORDS_DIR / f"{lang}.j2"), None,
                                    lang, f"missing word{'s' if len(missing) > 1 else ''} "
                                    f"{', '.join(missing)} (set in {elsewhere})"))
    return problems, {lang for lang, names in loaded.items() if names == every}


def check_templates(catalog: Catalog, offices: Sequence[Office], settings: Settings) -> None:
    """Render every template for every day in every language; raise DataError on any failure."""
    from calendar_service.data.model import Occurrence, Reminder
    from calendar_service.occurrences import next_occurrence

    composer = Composer(settings)
    problems, sound = _vocabulary_problems(composer, settings.templates)
    probe = offices[0] if offices else Office(id="check", name="check", state="",
                                              emails=("check@example.org",),
                                              timezone="America/Mexico_City")
    today = date.today()
    dues: list[DueReminder] = []
    for day in catalog.days:
        when = next_occurrence(day, today) or today
        occ = Occurrence(day, when)
        for lead, ahead, reason in ((3, 3, ON_TIME), (14, 2, LATE)):  # on time, and late
            dues.append(DueReminder(Reminder(probe, occ, lead),
                                    datetime.combine(when, probe.send_time), ahead, reason))
    on_time, late = dues[::2], dues[1::2]
    # A day added after its reminder's time, and a sample asked for: one day each (their
    # sentences do not depend on the day).
    others = [replace(d, reason=r) for d, r in zip(late[:1] * 2, (ADDED, REQUESTED), strict=False)]
    seen: set[tuple[str, int | None, str]] = set()

    def attempt(group: Sequence[DueReminder], lang: str, what: str, inline: bool) -> bool:
        try:
            composer.render(group, lang, inline=inline)
        except Exception as exc:  # every template failure becomes a located problem
            p = _template_problem(exc, settings.templates, what)
            if (p.file, p.line, p.message) not in seen:  # one report per template fault
                seen.add((p.file, p.line, p.message))
                problems.append(p)
            return False
        return True

    for lang in (lang for lang in LANGUAGES if lang in sound):  # the others are reported above
        # Each day alone (the one-day branches and every field of every day), then every day
        # together on time and together late (the many-days and the late branches), and one day
        # alone late: as much as rendering each day in each variant, for about half the work.
        # The CSS is inlined for the messages of all days only: inlining does not depend on a day.
        for due in on_time:
            attempt([due], lang, f"{lang}: {due.occurrence.day.id}", inline=False)
        if on_time:
            attempt(on_time, lang, f"{lang}: all days", inline=True)
        if late and not attempt(late, lang, f"{lang}: all days, late", inline=True):
            for due in late:  # name the day that breaks the late variant
                attempt([due], lang, f"{lang}: {due.occurrence.day.id}, late", inline=False)
        elif late:  # one day, late: the branches that need both
            attempt(late[:1], lang, f"{lang}: {late[0].occurrence.day.id}, late", inline=False)
        for due in others:
            attempt([due], lang, f"{lang}: {due.occurrence.day.id}, {due.reason}", inline=False)
    if problems:
        raise DataError(problems)
