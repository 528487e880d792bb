"""A small GitHub client for backfills: the commits that touched a file, and the file at a commit.

It goes through the shared ``HttpClient`` (timeouts, retries, size caps). GitHub specifics live here:
``Link``-header pagination, the REST API's rate limits (``X-RateLimit-Remaining``/``-Reset`` and
``Retry-After`` on a 403 or 429: wait when the reset is near, else stop with a message naming the
source), and ``GITHUB_TOKEN``, read from the environment only, sent to the API host only, and redacted
from every message.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from requests.structures import CaseInsensitiveDict
from requests.utils import parse_header_links

from pipelines.http import RETRY_STATUSES, FetchError, HttpClient, HttpResponse, rebase_link
from pipelines.settings import Settings
from pipelines.sources.base import parse_timestamp

DEFAULT_API_URL = "https://api.github.com"           # MARGINS_GITHUB_API_URL overrides it
DEFAULT_RAW_URL = "https://raw.githubusercontent.com"  # MARGINS_GITHUB_RAW_URL overrides it
PER_PAGE = 100
MAX_PAGES = 500
DEFAULT_MAX_WAIT_S = 60.0
SECONDARY_LIMIT_WAIT_S = 60.0   # GitHub: without Retry-After, wait at least a minute
API_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}


def github_http_client() -> HttpClient:
    """The shared HttpClient, except that a 429 comes straight back to GitHubClient: urllib3 would sleep out
    every Retry-After (up to an hour for GitHub) four times over, where GitHubClient waits only briefly and
    otherwise stops with a message."""
    http = HttpClient()
    for adapter in http.session.adapters.values():
        adapter.max_retries = adapter.max_retries.new(
            status_forcelist=tuple(status for status in RETRY_STATUSES if status != 429),
            respect_retry_after_header=False)
    return http


class RateLimitedError(FetchError):
    """GitHub's rate limit is exhausted and its reset is further away than we are willing to wait."""


@dataclass(frozen=True)
class Commit:
    sha: str
    committed_at: datetime      # committer date, UTC: the order in which changes reached the branch


@dataclass
class _RateLimit:
    reset_at: float | None = None   # epoch seconds; set when the last answer said no requests remain


class GitHubClient:
    def __init__(self, settings: Settings, http: HttpClient, source: str, *,
                 max_wait_s: float = DEFAULT_MAX_WAIT_S, sleep: Callable[[float], None] = time.sleep):
        self.api = settings.url("github_api", DEFAULT_API_URL)
        self.raw = settings.url("github_raw", DEFAULT_RAW_URL)
        self.http = http
        self.source = source
        self.max_wait_s = max_wait_s
        self.sleep = sleep
        self._token = settings.api_key("github")
        self._limit = _RateLimit()

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self._token,) if self._token else ()

    def list_commits(self, repo: str, path: str, since: datetime | None = None,
                     until: datetime | None = None) -> list[Commit]:
        """Every commit on the default branch that touched ``path`` in [since, until), oldest first."""
        params = {"path": path, "per_page": str(PER_PAGE)}
        params.update(_time_params(since, until))
        commits = []
        for page in self._pages(f"{self.api}/repos/{repo}/commits", params):
            commits += [_commit(item, self.source) for item in _json_list(page, self.source)]
        inside = [c for c in commits if (since is None or c.committed_at >= since)
                  and (until is None or c.committed_at < until)]
        return sorted({c.sha: c for c in inside}.values(), key=lambda c: c.committed_at)

    def latest_commit(self, repo: str, path: str, before: datetime) -> Commit | None:
        """The newest commit that touched ``path`` before ``before``: the version in force at that time."""
        params = {"path": path, "per_page": "1", **_time_params(None, before)}
        items = _json_list(self._api_get(f"{self.api}/repos/{repo}/commits", params), self.source)
        commits = [c for c in (_commit(item, self.source) for item in items) if c.committed_at < before]
        return max(commits, key=lambda c: c.committed_at, default=None)

    def raw_url(self, repo: str, sha: str, path: str) -> str:
        return f"{self.raw}/{repo}/{sha}/{path}"

    def download(self, repo: str, sha: str, path: str) -> HttpResponse:
        """The file exactly as committed. The token is never sent to the raw host (public repos only)."""
        return self._get(self.raw_url(repo, sha, path), None, {})

    def _pages(self, url: str, params: dict[str, str] | None) -> Iterator[HttpResponse]:
        for _ in range(MAX_PAGES):
            response = self._api_get(url, params)
            yield response
            next_url = _next_link(response)
            if not next_url:
                return
            # a Link on the default API host is re-based onto the configured one; other hosts are refused, so the
            # token never leaves the API host
            url, params = rebase_link(self.source, next_url, self.api, DEFAULT_API_URL), None
        raise FetchError(self.source, f"GitHub listing of {url} exceeded {MAX_PAGES} pages")

    def _api_get(self, url: str, params: dict[str, str] | None) -> HttpResponse:
        headers = dict(API_HEADERS)
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        self._wait_for_reset()
        response = self._get(url, params, headers)
        self._remember_remaining(response.headers)
        return response

    def _get(self, url: str, params: dict[str, str] | None, headers: dict[str, str]) -> HttpResponse:
        for _ in range(3):
            with _error_headers(self.http) as failed:
                try:
                    response = self.http.get(self.source, url, headers=headers, params=params, secrets=self.secrets)
                except FetchError as error:
                    wait = self._rate_limit_wait(error, failed)
                    if wait is None:
                        raise
                    self._wait_or_stop(wait, failed)
                    continue
            return response
        raise RateLimitedError(self.source, "GitHub still rate limited after waiting twice; re-run later "
                                            "(commits already landed are not landed twice)", status=429)

    def _rate_limit_wait(self, error: FetchError, headers: CaseInsensitiveDict) -> float | None:
        """Seconds to wait before retrying, or None when the error is not a rate limit."""
        if error.status not in (403, 429):
            return None
        retry_after = headers.get("Retry-After", "")
        if retry_after.strip().isdigit():
            return float(retry_after)
        if headers.get("X-RateLimit-Remaining") == "0":
            return max(_reset_at(headers) - time.time(), 0.0) + 1.0
        return SECONDARY_LIMIT_WAIT_S if error.status == 429 else None

    def _wait_or_stop(self, wait: float, headers: CaseInsensitiveDict) -> None:
        if wait > self.max_wait_s:
            raise RateLimitedError(self.source, _stop_message(wait, headers, bool(self._token)), status=403)
        self.sleep(wait)

    def _remember_remaining(self, headers: dict[str, str]) -> None:
        """After the last request the limit allows, the next one waits for the reset (or stops) up front."""
        headers = CaseInsensitiveDict(headers)
        exhausted = headers.get("X-RateLimit-Remaining") == "0" and headers.get("X-RateLimit-Reset")
        self._limit.reset_at = _reset_at(headers) if exhausted else None

    def _wait_for_reset(self) -> None:
        if self._limit.reset_at is None:
            return
        wait = max(self._limit.reset_at - time.time(), 0.0) + 1.0
        headers = CaseInsensitiveDict({"X-RateLimit-Reset": str(int(self._limit.reset_at))})
        self._wait_or_stop(wait, headers)
        self._limit.reset_at = None


