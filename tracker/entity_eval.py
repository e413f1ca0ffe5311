"""Scoring entities, figures and roles against gold sentences (pure functions, no spaCy).

The gold file (``corpus/gold/entities.jsonl``) holds one sentence a line::

    {"id", "style", "text",
     "entities": [{"start", "end", "text", "label", "id", "role"?}],
     "figures": [{"text", "start", "end", "value", "low", "high", "unit",
                  "kind", "approx", "period", "metric"}]}

Matching rules:

- an entity is right when its span (start, end) and label are exactly the gold ones;
  whether it also carries the right canonical id is scored separately (``id_accuracy``);
- a figure is right when value, unit, low and high match (relative tolerance 1e-9),
  wherever its span starts or ends ("about 5%" and "5%" are the same figure); on
  matched figures the accuracy of kind, period, metric and approx is reported
  (a gold metric "other" equals no metric);
- a role is scored on the gold entities that carry a ``role`` key (``null`` meaning
  "the sentence does not show it") and were found with the right span and label.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from pathlib import Path

from .errors import InputError
from .jsonl import iter_jsonl

LABELS = ("LENDER", "REGULATOR", "GOVERNMENT")
FIGURE_ATTRIBUTES = ("kind", "period", "metric", "approx")
REL_TOL = 1e-9


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_gold(path: str | Path) -> list[dict]:
    """Gold sentences; every span must point at its own text (raise InputError naming the line)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"no such gold file: {path}")
    rows: list[dict] = []
    for lineno, row in iter_jsonl(path):
        text = row.get("text")
        if not isinstance(text, str) or not text.strip():
            raise InputError(f"{path}:{lineno}: record has no text")
        for key in ("entities", "figures"):
            for item in row.get(key) or []:
                start, end = item.get("start"), item.get("end")
                if not isinstance(start, int) or not isinstance(end, int) or text[start:end] != item.get("text"):
                    raise InputError(f"{path}:{lineno}: {key[:-1]} {item.get('text')!r} does not match its offsets")
        for ent in row.get("entities") or []:
            if ent.get("label") not in LABELS:
                raise InputError(f"{path}:{lineno}: entity label must be one of {', '.join(LABELS)}")
        row.setdefault("id", f"{path.stem}:{lineno}")
        rows.append(row)
    if not rows:
        raise InputError(f"no gold sentences in {path}")
    return rows


def _prf(tp: int, fp: int, fn: int) -> dict:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn, "support": tp + fn}


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=REL_TOL, abs_tol=0.0) or float(a) == float(b)


def same_figure(gold: dict, pred: dict) -> bool:
    """Value, unit and range agree."""
    return (
        gold.get("unit") == pred.get("unit")
        and _close(gold.get("value"), pred.get("value"))
        and _close(gold.get("low"), pred.get("low"))
        and _close(gold.get("high"), pred.get("high"))
    )


def _metric(value) -> str:
    return value or "other"


def match_entities(gold: list[dict], pred: list[dict]) -> tuple[list[tuple[dict, dict]], list[dict], list[dict]]:
    """(matched pairs, false positives, false negatives) by exact span and label."""
    by_key = {(p["start"], p["end"], p["label"]): p for p in pred}
    matched, missed = [], []
    used: set[tuple] = set()
    for g in gold:
        key = (g["start"], g["end"], g["label"])
        if key in by_key and key not in used:
            used.add(key)
            matched.append((g, by_key[key]))
        else:
            missed.append(g)
    extra = [p for key, p in by_key.items() if key not in used]
    # duplicates in the prediction list beyond the first are false positives too
    extra += [p for p in pred if by_key[(p["start"], p["end"], p["label"])] is not p]
    return matched, extra, missed


def match_figures(gold: list[dict], pred: list[dict]) -> tuple[list[tuple[dict, dict]], list[dict], list[dict]]:
    """(matched pairs, false positives, false negatives); overlapping spans are paired first."""
    remaining = list(pred)
    matched, missed = [], []

    def overlap(g: dict, p: dict) -> int:
        return max(0, min(g["end"], p["end"]) - max(g["start"], p["start"]))

    for g in gold:
        candidates = [p for p in remaining if same_figure(g, p)]
        if not candidates:
            missed.append(g)
            continue
        best = max(candidates, key=lambda p: (overlap(g, p), -abs(p["start"] - g["start"])))
        remaining.remove(best)
        matched.append((g, best))
    return matched, remaining, missed


