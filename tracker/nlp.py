"""The spaCy adapter: our registered components and the pipelines built from them.

Pipelines are ``spacy.blank`` plus our own components, so nothing is ever
downloaded. Callers get plain records (``Sentence``, ``Mention``, ``Figure``),
never spaCy objects.
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path

import spacy
from spacy.attrs import IDX, LENGTH, SENT_START
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from . import figures as figure_rules
from . import gazetteer, roles
from .records import Figure, Mention, Sentence
from .settings import GAZETTEER_PATH, MODELS_DIR

log = logging.getLogger(__name__)

for _name in ("figures", "ent_sources", "ent_roles", "reference_year"):
    if not Doc.has_extension(_name):
        Doc.set_extension(_name, default=None)

SUPPORTED_LANGUAGES = ("en", "zh")
#: Where the fallback NER for each language lives (trained by ``tracker train-ner``).
NER_MODEL_DIRS = {"en": MODELS_DIR / "ner-en"}
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_NUMERAL = re.compile(r"[\d零〇一二两三四五六七八九十百千万亿]")


def doc_text(doc: Doc) -> str:
    """``doc.text``, built once per doc (the property joins every token on each call)."""
    cached = doc.user_data.get("tracker_text")
    if cached is None or cached[0] != len(doc):
        cached = (len(doc), doc.text)
        doc.user_data["tracker_text"] = cached
    return cached[1]


def sentence_bounds(doc: Doc) -> list[tuple[int, int, int, int]]:
    """``(start, end, start_char, end_char)`` of every sentence, read from arrays once per doc
    (iterating ``doc.sents`` builds a Python object per token, which our components cannot afford)."""
    cached = doc.user_data.get("tracker_sentence_bounds")
    if cached is not None and cached[0] == len(doc):
        return cached[1]
    bounds: list[tuple[int, int, int, int]] = []
    if len(doc):
        arr = doc.to_array([SENT_START, IDX, LENGTH])
        starts = (arr[:, 0] == 1).nonzero()[0].tolist()
        if not starts or starts[0] != 0:
            starts.insert(0, 0)
        idx, length = arr[:, 1].tolist(), arr[:, 2].tolist()
        ends = starts[1:] + [len(doc)]
        bounds = [(a, b, idx[a], idx[b - 1] + length[b - 1]) for a, b in zip(starts, ends)]
    doc.user_data["tracker_sentence_bounds"] = (len(doc), bounds)
    return bounds
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n|\n(?=\s*[#>*\-\u2022])")


@Language.component("tracker_paragraphs")
def mark_paragraphs(doc: Doc) -> Doc:
    """Start a sentence after every blank line: headings and list items carry no full stop."""
    for token in doc[1:]:
        previous = doc[token.i - 1]
        if "\n" in previous.whitespace_ or (previous.is_space and "\n" in previous.text):
            token.is_sent_start = True
    return doc


def _pluralisable(pattern: gazetteer.Pattern, form: Doc) -> bool:
    """One-word brand names take a plural ("Tencents"); acronyms and phrases do not."""
    return (
        pattern.language == "en" and not pattern.exact and len(form) == 1
        and pattern.text.isalpha() and not pattern.text.lower().endswith("s")
    )


class GazetteerMatcher:
    """Marks gazetteer names as entities with their canonical id (``span.id_``).

    English names match on tokens (acronyms and short names case-sensitively, the
    rest case-insensitively); Chinese names match on characters, because a word
    segmenter may cut a name differently in different contexts.
    """

    def __init__(self, nlp: Language, name: str, gazetteer_path: str, overwrite_ents: bool):
        self.name = name
        self.overwrite_ents = overwrite_ents
        entries = gazetteer.load_entities(gazetteer_path)
        self.patterns = gazetteer.patterns(entries)
        self.exact = PhraseMatcher(nlp.vocab, attr="ORTH")
        self.folded = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.info: dict[str, tuple[str, str]] = {}
        zh_forms: dict[str, tuple[str, str]] = {}
        for pattern in self.patterns:
            key = f"{pattern.label}|{pattern.id}"
            self.info[key] = (pattern.label, pattern.id)
            if pattern.language == "zh":
                zh_forms.setdefault(pattern.text, (pattern.label, pattern.id))
                continue
            matcher = self.exact if pattern.exact else self.folded
            form = nlp.make_doc(pattern.text)
            matcher.add(key, [form])
            if _pluralisable(pattern, form):  # "the Alibabas and Tencents of this world"
                matcher.add(key, [nlp.make_doc(pattern.text + "s")])
            if pattern.language == "en" and nlp.lang == "zh":
                zh_forms.setdefault(pattern.text, (pattern.label, pattern.id))
            elif pattern.language == "en" and _CJK.search(pattern.text):
                zh_forms.setdefault(pattern.text, (pattern.label, pattern.id))
        self.zh_forms = zh_forms
        self.zh_regex = (
            re.compile("|".join(re.escape(f) for f in sorted(zh_forms, key=len, reverse=True)))
            if zh_forms
            else None
        )
        self.is_chinese = nlp.lang == "zh"

    def __call__(self, doc: Doc) -> Doc:
        spans: list[Span] = []
        if self.is_chinese and self.zh_regex is not None:
            for match in self.zh_regex.finditer(doc_text(doc)):
                label, entity_id = self.zh_forms[match.group()]
                span = doc.char_span(match.start(), match.end(), label=label, alignment_mode="expand")
                if span is not None:
                    spans.append(Span(doc, span.start, span.end, label=label, span_id=entity_id))
        else:
            for matcher in (self.exact, self.folded):
                for match_id, start, end in matcher(doc):
                    label, entity_id = self.info[doc.vocab.strings[match_id]]
                    spans.append(Span(doc, start, end, label=label, span_id=entity_id))
            # Chinese names quoted in English text: "the NFRA (国家金融监督管理总局)"
            text = doc_text(doc) if self.zh_regex is not None else ""
            if _CJK.search(text):
                for match in self.zh_regex.finditer(text):
                    label, entity_id = self.zh_forms[match.group()]
                    span = doc.char_span(match.start(), match.end(), label=label)
                    if span is not None:
                        spans.append(Span(doc, span.start, span.end, label=label, span_id=entity_id))
        spans = filter_spans(spans)
        if self.overwrite_ents:
            doc.ents = spans
        else:
            doc.ents = filter_spans(list(doc.ents) + spans)
        return doc


@Language.factory(
    "tracker_gazetteer",
    default_config={"gazetteer_path": None, "overwrite_ents": True},
)
def make_gazetteer(nlp: Language, name: str, gazetteer_path: str | None, overwrite_ents: bool) -> GazetteerMatcher:
    return GazetteerMatcher(nlp, name, gazetteer_path or str(GAZETTEER_PATH), overwrite_ents)


# ---------------------------------------------------------------------------
# The fallback NER: unlisted names, on the few sentences that may hold one
# ---------------------------------------------------------------------------
#: Words that head an organisation's name ("... Consumer Finance", "... Bureau").
ORG_HEADS = frozenset(
    """bank banks finance financial credit microcredit microloan microloans microfinance micro lending
    loan loans fintech technology technologies tech group holdings commission administration bureau
    ministry regulatory authority court association office agency government council committee
    congress supervision procuratorate department reserve""".split()
)
# A cheap first look at a whole text: a capitalised head word somewhere (or "Micro-lending").
_HEAD_HINT = re.compile(
    r"\b(?:Banks?|Finance|Financial|Credit|Micro\w*|Lending|Loans?|Fin[Tt]ech|Technolog(?:y|ies)|Tech|Group"
    r"|Holdings|Commission|Administration|Bureau|Ministry|Regulatory|Authority|Court|Association|Office"
    r"|Agency|Government|Council|Committee|Congress|Supervision|Procuratorate|Department|Reserve)\b"
)
_CONNECTORS = frozenset({"of", "and", "&", "for", "the", "'s", "\u2019s", "on", "de"})
#: After these a capitalised name goes on ("Leading Group for the ..."); "and" may start another.
_NAME_GOES_ON = frozenset({"of", "for", "on", "de", "the"})
#: A capitalised run from one of these words on is a document's title, not a name
#: ("the Notice on Further Regulating the Internet Loan Business of Commercial Banks").
TITLE_WORDS = frozenset(
    """notice notices circular opinions opinion guiding guidance measures interim provisional provisions
    regulations rules guidelines plan implementation action decision law code announcement document
    report outlook administrative several""".split()
)
#: A model span ending in one of these names something that is no lender or regulator.
NON_ORG_ENDINGS = frozenset(
    """institute lab laboratory university school academy forum summit conference index report times
    news daily journal post herald review week law code plan measures rules regulations notice opinions
    guidelines business risks programme program scheme initiative campaign fund exchange market""".split()
)


def _is_cap(token) -> bool:
    text = token.text
    return text[:1].isupper() or (text[:1].isdigit() and any(c.isalpha() for c in text))


def _is_head(token) -> bool:
    return token.lower_ in ORG_HEADS or token.lower_.startswith("micro")


def candidate_runs(doc: Doc, start: int, end: int, covered: set[int]) -> list[tuple[int, int]]:
    """Token ranges in ``doc[start:end]`` that look like an organisation's name we have not
    matched: two or more capitalised words (joined by "of", "and", "&", hyphens...) with
    a head word ("Bank", "Consumer Finance", "Bureau") that no gazetteer entity covers."""
    runs: list[tuple[int, int]] = []
    i = start
    while i < end:
        if not _is_cap(doc[i]):
            i += 1
            continue
        j, caps, run_end = i + 1, 1, i + 1
        while j < end:
            tok = doc[j]
            if _is_cap(tok):
                caps, j = caps + 1, j + 1
                run_end = j
            elif (
                tok.text == "-" and j + 1 < end and not doc[j - 1].whitespace_
                and not tok.whitespace_ and doc[j + 1].is_alpha
            ):  # "Micro-lending", "Meituan-Dianping"
                j += 2
                run_end = j
            elif tok.lower_ in _CONNECTORS or tok.like_num:
                # "Bank of China", "Office of the Leading Group for the ...": up to two small words
                k = j + 1
                if k < end and doc[k].lower_ in _CONNECTORS and doc[k].lower_ != tok.lower_:
                    k += 1
                if k < end and _is_cap(doc[k]):
                    j = k
                else:
                    break
            else:
                break
        title = next((k for k in range(i, run_end) if doc[k].lower_ in TITLE_WORDS and k + 1 < end), None)
        cut = run_end if title is None else title  # a name may stand before a title, never inside it
        caps = sum(1 for k in range(i, cut) if _is_cap(doc[k]))
        if caps >= 2 and any(_is_head(doc[k]) and k not in covered for k in range(i, cut)):
            runs.append((i, cut))
        i = max(run_end, i + 1)
    return runs


class NerFallback:
    """Runs a trained NER on the sentences that hold a candidate name (see ``candidate_runs``),
    each as its own small doc, and adds what it finds where no gazetteer entity is.

    New entities get a label and no id; ``doc._.ent_sources`` marks them "model". When
    the model directory is missing the component does nothing (and says so once).
    """

    def __init__(self, nlp: Language, name: str, model_path: str | None, batch_size: int, max_sentence_tokens: int):
        self.name = name
        self.model_path = Path(model_path) if model_path else NER_MODEL_DIRS.get(nlp.lang)
        self.batch_size = batch_size
        self.max_sentence_tokens = max_sentence_tokens
        self._ner = None
        self._loaded = False
        self.meta: dict | None = None
        self.stats = {"sentences": 0, "triggered": 0, "tokens": 0, "tokens_tagged": 0, "added": 0}

    def _model(self):
        if not self._loaded:
            self._loaded = True
            path = self.model_path
            if path is None or not (path / "meta.json").exists():
                log.warning("no fallback NER model at %s: unlisted names will not be found", path)
            else:
                model = spacy.load(path)
                self._ner = model
                self.meta = dict(model.meta.get("tracker") or {}, path=str(path))
        return self._ner

    def _requests(self, doc: Doc) -> list[tuple[int, int, list[tuple[int, int]]]]:
        """(start, end, runs) token ranges of ``doc`` to tag: the sentences with a candidate name."""
        bounds = sentence_bounds(doc)
        self.stats["sentences"] += len(bounds)
        self.stats["tokens"] += len(doc)
        hinted = sorted({bisect_right(bounds, m.start(), key=lambda b: b[2]) - 1
                         for m in _HEAD_HINT.finditer(doc_text(doc))})
        if not hinted:
            return []
        covered = {i for ent in doc.ents for i in range(ent.start, ent.end)}
        requests = []
        for k in hinted:
            start, end = bounds[k][0], bounds[k][1]
            runs = candidate_runs(doc, start, end, covered)
            if not runs:
                continue
            self.stats["triggered"] += 1
            if end - start > self.max_sentence_tokens:  # a run-on "sentence": tag around the names only
                start = max(start, runs[0][0] - 12)
                end = min(end, runs[-1][1] + 12)
            requests.append((start, end, runs))
        return requests

    def _apply(self, docs: list[Doc]) -> None:
        model = self._model()
        if model is None:
            return
        jobs = [(doc, req) for doc in docs for req in self._requests(doc)]
        if not jobs:
            return
        small = []
        for doc, (start, end, _) in jobs:
            words = [t.text for t in doc[start:end]]
            spaces = [bool(t.whitespace_) for t in doc[start:end]]
            spaces[-1] = False
            small.append(Doc(model.vocab, words=words, spaces=spaces))
            self.stats["tokens_tagged"] += end - start
        ner = model.get_pipe("ner")
        found: dict[int, list[Span]] = {}
        for (doc, (start, _, runs)), tagged in zip(jobs, ner.pipe(small, batch_size=self.batch_size)):
            taken = {i for ent in doc.ents for i in range(ent.start, ent.end)}
            for ent in tagged.ents:
                s, e = start + ent.start, start + ent.end
                while e > s and (doc[e - 1].lower_ in _CONNECTORS or doc[e - 1].is_space):
                    e -= 1  # "the Ministry of Education and"
                while s < e and doc[s].is_space:
                    s += 1
                run = next(((rs, re_) for rs, re_ in runs if s < re_ and rs < e), None)
                if e <= s or run is None:
                    continue  # only where the trigger saw a candidate name
                if any(i in taken for i in range(s, e)):
                    continue  # the gazetteer wins
                if not any(_is_head(doc[i]) for i in range(s, e)):
                    continue  # a name of ours has a head word ("Disclose APRs" in a headline has none)
                if doc[e - 1].lower_ in NON_ORG_ENDINGS or (e < len(doc) and doc[e].lower_ in NON_ORG_ENDINGS):
                    continue  # "... Finance Institute", "Financial Times", "... Law"
                if e < run[1] and (_is_cap(doc[e]) or doc[e].lower_ in _NAME_GOES_ON):
                    continue  # the model stopped inside a longer name: not to be trusted
                found.setdefault(id(doc), []).append(Span(doc, s, e, label=ent.label_))
        for doc in docs:
            new = filter_spans(found.get(id(doc), []))
            if not new:
                continue
            doc.ents = sorted(list(doc.ents) + new, key=lambda sp: sp.start)
            sources = doc._.ent_sources or {}
            for span in new:
                sources[(span.start_char, span.end_char)] = "model"
            doc._.ent_sources = sources
            self.stats["added"] += len(new)

    def __call__(self, doc: Doc) -> Doc:
        self._apply([doc])
        return doc

    def pipe(self, stream: Iterable[Doc], batch_size: int = 128) -> Iterator[Doc]:
        batch: list[Doc] = []
        for doc in stream:
            batch.append(doc)
            if len(batch) >= batch_size:
                self._apply(batch)
                yield from batch
                batch = []
        if batch:
            self._apply(batch)
            yield from batch


@Language.factory(
    "tracker_ner_fallback",
    default_config={"model_path": None, "batch_size": 256, "max_sentence_tokens": 120},
)
def make_ner_fallback(
    nlp: Language, name: str, model_path: str | None, batch_size: int, max_sentence_tokens: int
) -> NerFallback:
    return NerFallback(nlp, name, model_path, batch_size, max_sentence_tokens)


@Language.component("tracker_roles")
def assign_roles(doc: Doc) -> Doc:
    """Whether each entity is the actor or the target of its sentence (``doc._.ent_roles``)."""
    found: dict[tuple[int, int], str] = {}
    ents = list(doc.ents)
    if ents:
        bounds = sentence_bounds(doc)
        whole = doc_text(doc)
        by_sentence: dict[int, list[Span]] = {}
        for ent in ents:
            by_sentence.setdefault(bisect_right(bounds, ent.start, key=lambda b: b[0]) - 1, []).append(ent)
        for k, in_sent in by_sentence.items():
            base, end_char = bounds[k][2], bounds[k][3]
            mentions = [(e.start_char - base, e.end_char - base, e.label_) for e in in_sent]
            for ent, role in zip(in_sent, roles.assign_roles(whole[base:end_char], mentions)):
                if role:
                    found[(ent.start_char, ent.end_char)] = role
    doc._.ent_roles = found
    return doc


_YEAR_MENTION = re.compile(r"(?<![\d.,])(19[5-9]\d|20\d\d)(?![\d%])(?!\s*(?:percent|per cent|yuan|元|bn|billion|million))")


_RELATIVE_YEAR = re.compile(r"(?i:this year|last year|next year|current year)|今年|去年|明年|上年|本年|前年")


def infer_reference_year(text: str) -> int | None:
    """The year a text is written in, when nobody says: the year it names most often
    (ties go to the latest). Only "this year", "last year", "今年" and the like use it."""
    counts: dict[int, int] = {}
    for m in _YEAR_MENTION.finditer(text):
        year = int(m.group(1))
        counts[year] = counts.get(year, 0) + 1
    if not counts:
        return None
    return max(counts, key=lambda y: (counts[y], y))


@Language.component("tracker_figures")
def find_figures_in_doc(doc: Doc) -> Doc:
    """Attach normalised figures (``doc._.figures``), found sentence by sentence.

    Relative years resolve against ``doc._.reference_year`` (set it from the publication
    date before this component runs), else against ``infer_reference_year``.
    """
    found: list[Figure] = []
    whole = doc_text(doc)
    reference_year = doc._.reference_year or (infer_reference_year(whole) if _RELATIVE_YEAR.search(whole) else None)
    for _, _, start_char, end_char in sentence_bounds(doc):
        text = whole[start_char:end_char]
        if not _NUMERAL.search(text):
            continue  # no number, no figure
        for fig in figure_rules.find_figures(text, reference_year=reference_year):
            fig.start += start_char
            fig.end += start_char
            found.append(fig)
    doc._.figures = found
    return doc


def build_nlp(
    language: str = "en",
    *,
    gazetteer_path: str | Path | None = None,
    ner_fallback: bool = True,
    ner_model_path: str | Path | None = None,
) -> Language:
    """A fresh pipeline for ``language`` built from ``spacy.blank`` and our components.

    English also gets the fallback NER for unlisted names (``ner_fallback``) and roles.
    """
    if language not in SUPPORTED_LANGUAGES:
        raise ValueError(f"unsupported language {language!r}")
    if language == "zh":
        nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
    else:
        nlp = spacy.blank(language)
    nlp.add_pipe("tracker_paragraphs")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("tracker_gazetteer", config={"gazetteer_path": str(gazetteer_path or GAZETTEER_PATH)})
    if language == "en":
        if ner_fallback:
            path = ner_model_path or NER_MODEL_DIRS[language]
            nlp.add_pipe("tracker_ner_fallback", config={"model_path": str(path)})
        nlp.add_pipe("tracker_roles")
    nlp.add_pipe("tracker_figures")
    return nlp


def ner_model_info(language: str = "en") -> dict | None:
    """The shared pipeline's fallback NER: its ``meta.json`` tracker section and path, or None."""
    nlp = get_nlp(language)
    if "tracker_ner_fallback" not in nlp.pipe_names:
        return None
    component = nlp.get_pipe("tracker_ner_fallback")
    component._model()
    return component.meta


