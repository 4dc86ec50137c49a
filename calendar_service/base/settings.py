"""Settings in one place: command-line options, then CALENDAR_SERVICE_* variables, then defaults."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from calendar_service.base.errors import ConfigError
from calendar_service.base.files import ReadLimits
from calendar_service.base.text import EMAIL_RE, has_control

ENV_PREFIX = "CALENDAR_SERVICE_"
_HOST_RE = re.compile(r"^[A-Za-z0-9_.-]+$|^[0-9a-fA-F:.]+$")  # a name, IPv4 or IPv6
PACKAGE_DIR = Path(__file__).resolve().parent.parent
MIN_SECRET_LENGTH = 16


def bundled(name: str) -> Path:
    """A shipped data file: inside the wheel (``_bundled/``) or, in a source checkout, the root."""
    inside = PACKAGE_DIR / "_bundled" / name
    return inside if inside.exists() else PACKAGE_DIR.parent / name


def own_or_bundled(data_dir: Path, name: str) -> Path:
    """The editable copy ``calendar-service init`` wrote into the data folder, else the bundled
    one (which is only for trying the tool)."""
    own = data_dir / name
    return own if own.exists() else bundled(name)


def default_data_dir(environ: Mapping[str, str]) -> Path:
    base = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "calendar-service"


@dataclass(frozen=True)
class Settings:
    """Every knob, documented in settings_help.py (the docs' configuration reference)."""

    days: Path
    offices: Path
    data_dir: Path
    templates: Path
    database_url: str = field(repr=False)  # may carry a password: print .redacted(name)
    card_cache: Path | None = None  # None: DATA_DIR/cache/cards
    smtp_url: str | None = field(default=None, repr=False)
    smtp_from: str = "Días internacionales <dias-internacionales@example.org>"
    smtp_ca_file: Path | None = None
    smtp_timeout: float = 30.0
    smtp_concurrency: int = 4
    smtp_retries: int = 3
    smtp_retry_delay: float = 2.0
    smtp_max_consecutive_failures: int = 10
    smtp_rate: float | None = None  # messages a minute at most (unset: as fast as the relay takes)
    base_url: str = "http://localhost:8000"
    uid_domain: str = "calendar-service.conago.example"
    unsubscribe: str = "mailto:dias-internacionales@example.org?subject=baja"
    unsubscribe_url: str = "{base_url}/unsubscribe/{office}"
    # Signs the one-click unsubscribe links. Kept out of repr() so it never lands in a log.
    secret: str | None = field(default=None, repr=False)
    claim_timeout: float = 900.0
    send_batch: int = 200
    host: str = "127.0.0.1"
    port: int = 8000
    sweep_minutes: int = 5
    log_level: str = "INFO"
    max_file_mb: float = 5.0
    read_timeout: float = 10.0
    max_connections: int = 1000
    max_header_kb: int = 32
    max_headers: int = 100
    max_body_kb: int = 64
    header_timeout: float = 5.0
    body_timeout: float = 10.0

    # Real SMTP sending with example addresses or a loopback BASE_URL, for trials and tests.
    trial_sending: bool = False

    @property
    def read_limits(self) -> ReadLimits:
        return ReadLimits(int(self.max_file_mb * 1024 * 1024), self.read_timeout)

    @property
    def outbox(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def site_dir(self) -> Path:
        return self.data_dir / "site"

    @property
    def card_cache_dir(self) -> Path:
        return self.card_cache or self.data_dir / "cache" / "cards"

    @property
    def template_cache_dir(self) -> Path:
        """Compiled templates (jinja bytecode, by the hash of each source): safe to delete."""
        return self.data_dir / "cache" / "templates"

    def redacted(self, name: str) -> str:
        """A setting's value safe to print: passwords in URLs and the secret are masked."""
        value = getattr(self, name)
        if name == "secret":
            return "(set)" if value else "(not set)"
        return redact_url(value) if isinstance(value, str) and "://" in value else str(value)


def redact_url(url: str) -> str:
    """Hide the password of a URL (smtp://user:pass@host -> smtp://user:***@host).

    Done on the text, not with urlsplit: a password with an unencoded '/', '#' or '?' (or a bad
    port) must be hidden too, since that is exactly the URL an error message will quote.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    userinfo, _, after = rest.rpartition("@")
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}://{user}:***@{after}" if colon else url


_NUMERIC = {"smtp_timeout": float, "smtp_concurrency": int, "smtp_retries": int, "port": int,
            "sweep_minutes": int, "smtp_retry_delay": float, "claim_timeout": float,
            "send_batch": int, "smtp_max_consecutive_failures": int, "max_file_mb": float,
            "read_timeout": float, "max_connections": int, "smtp_rate": float,
            "max_header_kb": int, "max_headers": int, "max_body_kb": int,
            "header_timeout": float, "body_timeout": float}
# Beyond these a value is a typo (or an attack on the box), not a choice.
_MAXIMUM = {"port": 65535, "max_file_mb": 1024, "read_timeout": 3600, "max_connections": 100_000,
            "smtp_concurrency": 1000, "send_batch": 100_000, "sweep_minutes": 1440,
            "smtp_retries": 100, "smtp_timeout": 3600, "smtp_retry_delay": 3600,
            "claim_timeout": 7 * 86400, "smtp_max_consecutive_failures": 100_000,
            "smtp_rate": 100_000, "max_header_kb": 1024, "max_headers": 10_000,
            "max_body_kb": 10_240, "header_timeout": 300, "body_timeout": 3600}
DATABASE_SCHEMES = ("sqlite", "postgresql", "postgres", "postgresql+psycopg")


_ZERO_ALLOWED = {"smtp_retries"}  # 0 retries means: no retry
_BOOLEAN = {"trial_sending"}


def _boolean(name: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{ENV_PREFIX}{name.upper()}: {raw!r}: use 1 (yes) or 0 (no)")


def load_settings(options: Mapping[str, Any] | None = None,
                  environ: Mapping[str, str] | None = None) -> Settings:
    """Options win over environment variables, which win over defaults."""
    options = {k: v for k, v in (options or {}).items() if v is not None}
    environ = os.environ if environ is None else environ

    def pick(name: str) -> Any:
        if name in options:
            return options[name]
        return environ.get(ENV_PREFIX + name.upper()) or None

    data_dir = Path(pick("data_dir") or default_data_dir(environ)).expanduser()
    values: dict[str, Any] = {
        "days": Path(pick("days") or own_or_bundled(data_dir, "days.yaml")),
        "offices": Path(pick("offices") or own_or_bundled(data_dir, "offices.yaml")),
        "templates": Path(pick("templates") or own_or_bundled(data_dir, "templates")),
        "data_dir": data_dir,
        "database_url": pick("database_url") or f"sqlite:///{data_dir / 'ledger.sqlite3'}",
    }
    for f in fields(Settings):
        if f.name in values:
            continue
        raw = pick(f.name)
        if raw is None:
            continue
        if f.name in _NUMERIC:
            try:
                raw = _NUMERIC[f.name](raw)
            except (ValueError, TypeError):
                kind = "a whole number" if _NUMERIC[f.name] is int else "a number"
                raise ConfigError(f"{ENV_PREFIX}{f.name.upper()}: {raw!r} is not {kind}") from None
            if f.name in _ZERO_ALLOWED and raw == 0:
                pass  # 0 retries: no retry
            elif not raw > 0:  # also refuses nan
                raise ConfigError(f"{ENV_PREFIX}{f.name.upper()}: must be greater than zero"
                                  if f.name not in _ZERO_ALLOWED else
                                  f"{ENV_PREFIX}{f.name.upper()}: must be 0 (no retry) or more")
            if raw > _MAXIMUM.get(f.name, float("inf")):
                raise ConfigError(f"{ENV_PREFIX}{f.name.upper()}: {raw:g} is too large; use at "
                                  f"most {_MAXIMUM[f.name]}")
        elif f.name in _BOOLEAN:
            raw = _boolean(f.name, raw)
        elif f.name in ("smtp_ca_file", "card_cache"):
            raw = Path(raw).expanduser()
        values[f.name] = raw
    settings = Settings(**values)
    _validate(settings)
    return settings


def is_loopback(host: str) -> bool:
    """Only this machine: a password over plain SMTP never crosses a network."""
    import ipaddress

    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _validate_database_url(url: str) -> None:
    name = f"{ENV_PREFIX}DATABASE_URL"
    if has_control(url):
        raise ConfigError(f"{name}: must be on one line, without control characters")
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme not in DATABASE_SCHEMES:
        shown = f"{scheme!r} is not supported" if scheme else f"{redact_url(url)!r} is not a URL"
        raise ConfigError(f"{name}: {shown}; use sqlite:///PATH (a file) or "
                          "postgresql://user@host/db (PostgreSQL, with psycopg 3)")
    if scheme != "sqlite":
        try:
            _ = urlsplit(url).port
        except ValueError:
            raise ConfigError(f"{name}: bad port in {redact_url(url)!r}; percent-encode '/', '#', "
                              "'?' and '@' in the password") from None


def _validate(s: Settings) -> None:
    if s.smtp_url:
        scheme = urlsplit(s.smtp_url).scheme
        if scheme not in ("smtp", "smtp+starttls", "smtps"):
            raise ConfigError(f"{ENV_PREFIX}SMTP_URL: scheme {scheme!r} is not supported; use "
                              "smtp://, smtp+starttls:// or smtps://")
        try:
            _ = urlsplit(s.smtp_url).port  # raises on a port that is not a number
        except ValueError:
            raise ConfigError(f"{ENV_PREFIX}SMTP_URL: bad port in {redact_url(s.smtp_url)!r}; "
                              "percent-encode '/', '#', '?' and '@' in the password") from None
        host = urlsplit(s.smtp_url).hostname
        if not host:
            raise ConfigError(f"{ENV_PREFIX}SMTP_URL: no host in {redact_url(s.smtp_url)!r}")
        if not _HOST_RE.match(host):
            raise ConfigError(f"{ENV_PREFIX}SMTP_URL: {host!r} is not a host name or address "
                              f"(in {redact_url(s.smtp_url)!r}); write e.g. "
                              "smtp+starttls://user:pass@smtp.example.net:587")
        if scheme == "smtp" and urlsplit(s.smtp_url).username and not is_loopback(
                urlsplit(s.smtp_url).hostname or ""):
            raise ConfigError(f"{ENV_PREFIX}SMTP_URL: {redact_url(s.smtp_url)!r} would send the "
                              "password unencrypted; use smtp+starttls:// (port 587) or smtps:// "
                              "(port 465), or plain smtp:// without a password to a relay on "
                              "this machine")
    _validate_database_url(s.database_url)
    if s.smtp_ca_file is not None and not s.smtp_ca_file.is_file():
        raise ConfigError(f"{ENV_PREFIX}SMTP_CA_FILE: {s.smtp_ca_file} does not exist")
    for name in ("smtp_from", "unsubscribe", "unsubscribe_url", "uid_domain"):
        if has_control(getattr(s, name)):
            raise ConfigError(f"{ENV_PREFIX}{name.upper()}: must be on one line, without control "
                              "characters")
    for name in ("unsubscribe", "unsubscribe_url", "uid_domain"):
        value = getattr(s, name)
        if not value.isascii() or " " in value.strip():
            raise ConfigError(f"{ENV_PREFIX}{name.upper()}: {value!r} must be ASCII without spaces "
                              "(percent-encode other characters)")
    if s.secret is not None and len(s.secret.strip()) < MIN_SECRET_LENGTH:
        # Never echo the value: only its length problem.
        raise ConfigError(f"{ENV_PREFIX}SECRET: too short; use at least {MIN_SECRET_LENGTH} random "
                          "characters, e.g. from: python3 -c 'import secrets; "
                          "print(secrets.token_urlsafe(32))'")
    if not EMAIL_RE.match(parseaddr(s.smtp_from)[1]):
        raise ConfigError(f"{ENV_PREFIX}SMTP_FROM: {s.smtp_from!r} has no valid e-mail address; "
                          "write it as 'Name <address@example.org>' (quote a name with commas)")
    if s.claim_timeout < s.claim_timeout / 3 + s.smtp_timeout:
        # A live run renews its claims every CLAIM_TIMEOUT/3, and one SMTP command may hold it
        # up to SMTP_TIMEOUT: a shorter timeout would let another host take a live run's claims.
        raise ConfigError(f"{ENV_PREFIX}CLAIM_TIMEOUT: {s.claim_timeout:g} seconds is too short: a "
                          f"run renews its claims every CLAIM_TIMEOUT/3 and one SMTP command may "
                          f"take {ENV_PREFIX}SMTP_TIMEOUT ({s.smtp_timeout:g} s); use at least "
                          f"{1.5 * s.smtp_timeout:g} (default 900)")
    if s.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"{ENV_PREFIX}LOG_LEVEL: use DEBUG, INFO, WARNING or ERROR")
    if not s.templates.is_dir():
        raise ConfigError(f"{ENV_PREFIX}TEMPLATES: {s.templates} is not a folder of templates; "
                          "leave it unset for the bundled ones")
    if not s.host or has_control(s.host) or " " in s.host:
        raise ConfigError(f"{ENV_PREFIX}HOST: {s.host!r} is not an address to listen on; e.g. "
                          "127.0.0.1, 0.0.0.0 or ::1")
    if urlsplit(s.base_url).scheme not in ("http", "https"):
        raise ConfigError(f"{ENV_PREFIX}BASE_URL: {s.base_url!r} must start with http:// or https://")
