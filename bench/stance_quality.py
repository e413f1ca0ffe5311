"""Stance model quality in one table: our splits, calibration, the candidates, the FOMC benchmark.

Run: `make bench` or `.venv/bin/python -m bench stance_quality`.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tracker import corpus, stance
from tracker.analysis import analyse_text
from tracker.settings import PROJECT_ROOT, stance_model_dir
from tracker import embeddings
from tracker.training import FOMC_PUBLISHED, benchmark_external, evaluate_stance, held_out_file_scores

FOMC = PROJECT_ROOT.parent / "shared" / "data" / "fomc"
SEED = PROJECT_ROOT.parent / "shared" / "seed" / "000_0afc5f2b6c240f27.txt"
BENCH_TRACKER = PROJECT_ROOT / ".venv-bench" / "bin" / "tracker"

# The published table, plus the dataset README's own CPU baseline (seed 5768).
PUBLISHED = [*FOMC_PUBLISHED, ("TF-IDF + LR (dataset README, seed 5768)", 0.604)]


def _row(name: str, report: dict) -> str:
    def fmt(key):
        value = report.get(key)
        return f"{value:.3f}" if isinstance(value, float) else "  -  "

    return f"| {name:<52} | {report.get('n', '-'):>5} | {fmt('macro_f1')} | {fmt('weighted_f1')} | {fmt('brier')} | {fmt('ece')} |"


def _fomc() -> dict:
    """The FOMC benchmark, with the embedding candidate when it can run.

    PyTorch stays out of .venv (spaCy would import it in every process), so the
    candidate with sentence embeddings runs in .venv-bench, which `make bench` builds.
    """
    if embeddings.available():
        return benchmark_external(FOMC / "train.jsonl", FOMC / "test.jsonl")
    if BENCH_TRACKER.exists():
        command = [str(BENCH_TRACKER), "evaluate", "fomc", "--dir", str(FOMC), "--model", str(stance_model_dir("en")), "--json"]
        return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    print(f"(no {BENCH_TRACKER}: policy_cues_minilm_lr is left out; `make bench` builds that venv)")
    return benchmark_external(FOMC / "train.jsonl", FOMC / "test.jsonl")


def main() -> None:
    model_dir = stance_model_dir("en")
    meta = json.loads((model_dir / stance.META_FILE).read_text())
    files = corpus.stance_files("en")
    print(f"shipped model: {meta['version']} ({meta['pipeline']}, params {meta['params']})")
    print(f"our corpus: {meta['counts']} sentences (train/dev/test by id hash)\n")
    print("| evaluation | n | macro-F1 | weighted-F1 | Brier | ECE |")
    print("|---|---|---|---|---|---|")
    for name, row in meta["scores"]["candidates"].items():
        report = {"macro_f1": row["dev_macro_f1"], "weighted_f1": row["dev_weighted_f1"], "brier": row["dev_brier"], "ece": row["dev_ece"]}
        print(_row(f"our dev: candidate {name} {row['params']}", report))
    merged = Path("/tmp/tracker_bench_en.jsonl")
    merged.write_text("".join(p.read_text(encoding="utf-8") for p in files), encoding="utf-8")
    print(_row("our test split: shipped model (scored once, here)", evaluate_stance(merged, split="test")))
    print("\nEach file held out in turn (the shipped pipeline fitted on the other files' train and dev rows):")
    held_out = held_out_file_scores(files, name=meta["pipeline"], params=meta["params"])
    for row in held_out:
        print(f"  {row['file']:<24} n {row['n']:>4}  macro-F1 {row['macro_f1']:.3f}")
    scores = [row["macro_f1"] for row in held_out]
    print(f"  lowest {min(scores):.3f}, mean {sum(scores) / len(scores):.3f}\n")
    if FOMC.exists():
        external = _fomc()
        print(_row("FOMC test: shipped model, never trained on FOMC", external["shipped"]["test"]))
        selected = external["selected"]
        print(_row(f"FOMC test: {selected['pipeline']} {selected['params']} trained on FOMC train", external["trained"]["test"]))
        print(_row("FOMC test minus texts seen in train: trained", external["trained"]["clean"]))
        print("\nPublished (weighted F1, FOMC Combined test):")
        for name, value in PUBLISHED:
            print(f"  {name:<45} {value:.4f}")
        print(f"\nFOMC candidates: {', '.join(external['candidates'])}; selected on a 20% dev share of FOMC train:")
        for name, row in selected["dev"].items():
            print(f"  {name:<24} dev macro-F1 {row['dev_macro_f1']:.3f}  weighted-F1 {row['dev_weighted_f1']:.3f}  {row['params']}")
    else:
        print(f"(no FOMC data at {FOMC}; external benchmark skipped)")
    if SEED.exists():
        analysis = analyse_text(SEED.read_text(encoding="utf-8"))
        print(f"\nseed article: {analysis.stance.label} {analysis.stance.score:+.3f} (confidence {analysis.stance.confidence:.2f})")
        for i in analysis.stance.evidence:
            print(f"  evidence: {analysis.sentences[i].text}")


if __name__ == "__main__":
    main()
