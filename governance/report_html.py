"""The report's HTML: the report's JSON content laid out for people, in one self-contained file.

No scripts, fonts or images are fetched: styles are inline and figures are embedded as data
URIs, so the file opens offline and shows the same bytes that were signed. Sections render
generically (tables for records, lists for lists), so every field of the JSON is visible.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from governance.report import SECTIONS


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("governance", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.do"],
    )
    env.filters["shown"] = _shown
    env.tests["record_list"] = _record_list
    env.tests["scalar"] = lambda v: v is None or isinstance(v, str | int | float | bool)
    env.globals["columns_of"] = _columns
    return env


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _record_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def render(content: dict[str, Any], *, folder: Path | None = None) -> str:
    """The HTML of ``content``; paths of HTML files the report names (the Evidently report)
    become links relative to ``folder``, where the report is written."""

    def link(path: str) -> str:
        if folder is None:
            return path
        return Path(os.path.relpath(Path.cwd() / path, folder.resolve())).as_posix()

    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            report=content, titles=dict(SECTIONS), sections=content.get("sections", {}),
            link=link,
        )
    )  # fmt: skip
