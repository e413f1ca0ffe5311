"""The external benchmark (`tracker evaluate fomc`) and the embedding candidate it may use.

The benchmark's own files are not ours to copy into tests, so these tests build a small
benchmark-shaped folder (train.jsonl, test.jsonl) from our labelled corpus.
"""

import json
import random

import numpy as np
import pytest

from tracker import corpus, embeddings, stance
from tracker.cli import cli
from tracker.errors import ModelError
from tracker.settings import stance_model_dir
from tracker.training import benchmark_external

from test_stance_model import TINY

DUPLICATED = 5  # test rows whose text also occurs in train


def _write(path, rows):
    path.write_text("".join(json.dumps({"text": r["text"], "label": r["label"]}) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture(scope="module")
def bench_dir(tmp_path_factory):
    records = sorted(corpus.load_labelled(corpus.stance_files("en")), key=lambda r: r["id"])
    train = [r for r in records if r["split"] == "train"][:600]
    test = [r for r in records if r["split"] == "test"][:150] + train[:DUPLICATED]
    directory = tmp_path_factory.mktemp("benchmark")
    _write(directory / "train.jsonl", train)
    _write(directory / "test.jsonl", test)
    return directory


def test_evaluate_fomc_reports_the_shipped_and_the_trained_model(runner, bench_dir):
    result = runner.invoke(cli, ["evaluate", "fomc", "--dir", str(bench_dir), "--candidates", "word_char_lr", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["n_train"], report["n_test"], report["n_test_clean"]) == (600, 155, 155 - DUPLICATED)
    assert report["candidates"] == ["word_char_lr"] and report["selected"]["pipeline"] == "word_char_lr"
    shipped_meta = json.loads((stance_model_dir("en") / stance.META_FILE).read_text())
    assert report["shipped"]["model_version"] == shipped_meta["version"]
    # Trained on 600 of our sentences, the pipeline must beat always answering the commonest label.
    labels = [json.loads(line)["label"] for line in (bench_dir / "test.jsonl").read_text().splitlines()]
    majority = max(labels.count(label) for label in set(labels)) / len(labels)
    assert report["trained"]["test"]["accuracy"] > majority + 0.1


def test_evaluate_fomc_prints_both_numbers_beside_the_published_table(runner, bench_dir):
    result = runner.invoke(cli, ["evaluate", "fomc", "--dir", str(bench_dir), "--candidates", "word_char_lr"])
    assert result.exit_code == 0, result.output
    assert "(never trained on FOMC)" in result.output and "trained on FOMC train" in result.output
    assert "RoBERTa-large" in result.output and "BERT-base" in result.output


def test_selection_never_looks_at_the_test_split(bench_dir, tmp_path):
    # Same train split, test labels shuffled: what is selected (and its dev scores) must not move.
    shuffled = tmp_path / "test.jsonl"
    rows = [json.loads(line) for line in (bench_dir / "test.jsonl").read_text().splitlines()]
    labels = [r["label"] for r in rows]
    random.Random(7).shuffle(labels)
    _write(shuffled, [{**r, "label": label} for r, label in zip(rows, labels)])
    first = benchmark_external(bench_dir / "train.jsonl", bench_dir / "test.jsonl", candidates=("word_char_lr",))
    second = benchmark_external(bench_dir / "train.jsonl", shuffled, candidates=("word_char_lr",))
    assert first["selected"] == second["selected"]
    assert first["trained"]["test"]["weighted_f1"] != second["trained"]["test"]["weighted_f1"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--dir", "/nonexistent/fomc"], "no train.jsonl in /nonexistent/fomc"),
        (["--candidates", "bert_large"], "unknown pipeline 'bert_large'"),
    ],
)
def test_evaluate_fomc_bad_input_is_one_line(runner, bench_dir, args, message):
    result = runner.invoke(cli, ["evaluate", "fomc", "--dir", str(bench_dir), *args])
    lines = result.output.strip().splitlines()
    assert result.exit_code != 0 and len(lines) == 1
    assert lines[0].startswith("Error: ") and message in lines[0]


# --- the embedding candidate: needs the optional benchmark extra (PyTorch), which CI does not install

needs_embeddings = pytest.mark.skipif(not embeddings.available(), reason="benchmark extra not installed")


@needs_embeddings
def test_sentence_embeddings_are_unit_vectors_that_put_paraphrases_close():
    texts = [
        "The central bank cut interest rates to support growth.",
        "Policymakers lowered borrowing costs to help the economy.",
        "The company opened a new office in Shenzhen.",
    ]
    vectors = embeddings.encode(texts)
    assert vectors.shape == (3, embeddings.DIMENSIONS)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    assert np.array_equal(embeddings.encode(texts[::-1]), vectors[::-1])


@needs_embeddings
def test_embedding_candidate_is_offered_for_the_benchmark_but_cannot_be_shipped(tmp_path):
    assert "policy_cues_minilm_lr" in stance.benchmark_pipelines()
    assert "policy_cues_minilm_lr" not in stance.PIPELINES_BY_LANGUAGE["en"]
    rows = [{"text": t, "label": label} for t, label in TINY * 2]
    pipeline = stance.fit(rows, name="policy_cues_minilm_lr")
    assert stance.StanceModel(pipeline).predict([t for t, _ in TINY]) == [label for _, label in TINY]
    stance.save(stance.StanceModel(pipeline, {"version": "x"}), tmp_path)
    with pytest.raises(ModelError, match="untrusted types"):
        stance.load(tmp_path)


@pytest.mark.skipif(embeddings.available(), reason="here the embedding candidate is compared")
def test_evaluate_fomc_says_which_candidate_it_could_not_compare(runner, bench_dir):
    result = runner.invoke(cli, ["evaluate", "fomc", "--dir", str(bench_dir)])
    assert result.exit_code == 0, result.output
    assert "policy_cues_minilm_lr not compared" in result.output and ".venv-bench/bin/tracker" in result.output
    assert json.loads(runner.invoke(cli, ["evaluate", "fomc", "--dir", str(bench_dir), "--json"]).output)["candidates"] == list(
        stance.PIPELINE_NAMES
    )
