"""The ingestion flow: fetch -> parse -> extract -> store, one transaction per source.

For each source the flow downloads the feed or listing page(s), then each
linked article (conditional GET against what the last run saw), extracts the
body with trafilatura (the feed's own summary is the fallback), and finally
saves the documents, the fetch state and the source's status together in one
transaction. A crash loses only the sources not yet committed, and because
documents are keyed by canonical URL and content hash, running again finishes
the rest without duplicates.

Sources on the same host run one after another (the fetcher also spaces out
requests per host); different hosts run concurrently up to the fetcher's
global limit. Nothing here raises for a bad source: every failure ends up in
that source's :class:`SourceReport`.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from . import store
from .canonical import NotHttpURL, canonical_url, host_of
from .errors import FetchError
from .extraction import extract_article
from .feeds import listing_links, next_page, parse_feed
from .fetch import ACCEPT_FEED, ACCEPT_HTML, Fetcher, FetchResult
from .language import detect_language
from .records import Document
from .sources import FetchSettings, Source

#: Source outcomes. "ok" and "warning" count as working for exit codes.
OK, WARNING, PARTIAL, ERROR = "ok", "warning", "partial", "error"


@dataclass
class SourceReport:
    source_id: str
    status: str = OK
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    not_modified: int = 0  # articles (or the whole feed) answered 304
    failed: int = 0  # articles that could not be stored in full
    skipped: int = 0  # entries with nothing to store (no link nor text, a PDF, a page without text)
    error: str | None = None  # one line, recorded in sources.last_error
    problems: list[str] = field(default_factory=list)  # every problem, one line each
    seconds: float = 0.0

    @property
    def worked(self) -> bool:
        return self.status in (OK, WARNING)

    def summary(self) -> str:
        counts = f"{self.new} new, {self.updated} updated, {self.unchanged} unchanged, {self.not_modified} not modified"
        if self.failed:
            counts += f", {self.failed} failed"
        line = f"{self.source_id}: {self.status}, {counts}"
        return f"{line}: {self.error}" if self.error else line

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class IngestReport:
    sources: list[SourceReport] = field(default_factory=list)
    requests: int = 0

    @property
    def n_new(self) -> int:
        return sum(r.new for r in self.sources)

    @property
    def n_updated(self) -> int:
        return sum(r.updated for r in self.sources)

    @property
    def n_failed(self) -> int:
        return sum(not r.worked for r in self.sources)

    @property
    def exit_code(self) -> int:
        """0 when every source worked, 2 when none did, 1 in between."""
        if not self.sources or self.n_failed == 0:
            return 0
        return 2 if self.n_failed == len(self.sources) else 1

    @property
    def status(self) -> str:
        return {0: "ok", 1: "partial", 2: "failed"}[self.exit_code]


Progress = Callable[[str, Source, SourceReport | None], None]


@dataclass
class _Candidate:
    """Something a feed or listing points at."""

    link: str | None
    title: str | None = None
    published: str | None = None
    summary: str | None = None


@dataclass
class _Article:
    """One article URL fetched and extracted (shared by every source that links to it)."""

    final_url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    status: int | None = None
    not_modified: bool = False
    text: str | None = None
    title: str | None = None
    published: str | None = None
    error: str | None = None  # the fetch failed: worth trying again next run
    unreadable: str | None = None  # fetched, but no text in it (a PDF, a script-only page)


@dataclass
class _Item:
    link: str | None  # canonical link, the key of its fetch state
    document: Document | None = None
    article: _Article | None = None  # set when the article was fetched and read
    not_modified: bool = False
    error: str | None = None  # set with a document when only the fallback text was stored
    skipped: str | None = None  # why nothing could be stored (not a failure: retrying cannot help)


@dataclass
class _Collected:
    pages: list[tuple[str, FetchResult]] = field(default_factory=list)  # (canonical page URL, result)
    candidates: list[_Candidate] = field(default_factory=list)
    items: list[_Item] = field(default_factory=list)
    not_modified: bool = False
    complete: bool = True  # every entry was seen: safe to remember the page validators
    problem: str | None = None


def _one_line(text: object, limit: int = 500) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _iso_date(value: str | None) -> str | None:
    """trafilatura's date (YYYY-MM-DD) or None when it is not one."""
    if value and len(value) >= 10 and value[4] == "-" and value[7] == "-":
        return value[:10]
    return None


