"""`make ui-check`: start the Dagster UI, open the global asset lineage in headless Chromium, screenshot it,
and fail if the page shows an error. The screenshot lands in $MARGINS_DATA_DIR/ui/lineage.png."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.test_ui import start_webserver

CHROMIUM = os.environ.get("MARGINS_CHROMIUM", "/usr/bin/chromium")
ERROR_MARKERS = ("Error loading", "Unexpected GraphQL error", "Something went wrong", "PythonError")


def main() -> int:
    data_dir = Path(os.environ.get("MARGINS_DATA_DIR", "warehouse")).resolve()
    out = data_dir / "ui" / "lineage.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    with start_webserver(data_dir / "ui" / "dagster_home") as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(f"{url}/asset-groups", wait_until="networkidle", timeout=120_000)
        skip = page.get_by_role("button", name="Skip")
        if skip.count():
            skip.first.click()
        page.get_by_text("sources").first.wait_for(timeout=60_000)
        page.wait_for_timeout(3000)
        page.screenshot(path=str(out))
        text = page.inner_text("body")
        browser.close()
    errors = [marker for marker in ERROR_MARKERS if marker in text]
    print(f"lineage screenshot: {out}")
    if errors:
        print(f"the lineage page shows an error: {errors}", file=sys.stderr)
        return 1
    missing = [group for group in ("sources", "staging", "intermediate", "marts", "reports") if group not in text]
    if missing:
        print(f"asset groups missing from the lineage page: {missing}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
