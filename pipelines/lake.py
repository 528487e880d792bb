"""Publish the marts as a DuckLake (a catalog database + Parquet on S3-compatible storage) and read it back.

One writer publishes; any number of readers on any machine attach the lake read-only. Each publish is one
transaction, so one DuckLake snapshot: a reader sees the previous warehouse or the new one, never half, and a
publish that dies midway leaves only unreferenced Parquet files behind. Earlier publishes stay readable with
``AT (VERSION => n)`` until their snapshots are expired.

Extensions load from the ``duckdb-extension-*`` packages in the lock, never from the network: a DuckDB built
for another version cannot load them, hence the exact pin of ``duckdb``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

LAKE = "lake"
MART_SCHEMA = "marts"
# Daily marts are split into year=/month= folders, so a query over a few months reads a few files.
PARTITION_COLUMN = "price_date"
EXTENSIONS = {  # extension name -> the PyPI package that ships it
    "httpfs": "duckdb_extension_httpfs",
    "ducklake": "duckdb_extension_ducklake",
    "sqlite_scanner": "duckdb_extension_sqlite_scanner",
    "postgres_scanner": "duckdb_extension_postgres",
}
_DENIED = ("403", "Forbidden", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken")


class LakeError(RuntimeError):
    """The lake is not configured, cannot be reached, or refused the request; the message says which."""


@dataclass(frozen=True)
class LakeConfig:
    """Where the lake is (``MARGINS_LAKE_*``) and how to reach its storage (``MARGINS_S3_*``, ``AWS_*``)."""

    catalog: str
    data_path: str | None = None
    s3_endpoint: str | None = None
    s3_use_ssl: bool = True
    region: str = "us-east-1"
    key_id: str | None = field(default=None, repr=False)
    secret: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LakeConfig | None:
        """The configured lake, or None when ``MARGINS_LAKE_CATALOG`` is unset."""
        env = os.environ if environ is None else environ
        catalog = env.get("MARGINS_LAKE_CATALOG", "").strip().removeprefix("ducklake:")
        if not catalog:
            return None
        data_path = env.get("MARGINS_LAKE_DATA_PATH", "").strip() or None
        return cls(
            catalog=_absolute_catalog(catalog),
            data_path=_absolute_data_path(data_path) if data_path else None,
            s3_endpoint=env.get("MARGINS_S3_ENDPOINT", "").strip() or None,
            s3_use_ssl=env.get("MARGINS_S3_USE_SSL", "true").strip().lower() not in {"0", "false", "no", "off"},
            region=(env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1").strip(),
            key_id=env.get("AWS_ACCESS_KEY_ID") or None,
            secret=env.get("AWS_SECRET_ACCESS_KEY") or None,
            session_token=env.get("AWS_SESSION_TOKEN") or None,
        )

    @property
    def catalog_file(self) -> Path | None:
        """The catalog's local file (SQLite or DuckDB), or None for a Postgres catalog."""
        if self.catalog.startswith("postgres:"):
            return None
        return Path(self.catalog.removeprefix("sqlite:"))

    @property
    def label(self) -> str:
        """The catalog as shown in messages and metadata (a Postgres password is masked)."""
        return re.sub(r"(password=)\S+", r"\1***", self.catalog)

    def bucket(self, data_path: str | None = None) -> str | None:
        path = data_path or self.data_path or ""
        return path[len("s3://"):].split("/", 1)[0] if path.startswith("s3://") else None


@dataclass
class PublishResult:
    snapshot_id: int
    tables: list[tuple[str, int]]
    bytes_written: int
    files_written: int
    seconds: float


def require_config() -> LakeConfig:
    config = LakeConfig.from_env()
    if config is None:
        raise LakeError("no DuckLake configured: set MARGINS_LAKE_CATALOG (e.g. sqlite:/shared/lake.sqlite) and "
                        "MARGINS_LAKE_DATA_PATH (e.g. s3://bucket/margins/)")
    return config


