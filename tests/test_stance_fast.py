"""`FastFeatures` computes the stance features faster and to exactly the same numbers."""

from __future__ import annotations

import numpy as np
import pytest

from tracker import corpus, stance
from tracker.training import load_model


def _slow(model: stance.StanceModel, texts: list[str]) -> np.ndarray:
    probs = model.pipeline.predict_proba(texts)
    order = [list(model.pipeline.classes_).index(label) for label in stance.STANCE_LABELS]
    return probs[:, order]


@pytest.mark.parametrize("language", ["en", "zh"])
def test_shipped_models_give_identical_probabilities(language):
    model = load_model(language)
    texts = [r["text"] for r in corpus.load_labelled(corpus.stance_files(language))]
    texts += ["", "   ", "0.5% 2025年 RMB 5.4 trillion", texts[0] * 3]  # edge cases: empty, numbers, long
    assert stance.FastFeatures.supports(model.pipeline)
    fast = model.predict_proba(texts)
    assert np.array_equal(fast, _slow(model, texts))
    assert np.array_equal(model.predict_proba(texts[::-1]), fast[::-1])  # the word cache is warm now


def test_other_transformers_and_weights_run_as_they_are():
    rows = corpus.load_labelled(corpus.stance_files("en"))[:400]
    pipeline = stance.fit(rows, name="policy_cues_lr", params={"C": 3.0})
    model = stance.StanceModel(pipeline)
    texts = [r["text"] for r in rows[:150]] + ["The PBOC will not relax the cap."]
    assert np.array_equal(model.predict_proba(texts), _slow(model, texts))
    scores = model.score(texts)
    assert scores == stance.StanceModel(pipeline, fast=False).score(texts)
