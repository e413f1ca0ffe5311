"""Synthetic corpora and databases for the benchmarks (a helper, not a benchmark itself).

Documents are stitched from our own English text (the demo corpus paragraphs and the
labelled stance sentences), with every number redrawn so no two documents are the same
text, dated over ten years, spread over a dozen sources. Deterministic for a given seed.
Everything they produce goes into a temporary folder, never into the repository.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from collections.abc import Iterator
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

from tracker import corpus
from tracker.settings import DEMO_DIR

SOURCES = (
    "reuters-china", "caixin-global", "scmp-business", "bloomberg-asia", "ft-china", "xinhua-finance",
    "pboc-news-en", "nfra-news-en", "csrc-news-en", "gov-cn-policies", "yicai-global", "china-daily-biz",
)
FIRST_DAY = date(2016, 1, 1)
DAYS = 3653  # ten years
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_FRONT = re.compile(r"\A---\s*\n.*?\n---\s*\n", re.S)


@lru_cache(maxsize=1)
def pools() -> tuple[list[str], list[str]]:
    """(paragraphs from the demo corpus, English stance sentences)."""
    paragraphs = []
    for path in sorted(DEMO_DIR.glob("*.md")):
        body = _FRONT.sub("", path.read_text(encoding="utf-8"))
        paragraphs += [p.strip() for p in body.split("\n\n") if len(p.split()) >= 12 and not p.startswith("#")]
    sentences = []
    for path in corpus.stance_files("en"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                sentences.append(json.loads(line)["text"])
    return paragraphs, sentences


def _renumber(text: str, rng: random.Random) -> str:
    def draw(match: re.Match) -> str:
        old = match.group()
        if len(old) == 4 and old[:2] in ("19", "20") and "." not in old:
            return str(rng.randint(2014, 2026))
        if "." in old:
            whole, frac = old.split(".")
            return f"{rng.randint(0, 10 ** len(whole) - 1)}.{rng.randint(0, 10 ** len(frac) - 1):0{len(frac)}d}"
        return str(rng.randint(1, max(9, 10 ** len(old) - 1)))

    return _NUMBER.sub(draw, text)


def _paragraph(rng: random.Random, paragraphs: list[str], sentences: list[str]) -> str:
    if rng.random() < 0.5:
        return _renumber(rng.choice(paragraphs), rng)
    return _renumber(" ".join(rng.choice(sentences) for _ in range(rng.randint(2, 5))), rng)


def documents(n: int, *, seed: int = 1, short: bool = False) -> Iterator[dict]:
    """``n`` archive records ``{"url", "title", "published", "text", "source"}``.

    Full documents have 3-9 paragraphs (about 400 words); ``short`` ones are news briefs of
    two to four sentences (about 70 words), for the 100,000-document memory run."""
    rng = random.Random(seed)
    paragraphs, sentences = pools()
    for i in range(n):
        if short:
            text = _renumber(" ".join(rng.choice(sentences) for _ in range(rng.randint(2, 4))), rng)
        else:
            text = "\n\n".join(_paragraph(rng, paragraphs, sentences) for _ in range(rng.randint(3, 9)))
        title_words = rng.choice(sentences).split()[: rng.randint(6, 11)]
        day = FIRST_DAY + timedelta(days=rng.randrange(DAYS))
        source = SOURCES[min(int(rng.paretovariate(1.2)) - 1, len(SOURCES) - 1)]
        yield {
            "url": f"https://bench.tracker.invalid/{source}/{day.isoformat()}/{seed}-{i}",
            "title": " ".join(title_words).rstrip(",.;:"),
            "published": day.isoformat(),
            "text": text,
            "source": source,
        }


def write_archive(path: Path, n: int, *, seed: int = 1, short: bool = False) -> Path:
    """Write ``n`` documents as JSON Lines (gzipped when ``path`` ends in .gz)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as handle:
        for record in documents(n, seed=seed, short=short):
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


