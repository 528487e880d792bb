"""A real HTTP server on 127.0.0.1 for tests: each path answers with a scripted sequence of responses."""

from __future__ import annotations

import gzip
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0            # sleep before answering (read timeouts)
    truncate_to: int | None = None  # send only this many bytes of a body whose full length is declared
    drip_s: float = 0.0             # pause between 64 KiB chunks (a slow transfer to interrupt)


def fixture_bytes(relative: str) -> bytes:
    path = FIXTURES / relative
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        # a client process that exits (a `margins refresh` run as its own process) resets its idle keep-alive
        # connection: not a failure of the request it made
        if isinstance(sys.exc_info()[1], ConnectionResetError):
            return
        super().handle_error(request, client_address)


class FixtureServer:
    """Routes: path -> list of replies, used in turn; the last one repeats. Records every request."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                server._answer(self)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                server._answer(self)

            def log_message(self, *args) -> None:
                pass

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        # shutdown() waits for the serving loop's next poll: 0.05 s instead of the default 0.5 s per test
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def route(self, path: str, *replies: Reply) -> None:
        self.routes[path] = list(replies)

    def hits(self, path: str) -> int:
        return sum(1 for _, requested, _ in self.requests if requested.split("?")[0] == path)

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        self.requests.append((handler.command, handler.path, dict(handler.headers)))
        replies = self.routes.get(handler.path) or self.routes.get(handler.path.split("?")[0])
        reply = Reply(404, b"not found") if not replies else replies.pop(0) if len(replies) > 1 else replies[0]
        if reply.delay_s:
            time.sleep(reply.delay_s)
        handler.send_response(reply.status)
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(reply.body)))
        handler.end_headers()
        body = reply.body if reply.truncate_to is None else reply.body[: reply.truncate_to]
        step = 65536 if reply.drip_s else max(len(body), 1)
        try:
            for offset in range(0, len(body), step):
                handler.wfile.write(body[offset:offset + step])
                handler.wfile.flush()
                time.sleep(reply.drip_s)
        except (BrokenPipeError, ConnectionResetError):
            pass
        if reply.truncate_to is not None:
            handler.close_connection = True

    def __enter__(self) -> FixtureServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def serve() -> Iterator[FixtureServer]:
    with FixtureServer() as server:
        yield server
