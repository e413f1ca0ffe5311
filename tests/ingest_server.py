"""A real HTTP server on 127.0.0.1 for the ingestion tests: fixture files plus fault paths.

Files under ``corpus/fixtures/`` are served at their relative path, with an
ETag and Last-Modified (and 304 for a matching conditional GET), gzip for
feeds when the client asks for it. Paths under ``/fault/`` misbehave on
purpose; ``/gen/`` makes feeds and articles of any size on the fly (for the
kill test); ``/mirror/`` serves the same bytes as the path without it.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).resolve().parent.parent / "corpus" / "fixtures"
LAST_MODIFIED = "Mon, 02 Jun 2025 08:00:00 GMT"

TYPES = {
    ".xml": "application/rss+xml; charset=utf-8",
    ".rdf": "application/rdf+xml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}
# The GBK listing declares its charset only in a meta tag; one notice says so in the header too.
TYPE_OVERRIDES = {
    "/zh/list.html": "text/html",
    "/zh/list-2.html": "text/html",
    "/zh/notice-1.html": "text/html; charset=ISO-8859-1",  # a lying server default: the meta tag wins
    "/zh/notice-2.html": "text/html; charset=GBK",
    "/zh/notice-3.html": "text/html",
}


def generated_article(feed: int, item: int) -> bytes:
    paras = "".join(
        f"<p>Generated notice {feed}-{item}, paragraph {p}: the regulator reviewed platform lending "
        f"practices in batch {feed} and asked lenders to report item {item} figures by quarter end, "
        f"with reference code G{feed:03d}{item:03d}{p}.</p>"
        for p in range(1, 5)
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Generated notice {feed}-{item}</title></head>"
        f"<body><nav><a href='/'>Home</a></nav><article><h1>Generated notice {feed}-{item}</h1>{paras}</article>"
        f"<footer>Fixture footer</footer></body></html>"
    ).encode()


def generated_feed(feed: int, n: int) -> bytes:
    items = "".join(
        f"<item><title>Generated notice {feed}-{i}</title><link>/gen/article-{feed}-{i}.html</link>"
        f"<pubDate>Mon, 02 Jun 2025 0{i % 10}:00:00 GMT</pubDate></item>"
        for i in range(1, n + 1)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Generated {feed}</title>{items}</channel></rss>'.encode()


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # clients hang up on purpose here
        pass


class FixtureServer:
    def __init__(self) -> None:
        self.hits: Counter = Counter()
        self.log: list[tuple[str, int, float]] = []  # (path, status, time)
        self.overrides: dict[str, bytes] = {}  # path -> body served instead of the file
        self.gen_delay = 0.0  # seconds before each /gen/ article answers
        self.robots_status: int | None = None  # answer /robots.txt with this status instead
        self.requested = threading.Event()  # set when `watch` is requested
        self.watch: str | None = None
        self.lock = threading.Lock()
        self.httpd = _QuietServer(("127.0.0.1", 0), _Handler)
        self.httpd.owner = self
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def start(self) -> "FixtureServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def reset(self) -> None:
        with self.lock:
            self.hits.clear()
            self.log.clear()

    def statuses(self, path: str) -> list[int]:
        return [status for p, status, _ in self.log if p == path]

    def record(self, path: str, status: int) -> None:
        with self.lock:
            self.log.append((path, status, time.monotonic()))

    def body(self, path: str) -> bytes | None:
        if path in self.overrides:
            return self.overrides[path]
        if path.startswith("/mirror/"):
            path = path[len("/mirror"):]
        file = (FIXTURES / path.lstrip("/")).resolve()
        if FIXTURES not in file.parents or not file.is_file():
            return None
        return file.read_bytes()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    @property
    def owner(self) -> FixtureServer:
        return self.server.owner

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
        # Logged before answering: the client may look at the log as soon as it has the answer.
        self.owner.record(self.path_only, status)
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304 and body:
            self.wfile.write(body)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        self.path_only = path = parts.path
        owner = self.owner
        with owner.lock:
            owner.hits[path] += 1
            n = owner.hits[path]
        if owner.watch and path == owner.watch:
            owner.requested.set()
        if path == "/robots.txt" and owner.robots_status:
            return self._send(owner.robots_status, b"robots says no", {"Content-Type": "text/plain"})
        if path.startswith("/fault/"):
            return self._fault(path, n)
        if path.startswith("/gen/"):
            return self._generated(path, parse_qs(parts.query))
        body = owner.body(path)
        if body is None:
            return self._send(404, b"not found", {"Content-Type": "text/plain"})
        suffix = Path(path).suffix
        ctype = TYPE_OVERRIDES.get(path.replace("/mirror", "", 1), TYPES.get(suffix, "application/octet-stream"))
        self._static(body, ctype, gzip_ok=suffix in (".xml", ".rdf"))

    def _static(self, body: bytes, ctype: str, *, gzip_ok: bool = False) -> None:
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        headers = {"Content-Type": ctype, "ETag": etag, "Last-Modified": LAST_MODIFIED}
        if self.headers.get("If-None-Match") == etag:
            return self._send(304, headers=headers)
        if gzip_ok and "gzip" in (self.headers.get("Accept-Encoding") or ""):
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        self._send(200, body, headers)

    def _generated(self, path: str, query: dict) -> None:
        name = Path(path).stem
        if name.startswith("feed-"):
            feed = int(name.split("-")[1])
            n = int(query.get("n", ["3"])[0])
            return self._static(generated_feed(feed, n), "application/rss+xml")
        if name.startswith("article-"):
            _, feed, item = name.split("-")
            time.sleep(self.owner.gen_delay)
            return self._static(generated_article(int(feed), int(item)), "text/html; charset=utf-8")
        self._send(404, b"not found")

    def _fault(self, path: str, n: int) -> None:
        flaky = self.owner.body("/feeds/flaky.xml")
        if path == "/fault/500-then-ok.xml":
            if n == 1:
                return self._send(500, b"oops", {"Content-Type": "text/plain"})
            return self._static(flaky, TYPES[".xml"])
        if path == "/fault/429.xml":
            if n == 1:
                return self._send(429, b"slow down", {"Content-Type": "text/plain", "Retry-After": "1"})
            return self._static(flaky, TYPES[".xml"])
        if path == "/fault/503-date.xml":
            if n == 1:
                when = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 3))
                return self._send(503, b"maintenance", {"Content-Type": "text/plain", "Retry-After": when})
            return self._static(flaky, TYPES[".xml"])
        if path == "/fault/always-500.xml":
            return self._send(500, b"oops", {"Content-Type": "text/plain"})
        if path == "/fault/slow.xml":
            time.sleep(3)
            return self._static(flaky, TYPES[".xml"])
        if path == "/fault/drip.xml":  # headers at once, then a byte at a time: only a total timeout stops it
            self.owner.record(path, 200)
            self.send_response(200)
            self.send_header("Content-Type", TYPES[".xml"])
            self.send_header("Content-Length", str(len(flaky)))
            self.end_headers()
            try:
                for i in range(len(flaky)):
                    self.wfile.write(flaky[i : i + 1])
                    self.wfile.flush()
                    time.sleep(0.05)
            except OSError:
                pass
            return
        if path == "/fault/drop.xml":  # close without a response
            self.owner.record(path, 0)
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if path == "/fault/huge.xml":  # streamed without Content-Length, over any small cap
            self.owner.record(path, 200)
            self.send_response(200)
            self.send_header("Content-Type", TYPES[".xml"])
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"<!-- " + b"x" * 16_000 + b" -->\n"
            try:
                for _ in range(40):
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass
            return
        if path == "/fault/huge-declared.xml":
            return self._send(200, b"x" * 300_000, {"Content-Type": TYPES[".xml"]})
        if path == "/fault/loop-a":
            return self._send(302, b"", {"Location": "/fault/loop-b"})
        if path == "/fault/loop-b":
            return self._send(301, b"", {"Location": self.owner.url("/fault/loop-a")})
        if path == "/fault/to-ftp":
            return self._send(302, b"", {"Location": "ftp://127.0.0.1/feed.xml"})
        if path == "/fault/redirect-ok":
            return self._send(301, b"", {"Location": "/feeds/rss1.rdf"})
        if path == "/fault/pdf":
            return self._send(200, b"%PDF-1.4 not really", {"Content-Type": "application/pdf"})
        self._send(404, b"no such fault")


#: Download limits small enough for fast tests (the defaults wait seconds, on purpose).
# Timeouts leave room for a loaded test machine; /fault/slow.xml sleeps 3 s, past read_timeout.
FAST = {
    "timeout": 5.0,
    "connect_timeout": 2.0,
    "read_timeout": 1.0,
    "per_host_delay": 0,
    "retries": 1,
    "backoff": 0.01,
    "max_retry_wait": 0.3,
    "max_bytes": 200_000,
    "max_redirects": 3,
}


def sources_toml(base: str, entries: list[dict], **fetch) -> str:
    """A sources file for ``entries`` (paths are made absolute against ``base``)."""
    lines = ["[fetch]"]
    for key, value in {**FAST, **fetch}.items():
        lines.append(f"{key} = {value!r}".replace("'", '"').replace("True", "true").replace("False", "false"))
    for entry in entries:
        entry = {"name": entry["id"], "kind": "feed", "language": "en", **entry}
        entry["url"] = base + entry["url"] if entry["url"].startswith("/") else entry["url"]
        lines.append("\n[[source]]")
        for key, value in entry.items():
            if isinstance(value, bool):
                lines.append(f"{key} = {'true' if value else 'false'}")
            else:
                lines.append(f"{key} = '{value}'")
    return "\n".join(lines) + "\n"


#: Every fixture source of the end-to-end tests: the good ones first, then the faults.
GOOD = [
    {"id": "rss2", "url": "/feeds/rss2.xml"},
    {"id": "rss1", "url": "/feeds/rss1.rdf"},
    {"id": "atom", "url": "/feeds/atom.xml"},
    {"id": "gbk-listing", "url": "/zh/list.html", "kind": "listing", "language": "zh", "links": "div.list a"},
    {"id": "second-outlet", "url": "/feeds/dup.xml"},
    {"id": "flaky-500", "url": "/fault/500-then-ok.xml"},
    {"id": "throttled-429", "url": "/fault/429.xml"},
]
WARNED = [
    {"id": "malformed", "url": "/feeds/malformed.xml"},
]
PARTIAL = [
    {"id": "page-gone", "url": "/feeds/partial.xml"},
]
BAD = {
    "html-not-feed": ("/feeds/not-a-feed.xml", "expected a feed but got an HTML page"),
    "read-timeout": ("/fault/slow.xml", "read timed out"),
    "dropped": ("/fault/drop.xml", "connection dropped"),
    "too-big": ("/fault/huge.xml", "byte cap"),
    "redirect-loop": ("/fault/loop-a", "redirect loop"),
    "robots-disallow": ("/private/feed.xml", "robots.txt disallows"),
    "ftp-redirect": ("/fault/to-ftp", "non-http(s) URL"),
    "always-500": ("/fault/always-500.xml", "HTTP 500"),
}
ALL = GOOD + WARNED + PARTIAL + [{"id": k, "url": v[0]} for k, v in BAD.items()]
