import hashlib

import pytest

from tracker import store
from tracker.cli import cli


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def test_add_the_same_file_twice_stores_it_once(runner, tmp_path, article_file):
    db = tmp_path / "t.db"
    first = runner.invoke(cli, ["add", str(article_file), "--db", str(db), "--source", "wire", "--published", "2025-08-12"])
    assert first.exit_code == 0, first.output
    assert "new" in first.output
    second = runner.invoke(cli, ["add", str(article_file), "--db", str(db), "--source", "wire"])
    assert second.exit_code == 0 and "unchanged" in second.output
    rows = list(store.open_db(db)["documents"].rows)
    assert len(rows) == 1
    assert rows[0]["published"] == "2025-08-12" and rows[0]["source_id"] == "wire"
    assert rows[0]["title"] == "article"


def test_add_reads_markdown_front_matter_and_html(runner, tmp_path):
    md = tmp_path / "note.md"
    md.write_text("---\ntitle: Cap on rates\npublished: 2017-12-01\nsource: Demo Wire\nurl: https://d.test/1\n---\n"
                  "# Heading\n\nRegulators **capped** annual costs at 36%.\n", encoding="utf-8")
    html = tmp_path / "page.html"
    html.write_text("<html><head><title>Notice on consumer loans</title></head><body><article><h1>Notice on consumer loans</h1>"
                    + "<p>The regulator will support consumer credit and widen subsidies for households this year.</p>" * 3
                    + "</article></body></html>", encoding="utf-8")
    db = tmp_path / "t.db"
    result = runner.invoke(cli, ["add", str(md), str(html), "--db", str(db)])
    assert result.exit_code == 0, result.output
    docs = {r["title"]: r for r in store.open_db(db)["documents"].rows}
    assert docs["Cap on rates"]["source_id"] == "demo-wire" and docs["Cap on rates"]["url"] == "https://d.test/1"
    assert "**" not in docs["Cap on rates"]["text"]
    assert "support consumer credit" in docs["Notice on consumer loans"]["text"]
    assert "<p>" not in docs["Notice on consumer loans"]["text"]
    assert store.open_db(db)["sources"].get("demo-wire")["name"] == "Demo Wire"


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.txt", b"   \n\n", "is empty"),
        ("binary.bin", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
        ("latin1.txt", "Régulateurs et crédit".encode("latin-1"), "not valid UTF-8"),
        (None, None, "no such file"),
    ],
)
def test_bad_input_is_one_line_error_and_database_unchanged(runner, tmp_path, article_file, name, content, message):
    db = tmp_path / "t.db"
    assert runner.invoke(cli, ["add", str(article_file), "--db", str(db)]).exit_code == 0
    store.checkpoint(store.open_db(db))
    before = _digest(db)
    bad = tmp_path / (name or "missing.txt")
    if content is not None:
        bad.write_bytes(content)
    result = runner.invoke(cli, ["add", str(bad), str(article_file), "--db", str(db)])
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0] and lines[0].startswith("Error:")
    assert _digest(db) == before


def test_bad_input_does_not_create_a_database(runner, tmp_path):
    db = tmp_path / "new.db"
    result = runner.invoke(cli, ["add", str(tmp_path / "nope.txt"), "--db", str(db)])
    assert result.exit_code != 0 and not db.exists()


def test_bad_published_date_is_rejected(runner, tmp_path, article_file):
    result = runner.invoke(cli, ["add", str(article_file), "--db", str(tmp_path / "t.db"), "--published", "last week"])
    assert result.exit_code != 0 and "ISO date" in result.output


def test_db_defaults_to_the_environment_variable(runner, tmp_path, article_file, monkeypatch):
    target = tmp_path / "env.db"
    monkeypatch.setenv("TRACKER_DB", str(target))
    assert runner.invoke(cli, ["add", str(article_file)]).exit_code == 0
    assert store.open_db(target)["documents"].count == 1


def test_analyze_twice_adds_no_rows(runner, tmp_path, article_file):
    db = tmp_path / "t.db"
    runner.invoke(cli, ["add", str(article_file), "--db", str(db)])
    first = runner.invoke(cli, ["analyze", "--db", str(db)])
    assert first.exit_code == 0 and "analysed 1 document" in first.output
    counts = store.table_counts(store.open_db(db))
    assert counts["sentences"] > 0 and counts["mentions"] > 0 and counts["figures"] > 0
    second = runner.invoke(cli, ["analyze", "--db", str(db)])
    assert "analysed 0 document" in second.output
    rescored = runner.invoke(cli, ["analyze", "--db", str(db), "--rescore"])
    assert rescored.exit_code == 0
    assert store.table_counts(store.open_db(db)) == counts


def test_analyze_on_a_missing_database_fails_cleanly(runner, tmp_path):
    result = runner.invoke(cli, ["analyze", "--db", str(tmp_path / "none.db")])
    assert result.exit_code != 0 and "tracker init" in result.output


def test_help_and_version(runner):
    assert runner.invoke(cli, ["-h"]).exit_code == 0
    assert "0." in runner.invoke(cli, ["--version"]).output
    for command in ["init", "add", "analyze", "extract", "score", "train", "evaluate", "serve", "demo"]:
        assert runner.invoke(cli, [command, "-h"]).exit_code == 0, command


def test_a_missing_model_for_one_language_does_not_stop_the_other(runner, tmp_path, article_file, monkeypatch):
    from tracker import training

    db = tmp_path / "t.db"
    chinese = tmp_path / "zh.txt"
    chinese.write_text("监管部门约谈了多家网络小贷平台，要求全面整改。", encoding="utf-8")
    assert runner.invoke(cli, ["add", str(article_file), str(chinese), "--db", str(db)]).exit_code == 0
    real = training.stance_model_dir
    monkeypatch.setattr(training, "stance_model_dir", lambda lang: real(lang) if lang == "en" else tmp_path / "none")
    training.stance.load_cached.cache_clear()
    result = runner.invoke(cli, ["analyze", "--db", str(db)])
    assert result.exit_code == 1 and "zh documents left unanalysed" in result.output
    rows = {r["language"]: r["analyzed_at"] for r in store.open_db(db)["documents"].rows}
    assert rows["en"] is not None and rows["zh"] is None


def test_relative_years_in_figures_resolve_against_the_publication_date(runner, tmp_path):
    db = tmp_path / "t.db"
    note = tmp_path / "note.txt"
    note.write_text("Platform lenders expect net profit of RMB 30 billion this year.", encoding="utf-8")
    assert runner.invoke(cli, ["add", str(note), "--db", str(db), "--published", "2019-05-02"]).exit_code == 0
    assert runner.invoke(cli, ["analyze", "--db", str(db)]).exit_code == 0
    figure = next(store.open_db(db)["figures"].rows)
    assert (figure["value"], figure["period"], figure["metric"]) == (3e10, "2019", "profit")
