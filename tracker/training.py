"""Training and evaluating stance models: the flow over ``corpus`` and ``stance``."""

from __future__ import annotations

import json
from pathlib import Path

from . import corpus, stance
from .errors import InputError
from .settings import stance_model_dir


def is_stale(model_dir: str | Path, data_files: list[Path]) -> bool:
    """True when no model is saved or it was trained on other data."""
    meta_file = Path(model_dir) / stance.META_FILE
    if not meta_file.exists() or not (Path(model_dir) / stance.MODEL_FILE).exists():
        return True
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    return meta.get("data_hash") != corpus.data_hash(data_files)


#: Small grids searched on dev for each candidate (``step__param`` style keys are
#: not needed: ``build_pipeline`` takes the few parameters that matter).
PARAM_GRIDS: dict[str, list[dict]] = {
    "word_char_lr": [{"C": 1.0}, {"C": 3.0}, {"C": 10.0}, {"C": 30.0}],
    "word_char_svm": [{"svm_C": 0.1}, {"svm_C": 0.5}],
    "policy_cues_lr": [{"C": 1.0}, {"C": 3.0}, {"C": 10.0}, {"C": 30.0}],
    "policy_cues_minilm_lr": [{"C": 3.0}, {"C": 10.0}, {"C": 30.0}],
    "zh_char_lr": [{"C": 3.0}, {"C": 10.0}, {"C": 30.0}],
    "zh_char_svm": [{"svm_C": 0.1}, {"svm_C": 0.5}],
    "zh_cues_lr": [{"C": 3.0}, {"C": 10.0}, {"C": 30.0}],
}


#: A candidate whose dev probabilities are further than this from the observed frequencies
#: (expected calibration error) ranks below every calibrated one: the tracker reads the
#: probabilities as scores and confidences, not only their argmax.
MAX_DEV_ECE = 0.05


def _rank(row: dict) -> tuple[bool, float, float]:
    """Higher is better: calibrated (dev ECE <= MAX_DEV_ECE) first, then dev macro-F1 (to 3
    places), then the lower Brier score on ties."""
    return (row["dev_ece"] <= MAX_DEV_ECE, round(row["dev_macro_f1"], 3), -row["dev_brier"])


def select_on_dev(train: list[dict], dev: list[dict], candidates: tuple[str, ...]) -> tuple[str, dict, object, dict]:
    """Fit every candidate and grid point on train; keep the best dev macro-F1."""
    results: dict[str, dict] = {}
    best = None
    gold = [r["label"] for r in dev]
    for name in candidates:
        for params in PARAM_GRIDS.get(name, [{}]):
            model = stance.StanceModel(stance.fit(train, name=name, params=params))
            probs = model.predict_proba([r["text"] for r in dev])
            predicted = [stance.STANCE_LABELS[i] for i in probs.argmax(axis=1)]
            report = stance.classification_report(gold, predicted)
            row = {
                "params": params,
                "dev_macro_f1": report["macro_f1"],
                "dev_weighted_f1": report["weighted_f1"],
                **{f"dev_{k}": v for k, v in stance.calibration_scores(gold, probs).items()},
            }
            if name not in results or _rank(row) > _rank(results[name]):
                results[name] = row
            if best is None or _rank(row) > _rank(best[3]):
                best = (name, params, model.pipeline, row)
    name, params, pipeline, _ = best
    return name, params, pipeline, results


def train_stance(
    data_files: list[Path] | None = None,
    *,
    language: str = "en",
    out_dir: str | Path | None = None,
    candidates: tuple[str, ...] | None = None,
) -> stance.StanceModel:
    """Fit the candidates on train, select on dev macro-F1, save the winner (test is untouched)."""
    data_files = [Path(p) for p in (data_files or corpus.stance_files(language))]
    if not data_files:
        raise InputError(f"no labelled data for language {language!r} in corpus/stance/")
    records = corpus.load_labelled(data_files)
    train = [r for r in records if r["split"] == "train"]
    dev = [r for r in records if r["split"] == "dev"]
    if not train or not dev:
        raise InputError("the data must have train and dev rows (splits come from a hash of each id)")
    candidates = candidates or stance.PIPELINES_BY_LANGUAGE[language]
    name, params, pipeline, results = select_on_dev(train, dev, candidates)
    counts = {split: sum(r["split"] == split for r in records) for split in corpus.SPLITS}
    meta = stance.make_meta(
        name=name,
        language=language,
        data_hash=corpus.data_hash(data_files),
        data_files=[p.name for p in data_files],
        params=params,
        counts=counts,
        scores={"dev": results[name], "candidates": results},
    )
    model = stance.StanceModel(pipeline, meta)
    stance.save(model, out_dir or stance_model_dir(language))
    return model


