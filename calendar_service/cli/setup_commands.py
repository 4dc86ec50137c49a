"""Handlers of ``init`` (your own copies of the data files) and ``doctor`` (is it ready?)."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from calendar_service.base.errors import ConfigError
from calendar_service.base.settings import Settings, bundled

COPIES = ("days.yaml", "offices.yaml", "templates")


def cmd_init(args: argparse.Namespace, settings: Settings) -> int:
    target = Path(args.dir).expanduser() if args.dir else settings.data_dir
    existing = [target / name for name in COPIES if (target / name).exists()]
    if existing and not args.force:
        raise ConfigError("these copies exist already and are kept: "
                          + ", ".join(str(p) for p in existing)
                          + "; add --force to replace them with the bundled ones")
    try:
        target.mkdir(parents=True, exist_ok=True)
        for name in COPIES:
            source, dest = bundled(name), target / name
            if source.is_dir():
                if dest.exists():
                    shutil.rmtree(dest)
                shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copyfile(source, dest)
    except OSError as exc:
        raise ConfigError(f"cannot write into {target}: {exc.strerror or exc}") from None
    for name in COPIES:
        print(f"wrote {target / name}{'/' if name == 'templates' else ''}")
    if target.resolve() == settings.data_dir.resolve():
        print("Every command now reads these copies. Next: put the offices' real addresses in "
              f"{target / 'offices.yaml'}, then run calendar-service check and "
              "calendar-service doctor.")
    else:
        print(f"To use them, set CALENDAR_SERVICE_DATA_DIR={target} (or --data-dir {target}); "
              "then run calendar-service check and calendar-service doctor.")
    return 0


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from calendar_service.base.clock import now_from
    from calendar_service.runs.doctor import run_checks

    if args.timeout <= 0:
        raise ConfigError("--timeout must be greater than zero")

    def emit(verdict) -> None:  # type: ignore[no-untyped-def]
        for line in verdict.lines():
            print(line, flush=True)

    ready = run_checks(settings, now_from(args), args.timeout, emit)
    print("ready: real reminders can go out" if ready else
          "NOT ready: fix the ✗ lines above, then run calendar-service doctor again",
          file=sys.stdout if ready else sys.stderr)
    return 0 if ready else 1
