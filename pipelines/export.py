"""Export the marts as Parquet, partitioned by month where they have a price_date (for Spark, Trino, Athena)."""

from __future__ import annotations

from pathlib import Path

import duckdb

MART_SCHEMA = "marts"


def export_parquet(database: Path, out_dir: Path) -> list[tuple[str, int]]:
    """Write <out_dir>/<mart>/month=YYYY-MM/*.parquet (or <mart>/<mart>.parquet); returns (mart, rows)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with duckdb.connect(str(database), read_only=True) as connection:
        for mart, has_date in _marts(connection):
            target = out_dir / mart
            relation = f'{MART_SCHEMA}."{mart}"'
            if has_date:
                connection.execute(
                    f"copy (select *, coalesce(strftime(price_date, '%Y-%m'), 'none') as month from {relation}) "
                    f"to '{_sql_path(target)}' (format parquet, partition_by (month), overwrite_or_ignore true)")
            else:
                target.mkdir(parents=True, exist_ok=True)
                connection.execute(f"copy {relation} to '{_sql_path(target / f'{mart}.parquet')}' (format parquet)")
            rows = connection.execute(f"select count(*) from {relation}").fetchone()[0]
            written.append((mart, rows))
    return written


def _marts(connection: duckdb.DuckDBPyConnection) -> list[tuple[str, bool]]:
    """Every table of the marts schema (as the lake publishes them; the views there, daily-grain helpers such as
    token_prices_by_tier, are computed from those tables and left out)."""
    return connection.execute("""
        select columns.table_name, bool_or(columns.column_name = 'price_date')
        from information_schema.columns as columns
        join information_schema.tables as tables using (table_schema, table_name)
        where columns.table_schema = ? and tables.table_type = 'BASE TABLE'
        group by columns.table_name order by columns.table_name
    """, [MART_SCHEMA]).fetchall()


def _sql_path(path: Path) -> str:
    return str(path.resolve()).replace("'", "''")
