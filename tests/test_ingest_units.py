"""Ingestion building blocks without a network: URLs, the sources file, feeds, charsets, robots."""

from __future__ import annotations

import re
from email.utils import formatdate
from pathlib import Path

import pytest

from tracker.canonical import NotHttpURL, canonical_url, host_of
from tracker.errors import ConfigError, FetchError
from tracker.feeds import listing_links, next_page, parse_feed
from tracker.charsets import decode_body
from tracker.fetch import Robots, parse_retry_after
from tracker.settings import SOURCES_PATH
from tracker.sources import FetchSettings, load_sources, parse_sources

FIXTURES = Path(__file__).resolve().parent.parent / "corpus" / "fixtures"
BASE = "http://news.test"


# --- canonical URLs -----------------------------------------------------------


@pytest.mark.parametrize(
    "url, expected",
    [
        ("HTTP://News.Test:80/a/./b/../c.html#top", "http://news.test/a/c.html"),
        ("https://news.test:443", "https://news.test/"),
        ("https://news.test:8443/x", "https://news.test:8443/x"),
        ("https://news.test/a?utm_source=rss&b=2&a=1&fbclid=x&spm=1.2", "https://news.test/a?a=1&b=2"),
        ("https://news.test/a?utm_medium=feed", "https://news.test/a"),
        ("https://news.test/%7euser/a%20b?q=a+b&r=%2B1", "https://news.test/~user/a%20b?q=a%20b&r=%2B1"),
        ("https://user:pw@news.test/a", "https://news.test/a"),
        ("https://新闻.测试/路径", "https://xn--efvy88h.xn--0zwm56d/%E8%B7%AF%E5%BE%84"),
    ],
)
def test_canonical_url(url, expected):
    assert canonical_url(url) == expected
    assert canonical_url(expected) == expected  # a fixed point


def test_canonical_url_resolves_relative_links_and_rejects_other_schemes():
    assert canonical_url("../b.html?x=1#f", "https://news.test/a/c/index.html") == "https://news.test/a/b.html?x=1"
    for bad in ("ftp://news.test/a", "javascript:alert(1)", "mailto:a@b.c", "/relative/only", "http:///nohost"):
        with pytest.raises(NotHttpURL):
            canonical_url(bad)
    assert host_of("https://News.Test:443/a") == "news.test" and host_of("http://n.test:8080/") == "n.test:8080"


# --- the sources file ---------------------------------------------------------


def test_the_shipped_sources_file_is_valid_and_commented():
    loaded = load_sources(SOURCES_PATH)
    assert len(loaded.sources) >= 12
    kinds = {s.kind for s in loaded.sources}
    languages = {s.language for s in loaded.sources}
    assert kinds == {"feed", "listing"} and languages == {"en", "zh"}
    text = SOURCES_PATH.read_text(encoding="utf-8")
    # Every [[source]] opens with a comment saying what it covers.
    for block in text.split("[[source]]")[1:]:
        assert block.lstrip("\n").startswith("#"), block[:80]
    assert loaded.fetch.user_agent.startswith("tracker/")


def _toml(*sources: str, fetch: str = "") -> str:
    text = f"[fetch]\n{fetch}\n" if fetch else ""
    for body in sources:
        text += f"\n[[source]]\n{body}\n"
    return text


GOOD = 'id = "a"\nname = "A"\nkind = "feed"\nurl = "https://a.test/feed"\nlanguage = "en"'


@pytest.mark.parametrize(
    "text, message",
    [
        (_toml(GOOD, GOOD.replace('"a"', '"b"'), GOOD.replace('"a"', '"x"').replace('"feed"', '"blog"')),
         'seeds/sources.toml: source #3 (id "x"): kind must be "feed" or "listing"'),
        (_toml(GOOD, GOOD), 'seeds/sources.toml: source #2 (id "a"): id already used by source #1'),
        (_toml(GOOD.replace('"en"', '"fr"')), 'seeds/sources.toml: source #1 (id "a"): language must be "en" or "zh"'),
        (_toml(GOOD.replace("https://a.test/feed", "ftp://a.test/feed")), "source #1 (id \"a\"): url must be an http or https URL"),
        (_toml(GOOD.replace('name = "A"\n', "")), 'source #1 (id "a"): name is missing'),
        (_toml(GOOD.replace('"feed"', '"listing"')), "links (a CSS selector for article links) is required for a listing"),
        (_toml(GOOD.replace('"feed"', '"listing"') + '\nlinks = "div[["'), "links is not a valid CSS selector"),
        (_toml(GOOD + '\nlinks = "a"'), "links is only for listing sources"),
        (_toml(GOOD + '\ncolour = "red"'), "unknown key 'colour'"),
        (_toml(GOOD.replace('"a"', '"Not A Slug"')), "id must be a slug"),
        (_toml(GOOD, fetch="timeout = -1"), "[fetch]: timeout must be a number >= 0.001"),
        (_toml(GOOD, fetch="concurrency = 2.5"), "[fetch]: concurrency must be a whole number >= 1"),
        (_toml(GOOD, fetch='proxy = "x"'), "[fetch]: unknown key 'proxy'"),
        ("[[source]\nid=", "seeds/sources.toml: not valid TOML"),
        ("[fetch]\ntimeout = 3\n", "seeds/sources.toml: no [[source]] entries"),
    ],
)
def test_bad_sources_files_name_the_entry(text, message):
    with pytest.raises(ConfigError) as caught:
        parse_sources(text, where="seeds/sources.toml")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_fetch_defaults_and_overrides():
    loaded = parse_sources(_toml(GOOD, fetch="timeout = 5\nper_host_delay = 0\nmax_bytes = 1_000"))
    assert loaded.fetch.timeout == 5.0 and loaded.fetch.read_timeout == 5.0 and loaded.fetch.max_bytes == 1000
    assert loaded.fetch.per_host_delay == 0.0 and loaded.fetch.concurrency == FetchSettings().concurrency
    assert parse_sources(_toml(GOOD)).fetch == FetchSettings()


