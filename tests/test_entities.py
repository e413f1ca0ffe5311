"""Names and figures in the English pipeline: gazetteer forms, the fallback NER and its
trigger, figures that must not be figures, the training data, the CLI and the seed article.
"""

import json
import logging
from pathlib import Path

import pytest
import spacy

from tracker import gazetteer, library, ner_training, nlp, store
from tracker.cli_entities import evaluate_entities, train_ner
from tracker.figures import find_figures

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT.parent / "shared" / "seed" / "000_0afc5f2b6c240f27.txt"


def mentions(text: str, pipeline=None):
    doc = (pipeline or nlp.get_nlp("en"))(text)
    return [m for s in nlp.sentence_records(doc) for m in s.mentions]


# --- the gazetteer ----------------------------------------------------------------
def test_gazetteer_has_enough_lenders_and_authorities():
    types = [e["type"] for e in gazetteer.load_entities()]
    assert types.count("LENDER") >= 50
    assert types.count("REGULATOR") + types.count("GOVERNMENT") >= 25


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ant Group's Huabei grew.", [("Ant Group", "ant-group"), ("Huabei", "ant-group")]),
        ("Ant Group\u2019s Jiebei grew.", [("Ant Group", "ant-group"), ("Jiebei", "ant-group")]),
        ("WeBank-backed lenders rose.", [("WeBank", "webank")]),
        ("Tencent-backed WeBank and Meituan-Dianping's unit", [("Tencent", "tencent"), ("WeBank", "webank"),
                                                              ("Meituan-Dianping", "meituan")]),
        ("Platforms such as the Alibabas and Tencents of this world", [("Alibabas", "alibaba"), ("Tencents", "tencent")]),
        ("The PBOC's and the NFRA's rules", [("PBOC", "pboc"), ("NFRA", "nfra")]),
        ("The People\u2019s Bank of China said", [("People\u2019s Bank of China", "pboc")]),
        ("the NFRA (国家金融监督管理总局) said", [("NFRA", "nfra"), ("国家金融监督管理总局", "nfra")]),
        ("Ants are insects, and the ant colony grew.", []),
    ],
)
def test_gazetteer_forms(text, expected):
    found = mentions(text)
    assert [(m.text, m.id) for m in found] == expected
    assert all(m.source == "gazetteer" and text[m.start:m.end] == m.text for m in found)


# --- the fallback NER --------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Baoshan Ruitong Consumer Finance said on Tuesday that it had cut rates on new loans to 18%.",
         [("Baoshan Ruitong Consumer Finance", "LENDER")]),
        ("The Hainan Provincial Local Financial Supervision Bureau fined Qiaoxin Online Microloan 300,000 yuan.",
         [("Hainan Provincial Local Financial Supervision Bureau", "REGULATOR"), ("Qiaoxin Online Microloan", "LENDER")]),
        ("Lenders such as Zhongshan Huiyin Micro-lending were told to stop charging service fees.",
         [("Zhongshan Huiyin Micro-lending", "LENDER")]),
    ],
)
def test_fallback_finds_unlisted_names_with_label_and_no_id(text, expected):
    found = mentions(text)
    assert [(m.text, m.label) for m in found] == expected
    assert all(m.id is None and m.source == "model" for m in found)


def test_gazetteer_wins_where_both_fire():
    found = mentions("Ping An Bank Credit Card Center launched an instalment product.")
    assert [(m.text, m.id, m.source) for m in found] == [("Ping An Bank", "ping-an-bank", "gazetteer")]


def test_titles_institutes_and_media_are_not_names():
    text = ("The Notice on Further Regulating the Internet Loan Business of Commercial Banks took effect, "
            "the Financial Times and the Shanghai Finance Institute said.")
    assert mentions(text) == []


def _fresh(**kwargs):
    return nlp.build_nlp("en", **kwargs)


@pytest.mark.parametrize(
    "text",
    [
        "Consumers borrowed more in March as banks cut rates.",
        "The PBOC and the People's Bank of China met WeBank.",  # names the gazetteer already has
        "Interim Measures for the Administration of Online Micro-lending Business",  # a title
        "REGULATORS ACT",
    ],
)
def test_trigger_does_not_fire_on_plain_sentences(text):
    pipeline = _fresh()
    doc = pipeline(text)
    component = pipeline.get_pipe("tracker_ner_fallback")
    assert component.stats["triggered"] == 0 and component.stats["tokens_tagged"] == 0
    covered = {i for e in doc.ents for i in range(e.start, e.end)}
    assert nlp.candidate_runs(doc, 0, len(doc), covered) == []


def test_trigger_fires_on_a_candidate_name_only():
    pipeline = _fresh()
    list(pipeline.pipe(["Hengyuan Jinhua Consumer Finance cut rates. Demand was weak. Banks lent more."]))
    stats = pipeline.get_pipe("tracker_ner_fallback").stats
    assert (stats["sentences"], stats["triggered"]) == (3, 1)


