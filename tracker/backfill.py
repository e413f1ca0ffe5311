"""Back-fill: analyse JSON Lines archives in partitions, here or on a Dask cluster.

An archive has one JSON object per line, ``{"url", "title", "published", "text",
"source"}`` (only ``text`` is required), and may be gzipped. Every archive is checked
line by line before anything is analysed: a bad line stops the back-fill with one line
naming ``FILE:LINE`` and the problem, and nothing is stored.

Each archive is cut into partitions of ``partition_size`` lines, keyed by the SHA-256
of the file's bytes and the partition's index. A worker parses and analyses a
partition and returns plain records (``Document``, ``Analysis``), never spaCy objects.
This process is the only writer: it stores each partition in one transaction, its
documents (de-duplicated by URL and content hash, as everywhere), their analyses and a
``backfill_partitions`` row saying it is done. A back-fill killed half-way keeps every
partition it finished; run it again and those are skipped.

Engines: ``local`` analyses the partitions in this process, one after another;
``dask`` sends them to a ``dask.distributed`` cluster, a ``LocalCluster`` on this
machine by default or any running scheduler (``scheduler="tcp://host:8786"``).
Results come back in any order but are written in partition order, so both engines
store identical tables (ids included). Dask is imported here and nowhere else.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from . import store
from .canonical import NotHttpURL, canonical_url
from .documents import parse_date, slugify
from .errors import BackfillError, InputError, TrackerError
from .index import update_index
from .language import detect_language
from .library import init_db
from .nightly import run_lock
from .records import Analysis, Document

ENGINES = ("local", "dask")
#: Lines per partition: big enough that a task outweighs its scheduling, small enough
#: that a crash loses little and a partition's records fit easily in memory.
DEFAULT_PARTITION_SIZE = 1000
#: The source id of records without a "source".
DEFAULT_SOURCE = "archive"
_GZIP_MAGIC = b"\x1f\x8b"


# --- reading archives ---------------------------------------------------------


def _open_text(path: Path):
    with open(path, "rb") as handle:
        gzipped = handle.read(2) == _GZIP_MAGIC
    if gzipped:
        return gzip.open(path, "rt", encoding="utf-8", newline="\n")
    return open(path, encoding="utf-8", newline="\n")


def file_hash(path: Path) -> str:
    """SHA-256 of the file's bytes (as stored: a gzipped archive is hashed compressed)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def parse_record(line: str, *, where: str) -> Document | None:
    """The document of one archive line (None for a blank line); ``where`` is ``FILE:LINE``."""
    if not line.strip():
        return None
    try:
        row = json.loads(line.rstrip("\r\n"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: not valid JSON ({exc.msg} column {exc.colno})") from None
    if not isinstance(row, dict):
        raise InputError(f"{where}: expected a JSON object")
    text = row.get("text")
    if not isinstance(text, str) or not text.strip():
        raise InputError(f'{where}: "text" must be a non-empty string')
    for key in ("url", "title", "published", "source"):
        if row.get(key) is not None and not isinstance(row[key], str):
            raise InputError(f'{where}: "{key}" must be a string or null')
    url = (row.get("url") or "").strip() or None
    if url:
        try:
            url = canonical_url(url)
        except NotHttpURL:
            pass  # kept as given: an archive may hold its own identifiers
    published = (row.get("published") or "").strip() or None
    if published:
        try:
            published = parse_date(published, what='"published"')
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None
    source = (row.get("source") or "").strip()
    return Document(
        text=text.strip(),
        title=(row.get("title") or "").strip() or None,
        url=url,
        published=published,
        source_id=slugify(source) if source else DEFAULT_SOURCE,
        source_name=source or None,
        language=detect_language(text),
    )


@dataclass
class Archive:
    """One archive file, checked: its hash, its number of lines and records."""

    path: Path
    name: str  # as given on the command line
    file_hash: str
    n_lines: int
    n_records: int


def check_archive(path: str | Path) -> Archive:
    """Read every line of an archive once, hashing the file; the first bad line raises
    :class:`InputError` naming ``FILE:LINE``."""
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise InputError(f"no such archive: {name}")
    n_lines = n_records = 0
    try:
        with _open_text(path) as handle:
            for n_lines, line in enumerate(handle, start=1):
                if parse_record(line, where=f"{name}:{n_lines}") is not None:
                    n_records += 1
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise InputError(f"{name}:{n_lines + 1}: cannot read the archive ({exc})") from None
    return Archive(path=path, name=name, file_hash=file_hash(path), n_lines=n_lines, n_records=n_records)


@dataclass
class Partition:
    """A run of lines of one archive: what a worker gets."""

    archive: str
    file_hash: str
    index: int
    first_line: int
    lines: list[str] = field(repr=False)

    def row(self, engine: str) -> dict:
        return {
            "file_hash": self.file_hash, "partition": self.index, "archive": self.archive,
            "first_line": self.first_line, "n_lines": len(self.lines), "engine": engine,
        }


def partitions(archive: Archive, size: int, skip: set[int] = frozenset()) -> Iterator[Partition]:
    """The partitions of an archive, read lazily; those in ``skip`` are passed over unread."""
    with _open_text(archive.path) as handle:
        index = 0
        while True:
            if index in skip:
                if next(islice(handle, size - 1, size), None) is None:
                    return
                index += 1
                continue
            lines = list(islice(handle, size))
            if not lines:
                return
            yield Partition(archive.name, archive.file_hash, index, index * size + 1, lines)
            index += 1


# --- the work of one partition (runs on a worker) ---------------------------------


def analyse_partition(
    lines: list[str], *, archive: str, first_line: int, model_dir: str | None = None
) -> list[tuple[Document, Analysis]]:
    """Parse and analyse a partition's lines: ``(Document, Analysis)`` per record, in order."""
    # Imported here (also on Dask workers): `tracker backfill -h` need not load spaCy.
    from .analysis import analyse_texts, publication_year
    from .training import load_model

    documents = []
    for number, line in enumerate(lines, start=first_line):
        document = parse_record(line, where=f"{archive}:{number}")
        if document is not None:
            documents.append(document)
    analyses: list[Analysis | None] = [None] * len(documents)
    by_language: dict[str, list[int]] = {}
    for i, document in enumerate(documents):
        by_language.setdefault(document.language or "en", []).append(i)
    for language, positions in by_language.items():
        model = load_model(language, model_dir if language == "en" else None)
        texts = [documents[i].text for i in positions]
        years = [publication_year(documents[i].published) for i in positions]
        for i, analysis in zip(positions, analyse_texts(texts, language=language, model=model, reference_years=years)):
            analyses[i] = analysis
    return list(zip(documents, analyses))


# --- engines --------------------------------------------------------------------


@dataclass
class BackfillReport:
    engine: str
    archives: list[Archive] = field(default_factory=list)
    partitions: int = 0  # in all archives
    skipped: int = 0  # stored by an earlier run
    stored: int = 0  # stored by this run
    records: int = 0  # analysed by this run
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    index: dict = field(default_factory=dict)
    seconds: float = 0.0


#: ``progress(report, partition, counts)`` after each partition is stored.
Progress = Callable[[BackfillReport, Partition, dict], None]


def _run_local(work: Iterator[Partition], write: Callable, model_dir: str | None) -> None:
    for partition in work:
        write(partition, analyse_partition(
            partition.lines, archive=partition.archive, first_line=partition.first_line, model_dir=model_dir
        ))


def _dask_client(scheduler: str | None, workers: int | None):
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise BackfillError("--engine dask needs dask.distributed: pip install 'tracker[dask]'") from None
    if scheduler:
        try:
            return Client(scheduler, timeout=30), None
        except (OSError, TimeoutError) as exc:
            raise BackfillError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    cluster = LocalCluster(
        n_workers=workers or os.cpu_count() or 1,
        threads_per_worker=1,  # spaCy and scikit-learn hold the GIL: one process per core
        processes=True,
        dashboard_address=None,
    )
    return Client(cluster), cluster


def _run_dask(work: Iterator[Partition], write: Callable, model_dir: str | None, scheduler: str | None, workers: int | None) -> None:
    from dask.distributed import as_completed

    client, cluster = _dask_client(scheduler, workers)
    try:
        n_workers = max(1, len(client.scheduler_info().get("workers", {})))
        window = 2 * n_workers + 1  # partitions submitted and not yet written, at most
        queued = iter(enumerate(work))
        futures, waiting, next_to_write = {}, {}, 0
        results = as_completed()

        def submit() -> None:
            for seq, partition in islice(queued, max(0, window - len(futures) - len(waiting))):
                future = client.submit(
                    analyse_partition, partition.lines, archive=partition.archive, first_line=partition.first_line,
                    model_dir=model_dir, pure=False, key=f"tracker-backfill-{partition.file_hash[:16]}-{partition.index}",
                )
                futures[future] = (seq, partition)
                results.add(future)

        submit()
        for future in results:
            seq, partition = futures.pop(future)
            try:
                waiting[seq] = (partition, future.result())
            except TrackerError:
                raise
            except Exception as exc:
                raise BackfillError(
                    f"{partition.archive}: partition {partition.index} (line {partition.first_line}) failed on the "
                    f"cluster: {type(exc).__name__}: {exc}"
                ) from None
            # Written in partition order, whatever order they finish in: the same ids as the local engine.
            while next_to_write in waiting:
                write(*waiting.pop(next_to_write))
                next_to_write += 1
            submit()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def backfill(
    db_path: str | Path,
    archives: list[str | Path],
    *,
    engine: str = "local",
    scheduler: str | None = None,
    workers: int | None = None,
    partition_size: int = DEFAULT_PARTITION_SIZE,
    model_dir: str | Path | None = None,
    progress: Progress | None = None,
) -> BackfillReport:
    """Analyse and store every record of ``archives`` not stored by an earlier run, then
    bring the stance index up to date. Holds the database's run lock throughout."""
    if engine not in ENGINES:
        raise InputError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if partition_size < 1:
        raise InputError("partition size must be at least 1")
    if not archives:
        raise InputError("no archives given")
    started = time.perf_counter()
    report = BackfillReport(engine=engine)
    report.archives = [check_archive(path) for path in archives]  # every line, before any work
    model = str(Path(model_dir).resolve()) if model_dir else None
    with run_lock(db_path):
        db = init_db(db_path)
        try:
            todo: list[tuple[Archive, set[int]]] = []
            for archive in report.archives:
                total = -(-archive.n_lines // partition_size)
                done = {i for i in store.done_partitions(db, archive.file_hash) if i < total}
                report.partitions += total
                report.skipped += len(done)
                todo.append((archive, done))
            work = (p for archive, done in todo for p in partitions(archive, partition_size, done))

            def write(partition: Partition, records: list[tuple[Document, Analysis]]) -> None:
                counts = store.save_partition(db, partition.row(engine), records)
                report.stored += 1
                report.records += len(records)
                for key, value in counts.items():
                    setattr(report, key, getattr(report, key) + value)
                if progress:
                    progress(report, partition, counts)

            if engine == "local":
                _run_local(work, write, model)
            else:
                _run_dask(work, write, model, scheduler, workers)
            build = update_index(db)
            report.index = {"mode": build.mode, "n_documents": build.n_documents, "seconds": round(build.seconds, 3)}
            store.checkpoint(db)
        finally:
            db.close()
    report.seconds = time.perf_counter() - started
    return report
