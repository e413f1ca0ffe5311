"""Concurrent fetching: 100 feeds from a local server that answers each request after 100 ms.

`python -m bench fetch_speed`. The feeds are spread over 20 loopback hosts (127.0.0.2 to
127.0.0.21, five feeds each), and ``tracker ingest`` (the library call, robots.txt included)
fetches them twice into fresh databases: once with one request in flight at a time (the
baseline: one by one) and once concurrently. Both keep a per-host delay, and the server's
log checks it: no host ever sees two requests closer together than the delay.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.local_server import LoopbackServers, Site, min_gap_per_host
from tracker import library
from tracker.ingest import ingest
from tracker.sources import FetchSettings, Source

N_FEEDS = 100
N_HOSTS = 20
LATENCY = 0.1  # seconds before the server answers any request
DELAY = 0.1  # per_host_delay: seconds between the end of one request to a host and the next
TARGET = 8.0


def _site() -> Site:
    feeds = {
        k: [{"title": f"Notice {k}-{j} on consumer lending", "summary":
             f"The regulator published notice {k}-{j} on online consumer lending and asked platforms to report.",
             "article": None} for j in range(3)]
        for k in range(N_FEEDS)
    }
    return Site(feeds, latency=LATENCY)


def _run(site: Site, hosts: list[str], folder: Path, name: str, concurrency: int, delay: float) -> tuple[float, float, int]:
    sources = [
        Source(id=f"feed-{k}", name=f"Feed {k}", kind="feed", url=f"http://{hosts[k % len(hosts)]}/feed-{k}.xml", language="en")
        for k in range(N_FEEDS)
    ]
    settings = FetchSettings(per_host_delay=delay, concurrency=concurrency, retries=0)
    db = library.init_db(folder / f"{name}.db")
    mark = time.monotonic()
    started = time.perf_counter()
    report = ingest(db, sources, settings)
    seconds = time.perf_counter() - started
    db.close()
    assert report.n_failed == 0, [r.summary() for r in report.sources if not r.worked]
    return seconds, min_gap_per_host(site.log, since=mark), report.requests


def main() -> None:
    site = _site()
    with tempfile.TemporaryDirectory(prefix="tracker-bench-") as tmp, LoopbackServers(site, N_HOSTS) as hosts:
        folder = Path(tmp)
        serial, serial_gap, requests = _run(site, hosts, folder, "serial", 1, DELAY)
        concurrent, gap, _ = _run(site, hosts, folder, "concurrent", N_HOSTS, DELAY)
        default_delay, default_gap, _ = _run(site, hosts, folder, "default-delay", N_HOSTS, FetchSettings().per_host_delay)
    ratio = serial / concurrent
    print(f"{N_FEEDS} feeds on {N_HOSTS} loopback hosts, {requests} requests (robots.txt included), "
          f"server latency {LATENCY * 1000:.0f} ms, per-host delay {DELAY:g} s")
    print(f"{'one by one (concurrency 1)':<40}{serial:>8.2f} s  {N_FEEDS / serial:>6.1f} feeds/s   1.00x")
    print(f"{f'concurrent (concurrency {N_HOSTS})':<40}{concurrent:>8.2f} s  {N_FEEDS / concurrent:>6.1f} feeds/s  "
          f"{ratio:5.2f}x faster (target >= {TARGET:g}x: {'PASS' if ratio >= TARGET else 'FAIL'})")
    print(f"shortest gap between two requests to one host: {serial_gap * 1000:.0f} ms one by one, "
          f"{gap * 1000:.0f} ms concurrent (delay {DELAY * 1000:.0f} ms + latency: "
          f"{'kept' if min(gap, serial_gap) >= DELAY else 'NOT KEPT'})")
    print(f"context: with the default per-host delay ({FetchSettings().per_host_delay:g} s) the concurrent run takes "
          f"{default_delay:.2f} s ({serial / default_delay:.2f}x the one-by-one run; shortest gap "
          f"{default_gap * 1000:.0f} ms): five feeds on a host need four delays whatever the concurrency")


if __name__ == "__main__":
    main()
