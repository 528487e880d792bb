"""Configuration from the environment: data directory, offline mode, source URLs and API keys.

Every source URL can be overridden by an environment variable so tests and mirrors can stand in for the
live hosts (see README, "Environment").
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

DEFAULT_URLS: dict[str, str] = {
    "litellm": "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json",
    "openrouter": "https://openrouter.ai/api/v1/models",
    "skypilot": "https://raw.githubusercontent.com/skypilot-org/skypilot-catalog/master/catalogs/v8",
    "aws": "https://pricing.us-east-1.amazonaws.com",
    "azure": "https://prices.azure.com",
    "gcp": "https://cloudbilling.googleapis.com",
    "lambda": "https://cloud.lambda.ai",
    "runpod": "https://api.runpod.io",
    "vast": "https://console.vast.ai",
    "github_api": "https://api.github.com",
    "github_raw": "https://raw.githubusercontent.com",
}

API_KEY_VARIABLES: dict[str, str] = {
    "gcp": "MARGINS_GCP_API_KEY",
    "lambda": "MARGINS_LAMBDA_API_KEY",
    "runpod": "MARGINS_RUNPOD_API_KEY",
    "vast": "MARGINS_VAST_API_KEY",
    "openrouter": "MARGINS_OPENROUTER_API_KEY",
    "github": "GITHUB_TOKEN",
}

_TRUE = {"1", "true", "yes", "on"}


def url_variable(name: str) -> str:
    return f"MARGINS_{name.upper()}_URL"


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
    urls: dict[str, str] = field(default_factory=dict)
    # the UTC day the warehouse is built as of (DESIGN.md "Time"); observations after its end are ignored
    as_of: date = field(default_factory=lambda: datetime.now(UTC).date())

    @classmethod
    def from_env(cls, data_dir: str | os.PathLike | None = None, offline: bool | None = None,
                 as_of: str | None = None) -> Settings:
        directory = Path(data_dir or os.environ.get("MARGINS_DATA_DIR") or "warehouse").resolve()
        urls = {name: os.environ.get(url_variable(name), default).rstrip("/")
                for name, default in DEFAULT_URLS.items()}
        return cls(
            data_dir=directory,
            offline=env_flag("MARGINS_OFFLINE") if offline is None else offline,
            urls=urls,
            as_of=parse_as_of(as_of or os.environ.get("MARGINS_AS_OF")),
        )

    def url(self, name: str) -> str:
        return self.urls[name]

    @staticmethod
    def api_key(name: str) -> str | None:
        value = os.environ.get(API_KEY_VARIABLES[name], "").strip()
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
    def published_db(self) -> Path:
        return self.data_dir / "margins.duckdb"

    @property
    def lock_file(self) -> Path:
        return self.data_dir / "refresh.lock"
