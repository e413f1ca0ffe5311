import json
import zipfile

import pytest

from tracker import corpus, stance
from tracker.cli import cli
from tracker.errors import InputError, ModelError
from tracker.settings import STANCE_DATA_DIR, stance_model_dir
from tracker.training import is_stale, train_stance

TINY = [
    ("The central bank cut interest rates to support borrowers.", "accommodative"),
    ("Regulators eased restrictions on consumer lending.", "accommodative"),
    ("Officials pledged subsidies for consumer loans.", "accommodative"),
    ("The watchdog lifted the ban on new online loans.", "accommodative"),
    ("Authorities relaxed the cap on lending volumes.", "accommodative"),
    ("New rules ban platforms from funding most loans.", "tightening"),
    ("The regulator fined the lender and halted its listing.", "tightening"),
    ("Authorities ordered a crackdown on cash loans.", "tightening"),
    ("The central bank raised rates to curb credit growth.", "tightening"),
    ("Officials tightened the cap on borrowing costs.", "tightening"),
    ("The company has offices in several cities.", "neutral"),
    ("The report was published on Tuesday.", "neutral"),
    ("Shares traded flat in Hong Kong.", "neutral"),
    ("The meeting lasted two hours.", "neutral"),
    ("The firm employs four thousand people.", "neutral"),
]


@pytest.fixture
def tiny_data(tmp_path):
    path = tmp_path / "en_tiny.jsonl"
    # Ids chosen so that every label lands in train and dev.
    rows = []
    for n in range(6):
        for i, (text, label) in enumerate(TINY):
            rows.append({"id": f"t{n}-{i}", "text": f"{text} ({n})" if n else text, "label": label})
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_split_is_stable_and_roughly_70_15_15():
    splits = [corpus.split_of(f"id-{i}") for i in range(3000)]
    assert corpus.split_of("id-7") == corpus.split_of("id-7")
    share = {s: splits.count(s) / len(splits) for s in corpus.SPLITS}
    assert 0.66 < share["train"] < 0.74 and 0.12 < share["dev"] < 0.18 and 0.12 < share["test"] < 0.18


def test_train_saves_skops_and_meta_then_loads_without_pickle(tiny_data, tmp_path):
    out = tmp_path / "model"
    model = train_stance([tiny_data], out_dir=out)
    assert (out / "model.skops").exists()
    meta = json.loads((out / "meta.json").read_text())
    assert meta["data_hash"] == corpus.data_hash([tiny_data])
    assert set(meta["scores"]["candidates"]) == set(stance.PIPELINE_NAMES)
    assert {"scikit-learn", "skops"} <= set(meta["library_versions"])
    loaded = stance.load(out)
    texts = ["Officials cut rates to help borrowers.", "Regulators ordered a crackdown."]
    assert loaded.predict(texts) == model.predict(texts)
    scores = loaded.score(texts)
    assert all(-1 <= s <= 1 and 0 <= r <= 1 for s, _, r in scores)
    assert not is_stale(out, [tiny_data])
    tiny_data.write_text(tiny_data.read_text() + json.dumps({"id": "new", "text": "More.", "label": "neutral"}) + "\n")
    assert is_stale(out, [tiny_data])


def test_loading_refuses_untrusted_types(tmp_path, tiny_data, monkeypatch):
    out = tmp_path / "model"
    train_stance([tiny_data], out_dir=out)
    monkeypatch.setattr(stance, "TRUSTED_TYPES", frozenset())
    with pytest.raises(ModelError, match="untrusted"):
        stance.load(out)


def test_bad_labels_are_reported_with_their_line(tmp_path):
    path = tmp_path / "en_bad.jsonl"
    path.write_text('{"id": "1", "text": "x", "label": "neutral"}\n{"id": "2", "text": "y", "label": "hawkish"}\n')
    with pytest.raises(InputError, match=r"en_bad.jsonl:2"):
        corpus.load_labelled([path])