class _Run:
    def __init__(self, db, fetcher: Fetcher, *, limit: int | None, pages: int, progress: Progress | None):
        self.db = db
        self.fetcher = fetcher
        self.limit = limit
        self.pages = max(1, pages)
        self.progress = progress
        # The same article linked from two sources in one run is fetched once.
        self._articles: dict[str, asyncio.Task] = {}

    # -- fetching (no writes) -----------------------------------------------------

    async def collect(self, source: Source) -> _Collected:
        if source.kind == "feed":
            collected = await self._collect_feed(source)
        else:
            collected = await self._collect_listing(source)
        if collected.not_modified:
            return collected
        collected.items = list(await asyncio.gather(*(self._item(c, source) for c in collected.candidates)))
        return collected

    async def _collect_feed(self, source: Source) -> _Collected:
        page = canonical_url(source.url)
        validators = store.conditional_headers_for(self.db, page, needs_document=False)
        result = await self.fetcher.fetch(source.url, accept=ACCEPT_FEED, **validators)
        collected = _Collected(pages=[(page, result)])
        if result.not_modified:
            collected.not_modified = True
            return collected
        feed = parse_feed(result.content, url=result.final_url, content_type=result.content_type)
        entries = feed.entries
        if self.limit is not None and len(entries) > self.limit:
            entries, collected.complete = entries[: self.limit], False
        collected.problem = feed.problem
        collected.candidates = [_Candidate(e.url, e.title, e.published, e.summary) for e in entries]
        return collected

    async def _collect_listing(self, source: Source) -> _Collected:
        collected = _Collected()
        candidates: dict[str, _Candidate] = {}
        url, seen = source.url, set()
        for number in range(self.pages):
            page = canonical_url(url)
            seen.add(page)
            # Back-fill reads the later pages, so page 1 must come whole: no 304 then.
            validators = (
                store.conditional_headers_for(self.db, page, needs_document=False)
                if self.pages == 1
                else {}
            )
            try:
                result = await self.fetcher.fetch(url, accept=ACCEPT_HTML, **validators)
            except FetchError as exc:
                if number == 0:
                    raise
                collected.problem, collected.complete = f"page {number + 1} ({url}): {exc}", False
                break
            collected.pages.append((page, result))
            if result.not_modified:
                collected.not_modified = True
                break
            html = result.text()
            links = listing_links(html, url=result.final_url, selector=source.links or "a")
            if number == 0 and not links:
                raise FetchError(f"no article links match the selector {source.links!r} on {result.final_url}")
            for link in links:
                try:
                    key = canonical_url(link.url)
                except NotHttpURL:
                    continue
                candidates.setdefault(key, _Candidate(link.url, link.text))
            if self.limit is not None and len(candidates) >= self.limit:
                break
            if number + 1 < self.pages:
                following = next_page(html, url=result.final_url, selector=source.next)
                if not following or canonical_url(following) in seen:
                    break
                url = following
        chosen = list(candidates.values())
        if self.limit is not None and len(chosen) > self.limit:
            chosen, collected.complete = chosen[: self.limit], False
        collected.candidates = chosen
        return collected

    async def _item(self, candidate: _Candidate, source: Source) -> _Item:
        if not candidate.link:
            if candidate.summary:
                return _Item(link=None, document=self._document(candidate.summary, candidate, source, None, None))
            return _Item(link=None, skipped="an entry had neither a link nor any text")
        try:
            link = canonical_url(candidate.link)
        except NotHttpURL:
            return _Item(link=None, skipped=f"an entry links to {candidate.link[:100]!r}, not an http(s) URL")
        if link not in self._articles:
            validators = store.conditional_headers_for(self.db, link, needs_document=True)
            self._articles[link] = asyncio.ensure_future(self._read_article(candidate.link, validators))
        article = await asyncio.shield(self._articles[link])
        if article.not_modified:
            return _Item(link=link, article=article, not_modified=True)
        if article.error:
            return self._fallback(link, candidate, source, article.error)
        text = article.text
        if candidate.summary and (not text or len(text) < len(candidate.summary)):
            text = candidate.summary  # a paywall or script page yields less than the feed's own text
        if not text:
            return _Item(link=link, article=article, skipped=_one_line(f"{candidate.link}: {article.unreadable}"))
        document = self._document(text, candidate, source, article.final_url or link, article)
        return _Item(link=link, document=document, article=article)

    async def _read_article(self, url: str, validators: dict) -> _Article:
        """Fetch and extract one article; only the extracted text is kept, not the page."""
        try:
            result = await self.fetcher.fetch(url, accept=ACCEPT_HTML, **validators)
        except FetchError as exc:
            return _Article(error=str(exc))
        try:
            final = canonical_url(result.final_url)
        except NotHttpURL:
            final = None
        article = _Article(
            final_url=final,
            etag=result.etag,
            last_modified=result.last_modified,
            status=result.status,
            not_modified=result.not_modified,
        )
        if result.not_modified:
            return article
        if not result.is_html:
            article.unreadable = f"not an HTML page ({(result.content_type or 'unknown type').split(';')[0]})"
            return article
        # trafilatura is CPU work; it runs inline because the database connection and
        # trafilatura's caches are used from this one thread only.
        try:
            extracted = extract_article(result.text(), url=result.final_url)
        except Exception as exc:  # hostile HTML must not take the source down
            extracted, article.unreadable = None, f"extraction failed ({type(exc).__name__}: {exc})"
        if extracted:
            article.text, article.title = extracted.text, extracted.title
            article.published = _iso_date(extracted.published)
        else:
            article.unreadable = article.unreadable or "no article text found"
        return article

    def _fallback(self, link: str, candidate: _Candidate, source: Source, reason: str) -> _Item:
        """The article could not be read: keep the feed's summary (if any) and report it."""
        error = _one_line(f"{candidate.link}: {reason}")
        if candidate.summary:
            return _Item(link=link, document=self._document(candidate.summary, candidate, source, link, None), error=error)
        return _Item(link=link, error=error)

    @staticmethod
    def _document(text: str, candidate: _Candidate, source: Source, url: str | None, article: _Article | None) -> Document:
        return Document(
            text=text,
            title=candidate.title or (article.title if article else None),
            url=url,
            published=candidate.published or (article.published if article else None),
            source_id=source.id,
            source_name=source.name,
            language=detect_language(text),
            fetched_at=store.utc_now(),
        )

    # -- saving (one transaction, no awaits) ---------------------------------------

    def save(self, source: Source, collected: _Collected, report: SourceReport) -> None:
        failures: list[str] = []
        with self.db.atomic():
            store.save_source(self.db, source.as_row())
            notes: list[str] = []
            for item in collected.items:
                if item.skipped:
                    report.skipped += 1
                    notes.append(item.skipped)
                    if item.link and item.article is not None:
                        # Remembered with its validators: next time a 304 skips it quietly.
                        self._remember_article(
                            item, source, final_url=item.article.final_url, status="skipped", error=item.skipped
                        )
                    continue
                if item.not_modified:
                    report.not_modified += 1
                    # The status stays what it was ("ok", "skipped"): the page is as we left it.
                    store.save_fetch_state(self.db, item.link, http_status=304)
                    continue
                if item.document is not None:
                    try:
                        with self.db.atomic():
                            document_id, status = store.save_document(self.db, item.document)
                    except sqlite3.Error as exc:
                        item.error = _one_line(f"{item.document.url}: cannot store: {exc}")
                    else:
                        setattr(report, status, getattr(report, status) + 1)
                        if item.link and item.error is None and item.article is not None:
                            self._remember_article(
                                item,
                                source,
                                final_url=item.document.url,
                                status="ok",
                                document_id=document_id,
                                changed=status != "unchanged",
                            )
                if item.error:
                    report.failed += 1
                    failures.append(item.error)
                    if item.link:
                        store.save_fetch_state(self.db, item.link, source_id=source.id, kind="article", status="error", error=item.error)
            complete = collected.complete and not failures and not collected.problem
            for number, (page, result) in enumerate(collected.pages):
                remember = complete and number == 0 and len(collected.pages) == 1
                store.save_fetch_state(
                    self.db,
                    page,
                    changed=not result.not_modified,
                    source_id=source.id,
                    kind=source.kind,
                    final_url=result.final_url,
                    # Validators only when every entry was handled: otherwise a 304 next
                    # time would hide the entries that still need work.
                    etag=result.etag if remember else None,
                    last_modified=result.last_modified if remember else None,
                    http_status=result.status,
                    status="not_modified" if result.not_modified else "ok",
                    error=None,
                )
            problems = [p for p in (collected.problem,) if p]
            if notes:
                problems.append(f"{len(notes)} entries skipped, first: {notes[0]}")
            report.problems = problems + failures
            if failures:
                report.status = PARTIAL
                total = len(collected.items) - report.skipped
                report.error = _one_line(f"{len(failures)} of {total} articles failed; first: {failures[0]}")
            elif problems:
                report.status = WARNING
                report.error = _one_line("; ".join(problems))
            else:
                report.status = OK
            store.record_source_status(self.db, source.id, ok=report.worked, status=report.status, error=report.error)

    def _remember_article(
        self,
        item: _Item,
        source: Source,
        *,
        final_url: str | None,
        status: str,
        error: str | None = None,
        document_id: int | None = None,
        changed: bool = False,
    ) -> None:
        """Store an article page's validators so the next run's conditional GET can skip it."""
        store.save_fetch_state(
            self.db,
            item.link,
            changed=changed,
            source_id=source.id,
            kind="article",
            final_url=final_url,
            etag=item.article.etag,
            last_modified=item.article.last_modified,
            http_status=item.article.status,
            status=status,
            error=error,
            document_id=document_id,
        )

    def save_failure(self, source: Source, report: SourceReport, reason: str) -> None:
        report.status, report.error = ERROR, _one_line(reason)
        report.problems = [report.error]
        with self.db.atomic():
            store.save_source(self.db, source.as_row())
            page = canonical_url(source.url)
            store.save_fetch_state(self.db, page, source_id=source.id, kind=source.kind, status="error", error=report.error)
            store.record_source_status(self.db, source.id, ok=False, status=ERROR, error=report.error)

    # -- driving -------------------------------------------------------------------

    async def one(self, source: Source) -> SourceReport:
        report = SourceReport(source_id=source.id)
        started = time.monotonic()
        if self.progress:
            self.progress("start", source, None)
        try:
            collected = await self.collect(source)
        except FetchError as exc:
            self.save_failure(source, report, str(exc))
        except NotHttpURL as exc:
            self.save_failure(source, report, str(exc))
        except Exception as exc:  # one broken source must not stop the others
            self.save_failure(source, report, f"unexpected {type(exc).__name__}: {exc}")
        else:
            self.save(source, collected, report)
        report.seconds = round(time.monotonic() - started, 3)
        if self.progress:
            self.progress("done", source, report)
        return report

    async def host_group(self, sources: list[Source]) -> list[SourceReport]:
        # One source at a time per host: each commits before the next starts.
        return [await self.one(source) for source in sources]


