"""``tracker evaluate fomc``: the external benchmark, two numbers beside the published ones.

Only argument parsing and printing; the work is in ``training.benchmark_external``.
Registered under ``evaluate`` as ``fomc``.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from .cli_common import CONTEXT_SETTINGS, OneLineErrors, reports_errors
from .errors import InputError
from .settings import PROJECT_ROOT

DEFAULT_FOMC_DIR = PROJECT_ROOT.parent / "shared" / "data" / "fomc"


def _line(name: str, report: dict) -> str:
    return (
        f"  {name:<66} n {report['n']:>4}  weighted F1 {report['weighted_f1']:.3f}  "
        f"macro F1 {report['macro_f1']:.3f}  Brier {report['brier']:.3f}  ECE {report['ece']:.3f}"
    )


@click.command("fomc", cls=OneLineErrors, context_settings=CONTEXT_SETTINGS)
@click.option("--dir", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_FOMC_DIR,
              show_default=True, help="Directory with the benchmark's train.jsonl and test.jsonl.")
@click.option("--model", "model_dir", type=click.Path(file_okay=False), help="Shipped stance model (default: models/stance-en).")
@click.option("--candidates", help="Comma-separated pipelines to compare (default: all English ones, "
              "plus policy_cues_minilm_lr when the benchmark extra is installed).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@reports_errors
def evaluate_fomc(data_dir: Path, model_dir: str | None, candidates: str | None, as_json: bool):
    """Score the FOMC hawkish/dovish benchmark: our shipped model, and our best pipeline trained on its train split.

    Selection uses a fixed 20% share of the train split; the test split is scored once.
    Example: tracker evaluate fomc --dir ../shared/data/fomc
    """
    from . import stance
    from .training import FOMC_PUBLISHED, benchmark_external

    train_file, test_file = data_dir / "train.jsonl", data_dir / "test.jsonl"
    for path in (train_file, test_file):
        if not path.is_file():
            raise InputError(f"no {path.name} in {data_dir}: give --dir the folder holding train.jsonl and test.jsonl")
    names = tuple(n.strip() for n in candidates.split(",") if n.strip()) if candidates else None
    known = stance.PIPELINE_NAMES + stance.EMBEDDING_PIPELINES
    for name in names or ():
        if name not in known:
            raise InputError(f"unknown pipeline {name!r}; choose from: {', '.join(known)}")
    report = benchmark_external(train_file, test_file, shipped_model_dir=model_dir, candidates=names)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    selected = report["selected"]
    click.echo(f"FOMC benchmark: {report['n_train']} train, {report['n_test']} test sentences "
               f"({report['n_test_clean']} test texts not in train)")
    click.echo("candidates compared on a 20% dev share of the train split (selected on macro F1):")
    for name, row in selected["dev"].items():
        click.echo(f"  {name:<24} dev macro F1 {row['dev_macro_f1']:.3f}  weighted F1 {row['dev_weighted_f1']:.3f}  {row['params']}")
    left_out = [name for name in stance.EMBEDDING_PIPELINES if name not in report["candidates"]]
    if left_out and not names:
        click.echo(f"  ({', '.join(left_out)} not compared: the benchmark extra is not installed here; "
                   "`make bench` builds .venv-bench: .venv-bench/bin/tracker evaluate fomc)")
    click.echo("test split, scored once:")
    click.echo(_line(f"shipped {report['shipped']['model_version']} (never trained on FOMC)", report["shipped"]["test"]))
    click.echo(_line(f"{selected['pipeline']} {selected['params']} trained on FOMC train", report["trained"]["test"]))
    click.echo(_line("the same, on test texts not seen in train", report["trained"]["clean"]))
    click.echo("published (weighted F1, 3-seed means):")
    for name, value in FOMC_PUBLISHED:
        click.echo(f"  {name:<66} {value:.3f}")
