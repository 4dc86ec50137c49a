"""Stage 5, runs: the daily cron job and the long-running service with its scheduler.

Owns run locks, the reload of data, the scheduler wiring and ``serve``. May import every earlier
stage (``base``, ``data``, ``occurrences``, ``publishing``, ``mail``), never ``cli``.
"""
