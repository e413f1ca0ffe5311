"""A feed-and-article server on several loopback addresses (a helper, not a benchmark).

Listens on ``127.0.0.x`` addresses only (one port, one listener per address), so a
fetcher that spaces out requests per host sees each address as its own host. Every
answer can be delayed (``latency``); feeds and articles carry an ETag and Last-Modified
and answer a matching conditional GET with 304. Each request is logged with its host
and time, so a benchmark can check the fetcher kept its per-host delay.
"""

from __future__ import annotations

import hashlib
import threading
import time
from email.utils import formatdate
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LAST_MODIFIED = formatdate(1_750_000_000, usegmt=True)


class Site:
    """What the server answers: ``feeds[k]`` is a list of entries ``{"title", "summary",
    "article"}`` where ``article`` is None (the entry keeps its summary) or the text of a
    page served at ``/article-<k>-<j>.html``."""

    def __init__(self, feeds: dict[int, list[dict]], *, latency: float = 0.0):
        self.feeds = feeds
        self.latency = latency
        self.log: list[tuple[str, str, float, int]] = []  # (host, path, monotonic time, status)
        self.lock = threading.Lock()

    def feed(self, host: str, k: int) -> bytes:
        items = []
        for j, entry in enumerate(self.feeds[k]):
            link = f"<link>http://{host}/article-{k}-{j}.html</link>" if entry.get("article") else ""
            items.append(
                f"<item><title>{escape(entry['title'])}</title>{link}"
                f"<description>{escape(entry.get('summary') or '')}</description>"
                f"<pubDate>{formatdate(1_700_000_000 + 86400 * (k * 50 + j), usegmt=True)}</pubDate></item>"
            )
        return (
            f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Feed {k}</title>'
            f"<link>http://{host}/</link>{''.join(items)}</channel></rss>"
        ).encode()

    def article(self, k: int, j: int) -> bytes:
        entry = self.feeds[k][j]
        paragraphs = "".join(f"<p>{escape(p)}</p>" for p in entry["article"].split("\n\n"))
        return (
            f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(entry['title'])}</title></head>"
            f"<body><nav><a href='/'>Home</a></nav><article><h1>{escape(entry['title'])}</h1>{paragraphs}</article>"
            f"<footer>Bench footer</footer></body></html>"
        ).encode()


def _handler(site: Site):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def do_GET(self):  # noqa: N802
            host = self.headers.get("Host", "")
            arrived = time.monotonic()
            if site.latency:
                time.sleep(site.latency)
            path = self.path.split("?")[0]
            body, kind = None, "text/html; charset=utf-8"
            try:
                if path.startswith("/feed-") and path.endswith(".xml"):
                    body, kind = site.feed(host, int(path[6:-4])), "application/rss+xml; charset=utf-8"
                elif path.startswith("/article-") and path.endswith(".html"):
                    k, j = path[9:-5].split("-")
                    body = site.article(int(k), int(j))
            except (KeyError, IndexError, ValueError):
                body = None
            status = 200 if body is not None else 404
            etag = f'"{hashlib.sha1(body).hexdigest()[:16]}"' if body is not None else None
            if body is not None and self.headers.get("If-None-Match") == etag:
                status = 304
            with site.lock:
                site.log.append((host, path, arrived, status))
            self.send_response(status)
            if etag:
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", LAST_MODIFIED)
            if status == 200:
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_header("Content-Length", "0")
                self.end_headers()

    return Handler


class LoopbackServers:
    """``with LoopbackServers(site, n_hosts) as hosts:`` -> ``["127.0.0.2:PORT", ...]``."""

    def __init__(self, site: Site, n_hosts: int, *, first: int = 2):
        self.site = site
        self.addresses = [f"127.0.0.{first + i}" for i in range(n_hosts)]
        self.servers: list[ThreadingHTTPServer] = []

    def __enter__(self) -> list[str]:
        handler = _handler(self.site)
        port = 0
        for address in self.addresses:
            server = ThreadingHTTPServer((address, port), handler)
            server.daemon_threads = True
            port = server.server_address[1]
            self.servers.append(server)
            threading.Thread(target=server.serve_forever, daemon=True).start()
        return [f"{a}:{port}" for a in self.addresses]

    def __exit__(self, *exc) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


def min_gap_per_host(log: list[tuple[str, str, float, int]], since: float = 0.0) -> float:
    """The shortest time between two requests arriving at the same host (inf if none)."""
    by_host: dict[str, list[float]] = {}
    for host, _, at, _ in log:
        if at >= since:
            by_host.setdefault(host, []).append(at)
    gaps = [b - a for times in by_host.values() for a, b in zip(sorted(times), sorted(times)[1:])]
    return min(gaps) if gaps else float("inf")
