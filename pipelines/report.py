"""The HTML report: one self-contained file (charts embedded, no CDN) plus the charts as PNGs.

Reads only the published warehouse. Every chart names its sources and the data's newest date.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb

HEADLINE_GPUS = ("H100", "H200", "B200", "A100-80GB")
HEADLINE_MODELS = ("gpt-4o", "claude-3-5-sonnet", "claude-sonnet-4", "llama-3.1-405b-instruct", "deepseek-v3")
MARGIN_MODELS = ("llama-3.1-405b-instruct", "llama-3.3-70b-instruct", "gpt-4o")


@dataclass(frozen=True)
class Chart:
    name: str            # file stem, e.g. gpu_prices
    title: str
    caption: str         # sources and newest date
    png: bytes
    table_html: str = ""  # an optional table shown under the chart


def build_report(database: Path, out_dir: Path) -> list[Chart]:
    """Render every chart from the published warehouse into out_dir (index.html + <name>.png)."""
    import matplotlib

    matplotlib.use("Agg")
    out_dir.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(database), read_only=True) as connection:
        charts = [chart(connection) for chart in CHARTS]
    for item in charts:
        (out_dir / f"{item.name}.png").write_bytes(item.png)
    (out_dir / "index.html").write_text(render_html(charts), encoding="utf-8")
    return charts


def gpu_prices_chart(connection: duckdb.DuckDBPyConnection) -> Chart:
    rows = connection.execute(f"""
        with per_provider as (
            select price_date, gpu_model, pricing_type, provider, min(usd_per_gpu_hour) as price
            from marts.fct_gpu_prices_daily where gpu_model in {HEADLINE_GPUS} group by all
        )
        select price_date, gpu_model, pricing_type, min(price), median(price)
        from per_provider group by all order by price_date
    """).fetchall()
    figure, axes = _figure()
    for gpu in HEADLINE_GPUS:
        for pricing, style in (("on_demand", "-"), ("spot", ":")):
            series = [(r[0], float(r[3]), float(r[4])) for r in rows if r[1] == gpu and r[2] == pricing]
            if series:
                line = axes.plot([s[0] for s in series], [s[2] for s in series], style,
                                 label=f"{gpu} {pricing} median")[0]
                axes.plot([s[0] for s in series], [s[1] for s in series], style, alpha=0.35, color=line.get_color(),
                          label=f"{gpu} {pricing} min")
    axes.set_ylabel("USD per GPU-hour")
    return _chart("gpu_prices", "GPU rental price per GPU-hour (min and median across clouds)", figure,
                  _caption(connection, "fct_gpu_prices_daily", "gpu"))


def token_prices_chart(connection: duckdb.DuckDBPyConnection) -> Chart:
    rows = connection.execute(f"""
        select price_date, model_id, min(usd_per_1m_output)
        from marts.fct_token_prices_daily
        where model_id in {HEADLINE_MODELS} and usd_per_1m_output > 0 group by all order by price_date
    """).fetchall()
    figure, axes = _figure()
    for model in HEADLINE_MODELS:
        series = [(r[0], float(r[2])) for r in rows if r[1] == model]
        if series:
            axes.step([s[0] for s in series], [s[1] for s in series], where="post", label=model)
    axes.set_ylabel("USD per 1M output tokens (cheapest seller)")
    axes.set_yscale("log")
    return _chart("token_prices", "API output token price of headline models", figure,
                  _caption(connection, "fct_token_prices_daily", "token"))


def margins_chart(connection: duckdb.DuckDBPyConnection) -> Chart:
    rows = connection.execute(f"""
        select price_date, model_id, provider, bool_or(is_proxy), median(implied_gross_margin)
        from marts.fct_implied_margins_daily
        where gpu_price_basis = 'median' and price_tier = 'standard' and model_id in {MARGIN_MODELS}
        group by all order by price_date
    """).fetchall()
    figure, axes = _figure()
    for model, provider, is_proxy in sorted({(r[1], r[2], r[3]) for r in rows}):
        series = [(r[0], r[4]) for r in rows if (r[1], r[2]) == (model, provider) and r[4] is not None]
        label = f"{model} @ {provider}" + (" (proxy throughput)" if is_proxy else "")
        axes.plot([s[0] for s in series], [s[1] for s in series], "--" if is_proxy else "-", label=label)
    axes.axhline(0, color="black", linewidth=0.8)
    axes.set_ylim(-3, 1)
    axes.set_ylabel("implied gross margin (median GPU price, standard tier)")
    return _chart("implied_margins", "Implied gross margin by model and seller (dashed: proxy-based)", figure,
                  _caption(connection, "fct_implied_margins_daily", "gpu and token"))


def lifetime_chart(connection: duckdb.DuckDBPyConnection) -> Chart:
    fixed = connection.execute("""
        select lifetime_months, monthly_result_usd, breakeven_lifetime_months from marts.fct_lifetime_economics
        where scenario_id = 'frontier-subscription' and price_date is null order by lifetime_months
    """).fetchall()
    history = connection.execute("""
        select price_date, lifetime_months, monthly_result_usd from marts.fct_lifetime_economics
        where scenario_id = 'frontier-subscription' and price_date is not null order by price_date
    """).fetchall()
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    left.plot([r[0] for r in fixed], [r[1] / 1e6 for r in fixed], "o-")
    if fixed and fixed[0][2] is not None:
        left.axvline(fixed[0][2], color="red", linestyle="--", label=f"break-even {fixed[0][2]:.1f} months")
    left.axhline(0, color="black", linewidth=0.8)
    left.set_xlabel("commercial lifetime (months)")
    left.set_ylabel("monthly result (million USD) at 10.60 USD/GPU-h")
    left.legend(fontsize=8)
    for lifetime in sorted({r[1] for r in history}):
        series = [(r[0], r[2] / 1e6) for r in history if r[1] == lifetime]
        right.plot([s[0] for s in series], [s[1] for s in series], ".", markersize=2, label=f"{lifetime} months")
    right.axhline(0, color="black", linewidth=0.8)
    right.set_ylabel("monthly result (M USD), market median H200")
    right.legend(fontsize=7, ncol=2)
    figure.autofmt_xdate()
    return _chart("lifetime_economics", "Essay scenario (Llama 3.1 405B, 16,000 H200): result vs lifetime", figure,
                  _caption(connection, "fct_lifetime_economics", "gpu"))


def model_lifetimes_chart(connection: duckdb.DuckDBPyConnection) -> Chart:
    rows = connection.execute("""
        select release_cohort, lifetime_months, is_retired from marts.fct_model_lifetimes
        where release_cohort is not null and lifetime_months is not null order by release_cohort
    """).fetchall()
    figure, axes = _figure()
    cohorts = sorted({r[0] for r in rows})
    for retired, marker, label in ((True, "o", "retired"), (False, "^", "still sold (lifetime to date)")):
        points = [(cohorts.index(r[0]), float(r[1])) for r in rows if r[2] == retired]
        axes.scatter([p[0] for p in points], [p[1] for p in points], marker=marker, label=label, alpha=0.7)
    axes.set_xticks(range(len(cohorts)), cohorts, rotation=60, fontsize=7)
    axes.set_ylabel("commercial lifetime (months)")
    return _chart("model_lifetimes", "Commercial lifetimes of models by release cohort", figure,
                  "Sources: model lifetimes seed (provider deprecation pages), Epoch AI, LiteLLM history. "
                  f"As of {datetime.now(UTC):%Y-%m-%d}.")


DISCREPANCY_COLUMNS = ("kind", "provider", "subject", "price", "source a", "value a", "source b", "value b",
                       "relative difference", "days apart", "first seen")


def discrepancies_chart(connection: duckdb.DuckDBPyConnection, top: int = 10) -> Chart:
    """Where two sources disagree about one price: the count per day and kind, and the largest on the newest day."""
    counts = connection.execute("""
        select price_date, kind, count(*) from marts.price_discrepancies group by all order by price_date
    """).fetchall()
    figure, axes = _figure()
    for kind in sorted({r[1] for r in counts}):
        series = [(r[0], r[2]) for r in counts if r[1] == kind]
        axes.plot([s[0] for s in series], [s[1] for s in series], ".-", markersize=3, label=kind)
    axes.set_ylabel("disagreeing prices per day")
    largest = connection.execute("""
        select kind, provider, coalesce(instance_type || ' ' || region || ' ' || pricing_type, subject_a),
               price_column, source_a, value_a, source_b, value_b, relative_difference, days_apart, first_seen_date
        from marts.price_discrepancies
        where price_date = (select max(price_date) from marts.price_discrepancies)
        order by abs(relative_difference) desc nulls first, kind, provider, subject_a, price_column
        limit ?""", [top]).fetchall()
    newest = connection.execute("select max(price_date) from marts.price_discrepancies").fetchone()[0]
    return replace(
        _chart("price_discrepancies", "Where two sources disagree about one price", figure,
               f"Sources: litellm, openrouter, skypilot and the clouds' own APIs (marts.price_discrepancies; "
               f"tolerance: the dbt var discrepancy_tolerance). Newest data: {newest}."),
        table_html=_discrepancy_table(largest, newest))


def _discrepancy_table(rows: list[tuple], newest) -> str:
    if not rows:
        return "<p>No disagreements beyond the tolerance.</p>"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in DISCREPANCY_COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in _discrepancy_cells(row)) + "</tr>"
                   for row in rows)
    return (f"<h3>Largest disagreements on {newest} (value a vs the preferred source b)</h3>"
            f"<table><tr>{head}</tr>{body}</table>")


def _discrepancy_cells(row: tuple) -> list[str]:
    cells = ["" if value is None else str(value) for value in row]
    relative = row[8]
    cells[8] = "n/a (b is 0)" if relative is None else f"{relative:+.1%}"
    return cells


CHARTS: tuple[Callable[[duckdb.DuckDBPyConnection], Chart], ...] = (
    gpu_prices_chart, token_prices_chart, margins_chart, lifetime_chart, model_lifetimes_chart, discrepancies_chart,
)


def _figure():
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(12, 4.5))
    return figure, axes


def _chart(name: str, title: str, figure, caption: str) -> Chart:
    import matplotlib.pyplot as plt

    axes = figure.axes[0]
    if len(figure.axes) == 1 and axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize=7, ncol=2)
    figure.suptitle(title)
    figure.autofmt_xdate()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return Chart(name, title, caption, buffer.getvalue())


def _caption(connection: duckdb.DuckDBPyConnection, mart: str, kind: str) -> str:
    newest = connection.execute(f"select max(price_date) from marts.{mart}").fetchone()[0]
    sources = [row[0] for row in connection.execute(
        "select source from marts.dim_sources where kind = ? or ? like '%' || kind || '%' order by 1",
        [kind, kind]).fetchall()]
    return f"Sources: {', '.join(sources)} (marts.{mart}). Newest data: {newest}."


def render_html(charts: list[Chart]) -> str:
    sections = "\n".join(
        f'<section><h2>{html.escape(c.title)}</h2>'
        f'<img alt="{html.escape(c.title)}" src="data:image/png;base64,{base64.b64encode(c.png).decode()}">'
        f'<p class="caption">{html.escape(c.caption)}</p>{c.table_html}</section>'
        for c in charts)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Inference Margins report</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;color:#222}}
img{{max-width:100%}}.caption{{color:#555;font-size:0.9em}}
table{{border-collapse:collapse;font-size:0.85em}}
td,th{{border:1px solid #ccc;padding:2px 6px;text-align:left}}</style></head>
<body><h1>Inference Margins</h1>
<p>Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from the published warehouse. GPU rental prices, API token
prices and the gross margins they imply; proxy-based margins are dashed.</p>
{sections}
</body></html>
"""