@contextlib.contextmanager
def _error_headers(http: HttpClient) -> Iterator[CaseInsensitiveDict]:
    """The headers of a 403/429 answer. HttpClient raises FetchError without them, so a session response
    hook keeps a copy (works with any HttpClient, no change to it)."""
    captured: CaseInsensitiveDict = CaseInsensitiveDict()

    def keep(response, *args, **kwargs):
        if response.status_code in (403, 429):
            captured.update(response.headers)
        return response

    http.session.hooks["response"].append(keep)
    try:
        yield captured
    finally:
        http.session.hooks["response"].remove(keep)


def _stop_message(wait: float, headers: CaseInsensitiveDict, has_token: bool) -> str:
    reset = headers.get("X-RateLimit-Reset")
    when = (f"resets at {datetime.fromtimestamp(int(reset), UTC):%Y-%m-%d %H:%M} UTC" if reset and reset.isdigit()
            else f"asks to wait {wait:.0f} s")
    hint = "" if has_token else "; set GITHUB_TOKEN for a higher limit"
    return (f"GitHub API rate limit reached (X-RateLimit-Remaining: {headers.get('X-RateLimit-Remaining', '?')}, "
            f"{when}, in {wait / 60:.0f} min){hint}. Stopped; re-run after the reset "
            f"(commits already landed are not landed twice)")


def _reset_at(headers: CaseInsensitiveDict) -> float:
    value = headers.get("X-RateLimit-Reset", "")
    return float(value) if value.strip().isdigit() else time.time() + SECONDARY_LIMIT_WAIT_S


def _next_link(response: HttpResponse) -> str | None:
    value = CaseInsensitiveDict(response.headers).get("Link")
    if not value:
        return None
    return next((link["url"] for link in parse_header_links(value) if link.get("rel") == "next"), None)


def _time_params(since: datetime | None, until: datetime | None) -> dict[str, str]:
    params = {}
    if since is not None:
        params["since"] = _iso(since)
    if until is not None:
        params["until"] = _iso(until)
    return params


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _json_list(response: HttpResponse, source: str) -> list[dict]:
    try:
        document = json.loads(response.content)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise FetchError(source, f"GitHub answered {response.url} with something other than JSON") from None
    if not isinstance(document, list):
        raise FetchError(source, f"GitHub answered {response.url} with a {type(document).__name__}, not a list")
    return document


def _commit(item: dict, source: str) -> Commit:
    try:
        return Commit(sha=str(item["sha"]), committed_at=parse_timestamp(item["commit"]["committer"]["date"]))
    except (KeyError, TypeError, ValueError):
        raise FetchError(source, f"unexpected commit object from GitHub: {str(item)[:200]}") from None