def test_missing_model_means_no_fallback_and_one_warning(tmp_path, caplog):
    pipeline = _fresh(ner_model_path=tmp_path / "missing")
    with caplog.at_level(logging.WARNING, logger="tracker.nlp"):
        docs = list(pipeline.pipe(["Baoshan Ruitong Consumer Finance cut rates.", "Qiaoxin Online Microloan grew."]))
    assert all(not d.ents for d in docs)
    assert [r.message for r in caplog.records].count(
        f"no fallback NER model at {tmp_path / 'missing'}: unlisted names will not be found") == 1


def test_pipeline_without_fallback_still_finds_listed_names():
    found = mentions("Baoshan Ruitong Consumer Finance and WeBank cut rates.", _fresh(ner_fallback=False))
    assert [(m.text, m.source) for m in found] == [("WeBank", "gazetteer")]


def test_model_mentions_and_roles_reach_the_database(tmp_path):
    text = tmp_path / "notice.txt"
    text.write_text(
        "The Hainan Provincial Local Financial Supervision Bureau fined Qiaoxin Online Microloan 300,000 yuan.\n\n"
        "SAMR fined Meituan 3 billion yuan.\n",
        encoding="utf-8",
    )
    db = library.init_db(tmp_path / "t.db")
    library.add_files(db, [text])
    library.analyze(db)
    rows = list(db.query("select text, label, entity_id, role, method from mentions order by start"))
    assert rows == [
        {"text": "Hainan Provincial Local Financial Supervision Bureau", "label": "REGULATOR", "entity_id": None,
         "role": "actor", "method": "model"},
        {"text": "Qiaoxin Online Microloan", "label": "LENDER", "entity_id": None, "role": "target", "method": "model"},
        {"text": "SAMR", "label": "REGULATOR", "entity_id": "samr", "role": "actor", "method": "gazetteer"},
        {"text": "Meituan", "label": "LENDER", "entity_id": "meituan", "role": "target", "method": "gazetteer"},
    ]
    store.checkpoint(db)


# --- figures that are not figures ----------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "The rules were issued in 2021 and revised on 15 March 2024.",
        "It was the third cut this year and the 2nd in the first quarter.",
        "Borrowers can call 95188 or 400-820-8888 for help, or dial 12363.",
        "The 14th Five-Year Plan runs from 2021 to 2025.",
        "Article 12 of Document No. 141 applies from 1 December 2017.",
        "The meeting on 2024-07-30 set a 1:1 ratio and a 3-tier system.",
        "Q3 2024 and H1 2025 results were due at 9:30 on 20 August.",
    ],
)
def test_years_dates_ordinals_and_phone_numbers_are_not_figures(text):
    assert find_figures(text) == []
    assert [f for s in nlp.sentence_records(nlp.get_nlp("en")(text)) for f in s.figures] == []


def test_relative_years_resolve_against_the_documents_year():
    assert nlp.infer_reference_year("In 2024 ... by 2025, and in 2025 again, not 2030.") == 2025
    assert nlp.infer_reference_year("No year here.") is None
    doc = nlp.get_nlp("en")("Loans rose in 2025. Profit could reach CNY 2 billion this year.")
    assert [(f.value, f.period) for f in doc._.figures] == [(2e9, "2025")]


# --- training data --------------------------------------------------------------------
def test_training_data_is_large_split_and_disjoint_from_gold():
    rows = ner_training.load_ner_data()
    assert len(rows) >= 600
    splits = {r["split"] for r in rows}
    assert splits == {"train", "dev"}
    gold = ner_training.entity_eval.load_gold(ner_training.GOLD_PATH)
    ner_training.check_no_gold_overlap(rows, gold)
    gold_unlisted = {e["text"].lower() for g in gold for e in g["entities"] if not e.get("id")}
    names = {r["text"][e["start"]:e["end"]].lower() for r in rows for e in r["entities"]}
    assert not names & gold_unlisted
    ner_training._examples(spacy.blank("en"), rows)  # every span falls on token boundaries


def test_training_data_is_rebuilt_exactly_from_its_sources():
    rows = ner_training.build_ner_data()
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    assert text == ner_training.NER_DATA_PATH.read_text(encoding="utf-8")


def test_gold_overlap_is_refused():
    gold = [{"id": "g1", "text": "SAMR fined Meituan 3.44 billion yuan in October 2021."}]
    with pytest.raises(ner_training.InputError, match="too close to gold g1"):
        ner_training.check_no_gold_overlap([{"id": "x-0", "text": "SAMR fined Meituan 3.44 billion yuan in 2021."}], gold)


