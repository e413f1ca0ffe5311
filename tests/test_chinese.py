"""Chinese end to end: language routing, entities with shared ids, figures, stance, search."""

import asyncio
import json

import pytest

from tracker import site, store
from tracker.analysis import analyse_text
from tracker.cli import cli
from tracker.language import detect_language
from tracker.segment import search_query

NOTICE = (
    "中国人民银行、国家金融监督管理总局联合印发通知，鼓励持牌机构加大消费信贷投放，支持蚂蚁集团旗下花呗、借呗"
    "和微众银行微粒贷等产品规范发展。\n\n"
    "数据显示，三季度末个人消费贷款余额达5.4万亿元，同比增长12.5%；不良率下降0.5个百分点。"
    "通知明确，助贷业务年化利率不得超过24%。"
)


def test_language_is_detected():
    assert detect_language(NOTICE) == "zh"
    assert detect_language("The PBOC (中国人民银行) cut rates again on Monday, officials said.") == "en"


def test_chinese_notice_gives_shared_ids_figures_and_a_stance(runner, tmp_path):
    path = tmp_path / "notice.txt"
    path.write_text(NOTICE, encoding="utf-8")
    result = runner.invoke(cli, ["extract", str(path), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["language"] == "zh"
    ids = {e["id"] for e in out["entities"]}
    assert {"pboc", "nfra", "ant-group", "webank"} <= ids  # the same ids as in English text
    assert {e["text"] for e in out["entities"] if e["id"] == "ant-group"} >= {"蚂蚁集团", "花呗", "借呗"}
    for entity in out["entities"]:
        assert NOTICE[entity["start"]:entity["end"]] == entity["text"]
    figures = {f["text"]: f for f in out["figures"]}
    assert figures["5.4万亿元"]["value"] == 5.4e12 and figures["5.4万亿元"]["unit"] == "CNY"
    assert figures["12.5%"]["kind"] == "yoy"
    assert figures["0.5个百分点"]["unit"] == "percentage_point"
    assert figures["24%"]["kind"] == "cap" and figures["24%"]["metric"] == "interest_rate"
    assert -1 <= out["stance"]["score"] <= 1
    assert out["model_version"].startswith("stance-zh")


def test_chinese_sentences_split_on_chinese_punctuation():
    analysis = analyse_text("监管部门约谈了多家平台。平台表示将全面整改！会议还讨论了什么？")
    assert [s.text for s in analysis.sentences] == ["监管部门约谈了多家平台。", "平台表示将全面整改！", "会议还讨论了什么？"]


def test_chinese_stance_points_the_right_way():
    tight = analyse_text("监管部门将严厉打击违规放贷和暴力催收行为，对违法平台依法从严处罚。")
    loose = analyse_text("财政部明确对个人消费贷款给予财政贴息，支持金融机构扩大消费信贷投放。")
    assert tight.stance.score < 0 < loose.stance.score


@pytest.fixture
def chinese_db(tmp_path, runner):
    path = tmp_path / "zh.db"
    doc = tmp_path / "notice.txt"
    doc.write_text(NOTICE, encoding="utf-8")
    english = tmp_path / "en.txt"
    english.write_text("Regulators capped borrowing costs for online lenders at 24 percent.", encoding="utf-8")
    assert runner.invoke(cli, ["add", str(doc), str(english), "--db", str(path)]).exit_code == 0
    assert runner.invoke(cli, ["analyze", "--db", str(path)]).exit_code == 0
    return path


def _search(path, table, term):
    ds = site.make_datasette(path)
    response = asyncio.run(ds.client.get(f"/tracker/{table}.json?_shape=array&_search={term}"))
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("term", ["花呗", "蚂蚁集团", "微粒贷", "消费"])
def test_site_search_finds_two_character_chinese_words(chinese_db, term):
    documents = _search(chinese_db, "documents", term)
    assert len(documents) == 1 and documents[0]["language"] == "zh"
    assert any(term in s["text"] for s in _search(chinese_db, "sentences", term))


@pytest.mark.parametrize("query", ["蚂蚁集团花呗", "个人消费贷款余额"])
def test_site_search_splits_chinese_typed_without_spaces(chinese_db, query):
    # Neither query is one indexed word: each is cut into words, and every word must occur.
    assert [d["language"] for d in _search(chinese_db, "documents", query)] == ["zh"]


def test_site_search_of_chinese_words_needs_every_word(chinese_db):
    assert _search(chinese_db, "documents", "蚂蚁集团京东") == []  # 京东 is not in the notice


def test_search_query_cuts_chinese_runs_only():
    assert search_query("蚂蚁集团花呗") == "蚂蚁集团 花呗"
    assert search_query("Ant Group 花呗额度") == "Ant Group 花呗 额度"
    assert search_query("borrowing costs") == "borrowing costs"


def test_site_search_still_finds_english_and_not_absent_words(chinese_db):
    assert len(_search(chinese_db, "documents", "borrowing")) == 1
    assert _search(chinese_db, "documents", "京东") == []


def test_chinese_feed_and_utf8_listing_are_ingested_analysed_and_searchable(tmp_path):
    """A UTF-8 Chinese feed and notice listing (the GBK ones are in test_ingest_flow), end to end."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from ingest_server import FixtureServer, sources_toml

    from tracker.nightly import nightly_run
    from tracker.sources import load_sources

    server = FixtureServer().start()
    try:
        sources_file = tmp_path / "sources.toml"
        sources_file.write_text(
            sources_toml(
                server.base,
                [
                    {"id": "zh-feed", "url": "/zh/feed.xml", "language": "zh"},
                    {"id": "zh-utf8-listing", "url": "/zh/utf8-list.html", "kind": "listing", "language": "zh",
                     "links": "ul.notices a"},
                ],
            ),
            encoding="utf-8",
        )
        db_path = tmp_path / "zh-run.db"
        report = nightly_run(db_path, load_sources(sources_file))
    finally:
        server.stop()
    assert report.exit_code == 0, report
    db = store.open_db(db_path)
    rows = list(db["documents"].rows)
    assert len(rows) == 2  # the same two notices, reached from the feed and from the listing
    assert {r["language"] for r in rows} == {"zh"} and all(r["analyzed_at"] for r in rows)
    notice = next(r for r in rows if r["url"].endswith("/zh/utf8-notice.html"))
    assert "财政贴息" in notice["text"] and "版权所有" not in notice["text"]
    ids = {m["entity_id"] for m in db.query("select entity_id from mentions where document_id = ?", [notice["id"]])}
    assert {"pboc", "nfra", "mof", "webank", "ant-group"} <= ids
    assert notice["stance_score"] > 0
    brief = next(r for r in rows if r["url"].endswith("/zh/utf8-brief.html"))
    assert brief["stance_score"] < 0
    store.checkpoint(db)
    for term in ("花呗", "蚂蚁集团"):
        assert [d["id"] for d in _search(db_path, "documents", term)] == [notice["id"]]