def evaluate_stance(data_file: str | Path, *, model_dir: str | Path | None = None, split: str | None = None) -> dict:
    """Score a labelled file with a saved model; ``split`` keeps only rows of that split.

    Without ``model_dir`` the shipped model of the file's language is used.
    """
    records = corpus.load_labelled([Path(data_file)])
    language = records[0].get("lang") or "en"
    model = stance.load(model_dir or stance_model_dir(language))
    if split:
        records = [r for r in records if r["split"] == split]
        if not records:
            raise InputError(f"no rows of split {split!r} in {data_file}")
    gold = [r["label"] for r in records]
    probs = model.predict_proba([r["text"] for r in records])
    report = stance.classification_report(gold, [stance.STANCE_LABELS[i] for i in probs.argmax(axis=1)])
    report.update(stance.calibration_scores(gold, probs))
    report["model_version"] = model.version
    report["candidates"] = model.meta.get("scores", {}).get("candidates", {})
    return report


def held_out_file_scores(data_files: list[Path], *, name: str, params: dict | None = None) -> list[dict]:
    """Macro-F1 on each file when the pipeline is fitted on the others (train and dev rows only).

    Each file was written at a different time, in different registers, by a different hand:
    a file the model never saw estimates how it reads phrasing that is new to it, which
    a hash split (whose dev and test share their writers with train) cannot. Test rows are
    left out on both sides, so the test split stays unseen.
    """
    by_file = {Path(p).name: [r for r in corpus.load_labelled([p]) if r["split"] != "test"] for p in data_files}
    if len(by_file) < 2:
        raise InputError("held-out file scores need at least two labelled files")
    rows = []
    for held_out, scored in by_file.items():
        fitted = [r for other, records in by_file.items() if other != held_out for r in records]
        model = stance.StanceModel(stance.fit(fitted, name=name, params=params))
        report = stance.classification_report([r["label"] for r in scored], model.predict([r["text"] for r in scored]))
        rows.append({"file": held_out, "n": len(scored), "macro_f1": report["macro_f1"]})
    return rows


def load_model(language: str = "en", model_dir: str | Path | None = None) -> stance.StanceModel:
    """The saved model for ``language`` (loaded once per process)."""
    directory = Path(model_dir) if model_dir else stance_model_dir(language)
    return stance.load_cached(str(directory.resolve()))


#: Weighted F1 on the FOMC "Combined" test split (Shah, Paturi & Chava, ACL 2023), 3-seed
#: means recomputed from the authors' released results (see ../shared/data/fomc/README.md).
FOMC_PUBLISHED = (
    ("RoBERTa-large (fine-tuned on GPU)", 0.7171),
    ("RoBERTa-base", 0.6756),
    ("FinBERT", 0.6325),
    ("BERT-base", 0.6310),
    ("ChatGPT-3.5-turbo, zero-shot", 0.5872),
    ("Rule-based dictionary", 0.4966),
)


def benchmark_external(
    train_file: str | Path,
    test_file: str | Path,
    *,
    shipped_model_dir: str | Path | None = None,
    candidates: tuple[str, ...] | None = None,
    dev_share: float = 0.2,
) -> dict:
    """Score an external labelled benchmark two ways, without training on its test split.

    1. ``shipped``: our shipped model (trained on our corpus only) on the test split.
    2. ``trained``: our candidates fitted on the benchmark's train split, the best chosen on a
       held-out share of that train split (dev macro-F1, our usual rule), refitted on the whole
       train split, then scored once on the test split.
    Scores are also given on the test rows whose text does not occur in train (``clean``).
    The default candidates are ours plus, when the ``benchmark`` extra is installed, one
    that adds frozen MiniLM sentence embeddings (``stance.benchmark_pipelines``).
    """
    candidates = tuple(candidates or stance.benchmark_pipelines())
    train = corpus.load_labelled([Path(train_file)])
    test = corpus.load_labelled([Path(test_file)])
    # The held-out share is chosen by a hash of each text, like our own splits: fixed, no RNG.
    dev_rows = [r for r in train if corpus.bucket_of(r["text"]) < dev_share * 100]
    fit_rows = [r for r in train if corpus.bucket_of(r["text"]) >= dev_share * 100]
    name, params, _, results = select_on_dev(fit_rows, dev_rows, candidates)
    winner = stance.StanceModel(stance.fit(train, name=name, params=params))
    seen = {r["text"] for r in train}
    clean = [r for r in test if r["text"] not in seen]

    def report(model: stance.StanceModel, rows: list[dict]) -> dict:
        gold = [r["label"] for r in rows]
        probs = model.predict_proba([r["text"] for r in rows])
        out = stance.classification_report(gold, [stance.STANCE_LABELS[i] for i in probs.argmax(axis=1)])
        out.update(stance.calibration_scores(gold, probs))
        return out

    shipped = stance.load(shipped_model_dir or stance_model_dir("en"))
    return {
        "n_train": len(train),
        "n_test": len(test),
        "n_test_clean": len(clean),
        "candidates": list(candidates),
        "selected": {"pipeline": name, "params": params, "dev": results},
        "shipped": {"model_version": shipped.version, "test": report(shipped, test), "clean": report(shipped, clean)},
        "trained": {"test": report(winner, test), "clean": report(winner, clean)},
    }
