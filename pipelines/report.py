"""The HTML report: one self-contained file (charts embedded, no CDN) plus the charts as PNGs.

Reads only the published warehouse. Every chart names its sources and the data's newest date.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

HEADLINE_GPUS = ("H100", "H200", "B200", "A100-80GB")
HEADLINE_MODELS = ("gpt-4o", "claude-3-5-sonnet", "claude-sonnet-4", "llama-3.1-405b-instruct", "deepseek-v3")
# (model, seller) series of the margin chart: models with their own profiles, and closed models through proxies
MARGIN_SERIES = (("llama-3.1-405b-instruct", "together_ai"), ("deepseek-r1", "deepseek"),
                 ("gpt-oss-120b", "together_ai"), ("gpt-4o", "openai"), ("claude-sonnet-4", "anthropic"),
                 ("deepseek-v3", "deepseek"))


Table = tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Chart:
    name: str            # file stem, e.g. gpu_prices
    title: str
    caption: str         # sources and newest date
    png: bytes
    tables: tuple[Table, ...] = ()   # figures beside the chart, each a header row then rows


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
    """The headline estimate (fct_margin_estimates_daily): direct and proxy margins apart, bands drawn, gaps kept."""
    import matplotlib.pyplot as plt

    rows = connection.execute("""
        select model_id, provider, is_proxy, price_date, margin_low, margin_central, margin_high
        from marts.fct_margin_estimates_daily
        where price_tier = 'standard' and list_contains(?, model_id || '@' || provider)
        order by price_date
    """, [[f"{model}@{provider}" for model, provider in MARGIN_SERIES]]).fetchall()
    figure, panels = plt.subplots(1, 2, figsize=(13, 4.8), sharey=True)
    for panel, proxied, title in ((panels[0], False, "direct: the model's own profiles"),
                                  (panels[1], True, "proxy: a band across proxy classes")):
        for model, provider in MARGIN_SERIES:
            series = [r for r in rows if (r[0], r[1]) == (model, provider) and r[2] == proxied]
            if not series:
                continue
            days, low, central, high = _with_gaps(series)
            line = panel.plot(days, central, label=f"{model} @ {provider}")[0]
            panel.fill_between(days, low, high, color=line.get_color(), alpha=0.15)
        panel.axhline(0, color="black", linewidth=0.8)
        panel.set_ylim(-3, 1)
        panel.set_title(title, fontsize=9)
        panel.legend(fontsize=7)
    panels[0].set_ylabel("implied gross margin, standard tier (median list GPU price)")
    figure.autofmt_xdate()
    newest, providers = connection.execute("""
        select max(price_date), (select n_providers from marts.fct_gpu_market_daily
            where gpu_model = 'H100' order by price_date desc limit 1)
        from marts.fct_margin_estimates_daily
    """).fetchone()
    caption = (f"{_caption(connection, 'fct_margin_estimates_daily', 'gpu and token')} Newest day {newest}; "
               f"the H100 list-price basis rests on {providers} providers. Lines: central estimate; bands: low to "
               "high across profiles and GPU types (and proxy classes); gaps: no price or no GPU basis that day.")
    return _chart("implied_margins", "Implied gross margin, headline estimate with its band", figure, caption)


def _with_gaps(series: list[tuple]) -> tuple[list, list, list, list]:
    """Days and low/central/high values with a NaN point inserted where a day is missing, so lines break there."""
    days, low, central, high = [], [], [], []
    previous = None
    for row in series:
        day = row[3]
        if previous is not None and (day - previous).days > 1:
            days.append(previous + (day - previous) / 2)
            low.append(float("nan")); central.append(float("nan")); high.append(float("nan"))  # noqa: E702
        days.append(day)
        low.append(_float(row[4])); central.append(_float(row[5])); high.append(_float(row[6]))  # noqa: E702
        previous = day
    return days, low, central, high


def _float(value: object) -> float:
    return float("nan") if value is None else float(value)


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


def lifetime_survival_chart(connection: duckdb.DuckDBPyConnection) -> Chart:
    """Kaplan-Meier curves with 95 % bands and censor marks; medians and the log-rank tests beside them."""
    curves = connection.execute("""
        select cohort, cohort_kind, months, survival, ci_low, ci_high, n_censored
        from marts.fct_lifetime_survival order by cohort, months
    """).fetchall()
    cohorts = connection.execute("""
        select cohort, cohort_kind, n_models, n_retired, n_censored, median_months, median_ci_low, median_ci_high,
               as_of_date
        from marts.fct_lifetime_cohorts
        order by case cohort_kind when 'all' then 0 when 'release_year' then 1 else 2 end, cohort
    """).fetchall()
    tests = connection.execute("""
        select test, cohorts, statistic, degrees_of_freedom, p_value, observed_retired_latest,
               expected_retired_latest, note
        from marts.fct_lifetime_logrank order by test desc
    """).fetchall()
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8), sharey=True)
    for axes, kinds in ((left, ("all", "release_year")), (right, ("organization",))):
        for cohort in [row[0] for row in cohorts if row[1] in kinds]:
            _survival_curve(axes, [row for row in curves if row[0] == cohort], cohort)
        axes.axhline(0.5, color="grey", linewidth=0.6, linestyle=":")
        axes.set_xlabel("months since release")
        axes.legend(fontsize=7, loc="lower left")
    left.set_ylabel("share of models still sold (Kaplan-Meier)")
    left.set_title("by release cohort", fontsize=9)
    right.set_title("by organization", fontsize=9)
    figure.text(0.5, -0.04, "\n".join(_logrank_line(test) for test in tests), fontsize=8.5, ha="center",
                va="top", bbox={"facecolor": "#f6f6f6", "edgecolor": "#bbb"})
    as_of = cohorts[0][8] if cohorts else None
    medians = (("cohort", "models", "retired", "censored", "median lifetime (months)", "95 % interval"),
               *((row[0], str(row[2]), str(row[3]), str(row[4]), _months(row[5]),
                  f"{_months(row[6])} – {_months(row[7])}") for row in cohorts))
    logrank = (("log-rank test", "cohorts", "chi²", "df", "p-value", "latest cohort: retired / expected"),
               *((row[0], row[1], _number(row[2], 2), str(row[3]), _number(row[4], 4),
                  f"{row[5]} / {_number(row[6], 1)}" + (f" ({row[7]})" if row[7] else "")) for row in tests))
    return _chart("lifetime_survival", "Commercial lifetime survival by cohort (censored at the as-of day)", figure,
                  "Sources: model lifetimes seed (provider deprecation pages), Epoch AI, LiteLLM history "
                  "(marts.fct_lifetime_survival, fct_lifetime_cohorts, fct_lifetime_logrank; "
                  "Kaplan-Meier, 95 % log-log bands, | = a model still sold, censored). Models still sold or "
                  f"retiring after the as-of day count as censored, not as retired. As of {as_of}. A median of — "
                  "means the curve has not fallen below one half; an open upper limit, that the interval has not. "
                  "Break-even volume: the training cost (Epoch) over the lifetime, divided by the gross profit per "
                  "output token of the standard tier's headline estimate; * = offline-throughput cost, a lower "
                  "bound, so the volume is a lower bound too.",
                  (medians, logrank, breakeven_volume_table(connection)), dates=False)


def breakeven_volume_table(connection: duckdb.DuckDBPyConnection) -> tuple:
    """Output tokens per month each model with a training cost must sell to pay it back (fct_breakeven_volume)."""
    rows = connection.execute("""
        select model_id, seller, is_proxy, cost_basis, gross_profit_usd_per_1m_output_tokens_central,
               lifetime_cohort, cohort_median_lifetime_months, output_tokens_per_month_cohort_median_lifetime,
               output_tokens_per_month_12_months, output_tokens_per_month_36_months, price_date
        from marts.fct_breakeven_volume
        qualify price_date = max(price_date) over (partition by model_id)
        order by model_id
    """).fetchall()
    header = ("model (newest day)", "seller", "gross profit USD / 1M output", "cohort median lifetime",
              "B output tokens / month to pay back: in the median life", "in 12 months", "in 36 months")
    return (header, *((_breakeven_label(row), row[1], _number(row[4], 2), f"{row[5]}: {_months(row[6])}",
                       _billions(row[7]), _billions(row[8]), _billions(row[9])) for row in rows))


def _breakeven_label(row: tuple) -> str:
    marks = (" proxy" if row[2] else "") + (" *" if row[3] == "throughput_fallback" else "")
    return f"{row[0]} ({row[10]}){marks}"


def _billions(value: float | None) -> str:
    return "— (no positive gross profit or no median)" if value is None else f"{value / 1e9:,.1f}"


def _survival_curve(axes, rows: list[tuple], label: str) -> None:
    months = [row[2] for row in rows]
    survival = [row[3] for row in rows]
    line = axes.step(months, survival, where="post", label=label, linewidth=1.6 if label != "all" else 1.0,
                     linestyle="--" if label == "all" else "-")[0]
    if label != "all":
        low = [row[4] if row[4] is not None else 0.0 for row in rows]
        high = [row[5] if row[5] is not None else 0.0 for row in rows]
        axes.fill_between(months, low, high, step="post", alpha=0.15, color=line.get_color())
    censored = [(row[2], row[3]) for row in rows if row[6]]
    axes.plot([c[0] for c in censored], [c[1] for c in censored], "|", color=line.get_color(), markersize=9)


def _logrank_line(test: tuple) -> str:
    name, cohorts, statistic, df, p_value, observed, expected, note = test
    if p_value is None:
        return f"log-rank {cohorts}: {note}"
    return (f"log-rank {cohorts}: chi² {statistic:.2f} (df {df}), p = {p_value:.3f}; "
            f"latest cohort retired {observed} vs {expected:.1f} expected")


def _months(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _number(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


SENSITIVITY_PREFIX = "frontier-subscription-sensitivity-"


def breakeven_sensitivity_chart(connection: duckdb.DuckDBPyConnection) -> Chart:
    """Break-even lifetime of the essay's scenario against the GPU price, one line per throughput (the grid)."""
    rows = connection.execute(f"""
        with newest as (
            select scenario_id, max(price_date) as price_date from marts.fct_lifetime_economics
            where scenario_id like '{SENSITIVITY_PREFIX}%' group by scenario_id
        )
        select scenarios.throughput_profile_id, scenarios.replica_output_tokens_per_second,
               coalesce(profiles.scenario, '') as profile_scenario, economics.price_basis, economics.price_date,
               economics.usd_per_gpu_hour, economics.replicas * scenarios.gpus_per_replica as fleet_gpus,
               economics.breakeven_lifetime_months
        from marts.fct_lifetime_economics as economics
        join newest on newest.scenario_id = economics.scenario_id
            and economics.price_date is not distinct from newest.price_date
        join raw.scenarios as scenarios on scenarios.scenario_id = economics.scenario_id
        left join marts.dim_throughput_profiles as profiles on profiles.profile_id = scenarios.throughput_profile_id
        where economics.lifetime_months = (select min(lifetime_months) from marts.fct_lifetime_economics)
        order by scenarios.replica_output_tokens_per_second desc, economics.usd_per_gpu_hour
    """).fetchall()
    import matplotlib

    figure, axes = _figure()
    never = max((r[7] for r in rows if r[7] is not None), default=1.0) * 1.3
    profiles = list(dict.fromkeys(r[0] for r in rows))
    colours = matplotlib.colormaps["viridis"]
    for index, profile in enumerate(profiles):
        series = [r for r in rows if r[0] == profile]
        label = f"{profile}: {series[0][1]:g} tok/s {series[0][2]}" + (" (essay)" if profile == "tp007" else "")
        colour = "red" if profile == "tp007" else colours(index / max(len(profiles) - 1, 1))
        axes.plot([r[5] for r in series], [r[7] if r[7] is not None else float("nan") for r in series],
                  "o:" if profile != "tp007" else "o--", label=label, color=colour,
                  linewidth=1.8 if profile == "tp007" else 0.8)
        unpaid = [r[5] for r in series if r[7] is None]
        axes.plot(unpaid, [never] * len(unpaid), "x", color=colour, markersize=8)
    axes.axhline(never, color="grey", linewidth=0.5, linestyle=":")
    axes.text(axes.get_xlim()[0], never, " x = never pays back (serving costs more than the revenue)", fontsize=7,
              va="bottom")
    axes.set_yscale("log")
    axes.set_xlabel("H200 price, USD per GPU-hour (market min and median of the as-of day, the essay's 10.60)")
    axes.set_ylabel("break-even lifetime (months)")
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="throughput (8x H200)",
                title_fontsize=7)
    newest = max((r[4] for r in rows if r[4] is not None), default=None)
    table = (("throughput profile", "tok/s per 8x H200", "price basis", "USD/GPU-h", "fleet GPUs",
              "break-even lifetime (months)"),
             *((r[0], f"{r[1]:g}", r[3], f"{r[5]:.2f}", f"{r[6]:,.0f}", _months(r[7])) for r in rows))
    return _chart("breakeven_sensitivity", "Essay scenario: break-even lifetime vs GPU price, per throughput", figure,
                  f"Sources: NVIDIA, TensorRT-LLM and MLPerf throughput profiles of Llama 3.1 405B on 8x H200; "
                  f"H200 list prices (marts.fct_gpu_market_daily); the essay's users, ARPU and $2B training cost "
                  f"(marts.fct_lifetime_economics, scenarios {SENSITIVITY_PREFIX}*). Each throughput's fleet serves "
                  f"the essay's 1,012,000 output tokens/s; dotted lines only join a throughput's grid points. "
                  f"Newest data: {newest}.", (table,), dates=False)


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
    # each kind's newest day (a kind can end earlier, e.g. when one source stops), its largest disagreements
    largest = connection.execute("""
        select kind, provider, coalesce(instance_type || ' ' || region || ' ' || pricing_type, subject_a),
               price_column, source_a, value_a, source_b, value_b, relative_difference, days_apart, first_seen_date
        from marts.price_discrepancies
        qualify price_date = max(price_date) over (partition by kind)
            and row_number() over (partition by kind, price_date
                                   order by abs(relative_difference) desc nulls first, provider, subject_a,
                                            price_column) <= ?
        order by kind, abs(relative_difference) desc nulls first, provider, subject_a, price_column
        """, [top]).fetchall()
    newest = connection.execute("select max(price_date) from marts.price_discrepancies").fetchone()[0]
    table = (DISCREPANCY_COLUMNS, *(tuple(_discrepancy_cells(row)) for row in largest))
    return _chart("price_discrepancies", "Where two sources disagree about one price", figure,
                  f"Sources: litellm, openrouter, skypilot and the clouds' own APIs (marts.price_discrepancies; "
                  f"tolerance: the dbt var discrepancy_tolerance). The table: the largest disagreements of each "
                  f"kind on its newest day (value a vs the preferred source b). Newest data: {newest}.", (table,))


