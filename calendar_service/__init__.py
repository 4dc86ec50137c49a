"""calendar-service: international days as a subscribable calendar and as e-mail reminders."""

# The one place the version is written (pyproject.toml reads it; semantic versioning: CHANGELOG.md).
__version__ = "0.2.0"