def extension_file(name: str) -> Path:
    """The extension binary shipped by its PyPI package, for exactly this DuckDB version."""
    package = EXTENSIONS[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        wheel = package.replace("_", "-")
        raise LakeError(f"DuckDB extension {name}: package {wheel}=={duckdb.__version__} is not installed")
    version_dir = Path(spec.submodule_search_locations[0]) / "extensions" / f"v{duckdb.__version__}"
    path = version_dir / f"{name}.duckdb_extension"
    if not path.exists():
        raise LakeError(f"DuckDB extension {name}: {package} has no build for DuckDB {duckdb.__version__} "
                        f"(pin duckdb to the extension packages' version)")
    return path


def connect(config: LakeConfig) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the lake's extensions loaded from their packages and the S3 secret created."""
    connection = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    needed = ["httpfs", "ducklake"]
    if config.catalog.startswith("sqlite:"):
        needed.append("sqlite_scanner")
    elif config.catalog.startswith("postgres:"):
        needed.append("postgres_scanner")
    try:
        for name in needed:
            connection.execute(f"load {_literal(str(extension_file(name)))}")
        connection.execute(_secret_sql(config))
    except Exception:
        connection.close()
        raise
    return connection


def _secret_sql(config: LakeConfig) -> str:
    options = {"TYPE": "s3", "REGION": config.region, "URL_STYLE": "path" if config.s3_endpoint else "vhost",
               "USE_SSL": "true" if config.s3_use_ssl else "false"}
    if config.s3_endpoint:
        options["ENDPOINT"] = config.s3_endpoint
    if config.key_id:
        options.update(KEY_ID=config.key_id, SECRET=config.secret or "")
    if config.session_token:
        options["SESSION_TOKEN"] = config.session_token
    body = ", ".join(f"{key} {value if key in ('TYPE', 'USE_SSL') else _literal(value)}"
                     for key, value in options.items())
    return f"create or replace temporary secret margins_lake ({body})"


def attach(connection: duckdb.DuckDBPyConnection, config: LakeConfig, read_only: bool) -> None:
    options = ["read_only"] if read_only else []
    if config.data_path and not read_only:
        options.append(f"data_path {_literal(config.data_path)}")
    if read_only and config.catalog_file is not None and not config.catalog_file.exists():
        raise LakeError(f"no DuckLake at {config.label}: run `margins publish --to ducklake` first")
    if not read_only and config.data_path is None and not _catalog_exists(config):
        raise LakeError(f"DuckLake {config.label} is new: set MARGINS_LAKE_DATA_PATH (s3://bucket/prefix/ or a "
                        f"folder) for its Parquet files")
    suffix = f" ({', '.join(options)})" if options else ""
    try:
        connection.execute(f"attach {_literal('ducklake:' + config.catalog)} as {LAKE}{suffix}")
    except duckdb.Error as error:
        raise _lake_error(config, "attach", error) from None


def _catalog_exists(config: LakeConfig) -> bool:
    return config.catalog_file is None or config.catalog_file.exists()


def publish(published_db: Path, config: LakeConfig, progress: Callable[[str], None] | None = None) -> PublishResult:
    """Write every mart of the published DuckDB file into the lake as one snapshot (one transaction).

    Tables are replaced whole (CREATE OR REPLACE), daily marts partitioned by month; marts gone from the
    warehouse are dropped from the lake. Earlier snapshots keep the earlier data for time travel.
    """
    started = time.monotonic()
    if not published_db.exists():
        raise FileNotFoundError(
            f"no published warehouse at {published_db}: run `margins refresh` (or `make run`) first")
    if config.catalog_file is not None:
        config.catalog_file.parent.mkdir(parents=True, exist_ok=True)
    if config.data_path and not config.data_path.startswith("s3://"):
        Path(config.data_path).mkdir(parents=True, exist_ok=True)
    with connect(config) as connection:
        attach(connection, config, read_only=False)
        connection.execute(f"attach {_literal(str(published_db))} as src (read_only)")
        marts = _source_marts(connection)
        if not marts:
            raise LakeError(f"{published_db} has no {MART_SCHEMA} tables to publish")
        try:
            tables = _write_snapshot(connection, marts, published_db, progress or (lambda _: None))
        except duckdb.Error as error:
            with contextlib.suppress(duckdb.Error):
                connection.execute("rollback")
            raise _lake_error(config, "publish", error) from None
        snapshot_id = connection.execute(f"select * from {LAKE}.last_committed_snapshot()").fetchone()[0]
        files, size = connection.execute(
            f"select count(*), coalesce(sum(file_size_bytes), 0) from __ducklake_metadata_{LAKE}.ducklake_data_file "
            f"where begin_snapshot = {int(snapshot_id)}").fetchone()
    return PublishResult(snapshot_id=snapshot_id, tables=tables, bytes_written=size, files_written=files,
                         seconds=time.monotonic() - started)


def _source_marts(connection: duckdb.DuckDBPyConnection) -> dict[str, bool]:
    """Mart name -> whether it has a price_date to partition by."""
    rows = connection.execute(f"""
        select t.table_name, bool_or(c.column_name = {_literal(PARTITION_COLUMN)} and c.data_type = 'DATE')
        from duckdb_tables() t join duckdb_columns() c using (database_name, schema_name, table_name)
        where t.database_name = 'src' and t.schema_name = {_literal(MART_SCHEMA)} group by 1 order by 1""").fetchall()
    return dict(rows)


def _write_snapshot(connection: duckdb.DuckDBPyConnection, marts: dict[str, bool], published_db: Path,
                    progress: Callable[[str], None]) -> list[tuple[str, int]]:
    tables = []
    connection.execute("begin transaction")
    connection.execute(f"create schema if not exists {LAKE}.{MART_SCHEMA}")
    existing = {row[0] for row in connection.execute(
        f"select table_name from duckdb_tables() where database_name = {_literal(LAKE)} "
        f"and schema_name = {_literal(MART_SCHEMA)}").fetchall()}
    for gone in sorted(existing - set(marts)):
        connection.execute(f'drop table {LAKE}.{MART_SCHEMA}."{gone}"')
    for mart, partitioned in marts.items():
        target, source = f'{LAKE}.{MART_SCHEMA}."{mart}"', f'src.{MART_SCHEMA}."{mart}"'
        if partitioned:
            connection.execute(f"create or replace table {target} as from {source} limit 0")
            connection.execute(f"alter table {target} set partitioned by "
                               f"(year({PARTITION_COLUMN}), month({PARTITION_COLUMN}))")
            connection.execute(f"insert into {target} from {source}")
        else:
            connection.execute(f"create or replace table {target} as from {source}")
        rows = connection.execute(f"select count(*) from {source}").fetchone()[0]
        tables.append((f"{MART_SCHEMA}.{mart}", rows))
        progress(f"{MART_SCHEMA}.{mart}: {rows} rows")
    info = {"source": str(published_db), "tables": len(tables), "rows": sum(rows for _, rows in tables)}
    message = f"{len(tables)} marts from {published_db.name}"
    connection.execute(f"call {LAKE}.set_commit_message('margins publish', {_literal(message)}, "
                       f"extra_info => {_literal(json.dumps(info))})")
    connection.execute("commit")
    return tables


def connect_reader(config: LakeConfig) -> duckdb.DuckDBPyConnection:
    """The lake attached read-only as the default catalog (``marts.fct_…`` resolves), then locked down.

    After the attach, file access is limited to the catalog file and the lake's data path and the
    configuration is locked, so a query can neither read other files nor write any.
    """
    connection = connect(config)
    attach(connection, config, read_only=True)
    connection.execute(f"use {LAKE}")
    data_path = connection.execute(f"select data_path from ducklake_settings('{LAKE}')").fetchone()[0]
    paths = [str(config.catalog_file)] if config.catalog_file else []
    connection.execute(f"set allowed_directories = {_list_literal([_with_slash(data_path)])}")
    connection.execute(f"set allowed_paths = {_list_literal(paths)}")
    connection.execute("set enable_external_access = false")
    connection.execute("set lock_configuration = true")
    return connection


def lake_query_error(config: LakeConfig, error: duckdb.Error) -> LakeError:
    """A reader's failure on the lake's storage, named like a publisher's."""
    return _lake_error(config, "read", error)


def _lake_error(config: LakeConfig, action: str, error: duckdb.Error) -> LakeError:
    message = str(error).strip()
    first = message.splitlines()[0] if message else type(error).__name__
    bucket = _bucket_in(message, config)
    if bucket and any(marker in message for marker in _DENIED):
        who = f"the credentials of AWS_ACCESS_KEY_ID …{config.key_id[-4:]}" if config.key_id else "anonymous access"
        return LakeError(f"DuckLake {action}: bucket {bucket} refused {who} (check AWS_ACCESS_KEY_ID / "
                         f"AWS_SECRET_ACCESS_KEY): {first}")
    if bucket and ("Could not connect" in message or "Unable to connect" in message):
        endpoint = config.s3_endpoint or "the AWS S3 endpoint"
        return LakeError(f"DuckLake {action}: bucket {bucket} unreachable at {endpoint} "
                         f"(MARGINS_S3_ENDPOINT, MARGINS_S3_USE_SSL): {first}")
    return LakeError(f"DuckLake {action} ({config.label}): {first}")


def _bucket_in(message: str, config: LakeConfig) -> str | None:
    """The bucket a storage error is about: from an s3:// URL, a path-style URL on the endpoint, a virtual-host
    URL, else the configured data path."""
    patterns = [r"s3://([^/\s'\"]+)", r"https?://([^./\s'\"]+)\.s3[.-]"]
    if config.s3_endpoint:
        patterns.insert(1, re.escape(config.s3_endpoint) + r"/([^/\s'\"]+)")
    for pattern in patterns:
        match = re.search(pattern, message)
        if match:
            return match.group(1)
    return config.bucket()


def _absolute_catalog(catalog: str) -> str:
    """A relative SQLite or DuckDB catalog path made absolute (readers lock file access to it)."""
    if catalog.startswith("postgres:"):
        return catalog
    prefix = "sqlite:" if catalog.startswith("sqlite:") else ""
    return prefix + str(Path(catalog.removeprefix(prefix)).expanduser().resolve())


def _absolute_data_path(data_path: str) -> str:
    if "://" in data_path:
        return _with_slash(data_path)
    return _with_slash(str(Path(data_path).expanduser().resolve()))


def _with_slash(path: str) -> str:
    return path if path.endswith("/") else path + "/"


# SQL literals rather than bound parameters: DuckDB's Python client imports pandas and numpy (~0.4 s) the first time
# a statement binds one, and the lake's reader and publisher otherwise never need them.
def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _list_literal(values: list[str]) -> str:
    return "[" + ", ".join(_literal(value) for value in values) + "]"
