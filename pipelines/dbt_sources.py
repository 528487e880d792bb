"""The dbt side of the source list, generated from ``seeds/reference/sources.csv``: ``python -m pipelines.dbt_sources``.

``make manifest`` runs it before ``dbt parse``, and both files it writes are committed:

- ``dbt_project/models/staging/_sources.yml``: one dbt source per source (table ``observations`` on its kind's
  raw table, ``meta.dagster.asset_key`` linking its Dagster asset, freshness on its own live fetches when the
  seed's ``is_live`` is true). The source's description is its class's ``description`` (the one its Dagster
  asset shows); nothing per source is written by hand.
- ``dbt_project/macros/generated_source_ids.sql``: ``gpu_source_ids()``, ``token_source_ids()`` (each kind's ids
  in the seed's order) and ``source_ids()`` (all of them), which the models use instead of listing sources. Each
  returns ``var('<kind>_sources', <the seed's ids>)``, so ``--vars`` can still narrow or replace a list
  (bench/dbt_bench.py points them at its synthetic sources); dbt_project.yml does not set these vars.

``--check`` writes nothing and exits 1, naming the stale files, when a committed file differs from what the seed
gives now (tests/test_source_registry.py asserts the same).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from pipelines.reference import REPO_ROOT, read_seed

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
SOURCES_YML = DBT_PROJECT_DIR / "models" / "staging" / "_sources.yml"
SOURCE_IDS_MACRO = DBT_PROJECT_DIR / "macros" / "generated_source_ids.sql"
COMMAND = "python -m pipelines.dbt_sources (make manifest)"
KINDS = ("gpu", "token")
# Every live source: dbt source freshness warns after 36 hours without a successful live fetch, errors after 7 days.
LIVE_FRESHNESS = {"warn_after": {"count": 36, "period": "hour"}, "error_after": {"count": 7, "period": "day"}}


def ids_var(kind: str) -> str:
    """The dbt var that overrides the ``kind`` source list (``--vars '{"gpu_sources": [...]}'``)."""
    return f"{kind}_sources"


def loaded_at_query(source_id: str) -> str:
    """Freshness of a source: its newest successful live fetch (bundled loads don't count)."""
    return ("select coalesce(max(fetched_at), timestamptz '1970-01-01') from raw.fetch_log "
            f"where source = '{source_id}' and mode = 'live' and status = 'ok'")


def _quoted(text: str) -> str:
    """A YAML double-quoted scalar (a JSON string is one)."""
    return json.dumps(text, ensure_ascii=False)


def _flow(mapping: Mapping) -> str:
    return "{" + ", ".join(f"{key}: {value}" for key, value in mapping.items()) + "}"


def _check_kinds(rows: Iterable[Mapping[str, str]]) -> list[Mapping[str, str]]:
    rows = list(rows)
    for row in rows:
        if row["kind"] not in KINDS:
            raise ValueError(f"seeds/reference/sources.csv row {row['source']!r} has kind {row['kind']!r}, "
                             f"not one of {', '.join(KINDS)}")
        if row["is_live"] not in ("true", "false"):
            raise ValueError(f"seeds/reference/sources.csv row {row['source']!r} has is_live {row['is_live']!r}, "
                             "not true or false")
    return rows


HEADER = f"""\
# GENERATED from seeds/reference/sources.csv and each source's class in pipelines/sources/ by
# {COMMAND}: do not edit; change the seed row or the class's description.
# One dbt source per Python source asset (linked by meta.dagster.asset_key), so Dagster draws lineage from each
# source asset to staging. They share the raw observation tables; staging selects each source's rows by `source`.
# raw.snapshots and raw.fetch_log, which every source asset writes, are read through macro landing_table().
# Freshness (`dbt source freshness`, `make freshness`) is the newest successful live fetch: bundled loads don't count
# (no freshness for a source whose is_live is false: it never refreshes).
"""


TABLE_DESCRIPTION = ("The {source_id} rows of raw.{table}, a change log (pipelines/changes.py): a row where an offer "
                     "is new, its price changed or it disappeared (is_removed) at a snapshot of its scope; full "
                     "payloads stay in landing/.")


def render_sources_yml(rows: Iterable[Mapping[str, str]], descriptions: Mapping[str, str]) -> str:
    """``_sources.yml`` of the seed's rows; ``descriptions`` maps each id to its class's description."""
    lines = [HEADER.rstrip("\n"), "version: 2", "sources:"]
    for row in _check_kinds(rows):
        source_id, kind = row["source"], row["kind"]
        table = f"{kind}_observations"
        lines += [
            f"  - name: {source_id}",
            "    schema: raw",
            f"    description: {_quoted(descriptions[source_id])}",
            "    tables:",
            "      - name: observations",
            f"        identifier: {table}",
            f"        description: {_quoted(TABLE_DESCRIPTION.format(source_id=source_id, table=table))}",
            f'        meta: {{dagster: {{asset_key: ["sources", "{source_id}"]}}}}',
            "        config:",
        ]
        if row["is_live"] == "true":
            lines += ["          freshness:",
                      *(f"            {name}: {_flow(value)}" for name, value in LIVE_FRESHNESS.items()),
                      f"          loaded_at_query: {_quoted(loaded_at_query(source_id))}"]
        else:
            lines.append("          freshness: null  # bundled history only: it never refreshes")
    return "\n".join(lines) + "\n"


def render_source_ids_macro(rows: Iterable[Mapping[str, str]]) -> str:
    """The macros returning each kind's source ids (and all of them), in the seed's order."""
    rows = _check_kinds(rows)
    lines = [
        "{#-",
        f"  GENERATED from seeds/reference/sources.csv by {COMMAND}: do not edit.",
        "  The source ids of each kind, in the seed's order; source_ids() is every kind's. --vars can replace a list",
        "  (e.g. '{\"gpu_sources\": [...]}': bench/dbt_bench.py points them at its synthetic sources).",
        "-#}",
    ]
    for kind in KINDS:
        ids = ", ".join(f"'{row['source']}'" for row in rows if row["kind"] == kind)
        lines.append(f"{{% macro {kind}_source_ids() %}}{{{{ return(var('{ids_var(kind)}', [{ids}])) }}}}"
                     "{% endmacro %}")
    every = " + ".join(f"{kind}_source_ids()" for kind in KINDS)
    lines.append(f"{{% macro source_ids() %}}{{{{ return({every}) }}}}{{% endmacro %}}")
    return "\n".join(lines) + "\n"


def generated_files() -> dict[Path, str]:
    """Each generated file and the content the seed (and the source classes) give it now."""
    from pipelines.sources import SOURCES

    rows = read_seed("sources")
    descriptions = {source_id: source.description for source_id, source in SOURCES.items()}
    return {SOURCES_YML: render_sources_yml(rows, descriptions), SOURCE_IDS_MACRO: render_source_ids_macro(rows)}


def stale_files() -> list[Path]:
    """The generated files whose committed content differs from what they would be generated as now."""
    return [path for path, content in generated_files().items()
            if not path.exists() or path.read_text(encoding="utf-8") != content]


def write() -> list[Path]:
    """Write the generated files that changed (an unchanged file keeps its mtime); returns those written."""
    written = []
    for path, content in generated_files().items():
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.dbt_sources", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a generated file is stale")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for path in stale:
            print(f"{path.relative_to(REPO_ROOT)} is stale: run make manifest", file=sys.stderr)
        return 1 if stale else 0
    for path in write():
        print(f"wrote {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
