"""What each setting means, for people: the documentation's configuration reference is generated
from this table and from :class:`~calendar_service.base.settings.Settings` itself (names, types,
defaults), and a test fails when a setting has no entry here, so the two cannot drift.

Kept apart from ``settings.py`` so that reading settings at start-up never pays for this text.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SettingHelp:
    meaning: str
    default: str | None = None  # how to describe the default when the value alone says too little
    option: str | None = None  # the command-line option that sets it too


HELP: dict[str, SettingHelp] = {
    "days": SettingHelp(
        "The days file.",
        "`DATA_DIR/days.yaml` when `calendar-service init` wrote it, else the bundled one",
        "--days FILE"),
    "offices": SettingHelp(
        "The offices that receive reminders.",
        "`DATA_DIR/offices.yaml` when `calendar-service init` wrote it, else the bundled example",
        "--offices FILE"),
    "data_dir": SettingHelp(
        "Where the ledger, the outbox, the built site and your own copies of the data files live.",
        "`$XDG_DATA_HOME/calendar-service` or `~/.local/share/calendar-service`", "--data-dir DIR"),
    "templates": SettingHelp(
        "The folder of templates: every word of feeds, pages and e-mails.",
        "`DATA_DIR/templates/` when `calendar-service init` wrote it, else the bundled one"),
    "card_cache": SettingHelp(
        "Where drawn image cards are kept, by the hash of what they show: a build draws only the "
        "cards that changed. Safe to delete or to share between data folders.",
        "`DATA_DIR/cache/cards`"),
    "database_url": SettingHelp(
        "The ledger. `postgresql://user@host/db` (psycopg 3) to share it between hosts; any other "
        "kind (`mysql://`, …) is refused with exit 2. A password in it is never printed.", "`sqlite:///DATA_DIR/ledger.sqlite3`"),
    "smtp_url": SettingHelp(
        "The mail relay: `smtp://host:port` (plain, without a password: a user and password over "
        "plain `smtp://` are refused unless the relay is on this machine, `localhost` or "
        "`127.0.0.1`), "
        "`smtp+starttls://user:pass@host:587` (STARTTLS required), `smtps://user:pass@host:465` "
        "(implicit TLS). Percent-encode special characters of the password; it is never printed, "
        "logged or stored.", "unset: `.eml` files are written to `DATA_DIR/outbox`"),
    "smtp_from": SettingHelp("`From:` header; its address is also the envelope sender."),
    "smtp_ca_file": SettingHelp(
        "Extra CA certificate (PEM) to trust, for a relay with a private CA; certificate "
        "verification is always on.", "the system trust store"),
    "smtp_timeout": SettingHelp("Seconds for connecting and for each SMTP command."),
    "smtp_concurrency": SettingHelp(
        "SMTP connections used at once; each one is reused for many messages."),
    "smtp_retries": SettingHelp(
        "Retries of one message within a run after a 4xx reply or a dropped connection; `0` means "
        "no retry (the one numeric setting that may be 0)."),
    "smtp_retry_delay": SettingHelp(
        "Seconds before the first retry; doubles each time (2, 4, 8)."),
    "smtp_max_consecutive_failures": SettingHelp(
        "Temporary failures in a row (4xx replies, dropped connections, timeouts; retries count, "
        "any delivered message resets the count), across all connections, after which the run "
        "stops sending: "
        "the rest stays pending for the next run, and the run exits 1 saying why."),
    "smtp_rate": SettingHelp(
        "Messages a minute at most, evenly spaced across all connections of a run, to stay within "
        "what the relay allows (Microsoft 365: 30). Retries count too.",
        "unset: as fast as the relay accepts"),
    "base_url": SettingHelp(
        "Public address of the site (with a path if it lives in a folder, e.g. "
        "`https://example.org/dias`): links in e-mails, feeds and the static build. Real sending "
        "refuses a loopback one; the pages `serve` answers link to the address they were "
        "requested on instead, so any port or proxy works."),
    "uid_domain": SettingHelp(
        "Right-hand side of every event UID. Never change it once people subscribe: every event "
        "would appear twice."),
    "unsubscribe": SettingHelp(
        "Unsubscribe address shown in every reminder and in `List-Unsubscribe` (always, with or "
        "without one-click)."),
    "unsubscribe_url": SettingHelp(
        "One-click (RFC 8058) unsubscribe URL per office (`{office}` is its id; `?t=TOKEN` is "
        "appended); used, with `List-Unsubscribe-Post`, only when it is `https://` and `SECRET` "
        "is set. `serve` answers it (see [Unsubscribing](../reminders.md#unsubscribing))."),
    "secret": SettingHelp(
        "At least 16 random characters that sign each office's unsubscribe link; give `serve` "
        "and every sending host the same one, e.g. from "
        "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`. Never printed or "
        "logged. Changing it invalidates the links in reminders already sent (the mailto still "
        "works).",
        "unset (one-click unsubscribe off)"),
    "claim_timeout": SettingHelp(
        "Seconds after which a claim of a run that stopped renewing it is taken over by another "
        "run: the last resort, for runs that cannot be proven alive or dead (a SQLite ledger shared "
        "across hosts, rows claimed before the ledger recorded owners; claims "
        "of a dead run are taken at once, of a live one never). At least 1.5 x `SMTP_TIMEOUT`: a "
        "run renews its claims every `CLAIM_TIMEOUT`/3 and one SMTP command may hold it up that "
        "long; a shorter value is refused (exit 2)."),
    "send_batch": SettingHelp(
        "Offices registered and claimed per database transaction (the first transactions of a "
        "run take fewer, so sending starts at once)."),
    "host": SettingHelp("Address `serve` listens on.", option="serve --host"),
    "port": SettingHelp("Port `serve` listens on.", option="serve --port"),
    "sweep_minutes": SettingHelp(
        "How often `serve` sweeps for due reminders (it also sweeps at start-up and at every "
        "office's send time)."),
    "trial_sending": SettingHelp(
        "`1` lifts the safe defaults of real sending (example addresses, a loopback `BASE_URL`): "
        "for trials on a test relay only.", "`0`"),
    "log_level": SettingHelp(
        "`DEBUG` logs every message sent; `INFO` one line per run that did something, plus every "
        "failure.", "`INFO` (`daily`: `WARNING` unless set, so cron stays quiet)"),
    "max_file_mb": SettingHelp(
        "Largest data file (days, offices, each template) read, in megabytes; a larger one is "
        "refused with exit 2, as is anything that is not a regular file (a FIFO, a device)."),
    "read_timeout": SettingHelp(
        "Seconds allowed to read one data file (a file on a mount that stopped answering is "
        "refused instead of hanging `check`, `daily` or a reload of `serve`)."),
    "max_connections": SettingHelp(
        "HTTP connections `serve` keeps open at once. Past it, an idle connection, else the one "
        "that has spent longest sending its headers, is closed to make room; when all are "
        "busy, a new one gets 503, and past twice the limit it is closed at once. "
        "`serve` raises its open-file limit to fit. See *Limits of the HTTP service* in "
        "Operations."),
    "max_header_kb": SettingHelp(
        "Largest request line plus headers `serve` reads, in kilobytes; a larger one gets 431 "
        "and is never held in memory."),
    "max_headers": SettingHelp("Most headers in one request; more get 431."),
    "max_body_kb": SettingHelp(
        "Largest request body `serve` accepts, in kilobytes (the only bodies it expects are "
        "one-click unsubscriptions, a few dozen bytes); a larger one gets 413."),
    "header_timeout": SettingHelp(
        "Seconds a client has to send the request line and headers, counted from its first "
        "byte (or from connecting); a slower one gets 408 and is closed, one that sent nothing "
        "is just closed."),
    "body_timeout": SettingHelp(
        "Seconds a client has to send a request body once its headers are in; a slower one gets "
        "408 and is closed."),
}

# Variables read outside Settings.
EXTRA: dict[str, SettingHelp] = {
    "CALENDAR_SERVICE_DEBUG": SettingHelp(
        "Set to `1` to see Python tracebacks of internal errors.", "unset"),
}
