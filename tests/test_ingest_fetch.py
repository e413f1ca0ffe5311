"""The fetcher against a real HTTP server on 127.0.0.1: every fault it must survive."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest
from ingest_server import FAST, FixtureServer

from tracker.errors import FetchError
from tracker.fetch import ACCEPT_FEED, BlockedByRobots, Fetcher
from tracker.sources import FetchSettings

SETTINGS = FetchSettings(**FAST)


@pytest.fixture
def server():
    srv = FixtureServer().start()
    yield srv
    srv.stop()


def fetch(url: str, settings: FetchSettings = SETTINGS, **kwargs):
    async def go():
        async with Fetcher(settings) as fetcher:
            return await fetcher.fetch(url, **kwargs)

    return asyncio.run(go())


def fetch_error(url: str, settings: FetchSettings = SETTINGS) -> str:
    with pytest.raises(FetchError) as caught:
        fetch(url, settings)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_feed_is_fetched_gunzipped_with_validators(server):
    result = fetch(server.url("/feeds/rss2.xml"), accept=ACCEPT_FEED)
    assert result.status == 200 and result.content.startswith(b"<?xml")
    assert result.headers["content-encoding"] == "gzip"  # sent compressed, read decompressed
    assert result.etag and result.last_modified
    assert server.statuses("/robots.txt") == [200]


def test_conditional_get_answers_304_without_a_body(server):
    first = fetch(server.url("/feeds/rss2.xml"))
    again = fetch(server.url("/feeds/rss2.xml"), etag=first.etag, last_modified=first.last_modified)
    assert again.not_modified and again.status == 304 and again.content == b""
    assert server.statuses("/feeds/rss2.xml") == [200, 304]


def test_500_then_success_is_retried(server):
    result = fetch(server.url("/fault/500-then-ok.xml"))
    assert result.status == 200 and result.attempts == 2
    assert server.statuses("/fault/500-then-ok.xml") == [500, 200]


def test_429_waits_for_retry_after(server):
    settings = replace(SETTINGS, max_retry_wait=5.0)
    started = time.monotonic()
    result = fetch(server.url("/fault/429.xml"), settings)
    assert result.status == 200
    times = [t for p, _, t in server.log if p == "/fault/429.xml"]
    assert times[1] - times[0] >= 0.95  # Retry-After: 1
    assert time.monotonic() - started < 4


def test_retry_after_as_an_http_date_and_its_cap(server):
    started = time.monotonic()
    result = fetch(server.url("/fault/503-date.xml"), replace(SETTINGS, max_retry_wait=0.2))
    assert result.status == 200 and time.monotonic() - started < 1.5  # 2-3 s asked, capped at 0.2 s


def test_errors_that_persist_give_up_after_the_retries(server):
    message = fetch_error(server.url("/fault/always-500.xml"), replace(SETTINGS, retries=2))
    assert message.startswith("HTTP 500") and "gave up after 3 attempts" in message
    assert server.statuses("/fault/always-500.xml") == [500, 500, 500]


def test_read_timeout_is_retried_once_at_most(server):
    started = time.monotonic()
    message = fetch_error(server.url("/fault/slow.xml"), replace(SETTINGS, retries=3, read_timeout=0.5))
    assert message == "read timed out after 0.5 s (gave up after 2 attempts)"
    assert server.hits["/fault/slow.xml"] == 2 and time.monotonic() - started < 5


def test_total_timeout_stops_a_slow_drip(server):
    settings = replace(SETTINGS, timeout=0.6, read_timeout=0.5, retries=0)
    assert "no complete response within 0.6 s" in fetch_error(server.url("/fault/drip.xml"), settings)


def test_dropped_connection(server):
    assert "connection dropped" in fetch_error(server.url("/fault/drop.xml"))
    assert server.hits["/fault/drop.xml"] == 2  # retried once


def test_body_over_the_cap_is_cut_off_while_streaming_or_refused_upfront(server):
    assert "over the 200000-byte cap" in fetch_error(server.url("/fault/huge.xml"))
    assert "body of 300000 bytes is over the 200000-byte cap" in fetch_error(server.url("/fault/huge-declared.xml"))


def test_redirects_are_bounded_and_stay_on_http(server):
    assert "redirect loop" in fetch_error(server.url("/fault/loop-a"))
    assert "non-http(s) URL: ftp://" in fetch_error(server.url("/fault/to-ftp"))
    moved = fetch(server.url("/fault/redirect-ok"))
    assert moved.final_url == server.url("/feeds/rss1.rdf") and moved.url == server.url("/fault/redirect-ok")
    assert "more than 0 redirects" in fetch_error(server.url("/fault/redirect-ok"), replace(SETTINGS, max_redirects=0))


def test_only_http_and_https(server):
    assert "not an http(s) URL" in fetch_error("ftp://127.0.0.1/x")
    assert "not an http(s) URL" in fetch_error("file:///etc/passwd")


def test_robots_disallow_is_honoured_and_robots_is_fetched_once(server):
    with pytest.raises(BlockedByRobots, match="robots.txt disallows"):
        fetch(server.url("/private/feed.xml"))

    async def many():
        async with Fetcher(SETTINGS) as fetcher:
            for path in ("/feeds/rss2.xml", "/feeds/rss1.rdf", "/feeds/atom.xml"):
                await fetcher.fetch(server.url(path))

    server.reset()
    asyncio.run(many())
    assert server.hits["/robots.txt"] == 1
    # With robots off (an operator's choice), the same URL is fetched.
    assert fetch(server.url("/private/feed.xml"), replace(SETTINGS, robots=False)).status == 200


def test_robots_txt_missing_allows_all_and_unreachable_blocks_all(server):
    server.robots_status = 404
    assert fetch(server.url("/private/feed.xml")).status == 200
    server.robots_status = 503
    message = fetch_error(server.url("/feeds/rss2.xml"))
    assert message.startswith("robots.txt unreachable (HTTP 503")
    assert server.hits["/feeds/rss2.xml"] == 0


def test_gbk_article_is_decoded(server):
    page = fetch(server.url("/zh/notice-2.html"))
    assert "中国人民银行今日发布" in page.text()
    lying = fetch(server.url("/zh/notice-1.html"))  # header says ISO-8859-1, the page says gb2312
    assert "综合融资成本" in lying.text()


def test_per_host_delay_spaces_requests(server):
    settings = replace(SETTINGS, per_host_delay=0.3)

    async def go():
        async with Fetcher(settings) as fetcher:
            await asyncio.gather(*(fetcher.fetch(server.url(f"/articles/en-{i}.html")) for i in (1, 2, 3)))

    asyncio.run(go())
    times = sorted(t for p, _, t in server.log if p.startswith("/articles/"))
    assert len(times) == 3
    assert all(b - a >= 0.28 for a, b in zip(times, times[1:]))


def test_html_is_recognised_by_its_bytes_when_the_type_lies(server):
    server.overrides["/articles/no-extension"] = server.body("/articles/en-1.html")
    page = fetch(server.url("/articles/no-extension"))
    assert page.content_type == "application/octet-stream" and page.is_html
    assert not fetch(server.url("/fault/pdf")).is_html