def test_select_sources_by_id():
    loaded = parse_sources(_toml(GOOD, GOOD.replace('"a"', '"b"') + "\nenabled = false"))
    assert [s.id for s in loaded.select()] == ["a"]
    assert [s.id for s in loaded.select(["b", "a", "b"])] == ["b", "a"]
    with pytest.raises(ConfigError, match="no source with id 'zz'"):
        loaded.select(["zz"])


def test_missing_sources_file(tmp_path):
    with pytest.raises(ConfigError, match="no sources file"):
        load_sources(tmp_path / "nope.toml")


# --- feeds ----------------------------------------------------------------------


def _feed(name: str):
    return parse_feed((FIXTURES / "feeds" / name).read_bytes(), url=f"{BASE}/feeds/{name}")


def test_rss2_entries_with_utc_dates_and_absolute_links():
    feed = _feed("rss2.xml")
    assert feed.version == "rss20" and feed.problem is None
    first, second, third = feed.entries
    assert first.url == f"{BASE}/articles/en-1.html"
    assert first.published == "2025-03-04T01:30:00+00:00"  # 09:30 +0800
    assert second.published == "2025-03-12T04:15:00+00:00"  # 23:15 -0500 the day before
    assert third.published is None  # no pubDate: handled, not guessed
    assert first.summary.startswith("The National Financial Regulatory Administration")


def test_rss1_and_atom():
    rss1 = _feed("rss1.rdf")
    assert rss1.version == "rss10"
    assert [e.published for e in rss1.entries] == ["2025-04-02T02:00:00+00:00", "2025-04-09T10:00:00+00:00"]
    atom = _feed("atom.xml")
    assert atom.version == "atom10"
    assert atom.entries[1].url == f"{BASE}/articles/en-7.html#main"
    assert atom.entries[1].published == "2025-05-06T01:00:00+00:00"
    assert "<p>" not in atom.entries[1].summary  # HTML content turned into text


def test_entries_without_link_or_date_are_kept_as_far_as_they_go():
    entries = _feed("dup.xml").entries
    briefing = entries[2]
    assert briefing.url is None and briefing.published is None
    assert briefing.summary == "Regulators met platform lenders on Friday to discuss fee disclosure.\nNo new rules were announced after the meeting."
    assert entries[3].url is None and entries[3].summary is None


def test_malformed_feed_keeps_its_usable_entries_and_says_why():
    feed = _feed("malformed.xml")
    assert feed.entries[0].url == f"{BASE}/articles/en-8.html"
    assert feed.problem.startswith("malformed feed, kept 2 entries: ") and "mismatched tag" in feed.problem


