"""Sphinx configuration: MyST Markdown pages, the Furo theme, and the two generated references.

Why Sphinx and not MkDocs: MkDocs 1.x has had no release since 2024, MkDocs 2.0 drops plugins
and themes, and Material for MkDocs is in maintenance mode; Sphinx, MyST-Parser and Furo all
ship regular releases. The pages are plain Markdown either way.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import gen_reference  # noqa: E402

gen_reference.write(HERE / "reference")

project = "calendar-service"
author = "calendar-service developers"
language = "en"
extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
html_theme = "furo"
html_title = "calendar-service"
exclude_patterns = ["_build", "README.md"]
suppress_warnings: list[str] = []
