"""The README stays true: every command is toured, the set-up commands are there."""

from pathlib import Path

from tracker.cli import cli

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_command_is_in_the_readme():
    missing = [name for name in cli.commands if f"tracker {name}" not in README]
    assert not missing, f"commands missing from README.md: {missing}"


def test_readme_gives_the_two_setup_commands():
    assert "make demo" in README and "make test" in README


def test_every_table_is_described_in_the_readme():
    for table in ["sources", "documents", "sentences", "entities", "mentions", "figures", "runs"]:
        assert f"`{table}`" in README, table