def _by_host(sources: list[Source]) -> list[list[Source]]:
    groups: dict[str, list[Source]] = {}
    for source in sources:
        groups.setdefault(host_of(source.url), []).append(source)
    return list(groups.values())


async def ingest_async(
    db,
    sources: list[Source],
    settings: FetchSettings,
    *,
    limit: int | None = None,
    pages: int = 1,
    progress: Progress | None = None,
    transport=None,
) -> IngestReport:
    async with Fetcher(settings, transport=transport) as fetcher:
        run = _Run(db, fetcher, limit=limit, pages=pages, progress=progress)
        groups = await asyncio.gather(*(run.host_group(group) for group in _by_host(sources)))
        requests = fetcher.stats["requests"]
    order = {s.id: i for i, s in enumerate(sources)}
    reports = sorted((r for group in groups for r in group), key=lambda r: order[r.source_id])
    return IngestReport(sources=reports, requests=requests)


def ingest(
    db,
    sources: list[Source],
    settings: FetchSettings | None = None,
    *,
    limit: int | None = None,
    pages: int = 1,
    progress: Progress | None = None,
    transport=None,
) -> IngestReport:
    """Fetch and store every source; each source's work is committed in its own transaction."""
    return asyncio.run(
        ingest_async(db, sources, settings or FetchSettings(), limit=limit, pages=pages, progress=progress, transport=transport)
    )
