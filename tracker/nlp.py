"""The spaCy adapter: our registered components and the pipelines built from them.

Pipelines are ``spacy.blank`` plus our own components, so nothing is ever
downloaded. Callers get plain records (``Sentence``, ``Mention``, ``Figure``),
never spaCy objects.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path

import spacy
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from . import figures as figure_rules
from . import gazetteer
from .records import Figure, Mention, Sentence
from .settings import GAZETTEER_PATH

if not Doc.has_extension("figures"):
    Doc.set_extension("figures", default=None)

SUPPORTED_LANGUAGES = ("en", "zh")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n|\n(?=\s*[#>*\-\u2022])")


@Language.component("tracker_paragraphs")
def mark_paragraphs(doc: Doc) -> Doc:
    """Start a sentence after every blank line: headings and list items carry no full stop."""
    for token in doc[1:]:
        previous = doc[token.i - 1]
        if "\n" in previous.whitespace_ or (previous.is_space and "\n" in previous.text):
            token.is_sent_start = True
    return doc


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
            matcher.add(key, [nlp.make_doc(pattern.text)])
            if pattern.language == "en" and nlp.lang == "zh":
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
            for match in self.zh_regex.finditer(doc.text):
                label, entity_id = self.zh_forms[match.group()]
                span = doc.char_span(match.start(), match.end(), label=label, alignment_mode="expand")
                if span is not None:
                    spans.append(Span(doc, span.start, span.end, label=label, span_id=entity_id))
        else:
            for matcher in (self.exact, self.folded):
                for match_id, start, end in matcher(doc):
                    label, entity_id = self.info[doc.vocab.strings[match_id]]
                    spans.append(Span(doc, start, end, label=label, span_id=entity_id))
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


@Language.component("tracker_figures")
def find_figures_in_doc(doc: Doc) -> Doc:
    """Attach normalised figures (``doc._.figures``), found sentence by sentence."""
    found: list[Figure] = []
    for sent in doc.sents:
        for fig in figure_rules.find_figures(sent.text):
            fig.start += sent.start_char
            fig.end += sent.start_char
            found.append(fig)
    doc._.figures = found
    return doc


def build_nlp(language: str = "en", *, gazetteer_path: str | Path | None = None) -> Language:
    """A fresh pipeline for ``language`` built from ``spacy.blank`` and our components."""
    if language not in SUPPORTED_LANGUAGES:
        raise ValueError(f"unsupported language {language!r}")
    if language == "zh":
        nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
    else:
        nlp = spacy.blank(language)
    nlp.add_pipe("tracker_paragraphs")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("tracker_gazetteer", config={"gazetteer_path": str(gazetteer_path or GAZETTEER_PATH)})
    nlp.add_pipe("tracker_figures")
    return nlp


@lru_cache(maxsize=4)
def get_nlp(language: str = "en") -> Language:
    """The shared pipeline for ``language`` (built once per process)."""
    return build_nlp(language)


def _sentence_records(doc: Doc) -> list[Sentence]:
    sentences: list[Sentence] = []
    figures = sorted(doc._.figures or [], key=lambda f: f.start)
    ents = list(doc.ents)
    for sent in doc.sents:
        raw = sent.text
        stripped = raw.strip()
        if not any(ch.isalnum() for ch in stripped):
            continue
        start = sent.start_char + (len(raw) - len(raw.lstrip()))
        end = start + len(stripped)
        record = Sentence(text=stripped, start=start, end=end)
        record.mentions = [
            Mention(text=e.text, label=e.label_, id=e.id_ or None, start=e.start_char, end=e.end_char)
            for e in ents
            if start <= e.start_char < end
        ]
        record.figures = [f for f in figures if start <= f.start < end]
        sentences.append(record)
    return sentences


def analyse_texts(texts: Iterable[str], language: str = "en", *, batch_size: int = 64) -> Iterator[list[Sentence]]:
    """Sentences with their mentions and figures, one list per input text, in order."""
    nlp = get_nlp(language)
    for doc in nlp.pipe(texts, batch_size=batch_size):
        yield _sentence_records(doc)
