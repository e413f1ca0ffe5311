"""The httpx adapter: the only module that touches the network.

A polite, bounded fetcher for feeds and pages:

* http and https only, checked again on every redirect; at most
  ``max_redirects`` hops, and a loop is an error;
* connect, read and total timeouts; the body is read as a stream and cut off
  past ``max_bytes`` (after gzip/deflate decoding, so a small compressed bomb
  cannot blow up either);
* robots.txt fetched once per host and honoured (RFC 9309), including its
  Crawl-delay up to ``max_retry_wait``;
* one request at a time per host with ``per_host_delay`` between them, and at
  most ``concurrency`` requests in flight overall;
* retries with exponential backoff on connection errors, 408, 429 and 5xx,
  honouring Retry-After (seconds or an HTTP date) up to ``max_retry_wait``;
  a timeout is retried once at most;
* conditional GET: give the stored ETag and Last-Modified, get
  ``not_modified`` back on 304 without a body;
* the charset from the BOM, the Content-Type header or the page's own
  declaration, with GB2312 and GBK read as their superset GB18030.

Everything runs on asyncio; :class:`Fetcher` is an async context manager.
Tests inject tiny delays through :class:`~tracker.sources.FetchSettings` and
may inject an httpx transport.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from .canonical import host_of, is_http_url
from .charsets import decode_body
from .errors import FetchError
from .sources import FetchSettings

ACCEPT_FEED = "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
ACCEPT_HTML = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
ROBOTS_MAX_BYTES = 512_000  # RFC 9309 asks crawlers to read at least 500 KiB
_RETRY_STATUSES = {408, 429, 500, 502, 503, 504}


class BlockedByRobots(FetchError):
    """robots.txt forbids the URL (a policy, not a fault: never retried)."""


class GaveUp(FetchError):
    """Retries used up; ``status`` is the last HTTP status, or None when the server never answered."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass
