"""`make bench`'s table, rendered from the results of a real run (tests/fixtures/bench/), and the CPU probe's line."""

from __future__ import annotations

import json
from pathlib import Path

from bench.__main__ import render
from bench.machine import REFERENCE_S, describe_speed

RESULTS = Path(__file__).parent / "fixtures" / "bench" / "results_2026-12-02.json"


def _rows(table: str) -> dict[str, list[str]]:
    rows = {}
    for line in table.splitlines()[2:]:
        cells = [cell.strip() for cell in line.split(" | ")]
        if len(cells) >= 4:
            rows[cells[0]] = cells[1:]
    return rows


def test_the_refresh_cost_lines_carry_their_measurement_target_and_verdict():
    rows = _rows(render(json.loads(RESULTS.read_text())))
    no_op = rows["no-op refresh (nothing new, same as-of day), median of 3"]
    assert no_op[0] == "2.9 s (2.9, 2.9, 2.9)" and no_op[1].startswith("<= 8 s") and no_op[2] == "0.36x: met"
    one_day = next(cells for name, cells in rows.items() if name.startswith("one-day refresh"))
    assert one_day[0] == "15.7 s (dbt step 9.4)" and one_day[1].startswith("<= 25 s") and one_day[2] == "0.63x: met"


def test_the_table_ends_with_the_machine_and_its_speed_at_the_start():
    results = json.loads(RESULTS.read_text())
    lines = render(results).splitlines()
    assert lines[-2].startswith("SYNTHETIC data (bench/generate.py). Machine: 2 cores, 23.5 GiB")
    assert lines[-1] == f"{describe_speed(results['machine']['cpu_probe_s'])} at the start."


def test_the_probe_line_says_how_fast_this_hour_runs_against_the_reference():
    assert describe_speed(REFERENCE_S * 2).startswith(f"CPU probe {REFERENCE_S * 2:.2f} s: this hour runs at 0.50x")
    assert f"{REFERENCE_S:.2f} s, bench/machine.py" in describe_speed(REFERENCE_S)
