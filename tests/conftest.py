"""Shared fixtures: real SQLite files in tmp_path, our own fixture texts, the CLI runner."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracker import library

# A short article of our own (not the seed article): two lenders, two regulators, figures.
POLICY_ARTICLE = textwrap.dedent(
    """\
    Regulators ease the squeeze on online lenders

    The People's Bank of China and the National Financial Regulatory Administration said on Tuesday
    they would support consumer credit, allowing WeBank and JD Technology to expand lending to
    households. Officials cut the benchmark lending rate by 25 basis points and promised interest
    subsidies on consumer loans. Outstanding platform loans reached RMB 2.3 trillion at the end of
    June, up 9.5% from a year earlier. Economists expect another 10-15% growth next year.
    """
)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "tracker.db"
    library.init_db(path).close()
    return path


@pytest.fixture
def article_file(tmp_path: Path) -> Path:
    path = tmp_path / "article.txt"
    path.write_text(POLICY_ARTICLE, encoding="utf-8")
    return path


def _get(ds, path: str):
    return asyncio.run(ds.client.get(path))


@pytest.fixture
def fetch():
    """``fetch(ds, path)``: GET ``path`` from a Datasette instance in-process."""
    return _get


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> Path:
    """The demo database (corpus/demo, analysed, stance index built), built once per session.

    Read it, don't write it: the browser test serves this file while other tests run.
    """
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    library.build_demo(path)
    return path
