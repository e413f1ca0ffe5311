"""The ``tracker`` command line: parses arguments, calls the library, prints results.

Library errors become one-line messages and a non-zero exit.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import click

from . import __version__, library, store
from .cli_common import CONTEXT_SETTINGS, OneLineErrors, db_option, reports_errors
from .documents import decode_text, read_document
from .errors import InputError
from .language import detect_language
from .records import Analysis

# analysis and training (spaCy, scikit-learn: seconds to import) are imported inside the
# commands that use them, so `tracker -h`, `sources`, `serve` and `export` start at once.

class TrackerGroup(click.Group):
    """Commands declared on the group get one-line usage errors by default."""

    command_class = OneLineErrors


@click.group(cls=TrackerGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="tracker")
def cli():
    """Turn news and regulatory text about Chinese consumer lending into policy signals."""


@cli.command()
@db_option
@reports_errors
def init(db_path):
    """Create the database (or migrate it) and load the gazetteer.

    Example: tracker init --db tracker.db
    """
    db = library.init_db(db_path)
    counts = store.table_counts(db)
    click.echo(f"{db_path}: ready ({counts['entities']} entities, {counts['documents']} documents)")


@cli.command()
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False), required=True)
@db_option
@click.option("--source", "source_id", help="Source id to file the documents under.")
@click.option("--title", help="Title (otherwise from the file).")
@click.option("--published", help="Publication date, ISO 8601 (otherwise from the file).")
@click.option("--url", help="URL of the original.")
@reports_errors
def add(files, db_path, source_id, title, published, url):
    """Add text, Markdown or HTML files as documents (the same file twice is stored once).

    Example: tracker add notice.html --source pboc-news-en --published 2025-08-12
    """
    if len(files) > 1 and (title or url):
        raise InputError("--title and --url apply to one file; give one file or leave them out")
    # Validate every file before the database is touched.
    documents = library.read_files(list(files), source_id=source_id, title=title, published=published, url=url)
    db = library.init_db(db_path)
    for added in library.add_documents(db, documents):
        click.echo(f"{added.path}: {added.status} (document {added.document_id})")


@cli.command()
@db_option
@click.option("--rescore", is_flag=True, help="Also re-analyse documents scored by another model version.")
@click.option("--model", "model_dir", type=click.Path(file_okay=False), help="Stance model directory.")
@reports_errors
def analyze(db_path, rescore, model_dir):
    """Analyse documents not analysed yet: sentences, entities, figures, stance.

    Example: tracker analyze --db tracker.db --rescore
    """
    db = store.open_db(db_path, create=False)
    done = library.analyze(db, rescore=rescore, model_dir=model_dir)
    if done:
        library.refresh_index(db)  # the index and alerts depend on every score
    store.checkpoint(db)
    click.echo(f"analysed {done} document(s)")


def analysis_json(analysis: Analysis, **extra) -> dict:
    stance = analysis.stance
    return {
        **extra,
        "language": analysis.language,
        "stance": {
            "score": stance.score if stance else None,
            "label": stance.label if stance else None,
            "confidence": stance.confidence if stance else None,
            "evidence": [analysis.sentences[i].text for i in stance.evidence] if stance else [],
        },
        "model_version": analysis.model_version,
        "entities": [
            {
                "text": m.text,
                "label": m.label,
                "id": m.id,
                "start": m.start,
                "end": m.end,
                "role": m.role,
                "source": m.source,
                "stance_score": m.stance_score,
            }
            for m in analysis.mentions
        ],
        "figures": [asdict(f) for f in analysis.figures],
        "sentences": [{"text": s.text, "score": s.score, "label": s.label} for s in analysis.sentences],
    }


def _read_jsonl(stream) -> list[dict]:
    rows = []
    for lineno, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"stdin line {lineno}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise InputError(f'stdin line {lineno}: expected an object with a "text" string')
        rows.append(row)
    return rows


@cli.command()
@click.argument("file", required=False, default="-")
@click.option("--json", "as_json", is_flag=True, help="Print the analysis as one JSON object.")
@click.option("--jsonl", "as_jsonl", is_flag=True, help='Read JSON Lines {"id", "text"} on stdin; print one result per line.')
@click.option("--language", type=click.Choice(["en", "zh"]), help="Skip language detection.")
@click.option("--model", "model_dir", type=click.Path(file_okay=False), help="Stance model directory.")
@reports_errors
def extract(file, as_json, as_jsonl, language, model_dir):
    """Analyse one text (a file, or - for stdin) without a database.

    Example: tracker extract notice.txt --json
    """
    from .analysis import analyse_text, analyse_texts
    from .training import load_model

    if as_jsonl:
        rows = _read_jsonl(sys.stdin)
        by_language: dict[str, list[int]] = {}
        for i, row in enumerate(rows):
            by_language.setdefault(language or detect_language(row["text"]), []).append(i)
        results: list[dict | None] = [None] * len(rows)
        for lang, indexes in by_language.items():
            model = load_model(lang, model_dir)
            texts = [rows[i]["text"] for i in indexes]
            for i, analysis in zip(indexes, analyse_texts(texts, language=lang, model=model)):
                results[i] = analysis_json(analysis, id=rows[i].get("id"))
        for result in results:
            click.echo(json.dumps(result, ensure_ascii=False))
        return
    if file == "-":
        text = decode_text(sys.stdin.buffer.read(), name="stdin")
    else:
        text = read_document(file).text
    analysis = analyse_text(text, language=language, model_dir=model_dir)
    if as_json:
        click.echo(json.dumps(analysis_json(analysis), ensure_ascii=False, indent=2))
        return
    stance = analysis.stance
    click.echo(f"language: {analysis.language}")
    if stance:
        click.echo(f"stance: {stance.label} ({stance.score:+.2f}, confidence {stance.confidence:.2f})")
    for m in analysis.mentions:
        click.echo(f"entity: {m.text} [{m.label}{' ' + m.id if m.id else ''}]")
    for f in analysis.figures:
        rng = f" range {f.low:g}-{f.high:g}" if f.low is not None else ""
        click.echo(f"figure: {f.text} = {f.value:g} {f.unit}{rng} ({f.kind})")


@cli.command()
@click.option("--model", "model_dir", type=click.Path(file_okay=False), help="Stance model directory.")
@reports_errors
def score(model_dir):
    """Score JSON Lines {"id", "text"} from stdin; print them with "label" and "score".

    Example: echo '{"id": 1, "text": "The PBOC cut rates."}' | tracker score
    """
    from .training import load_model

    rows = _read_jsonl(sys.stdin)
    model = load_model("en", model_dir)
    for row, (value, label, _) in zip(rows, model.score([r["text"] for r in rows])):
        click.echo(json.dumps({**row, "label": label, "score": round(value, 6)}, ensure_ascii=False))


@cli.command()
@click.option("--data", "data_files", multiple=True, type=click.Path(dir_okay=False), help="Labelled JSON Lines (default: corpus/stance/<lang>_*.jsonl).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Where to save the model (default: models/stance-<lang>).")
@click.option("--language", default="en", type=click.Choice(["en", "zh"]), show_default=True)
@click.option("--if-stale", is_flag=True, help="Do nothing when the saved model was trained on the same data.")
@reports_errors
def train(data_files, out_dir, language, if_stale):
    """Train the stance model: fit candidates on train, select on dev macro-F1, save with skops.

    Example: tracker train --out models/stance-en
    """
    from .corpus import stance_files
    from .settings import stance_model_dir
    from .training import is_stale, train_stance

    files = [Path(p) for p in data_files] or stance_files(language)
    target = out_dir or stance_model_dir(language)
    if if_stale and not is_stale(target, files):
        click.echo(f"{target}: up to date")
        return
    model = train_stance(files, language=language, out_dir=target)
    dev = model.meta["scores"]["dev"]
    click.echo(f"{target}: {model.version} (dev macro-F1 {dev['dev_macro_f1']:.3f})")


@cli.group(invoke_without_command=True)
@click.option("--data", "data_file", type=click.Path(dir_okay=False), help="Labelled JSON Lines file.")
@click.option("--model", "model_dir", type=click.Path(file_okay=False), help="Stance model directory.")
@click.option("--split", type=click.Choice(["train", "dev", "test"]), help="Only rows of this split.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
@reports_errors
def evaluate(ctx, data_file, model_dir, split, as_json):
    """Evaluate the stance model (or, with a subcommand, another component).

    Per-label precision, recall and F1, macro and weighted F1, Brier score,
    calibration error and the confusion matrix; then the candidates compared on dev.

    Example: tracker evaluate --data corpus/stance/en_press.jsonl --split test
    """
    if ctx.invoked_subcommand is not None:
        return
    if not data_file:
        raise click.UsageError("give --data FILE, or a subcommand such as 'entities'")
    from .training import evaluate_stance

    report = evaluate_stance(data_file, model_dir=model_dir, split=split)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"model {report['model_version']} on {report['n']} sentences")
    click.echo(f"{'label':<15}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}")
    for label, row in report["per_label"].items():
        click.echo(f"{label:<15}{row['precision']:>10.3f}{row['recall']:>10.3f}{row['f1']:>10.3f}{row['support']:>10}")
    click.echo(f"macro F1 {report['macro_f1']:.3f}  weighted F1 {report['weighted_f1']:.3f}  accuracy {report['accuracy']:.3f}")
    click.echo(f"Brier {report['brier']:.3f}  expected calibration error {report['ece']:.3f}")
    click.echo("confusion (rows gold, columns predicted: " + ", ".join(report["labels"]) + ")")
    for label, row in zip(report["labels"], report["confusion"]):
        click.echo(f"  {label:<15}" + "".join(f"{n:>6}" for n in row))
    candidates = report.get("candidates") or {}
    if candidates:
        click.echo("candidates compared on dev when the model was trained (selected on macro F1):")
        for name, row in candidates.items():
            click.echo(f"  {name:<18} macro F1 {row['dev_macro_f1']:.3f}  Brier {row['dev_brier']:.3f}  {row['params']}")


@cli.command()
@db_option
@click.option("--port", default=8001, show_default=True, type=click.IntRange(1, 65535))
@reports_errors
def serve(db_path, port):
    """Serve the analyst site (Datasette, read-only) on 127.0.0.1.

    Example: tracker serve --db tracker.db --port 8001
    """
    from .site import serve as serve_site

    if not Path(db_path).exists():
        raise InputError(f"no database at {db_path}: run 'tracker demo --no-serve' or 'tracker init' first")
    store.checkpoint(store.open_db(db_path, create=False))
    serve_site(db_path, port=port)


@cli.command()
@db_option
@click.option("--no-serve", is_flag=True, help="Build the database and stop.")
@click.option("--port", default=8001, show_default=True, type=click.IntRange(1, 65535))
@reports_errors
def demo(db_path, no_serve, port):
    """Build a database from the bundled demo corpus, then serve it.

    Example: tracker demo --db demo.db --no-serve
    """
    counts = library.build_demo(db_path)
    click.echo(
        f"{db_path}: {counts['documents']} documents, {counts['sentences']} sentences, "
        f"{counts['mentions']} mentions, {counts['figures']} figures"
    )
    if not no_serve:
        from .site import serve as serve_site

        click.echo(f"serving on http://127.0.0.1:{port}/tracker")
        serve_site(db_path, port=port)


# Commands that live in their own modules, registered here so `tracker` has them all.
from .cli_backfill import backfill_command  # noqa: E402
from .cli_benchmark import evaluate_fomc  # noqa: E402
from .cli_entities import evaluate_entities, train_ner  # noqa: E402
from .cli_ingest import COMMANDS as _INGEST_COMMANDS  # noqa: E402
from .cli_site import COMMANDS as _SITE_COMMANDS  # noqa: E402

for _command in [*_INGEST_COMMANDS, *_SITE_COMMANDS, train_ner, backfill_command]:
    cli.add_command(_command)
evaluate.add_command(evaluate_entities)
evaluate.add_command(evaluate_fomc)


if __name__ == "__main__":  # pragma: no cover
    cli()
