"""The exception hierarchy: every error a user can cause maps to one clear message and exit code."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a data file, located precisely enough to fix it."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class CalendarServiceError(Exception):
    """Base of every error the CLI reports without a traceback."""

    exit_code = 1


class DataError(CalendarServiceError):
    """Bad input files: carries every problem found, not just the first."""

    exit_code = 2

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ConfigError(CalendarServiceError):
    """A bad setting (option or CALENDAR_SERVICE_* variable)."""

    exit_code = 2


class TemplateError(CalendarServiceError):
    """A message or page template that cannot render with the data it is given."""

    exit_code = 2


class DeliveryError(CalendarServiceError):
    """Some reminders could not be delivered in this run."""

    exit_code = 1
