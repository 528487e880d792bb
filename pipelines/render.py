"""What `margins` prints: plain-text tables (cut to a line width), CSV and JSON, the refresh summary and the status.

Pure functions from rows to text; the queries are in pipelines.warehouse, the runs in pipelines.runs.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipelines.runs import SourceRun

MAX_LINE = 220   # `margins status` and the refresh summary: longer cells are cut (full text: --format json)
MESSAGE_CELL = 110  # a source's message in the refresh summary: its start (the full text is in source_status)


def format_rows(columns: list[str], rows: list[tuple], output_format: str) -> str:
    """A query's result as `margins sql` prints it: a table with a row count, CSV, or JSON (full values)."""
    if output_format == "json":
        return to_json([dict(zip(columns, row, strict=True)) for row in rows])
    if output_format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        writer.writerows([[fmt(value) for value in row] for row in rows])
        return buffer.getvalue().rstrip("\n")
    return render_table(columns, [list(row) for row in rows]) + f"\n({len(rows)} row{'s' if len(rows) != 1 else ''})"


def render_table(columns: Sequence[Any], rows: list[list[Any]], max_line: int | None = None) -> str:
    """A plain-text table, control characters escaped; with ``max_line``, the widest columns are narrowed until every
    line fits and their cells are cut with "…"."""
    cells = [[printable(fmt(value)) for value in row] for row in rows]
    columns = [printable(str(column)) for column in columns]
    widths = [max([len(column)] + [len(row[i]) for row in cells]) for i, column in enumerate(columns)]
    if max_line is not None:
        widths = _fit(widths, [len(column) for column in columns], max_line)
        cells = [[cut(" ".join(value.split()) if "\n" in value else value, width)
                  for value, width in zip(row, widths, strict=True)] for row in cells]
    line = "  ".join(column.ljust(width) for column, width in zip(columns, widths, strict=True))
    rule = "  ".join("-" * width for width in widths)
    body = ["  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)) for row in cells]
    return "\n".join([line, rule, *body])


# Control characters (and bidirectional overrides) in data would move the cursor or recolour the terminal.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """Text safe for a terminal table: control characters shown as escapes (\\x1b, \\n, \\u202e)."""
    return _UNPRINTABLE.sub(lambda match: ascii(match.group())[1:-1], text)


def _fit(widths: list[int], minimums: list[int], max_line: int) -> list[int]:
    """Narrow the widest column, one character at a time, until the line (with its separators) fits."""
    widths = list(widths)
    floor = [max(8, minimum) for minimum in minimums]
    while sum(widths) + 2 * (len(widths) - 1) > max_line:
        widest = max(range(len(widths)), key=lambda i: widths[i] - floor[i])
        if widths[widest] <= floor[widest]:
            break
        widths[widest] -= 1
    return widths


def cut(value: str, width: int) -> str:
    """``value`` in at most ``width`` characters, cut with "…"."""
    return value if len(value) <= width else value[: width - 1] + "…"


def fmt(value: Any) -> str:
    """One cell's text: empty for NULL, minutes for a timestamp, a decimal without trailing zeros."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f").rstrip("0")
    return str(value)


def to_json(value: Any) -> str:
    """JSON with the full text of every value (decimals as numbers, days and times in ISO 8601)."""
    return json.dumps(value, default=_json_default, indent=1)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


# --- margins refresh ---------------------------------------------------------------------------------------------

def refresh_summary(outcomes: list[SourceRun], status_rows: dict[str, tuple], mart_counts: list[tuple[str, int]],
                    published_db: Path, built: bool, published: bool, seconds: float) -> str:
    """The refresh's summary: a line per source (its outcome in this run and its staleness), a line per payload not
    applied or worth a word, rows per mart, and whether a new warehouse was published. ``status_rows`` maps a source
    to its (source, newest_observed_at, is_stale) in the published marts.source_status."""
    table = []
    for outcome in outcomes:
        status = status_rows.get(outcome.source, (outcome.source, None, True))
        table.append([outcome.source, outcome.status, outcome.new_rows, outcome.quarantined, fmt(status[1]),
                      "stale" if status[2] else "fresh", cut(outcome.message, MESSAGE_CELL)])
    parts = [render_table(["source", "status", "new rows", "quarantined", "newest observation", "staleness",
                           "message"], table, max_line=MAX_LINE)]
    payload_lines = [line for outcome in outcomes for line in outcome.payload_lines]
    if payload_lines:
        parts.append(render_table(["payload not applied, or worth a word"], [[line] for line in payload_lines],
                                  max_line=MAX_LINE))
    if mart_counts:
        parts.append(render_table(["mart", "rows"], [list(row) for row in mart_counts], max_line=MAX_LINE))
    if built and not published:
        parts.append(f"nothing new (no new payload, same dbt project and as-of day): {published_db} is "
                     f"unchanged ({seconds:.1f} s)")
    else:
        parts.append(f"{'published' if built else 'NOT published'}: {published_db} ({seconds:.1f} s)")
    return "\n\n".join(parts)


# --- margins status ----------------------------------------------------------------------------------------------

def status_table(columns: list[str], rows: list[tuple], upstream_stale: list[tuple],
                 mart_counts: list[tuple[str, int]]) -> str:
    """`margins status`: the source_status rows (lines of at most MAX_LINE characters), a warning per source whose
    upstream content stopped changing, rows per mart."""
    lines = [render_table(columns, [list(row) for row in rows], max_line=MAX_LINE)]
    lines += [f"warning: {source}: upstream content unchanged since {fmt(changed_at)} "
              f"(more than {days} days): the feed may have stopped updating"
              for source, changed_at, days in upstream_stale]
    lines += ["", render_table(["mart", "rows"], [list(row) for row in mart_counts], max_line=MAX_LINE)]
    return "\n".join(lines)


def status_json(columns: list[str], rows: list[tuple], mart_counts: list[tuple[str, int]]) -> str:
    """`margins status --format json`: every column's full text."""
    return to_json({"sources": [dict(zip(columns, row, strict=True)) for row in rows], "marts": dict(mart_counts)})
