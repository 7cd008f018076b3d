"""Self-contained HTML pages from Jinja2 templates shipped with the package: tables as sortable HTML,
images as data URIs, CSS and script inline, so a page opens offline and travels as one file."""
from __future__ import annotations

import base64
import math
import numbers
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from delbench.store.atomic import atomic_path
from delbench.report.tables import Grid

# A cell sorts by its leading number ("62.3 ± 1.2" by 62.3, "2/0/1" by its wins, "77%" by 77); a cell
# without one ("–") sorts after every number.
_NUMBER = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")


@dataclass(frozen=True)
class Cell:
    text: str
    sort: float | None
    best: bool = False


@dataclass(frozen=True)
class TableView:
    """A table as the templates draw it: ``id`` is the element id a reader (or a test) finds it by."""

    id: str
    title: str
    header: list[str]
    rows: list[list[Cell]]
    note: str = ""

    @property
    def text_columns(self) -> set[int]:
        """Columns of words (no number, and not only "–"): set left-aligned."""
        def words(j: int) -> bool:
            cells = [row[j] for row in self.rows if j < len(row)]
            return all(c.sort is None for c in cells) and any(c.text != "–" for c in cells)

        return {j for j in range(len(self.header)) if words(j)}


def sort_key(text: str) -> float | None:
    match = _NUMBER.match(text)
    if match is None:
        return None
    value = float(match.group(1))
    return value if math.isfinite(value) else None


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-")


def grid_view(grid: Grid, table_id: str, note: str = "") -> TableView:
    rows = [[Cell(text, sort_key(text) if j else None, (i, j) in grid.best) for j, text in enumerate(row)]
            for i, row in enumerate(grid.rows)]
    return TableView(table_id, grid.title, list(grid.header), rows, note)


def _frame_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def frame_view(title: str, frame: pd.DataFrame, table_id: str | None = None, index: bool = False) -> TableView:
    """Any DataFrame as a sortable table (floats to 4 significant digits; numbers sort by value)."""
    if index:
        frame = frame.reset_index()
    rows = []
    for record in frame.itertuples(index=False, name=None):
        cells = []
        for value in record:
            text = _frame_text(value)
            # a string sorts as text even when it starts with digits (a date, a commit)
            number = float(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) and text != "–" else None
            cells.append(Cell(text, number))
        rows.append(cells)
    return TableView(table_id or f"extra-{slug(title)}", title, [str(c) for c in frame.columns], rows)


def data_uri(payload: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(payload).decode('ascii')}"


def file_data_uri(path: Path) -> str:
    mime = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}[path.suffix.lower()]
    return data_uri(path.read_bytes(), mime)


def environment() -> "Any":
    """The template environment: templates from the package, every value escaped unless marked safe."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader("delbench.report", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["pct"] = lambda v: "–" if v is None or v != v else f"{100 * v:.0f}%"
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


def write_page(path: Path, template: str, **context: Any) -> Path:
    """Render ``template`` and write it to ``path`` atomically (a failed render leaves the old page)."""
    text = render(template, **context)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
