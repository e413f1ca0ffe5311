"""What the fallback NER costs: words per second with and without it, and how often it runs.

`python -m bench ner_fallback`. Times the English demo corpus (repeated) through bare spaCy
tokenisation, our pipeline without the fallback, with it, and the full analysis
(pipeline plus stance scoring); prints ratios to bare tokenisation (the scale target is
full analysis within 3x) and the share of sentences and tokens the trigger sent to the model.
"""

from __future__ import annotations

import time

import spacy

from tracker import nlp
from tracker.analysis import analyse_texts
from tracker.language import detect_language
from tracker.library import demo_files
from tracker.training import load_model

REPEAT = 5
ROUNDS = 5


def _best(func) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    texts = [t for t in (p.read_text(encoding="utf-8") for p in demo_files()) if detect_language(t) == "en"] * REPEAT
    blank = spacy.blank("en")
    words = sum(len(doc) for doc in blank.pipe(texts))
    without = nlp.build_nlp("en", ner_fallback=False)
    with_fallback = nlp.build_nlp("en")
    component = with_fallback.get_pipe("tracker_ner_fallback")
    list(with_fallback.pipe(texts[:2]))  # load the model outside the timing
    model = load_model("en")

    tokenise = _best(lambda: list(blank.pipe(texts)))
    base = _best(lambda: list(without.pipe(texts)))
    for key in component.stats:
        component.stats[key] = 0
    fallback = _best(lambda: list(with_fallback.pipe(texts)))
    stats = {k: v // ROUNDS for k, v in component.stats.items()}
    full = _best(lambda: list(analyse_texts(texts, language="en", model=model)))

    print(f"{words} tokens ({len(texts)} documents)")
    print(f"{'bare tokenisation':<28}{words / tokenise:>10.0f} words/s   1.00x")
    for name, seconds in (("pipeline, no fallback", base), ("pipeline with fallback", fallback),
                          ("full analysis (+ stance)", full)):
        print(f"{name:<28}{words / seconds:>10.0f} words/s   {seconds / tokenise:.2f}x")
    print(
        f"fallback ran on {stats['triggered']} of {stats['sentences']} sentences "
        f"({stats['triggered'] / max(1, stats['sentences']):.1%}), {stats['tokens_tagged']} of {stats['tokens']} "
        f"tokens ({stats['tokens_tagged'] / max(1, stats['tokens']):.1%}); it added {stats['added']} names"
    )


if __name__ == "__main__":
    main()
