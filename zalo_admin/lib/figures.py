"""Shared pieces of every chart: the data table beside a figure, its CSV download, a base layout.

A figure is a plain plotly dict built in Python (`{"data": [...], "layout": {...}, "empty": bool}`)
that `templates/includes/chart.html` writes with `json_script` and `static/js/charts.js` renders.
Its accessible twin is a *table* (`{"columns": [...], "rows": [[...], ...]}`), kept in the figure
under `"table"` so one function builds both from the same rollup rows; `table_csv` turns it into
the CSV download. Callers pass labels already translated (gettext), so this module stays pure.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from html import escape

from django.template import Context
from django.template.base import render_value_in_context
from django.utils.safestring import SafeString, mark_safe

# Spreadsheet programs run a cell starting with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# Plotly's fonts and colours shared by every chart (the system font stack of static/css/app.css).
FONT = {"family": 'system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif', "size": 13}
COLORS = {
    "sent": "#1f6feb",
    "bad": "#d1242f",
    "limit": "#9a6700",
    "ok": "#1a7f37",
    "warn": "#9a6700",
    "danger": "#b42318",
    "muted": "#57606a",
}


class Table(dict):
    """A figure's table: a plain dict for JSON and CSV, whose `body_html` gives its rows as HTML."""

    @property
    def body_html(self) -> SafeString:
        return table_body_html(self)


def table(columns: Sequence[str], rows: Iterable[Sequence]) -> Table:
    """The data table of a figure: column headings and one list of cells per row (None = no value)."""
    return Table(columns=list(columns), rows=[list(row) for row in rows])


_CELL_CONTEXT = Context(autoescape=True)


def _cell_html(cell) -> str:
    return escape(cell) if type(cell) is str else render_value_in_context(cell, _CELL_CONTEXT)


def table_body_html(data: dict) -> SafeString:
    """The table's rows as <tr>s, each cell as a template's {{ cell }} renders it (localised,
    escaped; None as a dash). Built here rather than by the include's loop: a month of daily rows
    through the template engine cost several milliseconds per chart."""
    out = []
    for row in data["rows"]:
        cells = "".join("<td>—</td>" if cell is None else f"<td>{_cell_html(cell)}</td>" for cell in row)
        out.append(f"<tr>{cells}</tr>\n")
    return mark_safe("".join(out))  # noqa: S308 (every cell escaped above)


def base_layout(*, x_title: str, y_title: str, **extra) -> dict:
    """A layout every chart starts from: titled axes, the legend above the plot (it wraps on a phone),
    one tooltip listing every series of the point hovered, margins that leave room for tick labels."""
    layout = {
        "font": FONT,
        "margin": {"l": 56, "r": 16, "t": 8, "b": 48},
        "xaxis": {"title": {"text": x_title}, "automargin": True},
        "yaxis": {"title": {"text": y_title}, "rangemode": "tozero", "automargin": True},
        "legend": {"orientation": "h", "x": 0, "xanchor": "left", "y": 1.02, "yanchor": "bottom"},
        "hovermode": "x unified",
        "hoverlabel": {"namelength": -1},
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(layout.get(key), dict):
            layout[key] = {**layout[key], **value}
        else:
            layout[key] = value
    return layout


def _safe_cell(value) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return value
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def table_csv(data: dict) -> Iterator[str]:
    """The table as CSV lines (header first), a byte-order mark first so spreadsheet programs read
    Vietnamese as UTF-8; text cells that a spreadsheet would run as a formula get a leading quote."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    yield "\ufeff"
    for row in [data["columns"], *data["rows"]]:
        writer.writerow([_safe_cell(cell) for cell in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
