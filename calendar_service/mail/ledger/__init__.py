"""The ledger: one row per reminder, claimed before sending and marked after (see ``store``)."""

from calendar_service.mail.ledger.owners import LedgerLost  # noqa: F401
from calendar_service.mail.ledger.records import (  # noqa: F401
    Entry,
    Mark,
    RunInfo,
    Unsubscription,
    _iso,
)
from calendar_service.mail.ledger.schema import (  # noqa: F401
    CLAIMED,
    EXPIRED,
    FAILED,
    PENDING,
    PERMANENT,
    SENT,
    STATUSES,
    SUPERSEDED,
    UNDELIVERED,
    UNSUBSCRIBED,
    Key,
    UTCDateTime,
    _sqlite_engine,
    _wal,
    engine_url,
    metadata,
    reminders,
    rkey,
    runs,
    unsubscriptions,
)
from calendar_service.mail.ledger.store import (  # noqa: F401
    Ledger,
    _clip,
    _mark_sql,
    utcnow,
)