def test_train_and_evaluate_commands(runner, tiny_data, tmp_path):
    out = tmp_path / "m"
    result = runner.invoke(cli, ["train", "--data", str(tiny_data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "dev macro-F1" in result.output
    again = runner.invoke(cli, ["train", "--data", str(tiny_data), "--out", str(out), "--if-stale"])
    assert "up to date" in again.output
    report = runner.invoke(cli, ["evaluate", "--data", str(tiny_data), "--model", str(out), "--json"])
    data = json.loads(report.output)
    assert set(data["per_label"]) == {"tightening", "neutral", "accommodative"}
    assert len(data["confusion"]) == 3 and sum(map(sum, data["confusion"])) == data["n"]
    text = runner.invoke(cli, ["evaluate", "--data", str(tiny_data), "--model", str(out)]).output
    assert "macro F1" in text and "weighted F1" in text and "confusion" in text


def test_score_command_keeps_order_and_adds_label_and_score(runner):
    rows = [{"id": i, "text": t} for i, t in enumerate(["Regulators cut rates and widened subsidies.", "Regulators banned the loans."])]
    result = runner.invoke(cli, ["score"], input="\n".join(json.dumps(r) for r in rows))
    assert result.exit_code == 0, result.output
    out = [json.loads(l) for l in result.output.splitlines()]
    assert [r["id"] for r in out] == [0, 1]
    assert out[0]["score"] > out[1]["score"]
    assert {"label", "score", "text"} <= set(out[0])


def test_shipped_model_is_trained_on_the_current_corpus():
    # Fails when corpus/stance changes without `tracker train` being rerun.
    assert not is_stale(stance_model_dir("en"), corpus.stance_files("en"))


def test_missing_model_is_a_clear_error(runner, tmp_path):
    result = runner.invoke(cli, ["score", "--model", str(tmp_path / "none")], input='{"id": 1, "text": "x"}\n')
    assert result.exit_code != 0 and "tracker train" in result.output


@pytest.mark.parametrize("name", stance.PIPELINES_BY_LANGUAGE["en"] + stance.PIPELINES_BY_LANGUAGE["zh"])
def test_every_shippable_candidate_round_trips_through_skops(tmp_path, name):
    rows = [{"text": t + (" 监管" if name.startswith("zh") else ""), "label": label} for t, label in TINY * 2]
    pipeline = stance.fit(rows, name=name)
    stance.save(stance.StanceModel(pipeline, {"version": name}), tmp_path)
    loaded = stance.load(tmp_path)  # fails if the allow-list misses a type this pipeline holds
    texts = [r["text"] for r in rows[:3]]
    assert loaded.predict(texts) == stance.StanceModel(pipeline).predict(texts)


def test_saved_model_stores_its_vocabularies_compactly(tmp_path):
    # skops writes each numpy scalar as its own file in the zip: a vocabulary of numpy ints
    # made the shipped model 3.5x larger. Saved models must hold a handful of arrays.
    rows = [{"text": t, "label": label} for t, label in TINY * 2]
    model = stance.StanceModel(stance.fit(rows, name="word_char_lr"))
    n_terms = sum(len(t.vocabulary_) for _, t in model.pipeline.named_steps["features"].transformer_list)
    stance.save(model, tmp_path)
    with zipfile.ZipFile(tmp_path / stance.MODEL_FILE) as archive:
        assert len(archive.infolist()) < 50 < n_terms
    assert stance.load(tmp_path).predict([t for t, _ in TINY]) == model.predict([t for t, _ in TINY])


def test_held_out_file_scores_fit_on_the_other_files_and_never_touch_test(tmp_path):
    from tracker.training import held_out_file_scores

    paths = []
    for name in ("en_official.jsonl", "en_press.jsonl"):
        path = tmp_path / name
        lines = (STANCE_DATA_DIR / name).read_text(encoding="utf-8").splitlines(keepends=True)
        path.write_text("".join(lines[:300]), encoding="utf-8")
        paths.append(path)
    rows = held_out_file_scores(paths, name="word_char_lr", params={"C": 10.0})
    expected = {p.name: sum(r["split"] != "test" for r in corpus.load_labelled([p])) for p in paths}
    assert {r["file"]: r["n"] for r in rows} == expected
    # 250 official sentences teach the press file (and back) well above chance (0.33):
    # a label or row mix-up would land near or below it.
    assert all(r["macro_f1"] > 0.45 for r in rows)
    with pytest.raises(InputError, match="at least two"):
        held_out_file_scores(paths[:1], name="word_char_lr")


@pytest.mark.parametrize("language", ["en", "zh"])
def test_shipped_model_is_the_best_calibrated_candidate_on_dev(language):
    from tracker.training import MAX_DEV_ECE

    meta = json.loads((stance_model_dir(language) / stance.META_FILE).read_text())
    chosen, candidates = meta["scores"]["dev"], meta["scores"]["candidates"]
    assert chosen["dev_ece"] <= MAX_DEV_ECE  # probabilities good enough to read as confidence
    calibrated = [row for row in candidates.values() if row["dev_ece"] <= MAX_DEV_ECE]
    assert round(chosen["dev_macro_f1"], 3) == max(round(row["dev_macro_f1"], 3) for row in calibrated)
