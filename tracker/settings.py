"""Paths and defaults shared by every module (the bottom layer: imports nothing of ours)."""

from __future__ import annotations

import os
from pathlib import Path

#: The checkout the package runs from; seeds, corpus and models live beside the package.
PROJECT_ROOT = Path(os.environ.get("TRACKER_HOME", Path(__file__).resolve().parent.parent))

SEEDS_DIR = PROJECT_ROOT / "seeds"
CORPUS_DIR = PROJECT_ROOT / "corpus"
MODELS_DIR = PROJECT_ROOT / "models"

GAZETTEER_PATH = SEEDS_DIR / "gazetteer.jsonl"
SOURCES_PATH = SEEDS_DIR / "sources.toml"
STANCE_DATA_DIR = CORPUS_DIR / "stance"
DEMO_DIR = CORPUS_DIR / "demo"
GOLD_DIR = CORPUS_DIR / "gold"
NER_DIR = CORPUS_DIR / "ner"
NER_DATA_PATH = NER_DIR / "en_ner.jsonl"
NER_MODEL_DIR = MODELS_DIR / "ner-en"


def stance_model_dir(language: str = "en") -> Path:
    """Where the shipped stance model for ``language`` lives."""
    return MODELS_DIR / f"stance-{language}"


def default_db_path() -> str:
    """``$TRACKER_DB`` or ``tracker.db`` in the working directory."""
    return os.environ.get("TRACKER_DB", "tracker.db")


#: Stance labels in score order; the score is P(accommodative) - P(tightening).
STANCE_LABELS = ("tightening", "neutral", "accommodative")

#: A sentence scoring within this distance of zero is labelled neutral.
NEUTRAL_BAND = 0.15
