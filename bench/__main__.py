"""`make bench` / `python -m bench`: the measurements of issue 7, printed as one table.

  metric | measured | target | ratio / verdict

Order: 1-month synthetic warehouse (full build, +1 day, build) -> 300 MB AWS offer parse -> 3-year synthetic
warehouse (+1 day, build) -> bytes -> analyst queries -> offline `margins refresh` last (it is the measurement
most sensitive to other load on the machine; /proc/loadavg is printed beside it), then on that warehouse the
no-op and the one-day refresh (issue 15, bench/refresh_cost.py; `--only-refresh` runs just these three).
Everything runs in a ``margins-bench-*`` temp dir, removed at the end unless --keep. Results also go to
bench/output/ (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from bench import aws_csv, dbt_bench, queries, refresh, refresh_cost, storage
from bench.generate import SIZES, SyntheticWarehouse, assert_safe_dir, load_base_rows
from bench.machine import cpu_probe_seconds, describe_speed

OUTPUT = Path(__file__).with_name("output")
SINGLE_BUILD_ABOVE_DAYS = 100      # above this, one build measures both "daily refresh" and "full rebuild"
QUERY_TARGET_MS = 100.0
REFRESH_TARGET_S = 60.0
DAILY_RATIO_TARGET = 1.5
STORAGE_RATIO_TARGET = 1 / 20
PARSE_RATIO_TARGET = 0.5
RSS_TARGET_MIB = 1024.0

_started = time.perf_counter()


def log(message: str) -> None:
    elapsed = time.perf_counter() - _started
    print(f"[bench {int(elapsed // 60):02d}:{int(elapsed % 60):02d}] {message}", file=sys.stderr, flush=True)


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "NOT met")


def mb(n_bytes: float) -> str:
    return f"{n_bytes / 1e6:,.1f} MB"


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=os.environ.get("BENCH_SIZES", "1m,1y,3y"),
                        help="history sizes from " + ", ".join(SIZES) + " (default 1m,1y,3y)")
    parser.add_argument("--both-builds", action="store_true", default=os.environ.get("BENCH_BOTH_BUILDS") == "1",
                        help=f"at sizes over {SINGLE_BUILD_ABOVE_DAYS} days, also time a separate full rebuild before "
                             "the +1-day build (adds one long build per size)")
    parser.add_argument("--dbt-timeout", type=float, default=float(os.environ.get("BENCH_DBT_TIMEOUT", "1200")),
                        help="cap per dbt build in seconds (a capped build is reported as > cap)")
    parser.add_argument("--query-runs", type=int, default=10)
    parser.add_argument("--aws-mb", type=int, default=int(os.environ.get("BENCH_AWS_MB", "300")))
    parser.add_argument("--no-refresh", action="store_true", help="skip the offline margins refresh")
    parser.add_argument("--only-refresh", action="store_true",
                        help="only the margins refreshes: offline from empty, no-op, one day (a few minutes)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temp dir (the largest size's warehouse, the dbt project copy)")
    parser.add_argument("--workdir", help="use this directory instead of a new temp dir (must not be a real "
                                          "data dir)")
    return parser.parse_args(argv)


def machine() -> dict:
    memory = "n/a"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "memory": memory, "loadavg_start": refresh.loadavg(),
            "cpu_probe_s": cpu_probe_seconds()}


def add_one_day(warehouse: SyntheticWarehouse) -> dict | None:
    """The +1 day as a refresh loads it: the day's full rows through pipelines.changes.record_changes (timed).
    Without that module, the generator writes the day's change rows itself (untimed; reported as n/a)."""
    try:
        from pipelines.changes import record_changes
    except ImportError as error:
        log(f"  pipelines.changes not importable ({error}); the generator writes the day's changes")
        warehouse.add_days(1)
        return None
    load = asdict(warehouse.add_day_with_loader(record_changes))
    load["matches_walk"] = load["change_rows"] == load["expected_rows"]
    return load


