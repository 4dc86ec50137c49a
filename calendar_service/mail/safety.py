"""Why real sending must not start yet: the checks that keep a first deployment from mailing
links to localhost, or mail to the example offices, through a real relay.

The outbox (no SMTP relay configured) is always safe: nothing leaves the machine. With a relay,
every reason found here stops the run before anything is sent, unless the administrator said
``CALENDAR_SERVICE_TRIAL_SENDING=1`` (trials on a test relay, and the tests).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from email.utils import parseaddr
from urllib.parse import unquote, urlsplit

from calendar_service.base.errors import ConfigError
from calendar_service.base.settings import Settings
from calendar_service.data.model import Office

# RFC 2606 and RFC 6761: names that never reach a real mailbox or a public site.
RESERVED_DOMAINS = ("example.org", "example.com", "example.net")
RESERVED_SUFFIXES = (".example", ".test", ".invalid", ".localhost")
TRIAL_HINT = "(for a trial on a test relay only: CALENDAR_SERVICE_TRIAL_SENDING=1)"


def reserved_domain(domain: str) -> bool:
    """True for example.org/.com/.net and their subdomains, and the reserved top-level names."""
    d = domain.strip().rstrip(".").lower()
    if d in ("localhost", "example", "test", "invalid"):
        return True
    return (any(d == r or d.endswith("." + r) for r in RESERVED_DOMAINS)
            or d.endswith(RESERVED_SUFFIXES))


def address_domain(address: str) -> str:
    return parseaddr(address)[1].rpartition("@")[2]


def loopback_host(host: str | None) -> bool:
    """localhost, *.localhost, 127.0.0.0/8, ::1 and the unspecified address."""
    if not host:
        return True
    h = host.strip("[]").lower()
    if h == "localhost" or h.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(h)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_unspecified


def base_url_problem(base_url: str) -> str | None:
    """Why links built on BASE_URL would not work for the people who get them, if they would not."""
    if loopback_host(urlsplit(base_url).hostname):
        return (f"CALENDAR_SERVICE_BASE_URL is {base_url!r} (a loopback address): links in the "
                "messages would point to the recipient's own computer; set it to the site's "
                "public address, e.g. https://dias.your-domain.mx")
    return None


def _unsubscribe_address(unsubscribe: str) -> str:
    """The address of a ``mailto:`` unsubscribe setting ('' for an https one)."""
    if not unsubscribe.lower().startswith("mailto:"):
        return ""
    return unquote(unsubscribe[7:].partition("?")[0])


def sender_problems(settings: Settings) -> list[str]:
    """The sender and unsubscribe addresses at reserved domains (the defaults are)."""
    out = []
    sender = parseaddr(settings.smtp_from)[1]
    if reserved_domain(address_domain(sender)):
        out.append(f"CALENDAR_SERVICE_SMTP_FROM is {sender!r}, an example address: set your "
                   "organisation's sender, e.g. 'Días internacionales <dias@your-domain.mx>'")
    unsub = _unsubscribe_address(settings.unsubscribe)
    if unsub and reserved_domain(address_domain(unsub)):
        out.append(f"CALENDAR_SERVICE_UNSUBSCRIBE is {settings.unsubscribe!r}, an example "
                   "address: set a mailbox someone reads, e.g. "
                   "mailto:dias@your-domain.mx?subject=baja")
    return out


def recipient_problems(offices: Iterable[Office], offices_file: str) -> list[str]:
    """Offices whose addresses are at reserved domains (the bundled example file's are)."""
    bad = [(o.id, a) for o in offices for a in o.emails if reserved_domain(address_domain(a))]
    if not bad:
        return []
    shown = ", ".join(f"{oid} <{a}>" for oid, a in bad[:3])
    more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
    return [f"{offices_file}: {len(bad)} example address{'es' if len(bad) > 1 else ''} "
            f"({shown}{more}): put the offices' real addresses in your own copy "
            "(calendar-service init) or point CALENDAR_SERVICE_OFFICES at it"]


def send_blockers(settings: Settings, offices: Sequence[Office] | None = None, *,
                  recipients: Sequence[str] | None = None) -> list[str]:
    """Every reason real sending must not start, with what to change; [] when it may.

    ``recipients`` instead of ``offices`` checks a test send to given addresses.
    """
    if not settings.smtp_url or settings.trial_sending:
        return []
    out = []
    problem = base_url_problem(settings.base_url)
    if problem:
        out.append(problem)
    out += sender_problems(settings)
    if recipients is not None:
        out += [f"{a} is an example address that no one reads; give a real one"
                for a in recipients if reserved_domain(address_domain(a))]
    else:
        out += recipient_problems(offices or (), str(settings.offices))
    return out


class SendingBlocked(ConfigError):
    """Real sending refused by the safe defaults: exit 2, naming what to change."""

    def __init__(self, reasons: Sequence[str]) -> None:
        self.reasons = list(reasons)
        super().__init__("error: nothing was sent: the settings are not ready for real mail\n"
                         + "".join(f"  - {r}\n" for r in reasons)
                         + f"  Check everything with: calendar-service doctor {TRIAL_HINT}")


def refuse_unsafe(settings: Settings, offices: Sequence[Office] | None = None, *,
                  recipients: Sequence[str] | None = None) -> None:
    """Raise :class:`SendingBlocked` when :func:`send_blockers` finds anything."""
    reasons = send_blockers(settings, offices, recipients=recipients)
    if reasons:
        raise SendingBlocked(reasons)
