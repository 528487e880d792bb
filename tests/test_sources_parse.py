"""Parsers on the real bundled payloads: known values, sentinels, and rejection of broken payloads."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from pipelines.sources import SOURCES
from pipelines.sources.base import ParseError, Payload
from tests.http_server import fixture_bytes


def bundled(source_id: str, name_part: str) -> Payload:
    return next(p for p in SOURCES[source_id].bundled() if name_part in p.name + (p.url or ""))


def rows_where(rows, **conditions):
    return [row for row in rows if all(row.get(key) == value for key, value in conditions.items())]


def test_skypilot_aws_p5_per_gpu_price_is_instance_price_over_eight():
    batch = SOURCES["skypilot"].parse(bundled("skypilot", "aws/vms.csv"))
    offers = rows_where(batch.rows, instance_type="p5.48xlarge", region="us-east-1", pricing_type="on_demand")
    assert offers, "p5.48xlarge us-east-1 on-demand missing"
    assert {row["usd_per_hour"] for row in offers} == {Decimal("55.040000")}
    assert {row["usd_per_gpu_hour"] for row in offers} == {Decimal("6.880000")}
    assert {row["gpu_count"] for row in offers} == {Decimal("8.0")}


def test_skypilot_spot_and_on_demand_are_separate_observations():
    batch = SOURCES["skypilot"].parse(bundled("skypilot", "aws/vms.csv"))
    p4d = rows_where(batch.rows, instance_type="p4d.24xlarge", zone="apne1-az4")
    assert {row["pricing_type"] for row in p4d} == {"on_demand", "spot"}
    spot = rows_where(p4d, pricing_type="spot")[0]
    assert spot["usd_per_hour"] == Decimal("7.520500")


def test_skypilot_gcp_host_rows_are_joined_to_gpu_rows_of_the_same_zone():
    batch = SOURCES["skypilot"].parse(bundled("skypilot", "gcp/vms.csv"))
    a3 = rows_where(batch.rows, instance_type="a3-highgpu-8g", zone="us-central1-a", pricing_type="on_demand")
    assert len(a3) == 1
    # README sanity number: host + 8 x H100 in us-central1 = 5.38 USD per GPU-hour
    assert round(a3[0]["usd_per_gpu_hour"], 2) == Decimal("5.38")
    assert a3[0]["gpu_name"] == "H100" and a3[0]["gpu_count"] == 8
    # GPU-only rows are parts of a machine, never offers of their own
    assert not [row for row in batch.rows if row["instance_type"] is None]


def test_skypilot_zero_price_means_not_offered():
    csv_text = (
        "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region\n"
        "1x-H200-32-65536,H200,1,32,64.0,,2.65,0.00,\"France, FR, EU\"\n"
    )
    rows = SOURCES["skypilot"].parse(Payload("vast/vms.csv", csv_text.encode(), "live")).rows
    assert [(row["pricing_type"], row["usd_per_hour"]) for row in rows] == [("on_demand", Decimal("2.65"))]


def test_skypilot_reads_columns_by_header_name_whatever_their_order():
    lambda_rows = SOURCES["skypilot"].parse(bundled("skypilot", "lambda/vms.csv")).rows
    h100 = rows_where(lambda_rows, instance_type="gpu_8x_h100_sxm5", pricing_type="on_demand")
    assert h100 and {row["usd_per_gpu_hour"] for row in h100} == {Decimal("3.990000")}


def test_skypilot_rejects_html_served_as_csv():
    with pytest.raises(ParseError, match="HTML"):
        SOURCES["skypilot"].parse(Payload("aws/vms.csv", b"<html><body>Rate limited</body></html>", "live"))


def test_gpu_trackers_rows_keep_their_snapshot_dates_and_counts():
    batch = SOURCES["gpu_trackers"].parse(bundled("gpu_trackers", "gpu_price_history"))
    dates = {row["observed_at"].date().isoformat() for row in batch.rows}
    assert "2024-09-24" in dates and "2026-07-01" in dates
    no_count = [row for row in batch.rows if row["scope"] == "becloudready/gpu-price"]
    assert no_count and all(row["gpu_count"] is None for row in no_count)


def test_litellm_prices_are_exact_per_million_from_the_numbers_text():
    batch = SOURCES["litellm"].parse(
        Payload("model_prices_and_context_window.json", fixture_bytes("tokens/litellm_model_prices_2026-11-20.json.gz"),
                "live"))
    gpt4o = rows_where(batch.rows, source_model_key="gpt-4o")[0]
    assert (gpt4o["usd_per_1m_input"], gpt4o["usd_per_1m_output"]) == (Decimal("2.50"), Decimal("10.00"))
    assert gpt4o["usd_per_1m_cached_input"] == Decimal("1.25")
    assert not rows_where(batch.rows, source_model_key="sample_spec")


def test_litellm_long_context_tier_keeps_the_threshold_as_a_column():
    batch = SOURCES["litellm"].parse(
        Payload("model_prices_and_context_window.json", fixture_bytes("tokens/litellm_model_prices_2026-11-20.json.gz"),
                "live"))
    tiered = [row for row in batch.rows if row["long_context_threshold_tokens"] == 200_000]
    assert tiered and all(row["usd_per_1m_input_long_context"] is not None for row in tiered)


def test_litellm_float_max_input_tokens_becomes_an_integer():
    document = {"grok-4-fast": {"litellm_provider": "xai", "mode": "chat", "max_input_tokens": 2000000.0,
                                "input_cost_per_token": 2e-07, "output_cost_per_token": 5e-07}}
    batch = SOURCES["litellm"].parse(Payload("model_prices_and_context_window.json",
                                             json.dumps(document).encode(), "live"))
    assert batch.rows[0]["max_input_tokens"] == 2_000_000
    assert batch.rows[0]["usd_per_1m_input"] == Decimal("0.20")


def test_litellm_history_rows_carry_their_commit_dates():
    batch = SOURCES["litellm"].parse(bundled("litellm", "history/monthly"))
    june_2024 = rows_where(batch.rows, source_model_key="gpt-4o")[0]
    assert june_2024["observed_at"].isoformat().startswith("2024-06-04")
    assert (june_2024["usd_per_1m_input"], june_2024["usd_per_1m_output"]) == (Decimal("5.00"), Decimal("15.00"))


def test_litellm_invalid_json_is_rejected_whole():
    with pytest.raises(ParseError, match="invalid JSON"):
        SOURCES["litellm"].parse(Payload("model_prices_and_context_window.json", b'{"gpt-4o": {', "live"))


def test_openrouter_sentinels_variable_free_and_absent():
    payload = Payload("models.json", fixture_bytes("tokens/openrouter_models_2026-08-19.json.gz"), "live")
    rows = {row["source_model_key"]: row for row in SOURCES["openrouter"].parse(payload).rows}
    variable = rows["openrouter/auto-beta"] if "openrouter/auto-beta" in rows else rows["openrouter/fusion"]
    assert variable["has_variable_price"] and variable["usd_per_1m_input"] is None
    free = [row for key, row in rows.items() if key.endswith(":free")]
    assert free and all(row["is_free"] and row["usd_per_1m_input"] == 0 for row in free)
    no_cache = [row for row in rows.values() if row["usd_per_1m_cached_input"] is None]
    assert no_cache, "an absent cache price stays unknown (NULL), never 0"
    assert all(row["usd_per_1m_input"] is None or row["usd_per_1m_input"] >= 0 for row in rows.values())


def test_openrouter_missing_data_list_is_a_schema_change():
    with pytest.raises(ParseError, match="data"):
        SOURCES["openrouter"].parse(Payload("models.json", b'{"models": []}', "live"))
