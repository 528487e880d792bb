"""An emulated GitHub on the local test server: the REST commit listing and the raw file host.

``/api/repos/{owner}/{repo}/commits?path=&since=&until=&per_page=&page=`` lists the registered commits that
touched ``path`` (newest first, filtered by committer date, at most ``page_size`` per page) with a ``Link``
header whose ``next`` points at ``/api/repositories/{id}/commits?…&page=N``, as GitHub's does.
``/raw/{owner}/{repo}/{sha}/{path}`` serves the file at a commit (404 for commits without a file).
Scripted replies (``script``) answer a path first, once each, e.g. a 403 rate-limit answer.
"""

from __future__ import annotations

import json
import re
import zlib
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.http_server import FixtureServer, Reply

LISTING = re.compile(r"^/api/(?:repos/(?P<repo>[^/]+/[^/]+)|repositories/(?P<id>\d+))/commits$")
RAW = re.compile(r"^/raw/(?P<repo>[^/]+/[^/]+)/(?P<sha>[0-9a-f]{40})/(?P<path>.+)$")


class GitHubEmulator(FixtureServer):
    def __init__(self, page_size: int = 3) -> None:
        super().__init__()
        self.page_size = page_size
        self.commits: dict[tuple[str, str], list[tuple[str, datetime]]] = {}
        self.files: dict[tuple[str, str, str], bytes] = {}
        self.scripts: dict[str, list[Reply]] = {}

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    @property
    def raw_url(self) -> str:
        return f"{self.url}/raw"

    def add_commit(self, repo: str, path: str, sha: str, committed_at: str, content: bytes | None) -> None:
        moment = datetime.fromisoformat(committed_at.replace("Z", "+00:00")).astimezone(UTC)
        self.commits.setdefault((repo, path), []).append((sha, moment))
        if content is not None:
            self.files[(repo, sha, path)] = content

    def script(self, path: str, *replies: Reply) -> None:
        self.scripts[path] = list(replies)

    def requests_to(self, prefix: str) -> list[tuple[str, dict[str, str]]]:
        return [(path, headers) for _, path, headers in self.requests if path.startswith(prefix)]

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        path = urlsplit(handler.path).path
        if self.scripts.get(path):
            self.requests.append((handler.command, handler.path, dict(handler.headers)))
            return _send(handler, self.scripts[path].pop(0))
        listing, raw = LISTING.match(path), RAW.match(path)
        if not (listing or raw):
            return super()._answer(handler)
        self.requests.append((handler.command, handler.path, dict(handler.headers)))
        if listing:
            repo = listing.group("repo") or self._repo_of(int(listing.group("id")))
            return _send(handler, self._listing(repo, parse_qs(urlsplit(handler.path).query)))
        content = self.files.get((raw.group("repo"), raw.group("sha"), raw.group("path")))
        _send(handler, Reply(200, content) if content is not None else Reply(404, b"404: Not Found"))

    def _listing(self, repo: str, query: dict[str, list[str]]) -> Reply:
        arg = {key: values[0] for key, values in query.items()}
        since, until = _moment(arg.get("since")), _moment(arg.get("until"))
        commits = sorted(
            ((sha, moment) for sha, moment in self.commits.get((repo, arg.get("path", "")), [])
             if (since is None or moment >= since) and (until is None or moment <= until)),
            key=lambda item: item[1], reverse=True)
        per_page = min(int(arg.get("per_page", "30")), self.page_size)
        page = int(arg.get("page", "1"))
        body = [_commit_json(repo, sha, moment) for sha, moment in commits[(page - 1) * per_page: page * per_page]]
        headers = {"Content-Type": "application/json; charset=utf-8", "X-RateLimit-Limit": "60",
                   "X-RateLimit-Remaining": "59", "X-RateLimit-Reset": "4102444800"}
        if page * per_page < len(commits):
            following = urlencode({**{k: v for k, v in arg.items() if k != "page"}, "page": page + 1})
            headers["Link"] = f'<{self.api_url}/repositories/{_repo_id(repo)}/commits?{following}>; rel="next"'
        return Reply(200, json.dumps(body).encode(), headers)

    def _repo_of(self, repo_id: int) -> str:
        return next(repo for repo, _ in self.commits if _repo_id(repo) == repo_id)


def _repo_id(repo: str) -> int:
    return zlib.crc32(repo.encode())


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def _commit_json(repo: str, sha: str, moment: datetime) -> dict:
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    person = {"name": "emulated", "email": "emulated@example.invalid", "date": stamp}
    return {"sha": sha, "commit": {"author": person, "committer": person, "message": "emulated commit"},
            "html_url": f"https://github.com/{repo}/commit/{sha}", "parents": []}


def _send(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
    handler.send_response(reply.status)
    for name, value in reply.headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(reply.body)))
    handler.end_headers()
    try:
        handler.wfile.write(reply.body)
        handler.wfile.flush()
    except (BrokenPipeError, ConnectionResetError):
        pass