class FetchResult:
    url: str  # as asked
    final_url: str  # after redirects
    status: int  # 200..299, or 304 with not_modified
    headers: dict[str, str]
    content: bytes = b""
    not_modified: bool = False
    attempts: int = 1

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")

    @property
    def is_html(self) -> bool:
        kind = (self.content_type or "").split(";")[0].strip().lower()
        if kind in ("text/html", "application/xhtml+xml", "") or kind.startswith("text/"):
            return True
        # Simple servers label extension-less pages application/octet-stream: look at the bytes.
        head = self.content[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
        return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<!--")) or b"<html" in head

    def text(self) -> str:
        return decode_body(self.content, self.content_type)[0]


# --- robots.txt ---------------------------------------------------------------


def _robots_pattern(path: str) -> re.Pattern:
    anchored = path.endswith("$")
    body = unquote(path[:-1] if anchored else path)
    regex = ".*".join(re.escape(part) for part in body.split("*"))
    return re.compile(regex + ("$" if anchored else ""), re.S)


@dataclass
class Robots:
    """The rules of one robots.txt that apply to our user agent."""

    rules: list[tuple[int, bool, re.Pattern]] = field(default_factory=list)  # (length, allow, pattern)
    crawl_delay: float | None = None
    disallow_all: bool = False  # robots.txt unreachable (5xx, network error): crawl nothing
    reason: str | None = None

    @classmethod
    def parse(cls, text: str, agent: str) -> "Robots":
        agent = agent.lower()
        groups: list[tuple[list[str], list[tuple[str, str]]]] = []
        in_rules = True
        for raw in text.splitlines():
            line = raw.split("#", 1)[0].strip()
            if ":" not in line:
                continue
            key, value = (part.strip() for part in line.split(":", 1))
            key = key.lower()
            if key in ("user-agent", "useragent"):
                if in_rules:  # a user-agent line after rules starts a new group
                    groups.append(([], []))
                    in_rules = False
                groups[-1][0].append(value.lower())
            elif key in ("allow", "disallow", "crawl-delay") and groups:
                in_rules = True
                groups[-1][1].append((key, value))
        # RFC 9309: the group naming our product token (case-insensitively), else the "*" groups.
        mine = [g for g in groups if agent in g[0]]
        chosen = mine or [g for g in groups if "*" in g[0]]
        robots = cls()
        for _, lines in chosen:
            for key, value in lines:
                if key == "crawl-delay":
                    try:
                        robots.crawl_delay = max(robots.crawl_delay or 0.0, float(value))
                    except ValueError:
                        pass
                elif value:  # an empty Disallow allows everything
                    robots.rules.append((len(value), key == "allow", _robots_pattern(value)))
        return robots

    def allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        path = unquote(parts.path or "/") + (f"?{unquote(parts.query)}" if parts.query else "")
        if path == "/robots.txt":
            return True
        if self.disallow_all:
            return False
        best: tuple[int, bool] | None = None
        for length, allow, pattern in self.rules:
            if pattern.match(path) and (best is None or (length, allow) > best):
                best = (length, allow)  # longest match wins; on a tie, allow wins
        return True if best is None else best[1]


# --- the fetcher ----------------------------------------------------------------


class _Host:
    def __init__(self) -> None:
        self.lock = asyncio.Lock()  # one request at a time per host
        self.free_at = 0.0  # monotonic time before which the host gets no new request
        self.crawl_delay: float | None = None  # from its robots.txt


class _Origin:
    def __init__(self) -> None:
        self.lock = asyncio.Lock()  # one robots.txt fetch per origin, however many callers
        self.robots: Robots | None = None


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None, *, timeout: bool = False, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        self.timeout = timeout  # a server that timed out once rarely answers fast the next time
        self.status = status  # the HTTP status, when the server did answer


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (a number of seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now if now is not None else datetime.now(timezone.utc).timestamp()
    return max(0.0, when.timestamp() - now)


def _reason(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


class Fetcher:
    """Polite HTTP GETs; use as ``async with Fetcher(settings) as f: await f.fetch(url)``."""

    def __init__(self, settings: FetchSettings | None = None, *, transport: httpx.AsyncBaseTransport | None = None):
        self.settings = settings or FetchSettings()
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._hosts: dict[str, _Host] = {}
        self._origins: dict[str, _Origin] = {}
        self._slots: asyncio.Semaphore | None = None
        self.stats: Counter = Counter()
        self._agent_token = self.settings.user_agent.split("/")[0].split()[0].lower()

    async def __aenter__(self) -> "Fetcher":
        s = self.settings
        self._slots = asyncio.Semaphore(s.concurrency)
        self._client = httpx.AsyncClient(
            headers={"User-Agent": s.user_agent, "Accept-Encoding": "gzip, deflate"},
            timeout=httpx.Timeout(s.read_timeout, connect=s.connect_timeout, pool=s.timeout),
            limits=httpx.Limits(max_connections=s.concurrency * 2, max_keepalive_connections=s.concurrency),
            follow_redirects=False,  # we follow them ourselves, checking each hop
            transport=self._transport,
        )
        return self

    async def __aexit__(self, *exc) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _host(self, url: str) -> _Host:
        return self._hosts.setdefault(host_of(url), _Host())

    # -- public ------------------------------------------------------------------

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = ACCEPT_HTML,
        max_bytes: int | None = None,
    ) -> FetchResult:
        """GET ``url``, following redirects; raises :class:`FetchError` with a one-line reason."""
        if not is_http_url(url):
            raise FetchError(f"not an http(s) URL: {url[:200]}")
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        seen = {url}
        current = url
        for _ in range(self.settings.max_redirects + 1):
            if self.settings.robots:
                await self._check_robots(current)
            result, location = await self._get(current, headers, max_bytes or self.settings.max_bytes)
            if location is None:
                result.url = url
                return result
            target = urljoin(current, location.strip())
            if not is_http_url(target):
                raise FetchError(f"redirect from {current} to a non-http(s) URL: {target[:200]}")
            if target in seen:
                raise FetchError(f"redirect loop: {target} was already visited")
            seen.add(target)
            current = target
        raise FetchError(f"more than {self.settings.max_redirects} redirects, starting at {url}")

    # -- robots --------------------------------------------------------------------

    async def robots_for(self, url: str) -> Robots:
        """The robots.txt rules for ``url``'s origin, fetched once per run and cached."""
        origin = self._origins.setdefault(f"{urlsplit(url).scheme.lower()}://{host_of(url)}", _Origin())
        async with origin.lock:
            if origin.robots is None:
                origin.robots = await self._load_robots(url)
                if origin.robots.crawl_delay:
                    host = self._host(url)
                    host.crawl_delay = max(host.crawl_delay or 0.0, origin.robots.crawl_delay)
        return origin.robots

    async def _load_robots(self, url: str) -> Robots:
        parts = urlsplit(url)
        robots_url = f"{parts.scheme}://{parts.netloc}/robots.txt"
        current = robots_url
        try:
            for _ in range(5):  # RFC 9309: follow at least five redirects
                result, location = await self._get(current, {"Accept": "text/plain, */*;q=0.5"}, ROBOTS_MAX_BYTES, robots=True)
                if location is None:
                    break
                current = urljoin(current, location.strip())
                if not is_http_url(current):
                    return Robots()
            else:
                return Robots()
        except _RobotsMissing:
            return Robots()  # 4xx: no robots.txt, everything allowed
        except GaveUp as exc:
            if exc.status:  # RFC 9309: a server error on robots.txt means "crawl nothing"
                return Robots(disallow_all=True, reason=f"robots.txt unreachable ({exc}), so nothing on this host is fetched")
            return Robots(disallow_all=True, reason=f"{exc} (reading robots.txt)")
        except FetchError as exc:
            return Robots(disallow_all=True, reason=f"robots.txt unreadable ({exc}), so nothing on this host is fetched")
        return Robots.parse(result.text(), self._agent_token)

    async def _check_robots(self, url: str) -> None:
        robots = await self.robots_for(url)
        if not robots.allowed(url):
            raise BlockedByRobots(robots.reason or f"robots.txt disallows {url}")

    # -- one URL, with retries -----------------------------------------------------

    async def _get(
        self, url: str, headers: dict[str, str], max_bytes: int, *, robots: bool = False
    ) -> tuple[FetchResult, str | None]:
        s = self.settings
        host = self._host(url)
        async with host.lock:
            attempt = 0
            while True:
                attempt += 1
                delay = s.per_host_delay
                if host.crawl_delay:
                    delay = max(delay, min(host.crawl_delay, s.max_retry_wait))
                wait = host.free_at - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                try:
                    assert self._slots is not None
                    async with self._slots:
                        self.stats["requests"] += 1
                        return await self._get_once(url, headers, max_bytes, attempt, robots=robots)
                except _Retryable as exc:
                    if attempt > (min(s.retries, 1) if exc.timeout else s.retries):
                        raise GaveUp(f"{exc.message} (gave up after {attempt} attempts)", exc.status) from None
                    self.stats["retries"] += 1
                    if exc.retry_after is not None:
                        pause = min(exc.retry_after, s.max_retry_wait)
                    else:
                        pause = min(s.backoff * 2 ** (attempt - 1) * (1 + random.random() * 0.1), s.max_retry_wait)
                    # Keep the host lock while backing off: a host that asked us to slow down
                    # gets nothing else from us meanwhile.
                    host.free_at = max(host.free_at, time.monotonic() + pause)
                finally:
                    host.free_at = max(host.free_at, time.monotonic() + delay)

    async def _get_once(
        self, url: str, headers: dict[str, str], max_bytes: int, attempt: int, *, robots: bool
    ) -> tuple[FetchResult, str | None]:
        s = self.settings
        assert self._client is not None
        try:
            async with asyncio.timeout(s.timeout):
                request = self._client.build_request("GET", url, headers=headers)
                response = await self._client.send(request, stream=True)
                try:
                    return await self._read(response, url, max_bytes, attempt, robots=robots)
                finally:
                    await response.aclose()
        except TimeoutError:
            raise _Retryable(f"no complete response within {s.timeout:g} s", timeout=True) from None
        except httpx.ConnectTimeout:
            raise _Retryable(f"connect timed out after {s.connect_timeout:g} s", timeout=True) from None
        except httpx.ReadTimeout:
            raise _Retryable(f"read timed out after {s.read_timeout:g} s", timeout=True) from None
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timed out ({_reason(exc)})", timeout=True) from None
        except httpx.ConnectError as exc:
            raise _Retryable(f"cannot connect to {host_of(url)}: {_reason(exc)}") from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            raise _Retryable(f"connection dropped: {_reason(exc)}") from None
        except httpx.DecodingError as exc:
            raise FetchError(f"cannot decode the response body: {_reason(exc)}") from None
        except httpx.HTTPError as exc:
            raise FetchError(f"request failed: {_reason(exc)}") from None

    async def _read(
        self, response: httpx.Response, url: str, max_bytes: int, attempt: int, *, robots: bool
    ) -> tuple[FetchResult, str | None]:
        status = response.status_code
        headers = {k.lower(): v for k, v in response.headers.items()}
        result = FetchResult(url=url, final_url=url, status=status, headers=headers, attempts=attempt)
        if status in (301, 302, 303, 307, 308):
            location = headers.get("location")
            if not location:
                raise FetchError(f"HTTP {status} redirect without a Location header at {url}")
            return result, location
        if status == 304:
            result.not_modified = True
            return result, None
        if status in _RETRY_STATUSES:
            raise _Retryable(
                f"HTTP {status} {response.reason_phrase}".strip(), parse_retry_after(headers.get("retry-after")), status=status
            )
        if robots and 400 <= status < 500:
            raise _RobotsMissing()
        if status >= 400:
            raise FetchError(f"HTTP {status} {response.reason_phrase}".strip() + f" at {url}")
        if status >= 300:
            raise FetchError(f"unexpected HTTP {status} at {url}")
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise FetchError(f"body of {int(declared)} bytes is over the {max_bytes}-byte cap at {url}")
        body = bytearray()
        async for chunk in response.aiter_bytes():  # decoded (gunzipped) bytes: the cap holds after inflation
            body += chunk
            if len(body) > max_bytes:
                raise FetchError(f"body over the {max_bytes}-byte cap at {url}; cut off")
        self.stats["bytes"] += len(body)
        result.content = bytes(body)
        return result, None


class _RobotsMissing(Exception):
    """robots.txt answered 4xx: there are no rules."""
