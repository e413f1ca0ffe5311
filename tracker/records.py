"""Plain records that modules exchange (no spaCy Docs, no database rows)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Figure:
    """A number stated in text, normalised: money in base units of ``unit`` (an ISO code)."""

    text: str
    start: int
    end: int
    value: float | None
    unit: str
    low: float | None = None
    high: float | None = None
    kind: str = "level"  # level, yoy, qoq, cagr, cap, change
    approx: bool = False
    period: str | None = None  # "2025", "2025Q1", "2025H1"
    metric: str | None = None


@dataclass
class Mention:
    """A lender, regulator or government body named in text; ``id`` is None for unlisted names."""

    text: str
    label: str
    id: str | None
    start: int
    end: int
    role: str | None = None  # actor, target or None
    source: str = "gazetteer"  # gazetteer or model
    stance_score: float | None = None  # stance of the clause that names the entity
    stance_label: str | None = None


@dataclass
class Sentence:
    text: str
    start: int
    end: int
    score: float | None = None
    label: str | None = None
    relevance: float | None = None
    mentions: list[Mention] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)


@dataclass
class Stance:
    score: float
    label: str
    confidence: float = 0.0
    evidence: list[int] = field(default_factory=list)  # sentence positions, strongest first


@dataclass
class Analysis:
    """Everything the tracker reads out of one text."""

    language: str
    sentences: list[Sentence]
    stance: Stance | None = None
    model_version: str | None = None

    @property
    def mentions(self) -> list[Mention]:
        return [m for s in self.sentences for m in s.mentions]

    @property
    def figures(self) -> list[Figure]:
        return [f for s in self.sentences for f in s.figures]


@dataclass
class Document:
    """A document as it enters the store."""

    text: str
    title: str | None = None
    url: str | None = None
    published: str | None = None  # ISO date or datetime, UTC
    source_id: str = "local"
    source_name: str | None = None
    language: str | None = None
    fetched_at: str | None = None


def to_dict(record: Any) -> dict[str, Any]:
    return asdict(record)
