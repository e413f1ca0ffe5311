"""Analysis throughput: `tracker analyze` on 5,000 generated documents against spaCy's bare tokenizer.

`python -m bench analysis_speed`. The documents (about 460 words each, see
``bench/synthetic.py``) are stored first (not timed); then the analysis the command runs
(``library.analyze``: sentences, entities, roles, figures, stance of every sentence and
clause, written to the database in bulk) is timed against ``nlp.make_doc`` over the same
texts in a fresh ``spacy.blank("en")``, one pass each, like the analysis makes. A
breakdown (pipeline, stance, store) shows where the time goes, and the same documents
as an archive through `tracker backfill --engine dask` on a 2-worker LocalCluster show
what both cores buy.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import spacy

from bench import synthetic
from tracker import library, nlp, store
from tracker.analysis import _score_sentences, publication_year
from tracker.records import Analysis, Document
from tracker.training import load_model

N_DOCUMENTS = 5000
TARGET = 3.0


def main() -> None:
    records = list(synthetic.documents(N_DOCUMENTS, seed=3))
    texts = [r["text"] for r in records]
    blank = spacy.blank("en")
    started = time.perf_counter()
    words = sum(len(blank.make_doc(text)) for text in texts)
    bare = time.perf_counter() - started
    started = time.perf_counter()
    for text in texts:
        blank.make_doc(text)
    bare_warm = time.perf_counter() - started

    load_model("en")  # loading the models is not analysis: done before the clock starts
    nlp.get_nlp("en").get_pipe("tracker_ner_fallback")._model()
    with tempfile.TemporaryDirectory(prefix="tracker-bench-") as tmp:
        folder = Path(tmp)
        db = library.init_db(folder / "analyze.db")
        with db.atomic():
            for r in records:
                store.save_document(db, Document(text=r["text"], title=r["title"], url=r["url"], published=r["published"],
                                                 source_id=r["source"], language="en"))
        started = time.perf_counter()
        analysed = library.analyze(db)
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        build = library.update_index(db)
        index_seconds = time.perf_counter() - started
        db.close()

        # Where the time goes, on a fifth of the documents.
        part = texts[: N_DOCUMENTS // 5]
        part_words = sum(len(blank.make_doc(t)) for t in part)
        years = [publication_year(r["published"]) for r in records[: len(part)]]
        started = time.perf_counter()
        sentences = list(nlp.analyse_texts(part, "en", reference_years=years))
        pipeline = time.perf_counter() - started
        analyses = [Analysis(language="en", sentences=s) for s in sentences]
        started = time.perf_counter()
        _score_sentences(analyses, load_model("en"))
        scoring = time.perf_counter() - started

        archive = synthetic.write_archive(folder / "archive.jsonl", N_DOCUMENTS, seed=3)
        from tracker.backfill import backfill

        written: list[tuple[float, int]] = []  # (time, records) as each partition is stored

        def stored(report, partition, counts) -> None:
            written.append((time.perf_counter(), sum(counts.values())))

        started = time.perf_counter()
        report = backfill(folder / "dask.db", [archive], engine="dask", workers=2, partition_size=250, progress=stored)
        dask_seconds = time.perf_counter() - started
        steady_docs = sum(n for _, n in written[1:])
        steady = written[-1][0] - written[0][0]
        steady_words = words * steady_docs / N_DOCUMENTS

    assert analysed == N_DOCUMENTS
    ratio = seconds / bare
    print(f"{N_DOCUMENTS} documents, {words} words (spaCy tokens), {words // N_DOCUMENTS} per document")
    print(f"{'bare tokenizer (nlp.make_doc), one pass':<44}{words / bare:>10.0f} words/s {N_DOCUMENTS / bare:>8.0f} docs/s   1.00x")
    print(f"{'  (second pass, tokenizer cache warm)':<44}{words / bare_warm:>10.0f} words/s {N_DOCUMENTS / bare_warm:>8.0f} docs/s")
    print(f"{'tracker analyze (library.analyze)':<44}{words / seconds:>10.0f} words/s {N_DOCUMENTS / seconds:>8.1f} docs/s "
          f"{ratio:6.1f}x the time (target <= {TARGET:g}x: {'PASS' if ratio <= TARGET else 'FAIL'})")
    print(f"  breakdown on {len(part)} documents: spaCy pipeline {part_words / pipeline:.0f} words/s "
          f"({pipeline / seconds * N_DOCUMENTS / len(part):.0%} of the analysis), stance scoring {part_words / scoring:.0f} words/s "
          f"({scoring / seconds * N_DOCUMENTS / len(part):.0%}), the rest (reading, bulk writes) "
          f"{1 - (pipeline + scoring) / seconds * N_DOCUMENTS / len(part):.0%}")
    print(f"  then the stance index ({build.mode}): {index_seconds:.1f} s")
    print(f"{'tracker backfill --engine dask, 2 workers':<44}{words / dask_seconds:>10.0f} words/s "
          f"{N_DOCUMENTS / dask_seconds:>8.1f} docs/s {dask_seconds / bare:6.1f}x the time "
          f"({report.stored} partitions; cluster start, archive check and index included)")
    print(f"{'  steady state (first to last partition)':<44}{steady_words / steady:>10.0f} words/s "
          f"{steady_docs / steady:>8.1f} docs/s {steady / (bare * steady_docs / N_DOCUMENTS):6.1f}x the time "
          f"(2 workers and the writer share the 2 cores)")


if __name__ == "__main__":
    main()
