import json

from tracker.analysis import analyse_text
from tracker.cli import cli


def test_extract_json_finds_entities_figures_and_stance(runner, article_file):
    result = runner.invoke(cli, ["extract", str(article_file), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["language"] == "en"
    ids = {e["id"] for e in out["entities"]}
    assert {"pboc", "nfra", "webank", "jd-technology"} <= ids
    text = article_file.read_text(encoding="utf-8")
    for entity in out["entities"]:
        assert text[entity["start"]:entity["end"]] == entity["text"]
    by_text = {f["text"]: f for f in out["figures"]}
    trillion = next(f for f in out["figures"] if f["unit"] == "CNY")
    assert trillion["value"] == 2.3e12
    bps = next(f for f in out["figures"] if f["unit"] == "basis_point")
    assert bps["value"] == 25
    rng = next(f for f in out["figures"] if f["low"] is not None)
    assert (rng["low"], rng["high"], rng["unit"]) == (10, 15, "percent")
    assert any(f["value"] == 9.5 and f["unit"] == "percent" for f in by_text.values())
    assert out["stance"]["label"] == "accommodative" and out["stance"]["score"] > 0
    assert all(-1 <= s["score"] <= 1 for s in out["sentences"])
    assert len(out["sentences"]) >= 5


def test_extract_reads_stdin_and_flags_tightening(runner):
    text = "The regulator ordered online lenders to halt new loans and fined two platforms for breaching the 24% cap."
    result = runner.invoke(cli, ["extract", "-", "--json"], input=text)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["stance"]["score"] < 0


def test_extract_jsonl_carries_ids_in_order(runner):
    lines = [
        {"id": "b", "text": "Ant Group's Huabei was told to cut its credit lines."},
        {"id": "a", "text": "WeBank-backed lenders welcomed the subsidy of 1 percentage point."},
    ]
    result = runner.invoke(cli, ["extract", "--jsonl"], input="\n".join(json.dumps(l) for l in lines) + "\n")
    assert result.exit_code == 0, result.output
    rows = [json.loads(l) for l in result.output.splitlines()]
    assert [r["id"] for r in rows] == ["b", "a"]
    assert {"ant-group"} <= {e["id"] for e in rows[0]["entities"]}
    assert rows[1]["entities"][0]["text"] == "WeBank"
    assert rows[1]["figures"][0]["unit"] == "percentage_point"


def test_extract_jsonl_rejects_bad_lines(runner):
    result = runner.invoke(cli, ["extract", "--jsonl"], input='{"id": 1, "text": "ok"}\nnot json\n')
    assert result.exit_code != 0 and "line 2" in result.output


def test_place_names_are_not_lenders():
    analysis = analyse_text("Lenders in Beijing, Shanghai and Hangzhou met officials from Shenzhen on Monday.")
    assert [m for m in analysis.mentions if m.label == "LENDER"] == []


def test_document_stance_follows_its_policy_sentences():
    tightening = analyse_text(
        "Regulators halted the listing and ordered the platform to rectify its lending business. "
        "The company has offices in three cities. New rules cap the share of loans a platform may fund."
    )
    assert tightening.stance.label == "tightening" and tightening.stance.evidence
    evidence = [tightening.sentences[i].text for i in tightening.stance.evidence]
    assert "offices" not in " ".join(evidence)
