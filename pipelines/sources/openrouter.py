"""OpenRouter's model list (``GET /api/v1/models``): prices of every model routed through OpenRouter.

Prices are strings of USD per token. ``"-1"`` means variable pricing: stored as NULL with
``has_variable_price``, never as a negative price. An absent key is unknown (NULL), not zero; ``"0"`` is a
real free price. Tiered ``overrides`` (``min_prompt_tokens``) become the long-context tier.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pipelines.http import HttpClient
from pipelines.settings import Settings
from pipelines.sources.base import (
    ParsedBatch,
    ParseError,
    Payload,
    PreviousFetches,
    Source,
    decimal_or_none,
    decode_json,
    item_text,
    parse_each,
    per_million,
)

VARIABLE_PRICE = "-1"


class OpenRouterSource(Source):
    id = "openrouter"
    kind = "token"
    compute_kind = "json"
    default_url = "https://openrouter.ai/api/v1/models"
    # MARGINS_OPENROUTER_API_KEY is optional: the endpoint also answers without one, so never skipped.
    description = "Token prices of every model routed through OpenRouter (GET /api/v1/models)."

    def fetch(self, settings: Settings, http: HttpClient, previous: PreviousFetches) -> Iterator[Payload]:
        key = settings.api_key(self.id)
        headers = {"Authorization": f"Bearer {key}"} if key else None
        response = http.get(self.id, self.url(settings), headers=headers, secrets=(key or "",))
        yield Payload(name="models.json", content=response.content, mode="live", url=response.url)

    def parse(self, payload: Payload) -> ParsedBatch:
        document = decode_json(payload.read_bytes(), payload.name)
        models = document.get("data") if isinstance(document, dict) else None
        if not isinstance(models, list):
            raise ParseError(f"{payload.name}: no `data` list in the response (schema changed?)")
        batch = ParsedBatch()
        batch.rows.extend(parse_each(
            batch, models, _observation, "parseable_model",
            errors=(ValueError, KeyError, TypeError, AttributeError, ArithmeticError, OSError),
            quarantined=item_text("model")))
        return batch


def _observation(model: dict[str, Any]) -> dict[str, Any]:
    pricing = model["pricing"]
    if not isinstance(pricing, dict):
        raise ValueError(f"{model.get('id')}: `pricing` is not an object")
    prompt, prompt_variable = _price(pricing, "prompt")
    completion, completion_variable = _price(pricing, "completion")
    cached, _ = _price(pricing, "input_cache_read")
    cache_write, _ = _price(pricing, "input_cache_write")
    threshold, long_input, long_output = _long_context_tier(pricing.get("overrides"))
    expiration = model.get("expiration_date")
    return {
        "scope": "full",
        "observed_at": None,
        "provider": "openrouter",
        "source_model_key": str(model["id"]),
        "mode": "chat",
        "usd_per_1m_input": prompt,
        "usd_per_1m_output": completion,
        "usd_per_1m_cached_input": cached,
        "usd_per_1m_cache_write": cache_write,
        "usd_per_1m_batch_input": None,
        "usd_per_1m_batch_output": None,
        "long_context_threshold_tokens": threshold,
        "usd_per_1m_input_long_context": long_input,
        "usd_per_1m_output_long_context": long_output,
        "max_input_tokens": int(model["context_length"]) if model.get("context_length") else None,
        "deprecation_date": _date(expiration),
        "is_free": prompt == 0 and completion == 0,
        "has_variable_price": prompt_variable or completion_variable,
    }


def _price(pricing: dict[str, Any], key: str):
    """(USD per 1M or None, is_variable). Absent -> unknown; "-1" -> variable; "0" -> free."""
    value = pricing.get(key)
    if value is None:
        return None, False
    if str(value).strip() == VARIABLE_PRICE:
        return None, True
    return per_million(decimal_or_none(value)), False


def _long_context_tier(overrides: Any):
    if not isinstance(overrides, list):
        return None, None, None
    tiers = [tier for tier in overrides if isinstance(tier, dict) and tier.get("min_prompt_tokens")]
    if not tiers:
        return None, None, None
    tier = min(tiers, key=lambda item: int(item["min_prompt_tokens"]))
    return (int(tier["min_prompt_tokens"]), _price(tier, "prompt")[0], _price(tier, "completion")[0])


def _date(value: Any):
    if isinstance(value, int | float | Decimal):  # JSON numbers are read exactly (Decimal)
        return datetime.fromtimestamp(float(value), UTC).date()
    if isinstance(value, str) and len(value) >= 10:
        try:
            return datetime.fromisoformat(value[:10]).date()
        except ValueError:
            return None
    return None
