"""calendar-service: international days as a subscribable calendar and as e-mail reminders."""

__version__ = "0.1.0"
