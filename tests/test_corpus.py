"""Our labelled corpus: its documentation is current and its records are well-formed."""

from collections import Counter

from scripts import datasheet
from tracker import corpus


def test_datasheet_is_current():
    assert datasheet.PATH.read_text(encoding="utf-8") == datasheet.render(), "run: python -m scripts.datasheet"


def test_corpus_is_large_and_balanced_enough():
    english = corpus.load_labelled(corpus.stance_files("en"))
    chinese = corpus.load_labelled(corpus.stance_files("zh"))
    assert len(english) >= 1500 and len(chinese) >= 800
    for records in (english, chinese):
        labels = Counter(r["label"] for r in records)
        assert min(labels.values()) / len(records) > 0.25
        assert len({r["id"] for r in records}) == len(records)


def test_no_sentence_appears_twice():
    records = corpus.load_labelled(corpus.stance_files("en") + corpus.stance_files("zh"))
    folded = Counter(" ".join(r["text"].lower().split()) for r in records)
    assert [t for t, n in folded.items() if n > 1] == []