@lru_cache(maxsize=4)
def get_nlp(language: str = "en") -> Language:
    """The shared pipeline for ``language`` (built once per process)."""
    return build_nlp(language)


def _sentence_records(doc: Doc) -> list[Sentence]:
    sentences: list[Sentence] = []
    figures = sorted(doc._.figures or [], key=lambda f: f.start)
    ents = list(doc.ents)
    roles_ = doc._.ent_roles or {}
    sources = doc._.ent_sources or {}
    ei = fi = 0
    text = doc_text(doc)
    for _, _, start_char, end_char in sentence_bounds(doc):
        raw = text[start_char:end_char]
        stripped = raw.strip()
        # entities and figures are sorted: walk them along with the sentences
        in_ents, in_figs = [], []
        while ei < len(ents) and ents[ei].start_char < end_char:
            in_ents.append(ents[ei])
            ei += 1
        while fi < len(figures) and figures[fi].start < end_char:
            in_figs.append(figures[fi])
            fi += 1
        if not any(ch.isalnum() for ch in stripped):
            continue
        start = start_char + (len(raw) - len(raw.lstrip()))
        end = start + len(stripped)
        record = Sentence(text=stripped, start=start, end=end)
        record.mentions = [
            Mention(
                text=e.text,
                label=e.label_,
                id=e.id_ or None,
                start=e.start_char,
                end=e.end_char,
                role=roles_.get((e.start_char, e.end_char)),
                source=sources.get((e.start_char, e.end_char), "gazetteer"),
            )
            for e in in_ents
            if start <= e.start_char < end
        ]
        record.figures = [f for f in in_figs if start <= f.start < end]
        sentences.append(record)
    return sentences


def sentence_records(doc: Doc) -> list[Sentence]:
    """Plain records for one analysed doc: its sentences with their mentions and figures."""
    return _sentence_records(doc)


def analyse_texts(
    texts: Iterable[str],
    language: str = "en",
    *,
    batch_size: int = 64,
    reference_years: Iterable[int | None] | None = None,
) -> Iterator[list[Sentence]]:
    """Sentences with their mentions and figures, one list per input text, in order.

    ``reference_years`` (the publication year of each text, or None) resolves
    "this year" and "last year" in figures.
    """
    nlp = get_nlp(language)
    stream: Iterable[str | Doc] = texts
    if reference_years is not None:

        def with_years() -> Iterator[Doc]:
            for text, year in zip(texts, reference_years):
                doc = nlp.make_doc(text)
                doc._.reference_year = year
                doc.user_data["tracker_text"] = (len(doc), text)  # doc_text() need not join the tokens again
                yield doc

        stream = with_years()
    for doc in nlp.pipe(stream, batch_size=batch_size):
        yield _sentence_records(doc)
