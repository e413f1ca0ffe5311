"""Labelled stance data: reading, validating, splitting and hashing (no ML here)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .errors import InputError
from .settings import STANCE_DATA_DIR, STANCE_LABELS

SPLITS = ("train", "dev", "test")


def stance_files(language: str = "en", directory: Path = STANCE_DATA_DIR) -> list[Path]:
    """Our own labelled files for ``language``: ``corpus/stance/<lang>_*.jsonl``."""
    return sorted(directory.glob(f"{language}_*.jsonl"))


def bucket_of(key: str) -> int:
    """A stable number in 0..99 from a hash of ``key``."""
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:8], 16) % 100


def split_of(record_id: str) -> str:
    """A record's fixed split, 70/15/15 by a hash of its id (stable as files grow)."""
    bucket = bucket_of(record_id)
    return "train" if bucket < 70 else "dev" if bucket < 85 else "test"


def load_labelled(paths: list[Path] | list[str]) -> list[dict]:
    """Labelled sentences from JSON Lines files; each gets ``split`` (given, or from its id)."""
    records: list[dict] = []
    for path in map(Path, paths):
        if not path.exists():
            raise InputError(f"no such data file: {path}")
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from exc
            text, label = row.get("text"), row.get("label")
            if not isinstance(text, str) or not text.strip():
                raise InputError(f"{path}:{lineno}: record has no text")
            if label not in STANCE_LABELS:
                raise InputError(f"{path}:{lineno}: label must be one of {', '.join(STANCE_LABELS)}, not {label!r}")
            record_id = row.get("id") or f"{path.stem}:{lineno}"
            split = row.get("split") or split_of(str(record_id))
            if split not in SPLITS:
                raise InputError(f"{path}:{lineno}: split must be one of {', '.join(SPLITS)}, not {split!r}")
            records.append({**row, "id": record_id, "split": split, "source_file": path.name})
    if not records:
        raise InputError("no labelled sentences in " + ", ".join(str(p) for p in paths))
    return records


def data_hash(paths: list[Path] | list[str]) -> str:
    """One hash over the files' contents (names excluded, order fixed)."""
    digest = hashlib.sha256()
    for path in sorted(map(Path, paths), key=lambda p: p.name):
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
