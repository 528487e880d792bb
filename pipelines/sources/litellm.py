"""LiteLLM's price map (``model_prices_and_context_window.json``): token prices of ~150 API sellers.

Prices in the file are USD per token as JSON numbers; they are read from their text (``Decimal``), so
2.5e-06 becomes exactly 2.50 USD per 1M tokens. Entries without ``litellm_provider`` (``sample_spec``,
``fallback_generalizations``, alias-only entries) are not models. The bundled monthly history CSV
(2024-06..2026-11) carries each row's commit date.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from pipelines.http import HttpClient
from pipelines.settings import Settings
from pipelines.sources.base import (
    ParsedBatch,
    ParseError,
    Payload,
    PreviousFetches,
    Reject,
    Source,
    decimal_or_none,
    json_object,
    parse_date,
    parse_each,
    parse_timestamp,
    per_million,
    read_csv_rows,
)

TOKEN_MODES = {"chat", "completion", "responses"}
LONG_CONTEXT_KEY = re.compile(r"^input_cost_per_token_above_(\d+)k_tokens$")
PRICE_FIELDS = {
    "usd_per_1m_input": "input_cost_per_token",
    "usd_per_1m_output": "output_cost_per_token",
    "usd_per_1m_cached_input": "cache_read_input_token_cost",
    "usd_per_1m_cache_write": "cache_creation_input_token_cost",
    "usd_per_1m_batch_input": "input_cost_per_token_batches",
    "usd_per_1m_batch_output": "output_cost_per_token_batches",
}
# The monthly history is one sequence with the full files: the price map as the source published it. It lists
# only major providers, so other providers' keys drop out between full snapshots (omitted = not listed).
HISTORY_SCOPE = "full"
HISTORY_REQUIRED = ("commit_date", "model_key", "litellm_provider", "mode", "input_cost_per_token",
                    "output_cost_per_token")


class LiteLLMSource(Source):
    id = "litellm"
    kind = "token"
    compute_kind = "json"
    default_url = "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json"
    description = ("API token prices per 1M tokens of ~150 sellers from LiteLLM's "
                   "model_prices_and_context_window.json, plus the bundled 2024-06..2026-11 monthly history.")

    def fetch(self, settings: Settings, http: HttpClient, previous: PreviousFetches) -> Iterator[Payload]:
        response = http.get(self.id, self.url(settings))
        yield Payload(name="model_prices_and_context_window.json", content=response.content, mode="live",
                      url=response.url)

    def parse(self, payload: Payload) -> ParsedBatch:
        if payload.name.endswith(".csv"):
            return parse_history(payload)
        return parse_price_map(payload)


def load_json_object(payload: Payload) -> tuple[dict[str, Any], set[str]]:
    """The top-level object, and the keys it lists more than once (JSON allows it; which one is right is unknown)."""
    duplicates: set[str] = set()

    def collect(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in pairs:
            if key in seen:
                duplicates.add(key)
            seen[key] = value
        return seen

    document = json_object(payload, object_pairs_hook=collect)
    return document, {key for key in duplicates if key in document}


def parse_price_map(payload: Payload, scope: str = "full") -> ParsedBatch:
    document, duplicates = load_json_object(payload)
    batch = ParsedBatch()

    def priced_models():
        for key, entry in document.items():
            if not isinstance(entry, dict) or "litellm_provider" not in entry:
                continue
            if key in duplicates:
                batch.rejects.append(Reject("unique_model_key", f"{key}: listed more than once in the file",
                                            {"key": key}))
                continue
            mode = entry.get("mode")
            if mode in TOKEN_MODES or (mode is None and "input_cost_per_token" in entry):
                yield key, entry

    batch.rows.extend(parse_each(
        batch, priced_models(), lambda model: _observation(*model, scope, observed_at=None), "parseable_number",
        errors=(ValueError, ArithmeticError), label=lambda model: model[0],
        quarantined=lambda model: {"key": model[0], **_plain(model[1])}))
    if not batch.rows and not batch.rejects:
        raise ParseError(f"{payload.name}: no priced models found (schema changed?)")
    return batch


def parse_history(payload: Payload) -> ParsedBatch:
    batch = ParsedBatch()
    batch.rows.extend(parse_each(batch, read_csv_rows(payload, HISTORY_REQUIRED), _history_observation,
                                 "parseable_number", errors=(ValueError, ArithmeticError),
                                 label=lambda row: row["model_key"], quarantined=dict))
    return batch


def _history_observation(row: dict[str, str]) -> dict[str, Any]:
    entry = {column: value for column, value in row.items() if value not in ("", None)}
    return _observation(row["model_key"], entry, HISTORY_SCOPE, observed_at=parse_timestamp(row["commit_date"]))


def _observation(key: str, entry: dict[str, Any], scope: str, observed_at) -> dict[str, Any]:
    prices = {column: per_million(decimal_or_none(entry.get(field))) for column, field in PRICE_FIELDS.items()}
    threshold, long_input, long_output = _long_context_tier(entry)
    return {
        "scope": scope,
        "observed_at": observed_at,
        "provider": str(entry["litellm_provider"]),
        "source_model_key": key,
        "mode": entry.get("mode"),
        **prices,
        "long_context_threshold_tokens": threshold,
        "usd_per_1m_input_long_context": long_input,
        "usd_per_1m_output_long_context": long_output,
        "max_input_tokens": _token_count(entry.get("max_input_tokens")),
        "deprecation_date": parse_date(entry.get("deprecation_date")),
        "is_free": prices["usd_per_1m_input"] == 0 and prices["usd_per_1m_output"] == 0,
        "has_variable_price": False,
    }


def _long_context_tier(entry: dict[str, Any]) -> tuple[int | None, Decimal | None, Decimal | None]:
    """The lowest ``*_above_<N>k_tokens`` tier: its threshold becomes a column, not part of a name."""
    thresholds = sorted(int(match.group(1)) for key in entry if (match := LONG_CONTEXT_KEY.match(key)))
    if not thresholds:
        return None, None, None
    suffix = f"above_{thresholds[0]}k_tokens"
    return (
        thresholds[0] * 1000,
        per_million(decimal_or_none(entry.get(f"input_cost_per_token_{suffix}"))),
        per_million(decimal_or_none(entry.get(f"output_cost_per_token_{suffix}"))),
    )


def _token_count(value: Any) -> int | None:
    number = decimal_or_none(value)
    return None if number is None else int(number)


def _plain(entry: dict[str, Any]) -> dict[str, Any]:
    return {key: str(value) if isinstance(value, Decimal) else value for key, value in entry.items()}
