"""Stage 4, mail: which reminders are due, composing them, delivering them, and the ledger.

Owns reminders, compose, delivery (SMTP or outbox), the send loop, the ledger and unsubscription.
May import ``base``, ``data``, ``occurrences`` and ``publishing``.
"""