def test_training_is_deterministic(tmp_path):
    rows = ner_training.load_ner_data()
    small = [r for r in rows if r["split"] == "train"][:40] + [r for r in rows if r["split"] == "dev"][:10]
    data = tmp_path / "small.jsonl"
    ner_training.write_jsonl(small, data)
    config = tmp_path / "config.cfg"
    config.write_text(
        ner_training.NER_CONFIG_PATH.read_text(encoding="utf-8").replace("max_epochs = 25", "max_epochs = 2"),
        encoding="utf-8",
    )
    first = ner_training.train_ner(data, tmp_path / "a", config_path=config)
    second = ner_training.train_ner(data, tmp_path / "b", config_path=config)
    assert first["dev"] == second["dev"] and first["data_hash"] == second["data_hash"]
    assert (tmp_path / "a" / "ner" / "model").read_bytes() == (tmp_path / "b" / "ner" / "model").read_bytes()
    assert spacy.load(tmp_path / "a").meta["tracker"]["n_train"] == 40


def test_shipped_model_is_current_small_and_described():
    model_dir = ner_training.NER_MODEL_DIR
    assert not ner_training.is_stale(model_dir), "corpus/ner changed: run 'tracker train-ner'"
    size = sum(p.stat().st_size for p in model_dir.rglob("*") if p.is_file())
    assert size < 5_000_000
    meta = json.loads((model_dir / "meta.json").read_text(encoding="utf-8"))["tracker"]
    assert meta["spacy_version"] == spacy.__version__
    assert {"precision", "recall", "f1"} <= set(meta["dev"]) and meta["dev"]["f1"] >= 0.9


# --- the commands ---------------------------------------------------------------------
@pytest.fixture
def small_gold(tmp_path):
    rows = [
        {"id": "a", "text": "SAMR fined Meituan 3 billion yuan.",
         "entities": [{"start": 0, "end": 4, "text": "SAMR", "label": "REGULATOR", "id": "samr", "role": "actor"},
                      {"start": 11, "end": 18, "text": "Meituan", "label": "LENDER", "id": "meituan"}],
         "figures": [{"text": "3 billion yuan", "start": 19, "end": 33, "value": 3e9, "low": None, "high": None,
                      "unit": "CNY", "kind": "level", "approx": False, "period": None, "metric": "fine"}]},
        {"id": "b", "text": "Baoshan Ruitong Consumer Finance cut its rates.",
         "entities": [{"start": 0, "end": 32, "text": "Baoshan Ruitong Consumer Finance", "label": "LENDER", "id": None}],
         "figures": []},
    ]
    path = tmp_path / "gold.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_evaluate_entities_prints_scores_per_label(runner, small_gold):
    result = runner.invoke(evaluate_entities, ["--data", str(small_gold)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "entities and figures on 2 sentences"
    assert "LENDER             1.000     1.000     1.000         2" in lines
    assert "figure value       1.000     1.000     1.000         1" in lines
    assert "role accuracy 1.000 on 1 annotated mentions found" in lines


def test_evaluate_entities_json_and_without_fallback(runner, small_gold):
    result = runner.invoke(evaluate_entities, ["--data", str(small_gold), "--json", "--no-fallback"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["entities"]["per_label"]["LENDER"]["recall"] == 0.5
    assert report["figures"]["attributes"]["metric"] == 1.0
    assert report["ner_model"] is None and "errors" not in report


def test_evaluate_entities_reports_bad_input(runner, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "SAMR", "entities": [{"start": 0, "end": 3, "text": "SAMR", "label": "REGULATOR"}]}\n')
    result = runner.invoke(evaluate_entities, ["--data", str(bad)])
    assert result.exit_code == 1 and "does not match its offsets" in result.output
    result = runner.invoke(evaluate_entities, ["--data", str(tmp_path / "none.jsonl")])
    assert result.exit_code == 1 and "no such gold file" in result.output


def test_train_ner_if_stale_does_nothing_when_current(runner):
    result = runner.invoke(train_ner, ["--if-stale"])
    assert result.exit_code == 0 and result.output.strip().endswith("up to date")


# --- the seed article ------------------------------------------------------------------
@pytest.mark.skipif(not SEED.exists(), reason=f"the seed article is not at {SEED}")
def test_seed_article_names_exactly_the_four_lenders_and_its_figures():
    from tracker.analysis import analyse_text

    analysis = analyse_text(SEED.read_text(encoding="utf-8"))
    assert {(m.label, m.id) for m in analysis.mentions} == {
        ("LENDER", "ant-group"), ("LENDER", "webank"), ("LENDER", "meituan"), ("LENDER", "bytedance")
    }
    got = [(f.value, f.unit, f.low, f.high, f.kind) for f in analysis.figures]
    assert got == [
        (5.4e12, "CNY", None, None, "level"),
        (7.4, "percent", None, None, "cagr"),
        (110e9, "CNY", None, None, "level"),
        (190.0, "percent", None, None, "yoy"),
        (6.0, "percent", 5.0, 7.0, "level"),
    ]
    periods = [f.period for f in analysis.figures]
    metrics = [f.metric for f in analysis.figures]
    assert (periods[0], periods[2], periods[3]) == ("2025", "2025", "2025Q1")
    assert metrics[:4] == ["loan_balance", "loan_balance", "profit", "npl"]
