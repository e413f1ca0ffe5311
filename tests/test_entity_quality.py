"""Quality gate for names, figures and roles on our gold sentences (``corpus/gold/entities.jsonl``).

The floors sit a little below what was measured when they were set; they catch
regressions and are never a target. Editing the gold file changes its hash: then
re-run ``tracker evaluate entities --data corpus/gold/entities.jsonl``, look at the
errors, and update ``GOLD_SHA256`` (and the floors, downward only with a reason) in
the same change.
"""

import pytest

from tracker import entity_eval, ner_training

GOLD = ner_training.GOLD_PATH
GOLD_SHA256 = "337a7cab67537850f443a89fa54e701d639c650a5f68b343efa683ac9618fe63"

# measured 1.000 / 1.000 / 1.000 (gazetteer alone: 0.957 / 0.938 / 1.000)
ENTITY_F1_FLOORS = {"LENDER": 0.97, "REGULATOR": 0.97, "GOVERNMENT": 0.95}
FIGURE_VALUE_F1_FLOOR = 0.97  # measured 1.000
# measured kind 0.994, period 0.955, metric 0.962, approx 0.987 on 157 matched figures
FIGURE_ATTRIBUTE_FLOORS = {"kind": 0.97, "period": 0.93, "metric": 0.94, "approx": 0.96}
ID_ACCURACY_FLOOR = 0.97  # measured 1.000
UNLISTED_RECALL_FLOOR = 0.85  # measured 1.000 on 19 names the gazetteer does not list
ROLE_ACCURACY_FLOOR = 0.95  # measured 0.991 on 108 annotated mentions


@pytest.fixture(scope="module")
def report():
    return ner_training.evaluate_gold(GOLD)


def test_gold_file_is_the_pinned_one():
    assert entity_eval.file_sha256(GOLD) == GOLD_SHA256, (
        "corpus/gold/entities.jsonl changed: re-run the evaluation and update GOLD_SHA256 deliberately"
    )


def test_gold_file_is_large_enough(report):
    assert report["n"] >= 80


@pytest.mark.parametrize("label", sorted(ENTITY_F1_FLOORS))
def test_entity_f1_floor(report, label):
    row = report["entities"]["per_label"][label]
    assert row["f1"] >= ENTITY_F1_FLOORS[label], row


def test_acceptance_bar_for_lenders_and_regulators(report):
    for label in ("LENDER", "REGULATOR"):
        assert report["entities"]["per_label"][label]["f1"] >= 0.90


def test_ids_and_unlisted_names(report):
    assert report["entities"]["id_accuracy"] >= ID_ACCURACY_FLOOR
    assert report["entities"]["unlisted_recall"] >= UNLISTED_RECALL_FLOOR


def test_figure_value_f1_floor(report):
    assert report["figures"]["f1"] >= FIGURE_VALUE_F1_FLOOR, report["figures"]


@pytest.mark.parametrize("attribute", sorted(FIGURE_ATTRIBUTE_FLOORS))
def test_figure_attribute_floor(report, attribute):
    assert report["figures"]["attributes"][attribute] >= FIGURE_ATTRIBUTE_FLOORS[attribute]


def test_role_accuracy_floor(report):
    roles = report["roles"]
    assert roles["n"] >= 80 and roles["accuracy"] >= ROLE_ACCURACY_FLOOR, roles