def measure_history(size: str, index: int, base, project: Path, database: Path, args, results: dict) -> dict:
    n_days = SIZES[size]
    warehouse = SyntheticWarehouse(database, base)
    log(f"{size}: generating {n_days} days of SYNTHETIC history ({len(base.gpu):,} GPU + {len(base.token):,} "
        f"token offers, change-only)")
    started = time.perf_counter()
    warehouse.create(n_days)
    generated = {"size": size, "days": n_days, "generate_s": time.perf_counter() - started}
    incremental = dbt_bench.has_incremental_models(project)
    separate = n_days <= SINGLE_BUILD_ABOVE_DAYS or args.both_builds or incremental
    if separate:
        log(f"{size}: dbt build --full-refresh (naive full rebuild of {n_days} days)")
        full = dbt_bench.build(project, database, f"{size}_full", timeout_s=args.dbt_timeout, full_refresh=True)
        log(f"{size}:   {full.wall_s:.1f} s, {full.statuses}")
    load = add_one_day(warehouse)
    generated["load"] = load
    if load is not None:
        log(f"{size}: +1 day loaded with change detection in {load['load_s']:.2f} s ({load['change_rows']})"
            f"{'' if load['matches_walk'] else ' MISMATCH with the walk ' + str(load['expected_rows'])}")
    log(f"{size}: dbt build (daily refresh)")
    daily = dbt_bench.build(project, database, f"{size}_daily", timeout_s=args.dbt_timeout)
    log(f"{size}:   {daily.wall_s:.1f} s, {daily.statuses}{' TIMED OUT' if daily.timed_out else ''}")
    generated["daily"] = asdict(daily)
    generated["full"] = asdict(full) if separate else None
    generated["full_is_same_run"] = not separate
    generated["incremental_models"] = incremental
    if incremental and index == 0:
        log(f"{size}: full-refresh path vs incremental path (marts compared row by row)")
        copy = database.with_name("full_refresh_copy.duckdb")
        shutil.copyfile(database, copy)
        dbt_bench.build(project, copy, f"{size}_full_refresh_check", timeout_s=args.dbt_timeout, full_refresh=True)
        generated["equivalence"] = dbt_bench.compare_marts(database, copy)
        copy.unlink()
    results.setdefault("history", {})[size] = generated
    return generated


def build_seconds(build: dict | None) -> float | None:
    if build is None:
        return None
    return math.inf if build["timed_out"] else build["wall_s"]


def load_seconds(entry: dict) -> float:
    return (entry.get("load") or {}).get("load_s") or 0.0


def daily_seconds(entry: dict) -> float:
    """The daily refresh: load of the +1 day (change detection) + the dbt build after it."""
    return build_seconds(entry["daily"]) + load_seconds(entry)


