"""Configuration from the environment: data directory, offline mode, source URLs and API keys.

Every source URL can be overridden by an environment variable (``MARGINS_<ID>_URL``) so tests and mirrors can
stand in for the live hosts; the defaults live with their users (each source's ``default_url``, the GitHub
client's hosts). API keys follow one rule too, ``MARGINS_<ID>_API_KEY`` (see README, "Environment").
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

# the one API key variable outside the MARGINS_<NAME>_API_KEY rule: the GitHub client of the backfill
GITHUB_TOKEN_VARIABLE = "GITHUB_TOKEN"
_URL_VARIABLE = re.compile(r"MARGINS_(?P<name>[A-Z0-9_]+)_URL")

_TRUE = {"1", "true", "yes", "on"}


def url_variable(name: str) -> str:
    """The variable that overrides the base URL of ``name`` (a source id, ``github_api``, ``github_raw``)."""
    return f"MARGINS_{name.upper()}_URL"


def api_key_variable(name: str) -> str:
    """The variable holding the API key of ``name``: ``MARGINS_<ID>_API_KEY``, and ``GITHUB_TOKEN`` for github."""
    return GITHUB_TOKEN_VARIABLE if name == "github" else f"MARGINS_{name.upper()}_API_KEY"


def url_overrides(environ: Mapping[str, str]) -> dict[str, str]:
    """Every base URL set in the environment (``MARGINS_<NAME>_URL``), by lower-case name, without a trailing /."""
    overrides = {}
    for variable, value in environ.items():
        match = _URL_VARIABLE.fullmatch(variable)
        if match:
            overrides[match["name"].lower()] = value.rstrip("/")
    return overrides


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


class AsOfError(ValueError):
    """MARGINS_AS_OF / --as-of is not a valid YYYY-MM-DD day."""


def parse_as_of(text: str | None) -> date:
    """The UTC day a warehouse is built as of: `text` (YYYY-MM-DD) or, when empty, today in UTC."""
    if not text or not text.strip():
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(text.strip())
    except ValueError as error:
        raise AsOfError(f"as-of day {text.strip()!r} is not a YYYY-MM-DD date") from error


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    offline: bool = False
    urls: dict[str, str] = field(default_factory=dict)  # overrides by name; the defaults live with their users
    # the UTC day the warehouse is built as of (DESIGN.md "Time"); observations after its end are ignored
    as_of: date = field(default_factory=lambda: datetime.now(UTC).date())

    @classmethod
    def from_env(cls, data_dir: str | os.PathLike | None = None, offline: bool | None = None,
                 as_of: str | None = None) -> Settings:
        directory = Path(data_dir or os.environ.get("MARGINS_DATA_DIR") or "warehouse").resolve()
        return cls(
            data_dir=directory,
            offline=env_flag("MARGINS_OFFLINE") if offline is None else offline,
            urls=url_overrides(os.environ),
            as_of=parse_as_of(as_of or os.environ.get("MARGINS_AS_OF")),
        )

    def url(self, name: str, default: str | None = None) -> str:
        """The base URL of ``name``: its ``MARGINS_<NAME>_URL`` override, else ``default`` (a source's
        ``default_url``; sources call ``Source.url(settings)``)."""
        if name in self.urls:
            return self.urls[name]
        if default is None:
            raise KeyError(f"no URL for {name!r}: set {url_variable(name)}")
        return default.rstrip("/")

    @staticmethod
    def api_key(name: str) -> str | None:
        value = os.environ.get(api_key_variable(name), "").strip()
        return value or None

    @property
    def landing_dir(self) -> Path:
        return self.data_dir / "landing"

    def download_dir(self, source_id: str) -> Path:
        """Where large payloads are streamed before landing (same file system, so landing is a rename)."""
        return self.data_dir / "downloads" / source_id

    @property
    def working_db(self) -> Path:
        return self.data_dir / "work" / "margins.duckdb"

    @property
    def dbt_target_dir(self) -> Path:
        """dbt's artifacts of the last build into this data directory (compiled SQL, run_results.json, dbt.log): one
        folder, overwritten by each build, instead of a new 6 MB folder per run under dbt_project/target/."""
        return self.data_dir / "work" / "dbt_target"

    @property
    def published_db(self) -> Path:
        return self.data_dir / "margins.duckdb"

    @property
    def lock_file(self) -> Path:
        return self.data_dir / "refresh.lock"
