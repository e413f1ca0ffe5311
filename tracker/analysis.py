"""The analysis flow: text -> sentences, entities, figures, stance -> records or the store."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path

from . import nlp, store
from .aggregate import clause_spans, document_stance, policy_relevance
from .errors import ModelError, TrackerError
from .language import detect_language
from .records import Analysis, Mention
from .stance import StanceModel
from .training import load_model


def _score_sentences(analyses: list[Analysis], model: StanceModel | None) -> None:
    """Score every sentence, and every clause that names an entity, in one batch.

    A mention takes the stance of its own clause when the sentence has several
    ("tightens on Ant while supporting banks"), otherwise its sentence's stance.
    """
    if model is None:
        return
    sentences = [s for a in analyses for s in a.sentences]
    texts = [s.text for s in sentences]
    clause_of: list[tuple[Mention, int]] = []
    for sentence in sentences:
        spans = clause_spans(sentence.text) if sentence.mentions else []
        if len(spans) < 2:
            continue
        for start, end in spans:
            named = [m for m in sentence.mentions if start <= m.start - sentence.start < end]
            if named:
                texts.append(sentence.text[start:end])
                clause_of.extend((m, len(texts) - 1) for m in named)
    scores = model.score(texts)
    for sentence, (score, label, relevance) in zip(sentences, scores):
        sentence.score, sentence.label = round(score, 6), label
        sentence.relevance = round(policy_relevance(sentence, 1.0 - relevance), 6)
        for mention in sentence.mentions:
            mention.stance_score, mention.stance_label = sentence.score, label
    for mention, index in clause_of:
        mention.stance_score, mention.stance_label = round(scores[index][0], 6), scores[index][1]
    for analysis in analyses:
        analysis.stance = document_stance(analysis.sentences)
        analysis.model_version = model.version


def analyse_texts(
    texts: Iterable[str],
    *,
    language: str = "en",
    model: StanceModel | None = None,
    batch_size: int = 64,
    reference_years: Iterable[int | None] | None = None,
) -> Iterator[Analysis]:
    """Analyses of ``texts`` (all in ``language``), in order; sentences scored in batches.

    ``reference_years``: each text's publication year, for relative periods in figures.
    """
    stream = nlp.analyse_texts(texts, language, batch_size=batch_size, reference_years=reference_years)
    while True:
        batch = [Analysis(language=language, sentences=s) for s in islice(stream, batch_size)]
        if not batch:
            return
        _score_sentences(batch, model)
        yield from batch


def publication_year(published: str | None) -> int | None:
    """The year of an ISO date or datetime, or None."""
    if published and len(published) >= 4 and published[:4].isdigit():
        return int(published[:4])
    return None


def analyse_text(text: str, *, language: str | None = None, model_dir: str | Path | None = None) -> Analysis:
    """One text, end to end, without a database."""
    language = language or detect_language(text)
    model = load_model(language, model_dir)
    return next(analyse_texts([text], language=language, model=model))


def analyse_pending(
    db,
    *,
    rescore: bool = False,
    model_dir: str | Path | None = None,
    batch_size: int = 64,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Analyse stored documents not yet analysed (or, with ``rescore``, scored by another
    model); each batch is committed on its own. Returns how many were analysed."""
    models: dict[str, StanceModel] = {}
    failures: dict[str, str] = {}

    def model_for(language: str) -> StanceModel | None:
        """The model for ``language``, or None when it cannot be loaded (reported at the end)."""
        if language not in models and language not in failures:
            try:
                models[language] = load_model(language, model_dir if language == "en" else None)
            except TrackerError as exc:
                failures[language] = str(exc)
        return models.get(language)

    done = 0
    version = model_for("en").version if rescore and model_for("en") else None
    pending = store.documents_to_analyze(db, rescore=rescore, model_version=version)
    while True:
        rows = list(islice(pending, batch_size))
        if not rows:
            break
        by_language: dict[str, list[dict]] = {}
        for row in rows:
            by_language.setdefault(row["language"] or detect_language(row["text"]), []).append(row)
        for language, group in by_language.items():
            model = model_for(language)
            if model is None:
                continue  # left unanalysed: a later run picks it up once the model loads
            years = [publication_year(r["published"]) for r in group]
            results = analyse_texts(
                [r["text"] for r in group], language=language, model=model, batch_size=batch_size, reference_years=years
            )
            # One transaction and bulk inserts per batch (not per document or sentence).
            saved = store.save_analyses(db, [(row["id"], analysis) for row, analysis in zip(group, results)])
            done += saved
            if progress:
                for _ in range(saved):
                    progress(1)
    if failures:
        # One language's broken model must not stop the others; say so once they are done.
        raise ModelError("; ".join(f"{lang} documents left unanalysed: {why}" for lang, why in failures.items()))
    return done