def _discrepancy_cells(row: tuple) -> list[str]:
    cells = ["" if value is None else str(value) for value in row]
    relative = row[8]
    cells[8] = "n/a (b is 0)" if relative is None else f"{relative:+.1%}"
    return cells




CHARTS: tuple[Callable[[duckdb.DuckDBPyConnection], Chart], ...] = (
    gpu_prices_chart, token_prices_chart, margins_chart, lifetime_chart, model_lifetimes_chart,
    lifetime_survival_chart, breakeven_sensitivity_chart, discrepancies_chart,
)


def _figure():
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(12, 4.5))
    return figure, axes


def _chart(name: str, title: str, figure, caption: str, tables: tuple[Table, ...] = (), dates: bool = True) -> Chart:
    import matplotlib.pyplot as plt

    axes = figure.axes[0]
    if len(figure.axes) == 1 and axes.get_legend_handles_labels()[0] and axes.get_legend() is None:
        axes.legend(fontsize=7, ncol=2)
    figure.suptitle(title)
    if dates:
        figure.autofmt_xdate()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return Chart(name, title, caption, buffer.getvalue(), tables)


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
        f'<p class="caption">{html.escape(c.caption)}</p>{"".join(render_table(t) for t in c.tables)}</section>'
        for c in charts)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Inference Margins report</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;color:#222}}
img{{max-width:100%}}.caption{{color:#555;font-size:0.9em}}
table{{border-collapse:collapse;font-size:0.85em;margin:0.5em 0}}
td,th{{border:1px solid #ccc;padding:2px 6px;text-align:left}}</style></head>
<body><h1>Inference Margins</h1>
<p>Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from the published warehouse. GPU rental prices, API token
prices and the gross margins they imply; proxy-based margins are drawn apart, as bands.</p>
{sections}
</body></html>
"""


def render_table(rows: Table) -> str:
    """A table beside a chart: the first row is its header."""
    if not rows:
        return ""
    header = "".join(f"<th>{html.escape(cell)}</th>" for cell in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows[1:])
    return f"<table><tr>{header}</tr>{body}</table>"
