"""From sentence scores to a document's stance (pure arithmetic, no models)."""

from __future__ import annotations

import re

from .records import Sentence, Stance
from .settings import NEUTRAL_BAND

#: Evidence sentences kept per document.
EVIDENCE_SIZE = 3


def label_for(score: float) -> str:
    if score >= NEUTRAL_BAND:
        return "accommodative"
    if score <= -NEUTRAL_BAND:
        return "tightening"
    return "neutral"


# Words that name a policy actor or instrument. A sentence with one (or with a
# regulator or government body named) is about policy; others are colour.
_POLICY_ACTOR = re.compile(
    r"\b(?:authorit(?:y|ies)|regulat(?:or|ors|ory|ion|ions)|government|officials?|ministr(?:y|ies)|"
    r"central bank|state council|beijing|policy|policies|polic(?:y|ies)makers?|rules?|measures?|guidelines?|"
    r"notice|circular|watchdogs?|supervis(?:or|ors|ion|ory)|crackdown|subsid(?:y|ies)|cap)\b|"
    r"监管|央行|人民银行|国务院|政策|部门|通知|办法|意见|规定|整治|补贴|贴息",
    re.IGNORECASE,
)
#: Relevance of a sentence with no policy actor, relative to one with an actor.
COLOUR_WEIGHT = 2 / 3


def policy_relevance(sentence: Sentence, p_neutral: float) -> float:
    """How much a sentence counts in its document: 1 - P(neutral), discounted when
    the sentence names no regulator and no policy actor or instrument."""
    names_actor = any(m.label in ("REGULATOR", "GOVERNMENT") for m in sentence.mentions)
    weight = 1.0 if names_actor or _POLICY_ACTOR.search(sentence.text) else COLOUR_WEIGHT
    return (1.0 - p_neutral) * weight


def document_stance(sentences: list[Sentence]) -> Stance:
    """Weighted mean of sentence scores, weighted by policy relevance (see ``policy_relevance``).

    Background colour scores near zero *and* weighs little, so a notice's one
    operative sentence is not drowned by its boilerplate. Confidence grows with
    the total relevance and with agreement between the weighted sentences.
    """
    scored = [(i, s) for i, s in enumerate(sentences) if s.score is not None]
    if not scored:
        return Stance(score=0.0, label="neutral", confidence=0.0, evidence=[])
    weights = [max(s.relevance or 0.0, 1e-6) for _, s in scored]
    total = sum(weights)
    score = sum(w * s.score for w, (_, s) in zip(weights, scored)) / total
    spread = sum(w * abs(s.score) for w, (_, s) in zip(weights, scored))
    agreement = abs(score) * total / spread if spread else 0.0
    confidence = agreement * total / (total + 1.0)
    label = label_for(score)
    # Evidence: the sentences that carry the document's direction themselves,
    # strongest first (a faintly negative aside is not evidence of tightening).
    ranked = sorted(scored, key=lambda item: -(item[1].relevance or 0) * abs(item[1].score))
    evidence = [i for i, s in ranked if s.label == label][:EVIDENCE_SIZE] if label != "neutral" else []
    return Stance(score=round(score, 6), label=label, confidence=round(min(confidence, 1.0), 6), evidence=evidence)


# Clause boundaries inside a sentence: semicolons, and contrastive or concessive
# links ("while", "but", "whereas"...) that often join opposite stances.
_CLAUSE_BREAK = re.compile(
    r"\s*;\s*|,?\s+(?:while|whereas|but|although|though|even as|yet|even though|at the same time)\s+|"
    r"\s*(?:，|；|但是|但|而|同时)\s*",
    re.IGNORECASE,
)
MIN_CLAUSE_CHARS = 12


def clause_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the clauses of a sentence (the whole sentence when it has one)."""
    spans, start = [], 0
    for match in _CLAUSE_BREAK.finditer(text):
        if match.start() - start >= MIN_CLAUSE_CHARS and len(text) - match.end() >= MIN_CLAUSE_CHARS:
            spans.append((start, match.start()))
            start = match.end()
    spans.append((start, len(text)))
    return spans
