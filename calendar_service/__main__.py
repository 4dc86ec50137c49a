"""``python -m calendar_service`` is the same as the ``calendar-service`` command."""

import sys

from .cli import main

sys.exit(main())
