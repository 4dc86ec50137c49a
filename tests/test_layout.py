"""The package reads as the pipeline: each stage imports only the base and the stages before it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "calendar_service"
STAGES = ["base", "data", "occurrences", "publishing", "mail", "runs", "cli"]


def _stage(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "calendar_service" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in STAGES else None


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every calendar_service module a file imports, lazily or not (TYPE_CHECKING ones too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.level:
                raise AssertionError(f"{path}:{node.lineno}: use absolute imports")
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            found += [(node.lineno, n) for n in names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
    return found


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] in STAGES)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_stage_imports_only_the_base_and_the_stages_before_it(path: Path) -> None:
    own = path.relative_to(PACKAGE).parts[0]
    allowed = set(STAGES[: STAGES.index(own) + 1])
    wrong = [f"{path.name}:{line}: imports {name}" for line, name in _imports(path)
             if (stage := _stage(name)) is not None and stage not in allowed]
    assert not wrong, "\n".join(wrong)


def test_every_module_belongs_to_a_stage() -> None:
    loose = [p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    assert not loose, f"modules outside the stage packages: {loose}"


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_says_what_it_owns_and_may_import(stage: str) -> None:
    doc = ast.get_docstring(ast.parse((PACKAGE / stage / "__init__.py").read_text(encoding="utf-8")))
    assert doc and "import" in doc
