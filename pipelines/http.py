"""The one HTTP client every source uses.

Timeouts, retries with exponential backoff and jitter (urllib3's Retry, honouring Retry-After) on
connection errors, 429 and 5xx, a cap on the decoded response size (which also stops gzip bombs),
same-host redirects only, and a User-Agent naming the project. Errors are raised as FetchError with a
one-line message naming the source and the cause; API keys never appear in them.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

USER_AGENT = "inference-margins/0.1 (+https://github.com/inference-margins; price warehouse)"
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
RETRY_STATUSES = (429, 500, 502, 503, 504)
_MAX_REDIRECTS = 5


class FetchError(Exception):
    """A fetch failed; the message names the source and the cause."""

    def __init__(self, source: str, message: str, status: int | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(f"{source}: {message}")
        self.source = source
        self.status = status
        self.headers = headers or {}


class CappedRetry(Retry):
    """urllib3's Retry, but a server's Retry-After is honoured only up to ``max_retry_after`` seconds, so an API
    answering "come back in an hour" fails this refresh instead of stalling it."""

    max_retry_after: float = 60.0

    def get_retry_after(self, response) -> float | None:
        retry_after = super().get_retry_after(response)
        return None if retry_after is None else min(retry_after, self.max_retry_after)


@dataclass(frozen=True)
class HttpConfig:
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    retries: int = 4
    backoff_factor: float = 0.5
    backoff_max: float = 30.0
    backoff_jitter: float = 0.25
    max_bytes: int = DEFAULT_MAX_BYTES

    @classmethod
    def from_env(cls) -> HttpConfig:
        """Defaults, overridable by MARGINS_HTTP_CONNECT_TIMEOUT, _READ_TIMEOUT, _RETRIES, _BACKOFF, _MAX_BYTES."""
        def number(name: str, default: float) -> float:
            return float(os.environ.get(f"MARGINS_HTTP_{name}", default))

        defaults = cls()
        return cls(
            connect_timeout=number("CONNECT_TIMEOUT", defaults.connect_timeout),
            read_timeout=number("READ_TIMEOUT", defaults.read_timeout),
            retries=int(number("RETRIES", defaults.retries)),
            backoff_factor=number("BACKOFF", defaults.backoff_factor),
            max_bytes=int(number("MAX_BYTES", defaults.max_bytes)),
        )


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove secrets and key-like query parameters from a URL or message."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _USERINFO_PASSWORD.sub(r"\1:***@", text)
    return re.sub(r"(?i)((?:api_?key|key|token|access_token)=)[^&\s]+", r"\1***", text)


def rebase_link(source: str, link: str, base: str, default_base: str, what: str = "a pagination link") -> str:
    """A link a paged API returned (a next-page link), for the client configured with ``base``.

    A link on the configured host is followed as it is; one on the API's default host (``default_base``) is
    re-based onto the configured base, so an override (a mirror, a test server) applies to every page; a link to
    any other host is refused, so a key or token never leaves the host it is meant for."""
    target, configured, default = urlsplit(link), urlsplit(base), urlsplit(default_base)
    if (target.hostname, target.port) == (configured.hostname, configured.port):
        return link
    if target.hostname == default.hostname:  # any port: Azure writes https://prices.azure.com:443/…
        return urlunsplit((configured.scheme, configured.netloc, configured.path.rstrip("/") + target.path,
                           target.query, ""))
    raise FetchError(source, f"refused {what} to another host ({target.netloc})")


# the password of a URL's user info (scheme://user:password@host): never stored, logged or printed
_USERINFO_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]*):[^@/\s]*@")


class HttpClient:
    def __init__(self, config: HttpConfig | None = None):
        self.config = config or HttpConfig.from_env()
        retry = CappedRetry(
            total=self.config.retries,
            connect=self.config.retries,
            read=self.config.retries,
            status=self.config.retries,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"GET", "POST", "HEAD"}),
            backoff_factor=self.config.backoff_factor,
            backoff_max=self.config.backoff_max,
            backoff_jitter=self.config.backoff_jitter,
            respect_retry_after_header=True,
            raise_on_status=False,
            redirect=False,
        )
        self.session = requests.Session()
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"})

    def close(self) -> None:
        self.session.close()

    def get(self, source: str, url: str, *, headers: dict[str, str] | None = None,
            params: dict[str, str] | None = None, secrets: tuple[str, ...] = (),
            max_bytes: int | None = None) -> HttpResponse:
        return self.request("GET", source, url, headers=headers, params=params, secrets=secrets,
                            max_bytes=max_bytes)

    def download(self, source: str, url: str, directory: Path, *, headers: dict[str, str] | None = None,
                 secrets: tuple[str, ...] = (), max_bytes: int | None = None) -> HttpResponse:
        """GET streamed to a temp file in ``directory`` (for payloads of hundreds of MB); ``content`` is empty
        and ``path`` names the file. The file is removed again if the download fails."""
        directory.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=".download-", dir=directory)
        path = Path(name)
        try:
            with os.fdopen(handle, "wb") as file:
                response = self.request("GET", source, url, headers=headers, secrets=secrets,
                                        max_bytes=max_bytes, sink=file.write)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return HttpResponse(url=response.url, status=response.status, headers=response.headers, content=b"",
                            path=path, bytes=response.bytes)

    def post(self, source: str, url: str, *, json: object, headers: dict[str, str] | None = None,
             secrets: tuple[str, ...] = ()) -> HttpResponse:
        return self.request("POST", source, url, headers=headers, json=json, secrets=secrets)

    def request(self, method: str, source: str, url: str, *, headers: dict[str, str] | None = None,
                params: dict[str, str] | None = None, json: object = None, secrets: tuple[str, ...] = (),
                max_bytes: int | None = None, sink: Callable[[bytes], object] | None = None) -> HttpResponse:
        limit = max_bytes or self.config.max_bytes
        host = urlsplit(url).netloc
        for _ in range(_MAX_REDIRECTS + 1):
            response = self._send(method, source, url, headers, params, json, secrets)
            if not response.is_redirect:
                return self._read(source, url, response, limit, secrets, sink)
            target = urljoin(url, response.headers.get("Location", ""))
            response.close()
            if urlsplit(target).netloc != host:
                raise FetchError(source, f"refused redirect to another host ({urlsplit(target).netloc})")
            url, params = target, None
        raise FetchError(source, f"too many redirects fetching {redact(url, secrets)}")

    def _send(self, method, source, url, headers, params, json, secrets) -> requests.Response:
        safe_url = redact(url, secrets)
        try:
            return self.session.request(
                method, url, headers=headers, params=params, json=json, stream=True,
                allow_redirects=False, timeout=(self.config.connect_timeout, self.config.read_timeout),
            )
        except requests.exceptions.ConnectTimeout:
            raise FetchError(source, f"connect timeout after retries: {safe_url}") from None
        except requests.exceptions.ReadTimeout:
            raise FetchError(source, f"read timeout after retries: {safe_url}") from None
        except requests.exceptions.RetryError as exc:
            raise FetchError(source, f"gave up after retries ({_cause(exc, secrets)}): {safe_url}") from None
        except requests.exceptions.ConnectionError as exc:
            if "Read timed out" in str(exc):
                raise FetchError(source, f"read timeout after retries: {safe_url}") from None
            if "NameResolutionError" in str(exc) or "Name or service not known" in str(exc):
                raise FetchError(source, f"DNS lookup failed for {urlsplit(url).hostname}: {safe_url}") from None
            raise FetchError(source, f"connection failed ({_cause(exc, secrets)}): {safe_url}") from None
        except requests.exceptions.RequestException as exc:
            raise FetchError(source, f"request failed ({_cause(exc, secrets)}): {safe_url}") from None

    def _read(self, source, url, response, limit, secrets, sink) -> HttpResponse:
        safe_url = redact(url, secrets)
        with response:
            if response.status_code >= 400:
                raise FetchError(source, f"HTTP {response.status_code} from {safe_url}",
                                 status=response.status_code, headers=dict(response.headers))
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and "Content-Encoding" not in response.headers \
                    and int(declared) > limit:
                raise FetchError(source, f"response of {declared} bytes exceeds the {limit}-byte cap")
            chunks: list[bytes] = []
            size = 0
            for chunk in _body_chunks(source, safe_url, response, secrets):
                size += len(chunk)
                if size > limit:
                    raise FetchError(source, f"response exceeds the {limit}-byte cap: {safe_url}")
                (sink or chunks.append)(chunk)
            return HttpResponse(url=safe_url, status=response.status_code, headers=dict(response.headers),
                                content=b"".join(chunks), bytes=size)


@dataclass(frozen=True)
class HttpResponse:
    url: str
    status: int
    headers: dict[str, str]
    content: bytes
    path: Path | None = None     # set by HttpClient.download
    bytes: int = 0


def _body_chunks(source: str, safe_url: str, response: requests.Response, secrets) -> Iterator[bytes]:
    """Decoded body chunks; a connection that breaks or ends early is a FetchError."""
    try:
        yield from response.iter_content(chunk_size=1 << 20)
    except requests.exceptions.RequestException as exc:
        raise FetchError(source, f"truncated or broken body ({_cause(exc, secrets)}): {safe_url}") from None


_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")
_CAUSED_BY = re.compile(r"Caused by \w+\(['\"]?([^'\"()]+)")


def _cause(exc: Exception, secrets: tuple[str, ...]) -> str:
    """The root cause in a few words, to go before the URL (the message's first 100 characters name the source and
    the cause): "Connection refused", "too many 503 error responses", not urllib3's pool and URL preamble."""
    text = redact(str(exc), secrets) if str(exc) else type(exc).__name__
    for pattern in (_ERRNO, _CAUSED_BY):
        match = pattern.search(text)
        if match:
            return match.group(1).strip()[:80]
    return text.splitlines()[0].lstrip("('\"")[:160]