# --- a large analysed database, without running the analysis ------------------------

METRICS = ("loan_balance", "loan_volume", "profit", "revenue", "npl", "interest_rate", "fine", "subsidy",
           "reserve_ratio", "capital", "market_share", "borrowers", "other", None)
UNITS = ("CNY", "percent", "percentage_point", "basis_point", "USD")


def analysed_documents(n_documents: int, sentences_per_document: int = 50, *, seed: int = 7):
    """``(Document, Analysis)`` pairs with realistic shapes: dates over ten years, about
    ``sentences_per_document`` sentences each (3 to 2x that), stance scores that lean by
    period, about one mention per two sentences (a Zipf spread over the gazetteer) and a
    figure in one sentence of six."""
    from tracker import gazetteer
    from tracker.aggregate import document_stance, label_for
    from tracker.records import Analysis, Document, Figure, Mention, Sentence
    from tracker.settings import GAZETTEER_PATH

    rng = random.Random(seed)
    _, sentences = pools()
    entities = [(e["id"], e["type"], e["name"]) for e in gazetteer.load_entities(GAZETTEER_PATH)]
    rng.shuffle(entities)
    weights = [1 / (k + 1) for k in range(len(entities))]
    for i in range(n_documents):
        day = FIRST_DAY + timedelta(days=rng.randrange(DAYS))
        lean = 0.5 * ((day.year - 2016) / 5 - 1)  # tight early, looser later
        n = max(3, min(2 * sentences_per_document, int(rng.gauss(sentences_per_document, sentences_per_document / 3))))
        records, offset = [], 0
        for k in range(n):
            text = _renumber(rng.choice(sentences), rng)
            score = max(-1.0, min(1.0, rng.gauss(lean, 0.45)))
            sentence = Sentence(text=text, start=offset, end=offset + len(text), score=round(score, 6),
                                label=label_for(score), relevance=round(rng.random(), 6))
            while rng.random() < 0.35:
                entity_id, label, name = rng.choices(entities, weights)[0]
                sentence.mentions.append(Mention(
                    text=name, label=label, id=entity_id, start=offset, end=offset + len(name),
                    role=rng.choice(("actor", "target", None)), stance_score=sentence.score, stance_label=sentence.label))
            if rng.random() < 1 / 6:
                value = round(rng.lognormvariate(3, 3), 2)
                sentence.figures.append(Figure(
                    text=str(value), start=offset, end=offset + 5, value=value, unit=rng.choice(UNITS),
                    kind=rng.choice(("level", "yoy", "cap", "change")), period=str(day.year),
                    metric=rng.choice(METRICS)))
            records.append(sentence)
            offset += len(text) + 1
        analysis = Analysis(language="en", sentences=records, model_version="bench-synthetic")
        analysis.stance = document_stance(records)
        document = Document(
            text=" ".join(s.text for s in records), title=f"Synthetic document {i}",
            url=f"https://bench.tracker.invalid/db/{seed}/{i}", published=day.isoformat(),
            source_id=SOURCES[min(int(rng.paretovariate(1.2)) - 1, len(SOURCES) - 1)], language="en",
        )
        yield document, analysis


def build_database(path: Path, n_documents: int, sentences_per_document: int = 50, *, batch: int = 200) -> dict:
    """A tracker database at ``path`` with ``n_documents`` analysed documents (written through
    the store, as the analysis writes them) and the stance index built. Returns table counts."""
    from itertools import islice

    from tracker import index, library, store

    db = library.init_db(path)
    pairs = analysed_documents(n_documents, sentences_per_document)
    while True:
        chunk = list(islice(pairs, batch))
        if not chunk:
            break
        with db.atomic():
            ids = [store.save_document(db, document)[0] for document, _ in chunk]
        store.save_analyses(db, [(i, analysis) for i, (_, analysis) in zip(ids, chunk)])
    index.refresh_index(db)
    store.checkpoint(db)
    counts = store.table_counts(db)
    db.close()
    return counts
