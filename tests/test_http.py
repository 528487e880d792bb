"""The shared HTTP client against a real local server: retries, timeouts, caps, redirects."""

from __future__ import annotations

import gzip
import time

import pytest

from pipelines.http import FetchError, HttpClient, HttpConfig, redact
from tests.http_server import Reply

FAST = HttpConfig(connect_timeout=2, read_timeout=1, retries=2, backoff_factor=0.01, backoff_jitter=0.0,
                  backoff_max=0.05, max_bytes=1_000_000)


def test_429_with_retry_after_then_success(server):
    server.route("/prices", Reply(429, b"slow down", {"Retry-After": "1"}), Reply(200, b"ok"))
    response = HttpClient(FAST).get("litellm", f"{server.url}/prices")
    assert response.content == b"ok"
    assert server.hits("/prices") == 2


def test_5xx_then_success(server):
    server.route("/prices", Reply(503), Reply(502), Reply(200, b"fine"))
    assert HttpClient(FAST).get("litellm", f"{server.url}/prices").content == b"fine"


def test_5xx_until_retries_run_out_names_the_source(server):
    server.route("/prices", Reply(500, b"boom"))
    with pytest.raises(FetchError, match=r"^openrouter: .*(500|retries)"):
        HttpClient(FAST).get("openrouter", f"{server.url}/prices")
    assert server.hits("/prices") == FAST.retries + 1


def test_404_is_not_retried(server):
    with pytest.raises(FetchError, match="HTTP 404") as caught:
        HttpClient(FAST).get("skypilot", f"{server.url}/missing")
    assert caught.value.status == 404 and server.hits("/missing") == 1


def test_read_timeout(server):
    server.route("/slow", Reply(200, b"late", delay_s=3))
    with pytest.raises(FetchError, match="timeout"):
        HttpClient(FAST).get("skypilot", f"{server.url}/slow")


def test_truncated_body(server):
    server.route("/cut", Reply(200, b"x" * 10_000, truncate_to=100))
    with pytest.raises(FetchError, match="truncated|connection|retries"):
        HttpClient(FAST).get("litellm", f"{server.url}/cut")


def test_response_over_the_size_cap(server):
    server.route("/big", Reply(200, b"y" * 2_000_000))
    with pytest.raises(FetchError, match="cap"):
        HttpClient(FAST).get("litellm", f"{server.url}/big")


def test_gzip_bomb_is_stopped_by_the_decoded_size_cap(server):
    bomb = gzip.compress(b"\0" * 50_000_000)
    server.route("/bomb", Reply(200, bomb, {"Content-Encoding": "gzip"}))
    with pytest.raises(FetchError, match="cap"):
        HttpClient(FAST).get("litellm", f"{server.url}/bomb")


def test_gzip_body_is_decoded(server):
    server.route("/gz", Reply(200, gzip.compress(b'{"a": 1}'), {"Content-Encoding": "gzip"}))
    assert HttpClient(FAST).get("litellm", f"{server.url}/gz").content == b'{"a": 1}'


def test_redirect_to_another_host_is_refused(server):
    server.route("/moved", Reply(302, b"", {"Location": "http://example.invalid/steal"}))
    with pytest.raises(FetchError, match="another host"):
        HttpClient(FAST).get("litellm", f"{server.url}/moved")


def test_same_host_redirect_is_followed(server):
    server.route("/old", Reply(301, b"", {"Location": "/new"}))
    server.route("/new", Reply(200, b"here"))
    assert HttpClient(FAST).get("litellm", f"{server.url}/old").content == b"here"


def test_connection_refused(server):
    with pytest.raises(FetchError, match="connection failed|retries"):
        HttpClient(FAST).get("aws", "http://127.0.0.1:9/never")


LONG_QUERY = "?api-version=2023-01-01-preview&$filter=" + "%20and%20".join(f"armRegionName%20eq%20%27r{i}%27"
                                                                        for i in range(12))


def test_the_source_and_the_cause_come_before_a_long_url(server):
    """`margins status` shows a message's start: the source and the cause lead, urllib3's preamble is dropped."""
    with pytest.raises(FetchError) as refused:
        HttpClient(FAST).get("azure", f"http://127.0.0.1:9/api/retail/prices{LONG_QUERY}")
    assert refused.value.args[0][:100].startswith("azure: connection failed (Connection refused): http://127.0.0.1:9/")
    server.route("/prices", Reply(503, b"busy"))
    with pytest.raises(FetchError) as unavailable:
        HttpClient(FAST).get("azure", f"{server.url}/prices{LONG_QUERY}")
    first_100 = unavailable.value.args[0][:100]
    assert first_100.startswith("azure: ") and "503" in first_100


def test_user_agent_names_the_project(server):
    server.route("/ua", Reply(200, b"ok"))
    HttpClient(FAST).get("litellm", f"{server.url}/ua")
    assert server.requests[-1][2]["User-Agent"].startswith("inference-margins/")


def test_keys_are_redacted_from_errors(server):
    server.route("/keyed", Reply(403, b"no"))
    with pytest.raises(FetchError) as caught:
        HttpClient(FAST).get("gcp", f"{server.url}/keyed?key=SECRET123", secrets=("SECRET123",))
    assert "SECRET123" not in str(caught.value)
    assert redact("https://x/y?api_key=abc&b=1") == "https://x/y?api_key=***&b=1"


def test_a_long_retry_after_is_capped(server, monkeypatch):
    from pipelines.http import CappedRetry

    monkeypatch.setattr(CappedRetry, "max_retry_after", 1.0)
    server.route("/later", Reply(429, b"come back in an hour", {"Retry-After": "3600"}), Reply(200, b"ok"))
    started = time.monotonic()
    assert HttpClient(FAST).get("litellm", f"{server.url}/later").content == b"ok"
    assert time.monotonic() - started < 10
