"""The fallback NER: its training sentences, training, and the gold evaluation of names and figures.

Three jobs, each a function the CLI calls:

- ``build_ner_data`` fills the hand-written sentence frames in ``corpus/ner/templates.txt``
  with names from ``corpus/ner/names.json`` and the gazetteer, computing every offset
  in code, and refuses names or sentences that belong to the gold set;
- ``train_ner`` trains the small spaCy NER described in ``corpus/ner/config.cfg``
  (deterministic: fixed seed, fixed order) and saves it with ``nlp.to_disk`` plus the
  data hash and dev scores in ``meta.json``;
- ``evaluate_gold`` runs the analysis pipeline over gold sentences and scores it with
  ``entity_eval``.

Usage: ``tracker train-ner [--build-data] [--if-stale]`` and ``tracker evaluate entities
--data corpus/gold/entities.jsonl``.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import time
from dataclasses import asdict
from pathlib import Path

import spacy
from spacy.training import Example
from spacy.util import fix_random_seed, load_config, load_model_from_config, minibatch, compounding

from . import entity_eval, gazetteer, nlp
from .errors import InputError, ModelError
from .jsonl import iter_jsonl
from .language import detect_language
from .settings import GAZETTEER_PATH, GOLD_DIR, NER_DATA_PATH, NER_DIR, NER_MODEL_DIR

TEMPLATES_PATH = NER_DIR / "templates.txt"
NAMES_PATH = NER_DIR / "names.json"
NER_CONFIG_PATH = NER_DIR / "config.cfg"
GOLD_PATH = GOLD_DIR / "entities.jsonl"

LABELS = ("LENDER", "REGULATOR", "GOVERNMENT")
_SLOT = re.compile(r"\{([A-Z]+?)(\d?)\}")
_CJK = re.compile(r"[\u3400-\u9fff]")
_COURT = re.compile(r"Court|Procuratorate")
_MARK = re.compile(r"\[\[([^|\]]+)\|(LENDER|REGULATOR|GOVERNMENT)\]\]")
#: Slots whose names are entities, with the label they get.
_ENTITY_SLOTS = {
    "L": "LENDER", "LU": "LENDER", "LL": "LENDER",
    "R": "REGULATOR", "RU": "REGULATOR", "RL": "REGULATOR",
    "G": "GOVERNMENT", "GU": "GOVERNMENT", "GL": "GOVERNMENT",
    "GC": "GOVERNMENT",  # a court or procuratorate
}
#: Slots filled with plain text that must never be tagged.
_PLAIN_SLOTS = {
    "MEDIA": "media", "RESEARCH": "research", "CO": "companies", "EXCH": "exchanges",
    "DOC": "documents", "EVENT": "events", "PERSON": "people", "PLACE": "places",
}
#: How often a mixed slot ({L}, {R}, {G}) takes a gazetteer name rather than an unlisted one.
_LISTED_SHARE = 0.35


# ---------------------------------------------------------------------------
# Training sentences
# ---------------------------------------------------------------------------
def _template_id(template: str) -> str:
    return "t" + hashlib.sha1(template.encode("utf-8")).hexdigest()[:8]


def split_of(record_id: str, dev_percent: int = 20) -> str:
    """train or dev, by a hash of the template part of the id, so that the sentences
    filled from one frame never sit on both sides."""
    frame = record_id.split("-", 1)[0]
    bucket = int(hashlib.sha1(frame.encode("utf-8")).hexdigest()[:8], 16) % 100
    return "dev" if bucket < dev_percent else "train"


def _gold_rows(gold_path: Path) -> list[dict]:
    return entity_eval.load_gold(gold_path) if gold_path.exists() else []


def _listed_forms(entries: tuple[dict, ...]) -> dict[str, list[str]]:
    forms: dict[str, list[str]] = {label: [] for label in LABELS}
    for p in gazetteer.patterns(entries):
        if p.language == "en" and not _CJK.search(p.text):
            forms[p.label].append(p.text)
    return {k: sorted(set(v)) for k, v in forms.items()}


def _unlisted_pools(names: dict, listed: set[str], forbidden: set[str]) -> dict[str, list[str]]:
    def keep(values):
        out = []
        for v in values:
            if v.lower() in forbidden:
                raise InputError(f"{NAMES_PATH.name}: {v!r} is an unlisted name in the gold set; pick another")
            if v.lower() not in listed:
                out.append(v)
        return sorted(set(out))

    prefixes, suffixes = names["lender_prefixes"], names["lender_suffixes"]
    invented = [f"{p} {s}" for p in prefixes for s in sorted(set(suffixes))]
    # two-word trade names ("Suyin Kaiji Consumer Finance") and a city in front ("Chongqing ... Microloan")
    invented += [f"{p} {q} {s}" for i, p in enumerate(prefixes) for q in prefixes[i + 1::7] for s in suffixes[::3]]
    invented += [f"{c} {p} {s}" for c in names["lender_city_prefixes"] for p in prefixes[::3]
                 for s in ("Microloan", "Online Microloan", "Consumer Finance", "Small Loan", "Micro-lending")]
    regulators = [pat.replace("{P}", p) for pat in names["regulator_patterns"] for p in names["regulator_places"]]
    government = [pat.replace("{P}", p) for pat in names["government_patterns_province"] for p in names["government_places"]]
    government += [pat.replace("{C}", c) for pat in names["government_patterns_city"] for c in names["government_cities"]]
    return {
        "LENDER_INVENTED": keep(invented),
        "LENDER_REAL": keep(names["lenders_real_unlisted"]),
        "REGULATOR_LOCAL": keep(regulators),
        "REGULATOR_REAL": keep(names["regulators_real_unlisted"]),
        "GOVERNMENT_LOCAL": keep(government),
        "GOVERNMENT_REAL": keep(names["government_real_unlisted"]),
    }


def _trade_name(rng: random.Random, syllables: list[str], names: dict) -> str:
    def word() -> str:
        return "".join(rng.choice(syllables) for _ in range(2)).capitalize()

    r = rng.random()
    stem = word() if r < 0.55 else f"{word()} {word()}" if r < 0.8 else f"{rng.choice(names['lender_city_prefixes'])} {word()}"
    return f"{stem} {rng.choice(names['lender_suffixes'])}"


def _parse_templates(path: Path) -> list[tuple[str, str]]:
    out = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        style, sep, template = line.partition(" | ")
        if not sep:
            raise InputError(f"{path}:{lineno}: expected 'style | sentence'")
        for name, _ in _SLOT.findall(template):
            if name not in _ENTITY_SLOTS and name not in _PLAIN_SLOTS:
                raise InputError(f"{path}:{lineno}: unknown slot {{{name}}}")
        out.append((style.strip(), template.strip()))
    return out


def build_ner_data(
    templates_path: Path = TEMPLATES_PATH,
    names_path: Path = NAMES_PATH,
    *,
    gazetteer_path: Path = GAZETTEER_PATH,
    gold_path: Path = GOLD_PATH,
    seed: int = 7,
    fills: int = 5,
) -> list[dict]:
    """Annotated sentences ``{"id", "style", "text", "entities": [{start, end, label}]}``.

    Each frame with entity slots is filled ``fills`` times, a frame with only plain
    slots twice, a frame with no slot once. Offsets come from building the text.
    """
    names = json.loads(names_path.read_text(encoding="utf-8"))
    entries = gazetteer.load_entities(gazetteer_path)
    listed = _listed_forms(entries)
    listed_lower = {f.lower() for forms in listed.values() for f in forms}
    gold = _gold_rows(gold_path)
    gold_unlisted = [e["text"] for row in gold for e in row.get("entities", []) if not e.get("id")]
    forbidden = {t.lower() for t in gold_unlisted}
    pools = _unlisted_pools(names, listed_lower, forbidden)
    # No word of a gold-only name may appear in a training name ("Lanting", "Hainan"), except
    # the generic words every name of its kind has ("Consumer Finance", "Bureau").
    generic = {w.lower() for key in ("lender_suffixes", "regulator_patterns", "government_patterns_province",
                                      "government_patterns_city") for v in names[key] for w in v.split()}
    generic |= {"monetary", "authority", "commission", "bank", "association", "credit", "microloan", "online"}
    generic |= {"hong", "kong"}  # a place: other Hong Kong bodies may be named, never the gold one
    banned_words = {w.lower() for t in gold_unlisted for w in t.split()} - generic
    syllables = names["pinyin_syllables"]
    courts = sorted(f for f in pools["GOVERNMENT_LOCAL"] + pools["GOVERNMENT_REAL"] + listed["GOVERNMENT"] if _COURT.search(f))
    rng = random.Random(seed)

    def pick(slot: str, used: set[str]) -> str:
        label = _ENTITY_SLOTS.get(slot)
        for _ in range(100):
            if slot in _PLAIN_SLOTS:
                value = rng.choice(names[_PLAIN_SLOTS[slot]])
            elif slot == "GC":
                value = rng.choice(courts)
            else:
                mode = slot[1:] if len(slot) > 1 else ("L" if rng.random() < _LISTED_SHARE else "U")
                if mode == "L":
                    value = rng.choice(listed[label])
                elif label == "LENDER":
                    r = rng.random()
                    if r < 0.25:
                        value = rng.choice(pools["LENDER_REAL"])
                    elif r < 0.45:
                        value = rng.choice(pools["LENDER_INVENTED"])
                    else:  # a made-up trade name: the model must read the head words, not learn names
                        value = _trade_name(rng, syllables, names)
                else:  # local bureaus and courts, or national and foreign bodies
                    value = rng.choice(pools[f"{label}_REAL"] if rng.random() < 0.4 else pools[f"{label}_LOCAL"])
            if value not in used and not ({w.lower() for w in value.split()} & banned_words and label):
                used.add(value)
                return value
        raise InputError(f"cannot find a fresh name for slot {slot}")

    rows: list[dict] = []
    for style, template in _parse_templates(templates_path):
        slots = _SLOT.findall(template)
        n = fills if any(s in _ENTITY_SLOTS for s, _ in slots) else (2 if slots else 1)
        tid = _template_id(template)
        for k in range(n):
            used: set[str] = set()
            chosen: dict[str, str] = {}
            text, ents, pos = "", [], 0
            # walk the template: literal text, fixed [[entities]] and {slots}
            token_re = re.compile(f"{_SLOT.pattern}|{_MARK.pattern}")
            for m in token_re.finditer(template):
                text += template[pos:m.start()]
                if m.group(1):  # a slot
                    key = m.group(1) + m.group(2)
                    if key not in chosen:
                        chosen[key] = pick(m.group(1), used)
                    value, label = chosen[key], _ENTITY_SLOTS.get(m.group(1))
                else:
                    value, label = m.group(3), m.group(4)
                start = len(text)
                text += value
                if label:
                    ents.append({"start": start, "end": len(text), "label": label})
                pos = m.end()
            text += template[pos:]
            for e in ents:  # offsets double-checked against the text
                assert text[e["start"]:e["end"]] == text[e["start"]:e["end"]].strip()
            rows.append({"id": f"{tid}-{k}", "style": style, "text": text, "entities": ents})
    check_no_gold_overlap(rows, gold)
    return rows


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def check_no_gold_overlap(rows: list[dict], gold: list[dict], *, threshold: float = 0.7) -> None:
    """Raise when a training sentence equals or nearly equals a gold sentence (word Jaccard)."""
    gold_words = [(g["id"], _words(g["text"])) for g in gold]
    gold_texts = {g["text"].strip().lower() for g in gold}
    for row in rows:
        if row["text"].strip().lower() in gold_texts:
            raise InputError(f"training sentence {row['id']} is a gold sentence")
        words = _words(row["text"])
        for gid, gw in gold_words:
            union = words | gw
            if union and len(words & gw) / len(union) >= threshold:
                raise InputError(f"training sentence {row['id']} is too close to gold {gid}")


def write_jsonl(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def load_ner_data(path: Path = NER_DATA_PATH) -> list[dict]:
    """Training rows, validated (offsets inside the text, known labels), each with ``split``."""
    if not path.exists():
        raise InputError(f"no NER data at {path}: run 'tracker train-ner --build-data'")
    rows = []
    for lineno, row in iter_jsonl(path):
        text = row.get("text") or ""
        for e in row.get("entities", []):
            if e.get("label") not in LABELS or not (0 <= e["start"] < e["end"] <= len(text)):
                raise InputError(f"{path}:{lineno}: bad entity {e}")
        rows.append({**row, "split": split_of(row["id"])})
    return rows


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------
def data_hash(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _training_inputs(data_path: Path, config_path: Path) -> list[Path]:
    return [data_path, config_path]


def is_stale(model_dir: Path = NER_MODEL_DIR, data_path: Path = NER_DATA_PATH, config_path: Path = NER_CONFIG_PATH) -> bool:
    meta_file = Path(model_dir) / "meta.json"
    if not meta_file.exists():
        return True
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    return meta.get("tracker", {}).get("data_hash") != data_hash(_training_inputs(data_path, config_path))


def _examples(nlp_: spacy.Language, rows: list[dict]) -> list[Example]:
    examples = []
    for row in rows:
        doc = nlp_.make_doc(row["text"])
        ents = []
        for e in row["entities"]:
            span = doc.char_span(e["start"], e["end"], alignment_mode="expand")
            # "Co." or "Ltd." at the end of a sentence keeps its full stop as one token
            if span is None or span.start_char != e["start"] or span.end_char - e["end"] > 1:
                raise InputError(f"{row['id']}: entity {row['text'][e['start']:e['end']]!r} does not fall on token boundaries")
            ents.append((span.start_char, span.end_char, e["label"]))
        examples.append(Example.from_dict(doc, {"entities": ents}))
    return examples


def _ner_scores(nlp_: spacy.Language, examples: list[Example]) -> dict:
    scores = nlp_.evaluate(examples)
    per_type = {
        label: {k: round(v, 4) for k, v in row.items()} for label, row in (scores.get("ents_per_type") or {}).items()
    }
    return {
        "precision": round(scores["ents_p"], 4),
        "recall": round(scores["ents_r"], 4),
        "f1": round(scores["ents_f"], 4),
        "per_label": per_type,
    }


def train_ner(
    data_path: Path = NER_DATA_PATH,
    out_dir: Path = NER_MODEL_DIR,
    *,
    config_path: Path = NER_CONFIG_PATH,
    log=None,
) -> dict:
    """Train, keep the epoch with the best dev F1, save to ``out_dir``; returns the tracker meta."""
    started = time.perf_counter()
    config = load_config(config_path)
    settings = dict(config.pop("tracker_training"))
    seed = int(settings["seed"])
    fix_random_seed(seed)
    model = load_model_from_config(config, auto_fill=True, validate=True)
    rows = load_ner_data(data_path)
    train_rows = [r for r in rows if r["split"] == "train"]
    dev_rows = [r for r in rows if r["split"] == "dev"]
    if not train_rows or not dev_rows:
        raise InputError(f"{data_path}: need both train and dev sentences")
    train = _examples(model, train_rows)
    dev = _examples(model, dev_rows)
    optimizer = model.initialize(lambda: train)
    optimizer.learn_rate = float(settings["learn_rate"])
    rng = random.Random(seed)
    best_f, best_bytes, best_epoch, since_best = -1.0, None, 0, 0
    history = []
    for epoch in range(1, int(settings["max_epochs"]) + 1):
        order = list(train)
        rng.shuffle(order)
        losses: dict[str, float] = {}
        sizes = compounding(float(settings["batch_start"]), float(settings["batch_stop"]), 1.001)
        for batch in minibatch(order, size=sizes):
            model.update(batch, drop=float(settings["dropout"]), sgd=optimizer, losses=losses)
        scores = _ner_scores(model, dev)
        history.append({"epoch": epoch, "loss": round(losses.get("ner", 0.0), 2), "dev_f1": scores["f1"]})
        if log:
            log(f"epoch {epoch:2d}  loss {losses.get('ner', 0.0):8.2f}  dev F1 {scores['f1']:.3f}")
        if scores["f1"] > best_f:
            best_f, best_bytes, best_epoch, since_best = scores["f1"], model.to_bytes(), epoch, 0
        else:
            since_best += 1
            if since_best >= int(settings["patience"]):
                break
    model.from_bytes(best_bytes)
    dev_scores = _ner_scores(model, dev)
    meta = {
        "data_hash": data_hash(_training_inputs(data_path, config_path)),
        "data_file": data_path.name,
        "n_train": len(train_rows),
        "n_dev": len(dev_rows),
        "seed": seed,
        "best_epoch": best_epoch,
        "spacy_version": spacy.__version__,
        "dev": dev_scores,
        "history": history,
        "train_seconds": round(time.perf_counter() - started, 1),
    }
    model.meta["name"] = "tracker_ner_fallback"
    model.meta["version"] = "1.0.0"
    model.meta["description"] = "Fallback NER for unlisted lenders, regulators and government bodies (tracker)."
    model.meta["tracker"] = meta
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.to_disk(out_dir)
    return meta


# ---------------------------------------------------------------------------
# Gold evaluation
# ---------------------------------------------------------------------------
def predict_rows(rows: list[dict], *, ner_fallback: bool = True) -> list[dict]:
    """Mentions and figures for each gold sentence, each analysed in its own language."""
    predictions: list[dict] = []
    pipelines: dict[str, object] = {}
    for row in rows:
        language = detect_language(row["text"])
        if language not in pipelines:
            pipelines[language] = (
                nlp.get_nlp(language) if ner_fallback else nlp.build_nlp(language, ner_fallback=False)
            )
        doc_sentences = nlp.sentence_records(pipelines[language](row["text"]))
        predictions.append(
            {
                "entities": [asdict(m) for s in doc_sentences for m in s.mentions],
                "figures": [asdict(f) for s in doc_sentences for f in s.figures],
            }
        )
    return predictions


def evaluate_gold(path: str | Path = GOLD_PATH, *, ner_fallback: bool = True) -> dict:
    """Score the pipeline on a gold file (see ``entity_eval`` for the rules)."""
    rows = entity_eval.load_gold(path)
    report = entity_eval.score(rows, predict_rows(rows, ner_fallback=ner_fallback))
    report["data"] = str(path)
    report["data_sha256"] = entity_eval.file_sha256(path)
    report["ner_model"] = nlp.ner_model_info("en") if ner_fallback else None
    return report


def load_trained(model_dir: Path = NER_MODEL_DIR) -> spacy.Language:
    if not (Path(model_dir) / "meta.json").exists():
        raise ModelError(f"no NER model in {model_dir}: run 'tracker train-ner'")
    return spacy.load(model_dir)


def tag(texts: list[str], model_dir: Path = NER_MODEL_DIR) -> list[list[tuple[str, str]]]:
    """The raw model's entities per text (for inspection; the pipeline uses ``nlp``)."""
    model = load_trained(model_dir)
    return [[(e.text, e.label_) for e in doc.ents] for doc in model.pipe(texts)]


__all__ = [
    "build_ner_data", "check_no_gold_overlap", "evaluate_gold", "is_stale", "load_ner_data",
    "predict_rows", "split_of", "tag", "train_ner", "write_jsonl",
]