def main(argv=None) -> int:
    args = parse_args(argv)
    sizes = [size.strip() for size in args.sizes.split(",") if size.strip()]
    unknown = [size for size in sizes if size not in SIZES]
    if unknown or not sizes:
        print(f"unknown size(s) {unknown}; choose from {', '.join(SIZES)}", file=sys.stderr)
        return 2
    sizes.sort(key=SIZES.get)
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="margins-bench-"))
    assert_safe_dir(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    results: dict = {"machine": machine(), "workdir": str(workdir), "sizes": sizes}
    log(f"work dir {workdir}; machine {results['machine']}")
    try:
        run_all(args, sizes, workdir, results)
    finally:
        results["total_s"] = time.perf_counter() - _started
        OUTPUT.mkdir(exist_ok=True)
        (OUTPUT / "results.json").write_text(json.dumps(results, indent=2, default=str))
        if not args.keep and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    table = render(results)
    (OUTPUT / "last_run.txt").write_text(table + "\n")
    print(table)
    return 0


def run_all(args, sizes: list[str], workdir: Path, results: dict) -> None:
    if args.only_refresh:
        run_refreshes(workdir, results)
        return
    base = load_base_rows()
    project = dbt_bench.prepare_project(workdir)
    # one database path for every size: dbt's partial parse survives (a new path = "profile has changed")
    database = workdir / "synthetic" / "work" / "margins.duckdb"
    database.parent.mkdir(parents=True, exist_ok=True)
    dbt_bench.parse(project, database)
    full_snapshots = None
    for index, size in enumerate(sizes):
        measure_history(size, index, base, project, database, args, results)
        if index == 0:
            log(f"{size}: every daily snapshot in full, materialised in the old layout (bytes baseline)")
            full_snapshots = storage.measure_full_snapshots(SyntheticWarehouse(database, base), size, workdir)
            results["full_snapshots"] = asdict(full_snapshots)
            log(f"{size}: bytes (in place, and the exact copy method as a cross-check)")
            results["storage_check"] = {"size": size, "in_place": asdict(storage.measure(database, full_snapshots)),
                                        "by_copy": asdict(storage.measure_by_copy(database, full_snapshots,
                                                                                  workdir))}
            if len(sizes) > 1:
                log(f"AWS offer file: writing {args.aws_mb} MB and parsing it")
                run_aws(args, workdir, results)
    largest = sizes[-1]
    log(f"{largest}: bytes")
    results["storage"] = {"size": largest, **asdict(storage.measure(database, full_snapshots))}
    if not results["history"][largest]["daily"]["timed_out"]:
        log(f"{largest}: analyst queries ({args.query_runs} runs each)")
        results["queries"] = {"size": largest,
                              "timings": [asdict(t) for t in queries.time_queries(database, args.query_runs)]}
    if len(sizes) == 1:
        log(f"AWS offer file: writing {args.aws_mb} MB and parsing it")
        run_aws(args, workdir, results)
    if not args.keep:
        database.unlink(missing_ok=True)   # 1.5 GB at 3y
    if not args.no_refresh:
        run_refreshes(workdir, results)


def run_refreshes(workdir: Path, results: dict) -> None:
    log("offline margins refresh on the bundled data (last)")
    run = refresh.run_offline_refresh(workdir, as_of=refresh_cost.as_of_days()[0])
    results["refresh"] = asdict(run)
    log(f"refresh: {run.wall_s:.1f} s, exit {run.exit_code}, load {run.load_before} -> {run.load_after}")
    if not run.ok:
        log("the refresh failed; the last lines it printed on stderr:\n  " + "\n  ".join(run.error_tail))
        return
    log("no-op refresh x3 (nothing new, same as-of day), then one new day of live real-size payloads, then the next")
    cost = refresh_cost.measure(workdir, workdir / "refresh_data")
    results["refresh_cost"] = {"noop": [asdict(item) for item in cost.noop],
                               "one_day": asdict(cost.one_day) if cost.one_day else None,
                               "next_day": asdict(cost.next_day) if cost.next_day else None,
                               "payload_bytes": cost.payload_bytes}
    log(f"no-op: {', '.join(f'{item.wall_s:.1f}' for item in cost.noop)} s; one day: "
        f"{cost.one_day.wall_s if cost.one_day else float('nan'):.1f} s; next day: "
        f"{cost.next_day.wall_s if cost.next_day else float('nan'):.1f} s; load {refresh.loadavg()}")


def run_aws(args, workdir: Path, results: dict) -> None:
    path = workdir / "aws_us-east-1_offer_SYNTHETIC.csv"
    info = aws_csv.write_offer_csv(path, args.aws_mb * 1024 * 1024)
    with open(path, "rb") as handle:       # page cache warm for both readers
        while handle.read(64 * 1024 * 1024):
            pass
    runs = {"duckdb": [], "project": []}
    for _ in range(3):
        runs["duckdb"].append(asdict(aws_csv.run_child("duckdb", aws_csv.DUCKDB_CHILD, path)))
        runs["project"].append(asdict(aws_csv.run_child("project", aws_csv.PROJECT_CHILD, path)))
    results["aws"] = {"file": info, "runs": runs}
    path.unlink()


# ---------------------------------------------------------------- the table

def _median(values: list[float]) -> float:
    values = sorted(values)
    return values[len(values) // 2] if values else math.nan


def render(results: dict) -> str:
    rows: list[tuple[str, str, str, str]] = []
    history = results.get("history", {})
    sizes = [size for size in results.get("sizes", []) if size in history]
    small, large = (sizes[0], sizes[-1]) if sizes else (None, None)
    for size in sizes:
        load = history[size].get("load")
        if load is None:
            rows.append((f"load +1 day (change detection) at {size}", "n/a", "(part of the daily refresh)",
                         "pipelines.changes missing: the generator wrote the day"))
            continue
        changes = sum(load["change_rows"].values())
        check = "" if load.get("matches_walk", True) else f" (walk has {sum(load['expected_rows'].values()):,}!)"
        small_load = (history[small].get("load") or {}).get("load_s")
        scale = f"; {load['load_s'] / small_load:.1f}x the {small} load" if size != small and small_load else ""
        rows.append((f"load +1 day (change detection) at {size}", f"{load['load_s']:.2f} s",
                     "(part of the daily refresh)", f"{changes:,} change rows{check}{scale}"))
    if small and large and small != large:
        daily_small = daily_seconds(history[small])
        dbt_small = build_seconds(history[small]["daily"])
        for size in sizes:
            daily = daily_seconds(history[size])
            dbt = build_seconds(history[size]["daily"])
            parts = f" (load {load_seconds(history[size]):.2f} + dbt {dbt:.1f})"
            capped = " (dbt capped: timed out)" if math.isinf(daily) else ""
            label = f"daily refresh (+1 day) = load + dbt build at {size}"
            if size == small:
                rows.append((label, f"{daily:.1f} s{parts}", "(reference)", _status(history[size]["daily"])))
                continue
            ratio = daily / daily_small
            target = f"<= {DAILY_RATIO_TARGET}x the {small} one" if size == large else "(scaling point)"
            judged = f": {verdict(ratio <= DAILY_RATIO_TARGET)}" if size == large else ""
            rows.append((label, f"{daily:.1f} s{capped or parts}", target,
                         f"{ratio:.1f}x (dbt alone {dbt / dbt_small:.1f}x){judged}"))
        finite = [(SIZES[size], daily_seconds(history[size])) for size in sizes
                  if not math.isinf(daily_seconds(history[size]))]
        if math.isinf(daily_seconds(history[large])) and len(finite) >= 2:
            (d0, t0), (d1, t1) = finite[0], finite[-1]
            estimate = t0 + (t1 - t0) * (SIZES[large] - d0) / (d1 - d0)
            rows.append((f"  EXTRAPOLATED (linear in days) daily refresh at {large}", f"~{estimate:.0f} s",
                         f"<= {DAILY_RATIO_TARGET}x the {small} one",
                         f"~{estimate / daily_small:.1f}x: {verdict(estimate / daily_small <= DAILY_RATIO_TARGET)}"))
        full_small = build_seconds(history[small]["full"]) or dbt_small
        for size in sizes:
            full = build_seconds(history[size]["full"]) or build_seconds(history[size]["daily"])
            same = " (= the +1 day build: all models rebuild)" if history[size]["full_is_same_run"] else ""
            rows.append((f"naive full rebuild (dbt build --full-refresh) at {size}", f"{full:.1f} s{same}",
                         "(printed)",
                         _status(history[size]["full"]) if size == small else f"{full / full_small:.1f}x"))
    if small:
        equivalence = history[small].get("equivalence")
        if equivalence is not None:
            exact = {table: n["exact"] for table, n in equivalence.items() if n["exact"]}
            beyond = {table: n["tolerant"] for table, n in equivalence.items() if n["tolerant"]}
            if not exact:
                measured = f"identical ({len(equivalence)} marts)"
            elif not beyond:
                measured = (f"identical to {dbt_bench.SIGNIFICANT_DIGITS} significant digits (rows differing only "
                            f"in the last bits of doubles: {exact})")
            else:
                measured = f"{len(beyond)} marts differ: {beyond}"
            rows.append((f"incremental vs --full-refresh marts at {small}", measured, "identical",
                         verdict(not beyond)))
        elif not history[small].get("incremental_models"):
            rows.append(("incremental vs --full-refresh marts", "no incremental models yet", "identical",
                         "n/a (both paths are full rebuilds)"))
    if small and small == large:
        rows.append((f"daily refresh (+1 day) = load + dbt build at {small}",
                     f"{daily_seconds(history[small]):.1f} s (dbt {build_seconds(history[small]['daily']):.1f})",
                     "needs two sizes", _status(history[small]["daily"])))
        if history[small]["full"] is not None:
            rows.append((f"naive full rebuild (dbt build --full-refresh) at {small}",
                         f"{build_seconds(history[small]['full']):.1f} s", "(printed)",
                         _status(history[small]["full"])))
    if "storage" in results:
        report = results["storage"]
        stored = sum(report["tables"].values())
        baseline = sum(report["full_snapshots"].values())
        ratio = stored / baseline if baseline else math.nan
        rows.append((f"bytes raw + intermediate at {report['size']}", mb(stored),
                     f"<= 1/20 of every snapshot in full ({mb(baseline / 20)})",
                     f"{ratio:.3f}x of full (target {STORAGE_RATIO_TARGET:.2f}x): "
                     f"{verdict(ratio <= STORAGE_RATIO_TARGET)}"))
        largest = sorted(((size, table) for table, size in report["tables"].items()), reverse=True)[:3]
        views = report.get("views") or []
        n_raw = sum(table.startswith("raw.") for table in report["tables"])
        rows.append(("  counted: raw + intermediate tables, largest",
                     ", ".join(f"{table} {mb(size)}" for size, table in largest),
                     f"{n_raw} raw + {len(report['tables']) - n_raw - len(views)} intermediate tables",
                     f"{len(views)} intermediate views count 0 bytes"
                     + (f" ({', '.join(view.removeprefix('intermediate.') for view in views)})" if views else "")))
        full_rows = sum(report["rows"].get(f"every_{kind}_snapshot", 0) for kind in ("gpu", "token"))
        full = results.get("full_snapshots") or {}
        per_row = ", ".join(f"{kind} {full['bytes'][kind] / full['rows'][kind]:.1f} B/row"
                            for kind in ("gpu", "token") if full.get("rows", {}).get(kind))
        rows.append((f"  every daily snapshot in full at {report['size']}", mb(baseline),
                     f"(baseline: {report.get('baseline_method', '')})", f"{full_rows:,} rows at {per_row}"))
    if "storage_check" in results:
        check = results["storage_check"]
        in_place = sum(check["in_place"]["tables"].values())
        by_copy = sum(check["by_copy"]["tables"].values())
        rows.append((f"  cross-check at {check['size']}: raw + intermediate in place | by copy",
                     f"{mb(in_place)} | {mb(by_copy)}", "(should agree)",
                     f"baseline {mb(sum(check['in_place']['full_snapshots'].values()))} (exact at {check['size']})"))
    if "aws" in results:
        aws = results["aws"]
        size = aws["file"]["bytes"]
        duck = [run for run in aws["runs"]["duckdb"] if run["ok"]]
        ours = [run for run in aws["runs"]["project"] if run["ok"]]
        if duck and ours:
            duck_rate = size / _median([run["seconds"] for run in duck]) / 1e6
            our_rate = size / _median([run["seconds"] for run in ours]) / 1e6
            ratio = our_rate / duck_rate
            rows.append((f"AWS offer parse ({size / 1e6:.0f} MB), project", f"{our_rate:,.0f} MB/s",
                         f">= {PARSE_RATIO_TARGET}x DuckDB read_csv ({duck_rate:,.0f} MB/s)",
                         f"{ratio:.2f}x: {verdict(ratio >= PARSE_RATIO_TARGET)}"))
            imported = _median([run["import_seconds"] or 0.0 for run in ours])
            cold_rate = size / (_median([run["seconds"] for run in ours]) + imported) / 1e6
            rows.append((f"  same, first call in a fresh process (+{imported:.1f} s lazy import)",
                         f"{cold_rate:,.0f} MB/s", "(informational)",
                         f"{cold_rate / duck_rate:.2f}x (a refresh has imported it already)"))
            peak = max(run["peak_rss_mib"] for run in ours)
            rows.append(("AWS offer parse, peak RSS (project)", f"{peak:,.0f} MiB", f"< {RSS_TARGET_MIB:.0f} MiB",
                         f"{peak / RSS_TARGET_MIB:.2f}x: {verdict(peak < RSS_TARGET_MIB)}"))
        else:
            errors = "; ".join(run.get("error") or "" for run in aws["runs"]["project"] + aws["runs"]["duckdb"])
            rows.append(("AWS offer parse", "failed", f">= {PARSE_RATIO_TARGET}x DuckDB", f"n/a ({errors[:80]})"))
    if "queries" in results:
        for timing in results["queries"]["timings"]:
            rows.append((f"query p50 at {results['queries']['size']}: {timing['name']}",
                         f"{timing['p50_ms']:.1f} ms", f"< {QUERY_TARGET_MS:.0f} ms",
                         f"{timing['p50_ms'] / QUERY_TARGET_MS:.2f}x: {verdict(timing['p50_ms'] < QUERY_TARGET_MS)}"))
    if "refresh" in results:
        run = results["refresh"]
        ok = run["ok"] and run["wall_s"] <= REFRESH_TARGET_S
        cpu = f", CPU {run['cpu_s']:.0f} s" if run.get("cpu_s") else ""
        rows.append(("offline margins refresh (wall)",
                     f"{run['wall_s']:.1f} s{cpu}{'' if run['ok'] else ' (exit ' + str(run['exit_code']) + ')'}",
                     f"<= {REFRESH_TARGET_S:.0f} s", f"{run['wall_s'] / REFRESH_TARGET_S:.2f}x: {verdict(ok)}"))
        steps = dict(run["steps"])
        sources = sum(seconds for step, seconds in run["steps"] if step.startswith("sources/"))
        rest = sum(seconds for step, seconds in run["steps"]
                   if not step.startswith("sources/") and step != "warehouse_models")
        if run["first_step_at_s"] is not None and run["last_step_end_s"] is not None:
            tail = run["wall_s"] - run["last_step_end_s"]
            rows.append(("  refresh profile: startup|sources|dbt step (dbt run)|publish+report|exit",
                         f"{run['first_step_at_s']:.1f} | {sources:.1f} | {steps.get('warehouse_models', 0):.1f} "
                         f"({run['dbt_elapsed_s'] or 0:.1f}) | {rest:.1f} | {tail:.1f} s", "(see bench/README.md)", ""))
        rows.append(("  load average (1/5/15 min) before -> after", f"{run['load_before']} -> {run['load_after']}",
                     f"{results['machine']['nproc']} cores", ""))
    if "refresh_cost" in results:
        rows += refresh_cost.rows(results["refresh_cost"])
        last = (results["refresh_cost"].get("one_day") or {}).get("load_after", "n/a")
        rows.append(("  load average (1/5/15 min) after the one-day refresh", last,
                     f"{results['machine']['nproc']} cores", ""))
    header = ("metric", "measured", "target", "ratio / verdict")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    lines = [" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(header)).rstrip(),
             "-+-".join("-" * width for width in widths)]
    lines += [" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    machine_info = results.get("machine", {})
    lines.append("")
    lines.append(f"SYNTHETIC data (bench/generate.py). Machine: {machine_info.get('nproc')} cores, "
                 f"{machine_info.get('memory')}, load at start {machine_info.get('loadavg_start')}; "
                 f"bench took {results.get('total_s', 0) / 60:.1f} min.")
    if "cpu_probe_s" in machine_info:
        lines.append(describe_speed(machine_info["cpu_probe_s"]) + " at the start.")
    return "\n".join(lines)


def _status(build: dict | None) -> str:
    if build is None:
        return ""
    statuses = ", ".join(f"{key} {value}" for key, value in sorted(build["statuses"].items()))
    return statuses if build["ok"] else f"dbt FAILED ({statuses})"


if __name__ == "__main__":
    sys.exit(main())
