"""Commands for names and figures: ``tracker train-ner`` and ``tracker evaluate entities``.

Only argument parsing and printing; the work is in ``ner_training`` and ``entity_eval``.
Register them on the ``tracker`` group (``cli.add_command(train_ner)``) and under
``evaluate`` as ``entities``.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from .cli_common import CONTEXT_SETTINGS, OneLineErrors, reports_errors
from .settings import NER_DATA_PATH, NER_MODEL_DIR

# ner_training (spaCy) is imported inside the commands: `tracker -h` should not load it.

@click.command("train-ner", cls=OneLineErrors, context_settings=CONTEXT_SETTINGS)
@click.option("--data", "data_file", type=click.Path(dir_okay=False, path_type=Path), default=NER_DATA_PATH,
              show_default=True, help="Annotated sentences (JSON Lines).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=NER_MODEL_DIR,
              show_default=True, help="Where to save the model.")
@click.option("--build-data", is_flag=True,
              help="First rebuild the sentences from corpus/ner/templates.txt and names.json.")
@click.option("--if-stale", is_flag=True, help="Do nothing when the saved model was trained on the same data.")
@reports_errors
def train_ner(data_file: Path, out_dir: Path, build_data: bool, if_stale: bool):
    """Train the fallback NER for unlisted lenders and regulators (deterministic, under 2 minutes).

    Example: tracker train-ner --build-data
    """
    from . import ner_training

    if build_data:
        rows = ner_training.build_ner_data()
        ner_training.write_jsonl(rows, data_file)
        click.echo(f"{data_file}: {len(rows)} sentences")
    if if_stale and not ner_training.is_stale(out_dir, data_file):
        click.echo(f"{out_dir}: up to date")
        return
    meta = ner_training.train_ner(data_file, out_dir, log=lambda line: click.echo(line, err=True))
    dev = meta["dev"]
    click.echo(
        f"{out_dir}: trained on {meta['n_train']} sentences in {meta['train_seconds']} s; "
        f"dev P {dev['precision']:.3f} R {dev['recall']:.3f} F1 {dev['f1']:.3f}"
    )


@click.command("entities", cls=OneLineErrors, context_settings=CONTEXT_SETTINGS)
@click.option("--data", "data_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Gold sentences (JSON Lines, the format of corpus/gold/entities.jsonl).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--errors", "show_errors", is_flag=True, help="Also print every sentence with a mistake.")
@click.option("--no-fallback", is_flag=True, help="Gazetteer only: leave the fallback NER out.")
@reports_errors
def evaluate_entities(data_file: Path, as_json: bool, show_errors: bool, no_fallback: bool):
    """Score names (P/R/F1 per label), figure values, figure attributes and roles on gold sentences.

    Example: tracker evaluate entities --data corpus/gold/entities.jsonl
    """
    from . import entity_eval, ner_training

    report = ner_training.evaluate_gold(data_file, ner_fallback=not no_fallback)
    if as_json:
        if not show_errors:
            report = {k: v for k, v in report.items() if k != "errors"}
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    for line in entity_eval.format_report(report):
        click.echo(line)
    if show_errors:
        for error in report["errors"]:
            click.echo(json.dumps(error, ensure_ascii=False))


__all__ = ["evaluate_entities", "train_ner"]