def test_html_or_nothing_where_a_feed_was_expected_is_an_error():
    with pytest.raises(FetchError, match="expected a feed but got an HTML page"):
        _feed("not-a-feed.xml")
    with pytest.raises(FetchError, match="empty response"):
        parse_feed(b"  \n", url=BASE)
    with pytest.raises(FetchError, match="not an RSS or Atom feed"):
        parse_feed(b'{"json": true}', url=BASE)
    empty = parse_feed(b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>', url=BASE)
    assert empty.entries == [] and empty.problem == "the feed has no entries"


def test_listing_links_are_absolute_unique_and_in_page_order():
    html = (
        '<html><head><base href="/news/"></head><body><div class="list">'
        '<a href="a.html">A</a><a href="a.html#x">A again</a><a href="javascript:void(0)">js</a>'
        '<a href="mailto:x@y.z">mail</a><a href="#top">top</a><li><a href="https://other.test/b">B</a></li>'
        '</div><a href="c.html">outside</a></body></html>'
    )
    links = listing_links(html, url=f"{BASE}/index.html", selector="div.list a")
    assert [l.url for l in links] == [f"{BASE}/news/a.html", "https://other.test/b"]
    assert links[0].text == "A"
    items = listing_links(html, url=f"{BASE}/index.html", selector="div.list li")  # non-links: their first link
    assert [l.url for l in items] == ["https://other.test/b"]


def test_next_page_from_selector_rel_or_words():
    page = f"{BASE}/list.html"
    assert next_page('<a href="list-2.html">下一页</a>', url=page) == f"{BASE}/list-2.html"
    assert next_page('<a rel="next" href="?page=2">2</a>', url=page) == f"{BASE}/list.html?page=2"
    assert next_page('<link rel="next" href="/p/2"><a href="x">y</a>', url=page) == f"{BASE}/p/2"
    assert next_page('<a class="nx" href="p3.html">more</a>', url=page, selector="a.nx") == f"{BASE}/p3.html"
    assert next_page('<a href="list.html">下一页</a><a href="prev.html">上一页</a>', url=page) is None
    assert next_page("<p>no pager</p>", url=page) is None


# --- charsets -------------------------------------------------------------------


def test_gbk_pages_decode_from_meta_header_or_a_guess():
    raw = (FIXTURES / "zh" / "notice-1.html").read_bytes()  # meta: charset=gb2312
    for content_type in ("text/html", "text/html; charset=ISO-8859-1", None):
        text, codec = decode_body(raw, content_type)
        assert codec == "gb18030" and "关于规范互联网平台消费信贷业务的通知" in text
    text, _ = decode_body(raw, "text/html; charset=GBK")
    assert "综合融资成本" in text
    bare = "<p>花呗和借呗的消费信贷</p>".encode("gb18030")  # no declaration at all
    assert decode_body(bare, "text/html") == ("<p>花呗和借呗的消费信贷</p>", "gb18030")
    assert decode_body("<p>utf-8 — ok</p>".encode(), "text/html")[1] == "utf-8"
    assert decode_body(b"\xef\xbb\xbf<p>bom</p>", "text/html; charset=gbk") == ("<p>bom</p>", "utf-8")
    assert decode_body(b"<p>caf\xe9</p>", "text/html; charset=iso-8859-1") == ("<p>café</p>", "cp1252")


# --- robots.txt and Retry-After ---------------------------------------------------


def test_robots_rules_follow_rfc_9309():
    text = (FIXTURES / "robots.txt").read_text()
    robots = Robots.parse(text, "tracker")
    assert robots.allowed(f"{BASE}/feeds/rss2.xml")
    assert not robots.allowed(f"{BASE}/private/feed.xml")
    assert robots.allowed(f"{BASE}/private/public-notice.html")  # the longer Allow wins
    assert not Robots.parse(text, "badbot").allowed(f"{BASE}/feeds/rss2.xml")
    tricky = Robots.parse(
        "User-agent: other\nDisallow: /\n\nUser-agent: tracker\nUser-agent: x\nDisallow: /*.pdf$\n"
        "Disallow: /tmp\nAllow: /tmp\nCrawl-delay: 2\n",
        "tracker",
    )
    assert not tricky.allowed(f"{BASE}/docs/a.pdf") and tricky.allowed(f"{BASE}/docs/a.pdf?x=1")
    assert tricky.allowed(f"{BASE}/tmp/x")  # equal length: allow wins
    assert tricky.crawl_delay == 2.0
    assert Robots.parse("", "tracker").allowed(f"{BASE}/anything")
    assert Robots(disallow_all=True).allowed(f"{BASE}/robots.txt")


def test_retry_after_in_seconds_or_as_a_date():
    assert parse_retry_after("7") == 7.0
    now = 1_750_000_000.0
    assert parse_retry_after(formatdate(now + 30, usegmt=True), now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after(formatdate(now - 30, usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_error_messages_are_one_line():
    feed = _feed("malformed.xml")
    assert not re.search(r"\s{2,}|\n", feed.problem)


def test_a_feed_declaring_gbk_is_not_misread_through_a_default_latin_header():
    xml = '<?xml version="1.0" encoding="gb2312"?><rss version="2.0"><channel><title>t</title><item><title>朱镕基谈金融</title><link>/a</link></item></channel></rss>'
    for content_type in ("text/xml", "text/xml; charset=ISO-8859-1", "application/rss+xml; charset=gbk"):
        feed = parse_feed(xml.encode("gbk"), url=BASE, content_type=content_type)
        assert feed.entries[0].title == "朱镕基谈金融", content_type  # 镕 is in GBK, not GB2312