def score(gold_rows: list[dict], predictions: Iterable[dict]) -> dict:
    """The report: per-label entity P/R/F1, id accuracy, figure-value P/R/F1, figure
    attribute accuracy on matched figures, role accuracy, and the errors per sentence.

    ``predictions`` run parallel to ``gold_rows``: ``{"entities": [...], "figures": [...]}``
    with the same keys as the gold items (entities need start, end, label, id, role).
    """
    counts = {label: [0, 0, 0] for label in LABELS}
    ids_right = ids_total = 0
    fig = [0, 0, 0]
    attr_right = dict.fromkeys(FIGURE_ATTRIBUTES, 0)
    role_right = role_total = role_missing = 0
    role_confusion: dict[str, dict[str, int]] = {}
    unlisted = [0, 0]  # gold names without an id: found, all
    by_model = [0, 0]  # names the fallback model added: right, all
    errors: list[dict] = []
    n = 0
    for row, pred in zip(gold_rows, predictions, strict=True):
        n += 1
        text = row["text"]
        matched, extra, missed = match_entities(row.get("entities") or [], pred.get("entities") or [])
        for g, p in matched:
            counts[g["label"]][0] += 1
            ids_total += 1
            ids_right += (g.get("id") or None) == (p.get("id") or None)
            if "role" in g:
                role_total += 1
                ok = (g["role"] or None) == (p.get("role") or None)
                role_right += ok
                row_conf = role_confusion.setdefault(str(g["role"] or None), {})
                row_conf[str(p.get("role") or None)] = row_conf.get(str(p.get("role") or None), 0) + 1
        role_missing += sum(1 for g in missed if "role" in g)
        unlisted[0] += sum(1 for g, _ in matched if not g.get("id"))
        unlisted[1] += sum(1 for g in row.get("entities") or [] if not g.get("id"))
        by_model[0] += sum(1 for _, p in matched if p.get("source") == "model")
        by_model[1] += sum(1 for p in pred.get("entities") or [] if p.get("source") == "model")
        for p in extra:
            counts.setdefault(p["label"], [0, 0, 0])[1] += 1
        for g in missed:
            counts[g["label"]][2] += 1
        fmatched, fextra, fmissed = match_figures(row.get("figures") or [], pred.get("figures") or [])
        fig[0] += len(fmatched)
        fig[1] += len(fextra)
        fig[2] += len(fmissed)
        wrong_attrs = []
        for g, p in fmatched:
            for attr in FIGURE_ATTRIBUTES:
                gv, pv = g.get(attr), p.get(attr)
                if attr == "metric":
                    gv, pv = _metric(gv), _metric(pv)
                elif attr == "approx":
                    gv, pv = bool(gv), bool(pv)
                if gv == pv:
                    attr_right[attr] += 1
                else:
                    wrong_attrs.append({"figure": g["text"], "attribute": attr, "gold": gv, "predicted": pv})
        wrong_ids = [
            {"text": g["text"], "gold": g.get("id"), "predicted": p.get("id")}
            for g, p in matched
            if (g.get("id") or None) != (p.get("id") or None)
        ]
        wrong_roles = [
            {"text": g["text"], "gold": g["role"], "predicted": p.get("role")}
            for g, p in matched
            if "role" in g and (g["role"] or None) != (p.get("role") or None)
        ]
        if extra or missed or fextra or fmissed or wrong_attrs or wrong_ids or wrong_roles:
            errors.append(
                {
                    "id": row.get("id"),
                    "text": text,
                    "entities_missed": [f"{g['text']} [{g['label']}]" for g in missed],
                    "entities_extra": [f"{p.get('text', text[p['start']:p['end']])} [{p['label']}]" for p in extra],
                    "figures_missed": [_figure_str(g) for g in fmissed],
                    "figures_extra": [_figure_str(p) for p in fextra],
                    "figure_attributes": wrong_attrs,
                    "ids": wrong_ids,
                    "roles": wrong_roles,
                }
            )
    per_label = {label: _prf(*c) for label, c in counts.items()}
    total = [sum(c[i] for c in counts.values()) for i in range(3)]
    n_fig = fig[0]
    return {
        "n": n,
        "entities": {
            "per_label": per_label,
            "micro": _prf(*total),
            "id_accuracy": ids_right / ids_total if ids_total else 0.0,
            "n_matched": ids_total,
            "unlisted_recall": unlisted[0] / unlisted[1] if unlisted[1] else 0.0,
            "n_unlisted": unlisted[1],
            "model_precision": by_model[0] / by_model[1] if by_model[1] else 0.0,
            "n_model": by_model[1],
        },
        "figures": {
            **_prf(*fig),
            "attributes": {a: (attr_right[a] / n_fig if n_fig else 0.0) for a in FIGURE_ATTRIBUTES},
            "n_matched": n_fig,
        },
        "roles": {
            "accuracy": role_right / role_total if role_total else 0.0,
            "n": role_total,
            "n_unmatched": role_missing,
            "confusion": role_confusion,
        },
        "errors": errors,
    }


def _figure_str(f: dict) -> str:
    rng = f" [{f.get('low'):g}-{f.get('high'):g}]" if f.get("low") is not None and f.get("high") is not None else ""
    return f"{f.get('text')!r} = {f.get('value'):g} {f.get('unit')}{rng}"


def format_report(report: dict) -> list[str]:
    """The report as lines of text for the terminal."""
    lines = [f"entities and figures on {report['n']} sentences"]
    lines.append(f"{'label':<14}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}")
    ents = report["entities"]
    for label, row in ents["per_label"].items():
        lines.append(f"{label:<14}{row['precision']:>10.3f}{row['recall']:>10.3f}{row['f1']:>10.3f}{row['support']:>10}")
    micro = ents["micro"]
    lines.append(f"{'all entities':<14}{micro['precision']:>10.3f}{micro['recall']:>10.3f}{micro['f1']:>10.3f}{micro['support']:>10}")
    figs = report["figures"]
    lines.append(f"{'figure value':<14}{figs['precision']:>10.3f}{figs['recall']:>10.3f}{figs['f1']:>10.3f}{figs['support']:>10}")
    lines.append(f"id accuracy on matched entities {ents['id_accuracy']:.3f} ({ents['n_matched']})")
    lines.append(
        f"unlisted names found {ents['unlisted_recall']:.3f} ({ents['n_unlisted']}); "
        f"names added by the fallback model right {ents['model_precision']:.3f} ({ents['n_model']})"
    )
    attrs = ", ".join(f"{a} {v:.3f}" for a, v in figs["attributes"].items())
    lines.append(f"on matched figures ({figs['n_matched']}): {attrs}")
    roles = report["roles"]
    lines.append(f"role accuracy {roles['accuracy']:.3f} on {roles['n']} annotated mentions found")
    return lines
