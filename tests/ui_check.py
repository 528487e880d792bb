"""`make ui-check`: the Dagster UI in headless Chromium, two screenshots a person can look at.

1. ``$MARGINS_DATA_DIR/ui/lineage.png``: the global asset lineage with every group expanded, zoomed out as far as the
   asset nodes stay drawn. Fails when the page shows an error, a dialog covers it, or no asset node is visible.
2. ``$MARGINS_DATA_DIR/ui/mart_checks.png``: the Checks tab of one mart (``MART``), listing its dbt tests as asset
   checks. Fails when no check is listed.

The webserver uses $DAGSTER_HOME when refreshes have run there (so the checks show their last results), else a fresh
instance under the data directory. First-run dialogs never show: the instance is written with ``nux: enabled: false``
(pipelines.runs.DAGSTER_YAML), and for an instance written before that the browser starts with the dialog's
"dismissed" flag set (the UI keeps it in localStorage as ``communityNux``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from playwright.sync_api import Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from pipelines.runs import DAGSTER_YAML
from tests.test_ui import start_webserver

CHROMIUM = os.environ.get("MARGINS_CHROMIUM", "/usr/bin/chromium")
ERROR_MARKERS = ("Error loading", "Unexpected GraphQL error", "Something went wrong", "PythonError")
GROUPS = ("sources", "staging", "intermediate", "marts", "publish", "reports")
MART = ("marts", "fct_gpu_market_daily")
ASSET_NODE = '[class*="AssetNode_assetName"]'      # one per drawn asset node (Dagster's CSS module class)
DIALOG = '[role="dialog"]'
TIMEOUT_MS = 120_000


def instance_home(data_dir: Path) -> Path:
    configured = Path(os.environ.get("DAGSTER_HOME") or data_dir / "dagster_home")
    if (configured / "dagster.yaml").exists():
        return configured
    home = data_dir / "ui" / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    return home


def visible_asset_nodes(page: Page) -> int:
    """Asset nodes drawn inside the window (the graph draws only what the viewport shows)."""
    return page.evaluate("""selector => [...document.querySelectorAll(selector)].filter(node => {
        const box = node.getBoundingClientRect();
        return box.width > 0 && box.height > 0 && box.right > 0 && box.bottom > 0
            && box.left < window.innerWidth && box.top < window.innerHeight;
    }).length""", ASSET_NODE)


def close_dialogs(page: Page) -> None:
    for _ in range(3):
        if not page.locator(DIALOG).count():
            return
        page.keyboard.press("Escape")
        page.wait_for_timeout(500)


def lineage(page: Page, url: str, out: Path) -> list[str]:
    page.goto(f"{url}/asset-groups", wait_until="networkidle", timeout=TIMEOUT_MS)
    page.get_by_text("marts", exact=True).first.wait_for(timeout=TIMEOUT_MS)
    close_dialogs(page)
    page.wait_for_timeout(1000)
    if not page.locator(ASSET_NODE).count():
        page.keyboard.press("Alt+e")       # "Expand all groups" (the graph's settings menu, shortcut ⌥E)
    try:
        page.locator(ASSET_NODE).first.wait_for(timeout=TIMEOUT_MS)
    except PlaywrightTimeout:
        page.screenshot(path=str(out))
        return [f"no asset node appeared after expanding the groups (screenshot {out})"]
    page.wait_for_timeout(1000)
    zoom_out = page.locator('button:has([aria-label="zoom_out"])')
    zoom_in = page.locator('button:has([aria-label="zoom_in"])')
    counts = [visible_asset_nodes(page)]
    while len(counts) < 8:                 # zoom out while more nodes come into view; Dagster stops drawing them
        zoom_out.click()                   # below some scale, so step back to the best view
        page.wait_for_timeout(700)
        counts.append(visible_asset_nodes(page))
        if counts[-1] < counts[-2]:
            break
    for _ in range(len(counts) - 1 - counts.index(max(counts))):
        zoom_in.click()
        page.wait_for_timeout(700)
    close_dialogs(page)
    page.screenshot(path=str(out))
    problems = page_problems(page)
    nodes = visible_asset_nodes(page)
    if nodes == 0:
        problems.append("the lineage screenshot shows no asset node")
    text = page.inner_text("body")
    problems += [f"asset group {group!r} missing from the lineage page" for group in GROUPS if group not in text]
    print(f"lineage screenshot: {out} ({nodes} asset nodes in view; zoom steps {counts})")
    return problems


def mart_checks(page: Page, url: str, out: Path) -> list[str]:
    page.goto(f"{url}/assets/{'/'.join(MART)}?view=checks", wait_until="networkidle", timeout=TIMEOUT_MS)
    page.get_by_text("Checks (").first.wait_for(timeout=TIMEOUT_MS)
    page.wait_for_timeout(1500)
    close_dialogs(page)
    page.screenshot(path=str(out))
    problems = page_problems(page)
    heading = page.get_by_text("Checks (").first.inner_text()
    if heading.strip() in ("Checks (0)", "Checks ()"):
        problems.append(f"{'/'.join(MART)} lists no checks")
    print(f"mart checks screenshot: {out} ({heading.strip()})")
    return problems


def page_problems(page: Page) -> list[str]:
    text = page.inner_text("body")
    problems = [f"the page shows an error: {marker}" for marker in ERROR_MARKERS if marker in text]
    if page.locator(DIALOG).count():
        problems.append("a dialog covers the page")
    return problems


def main() -> int:
    data_dir = Path(os.environ.get("MARGINS_DATA_DIR", "warehouse")).resolve()
    out = data_dir / "ui"
    out.mkdir(parents=True, exist_ok=True)
    with start_webserver(instance_home(data_dir)) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1920, "height": 1200})
        page.add_init_script("window.localStorage.setItem('communityNux', '1')")
        problems = lineage(page, url, out / "lineage.png") + mart_checks(page, url, out / "mart_checks.png")
        browser.close()
    for problem in problems:
        print(f"ui-check: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
