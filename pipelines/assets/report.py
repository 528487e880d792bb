"""The HTML report as a Dagster asset, downstream of the published warehouse; its charts show in the UI."""

import base64

from dagster import MaterializeResult, MetadataValue, asset

from pipelines.assets.constants import OWNERS, PUBLISHED_KEY, REPORT_KEY, REPORTS_GROUP
from pipelines.report import build_report
from pipelines.resources import MarginsSettings


@asset(
    key=REPORT_KEY,
    deps=[PUBLISHED_KEY],
    group_name=REPORTS_GROUP,
    kinds={"python", "html"},
    owners=OWNERS,
    code_version="1",
    description="Self-contained HTML report with charts (GPU prices, token prices, implied margins, lifetime "
                "economics, model lifetimes, lifetime survival with the log-rank tests, break-even lifetime vs GPU "
                "price) written to $MARGINS_DATA_DIR/report/ from the published warehouse.",
)
def html_report(settings: MarginsSettings) -> MaterializeResult:
    config = settings.settings()
    out_dir = config.data_dir / "report"
    charts = build_report(config.published_db, out_dir)
    metadata = {"path": MetadataValue.path(str(out_dir / "index.html"))}
    for chart in charts:
        image = base64.b64encode(chart.png).decode()
        metadata[chart.name] = MetadataValue.md(f"![{chart.title}](data:image/png;base64,{image})\n\n{chart.caption}")
    return MaterializeResult(metadata=metadata)
