"""``python -m calendar_service`` is the same as the ``calendar-service`` command."""

import sys

from calendar_service.cli import main

sys.exit(main())
