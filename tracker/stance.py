"""The scikit-learn adapter: stance pipelines, training, scoring and safe persistence.

A sentence's stance score is ``P(accommodative) - P(tightening)``, in [-1, 1].
Models are saved with skops (no pickle) beside a ``meta.json`` that records the
data hash, code and library versions and the dev scores.
"""

from __future__ import annotations

import json
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import numpy as np
import sklearn
import skops
import skops.io as sio
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from . import __version__, embeddings
from .errors import ModelError
from .settings import STANCE_LABELS

MODEL_FILE = "model.skops"
META_FILE = "meta.json"

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_CLAUSE_END = re.compile(r"[,.;:!?()\u3002\uff0c\uff1b]")


def clean_text(text: str) -> str:
    """The one normalisation shared by training and inference.

    Numbers become "0" so the model learns words, not the figures of our corpus.
    """
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    text = _NUMBER.sub("0", text)
    return " ".join(text.split())


#: Words that open a negation's scope (to the end of the clause); "refused", "declined"
#: and "denied" too (``mark_negation``). A set look-up per word, not a regex.
_NEGATOR_WORDS = frozenset(
    {"not", "no", "never", "neither", "nor", "without", "cannot", "won't", "wouldn't", "isn't", "aren't", "wasn't",
     "weren't", "don't", "doesn't", "didn't", "shouldn't", "mustn't", "denied"}
)


def mark_negation(text: str) -> str:
    """``clean_text`` plus a ``neg_`` prefix on words inside a negation's scope.

    "will not relax the cap" -> "will not neg_relax neg_the neg_cap", so a negated
    easing word is a different feature from an asserted one.
    """
    # Two feature blocks of a pipeline ask for the same text: compute it once.
    return _mark_negation(text)


@lru_cache(maxsize=16384)
def _mark_negation(text: str) -> str:
    text = clean_text(text)
    out: list[str] = []
    for clause in re.split(r"(?<=[,.;:!?])\s+", text):
        words = clause.split()
        negating = False
        for word in words:
            if word.strip(",.;:!?") in _NEGATOR_WORDS or word in {"refused", "declined", "denied"}:
                out.append(word)
                negating = True
                continue
            out.append(f"neg_{word}" if negating else word)
            if _CLAUSE_END.search(word[-1:]):
                negating = False
    return " ".join(out)


def _word_features(preprocessor=clean_text, **params) -> TfidfVectorizer:
    return TfidfVectorizer(
        preprocessor=preprocessor,
        ngram_range=(1, 2),
        min_df=params.get("min_df", 1),
        sublinear_tf=True,
        token_pattern=r"(?u)\b\w[\w'-]*\b",
    )


def _char_features(**params) -> TfidfVectorizer:
    return TfidfVectorizer(
        preprocessor=clean_text,
        analyzer="char_wb",
        ngram_range=(2, 5),
        min_df=params.get("min_df", 2),
        sublinear_tf=True,
        max_features=params.get("max_char_features", 60000),
    )


# Policy cue words: stems, matched at the start of a word. Few and general on
# purpose: they name the direction of a policy, not the phrasing of our corpus.
TIGHTENING_CUES = (
    "tighten", "curb", "crack", "clamp", "crackdown", "rein", "restrict", "banned", "banning", "prohibit", "forbid",
    "halt", "suspend", "fined", "penal", "punish", "rectif", "probe", "investigat", "summon", "capped", "ceiling", "limit",
    "cool", "delever", "hike", "stricter", "tougher", "scrutin", "warn", "risk", "crisis",
    "illegal", "violat", "shut", "revoke", "disorderly", "excessive", "overheat",
)
#: Cue words too short to use as prefixes ("ban" would match "bank", "fine" "finance").
TIGHTENING_WORDS = frozenset({"ban", "bans", "cap", "caps", "fine", "fines"})
EASING_CUES = (
    "ease", "eased", "easing", "loosen", "relax", "support", "encourag", "boost", "stimul", "subsid", "promot", "expand",
    "cut", "lower", "reduc", "inject", "liquidity", "accommodat", "dovish", "welcome", "resume", "lift",
    "approv", "revive", "recover", "incentiv", "relief", "help",
)


class PolicyCueFeatures(TransformerMixin, BaseEstimator):
    """Counts of tightening and easing cue words, plain and inside a negation's scope.

    Four numbers per sentence let a linear model learn that "will not relax" points
    the other way from "relax", which bag-of-words features see only as n-grams.
    """

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        rows = []
        for text in X:
            words = mark_negation(text).split()
            counts = [0.0, 0.0, 0.0, 0.0]
            for word in words:
                negated = word.startswith("neg_")
                tightening, easing = _cue_kind(word[4:] if negated else word)
                if tightening:
                    counts[2 if negated else 0] += 1
                if easing:
                    counts[3 if negated else 1] += 1
            rows.append([np.log1p(c) for c in counts])
        return np.asarray(rows, dtype=float)


@lru_cache(maxsize=65536)
def _cue_kind(word: str) -> tuple[bool, bool]:
    """(is a tightening cue, is an easing cue), worked out once per distinct word."""
    stem = word.strip(".,;:!?\"'()")
    return stem.startswith(TIGHTENING_CUES) or stem in TIGHTENING_WORDS, stem.startswith(EASING_CUES)


class SentenceEmbeddingFeatures(TransformerMixin, BaseEstimator):
    """Frozen MiniLM sentence embeddings (384 numbers, unit length) as features.

    Only for the external benchmark (``BENCHMARK_PIPELINES``): it needs PyTorch and the
    optional ``benchmark`` extra, and is not on the allow-list, so a saved model holding
    it refuses to load. The model stays in the installed package, not in this object.
    """

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return embeddings.encode(list(X))


# Economic direction pairs: a topic word with a direction word near it
# ("inflation ... picked up" -> "price_up"). Whether a sentence leans tight or
# loose often depends on which quantity moves which way, which single words miss.
_TOPICS = {
    "price": r"inflation\w*|prices?|cpi|pce|wages?|costs?|deflation\w*",
    "unemployment": r"unemployment|jobless\w*|slack|layoffs?|defaults?|delinquenc\w*|arrears|npls?",
    "employment": r"employment|labou?r|jobs|hiring|payrolls?",
    "activity": r"growth|activity|gdp|output|spending|demand|consumption|investment|economy|economic|production|sales|housing",
    "rates": r"rates?|yields?|funds|accommodation|pricing",
    "credit": r"credit|lending|loans?|borrowing|leverage|debt",
    "risk": r"risks?|uncertaint\w*|vulnerabilit\w*|imbalances?|bubbles?",
}
_UP = re.compile(
    r"ris\w*|rose|increas\w*|higher|high|elevated|strong\w*|pick\w*|accelerat\w*|above|upward|upside|surg\w*|"
    r"solid|robust|tight\w*|expan\w*|boom\w*|overheat\w*|firm\w*|gain\w*|climb\w*|jump\w*|soar\w*"
)
_DOWN = re.compile(
    r"declin\w*|fall\w*|fell|lower|low|weak\w*|soft\w*|slow\w*|below|downward|downside|subdued|moderat\w*|"
    r"eas\w*|decreas\w*|contract\w*|sluggish|drop\w*|recession\w*|deteriorat\w*|muted|cool\w*|cut\w*|shrink\w*"
)
_TOPIC_RES = {name: re.compile(rf"(?:{pattern})") for name, pattern in _TOPICS.items()}
_PAIR_TOKEN = re.compile(r"[a-z]+|[,;:.()]")
_PAIR_WINDOW = 8
_PAIR_NEGATORS = frozenset({"not", "no", "without", "never", "less"})


# Words repeat (Zipf): what a token is, topic or direction, is worked out once per word.
@lru_cache(maxsize=65536)
def _topics_of(token: str) -> tuple[str, ...]:
    return tuple(topic for topic, pattern in _TOPIC_RES.items() if pattern.fullmatch(token))


@lru_cache(maxsize=65536)
def _direction_of(token: str) -> str | None:
    if _UP.fullmatch(token):
        return "up"
    if _DOWN.fullmatch(token):
        return "down"
    return None


def _nearest_direction(tokens: list[str], i: int) -> str | None:
    """The direction word closest to ``tokens[i]`` within the window and the same clause."""
    for distance in range(1, _PAIR_WINDOW + 1):
        for j in (i - distance, i + distance):
            if not 0 <= j < len(tokens):
                continue
            between = tokens[min(i, j) + 1 : max(i, j)]
            if any(t in ",;:.()" for t in between):
                continue
            direction = _direction_of(tokens[j])
            if direction:
                return direction
    return None


def direction_pairs(text: str) -> str:
    """Topic/direction tokens of a sentence, e.g. "price_up credit_down_neg", or "none"."""
    tokens = _PAIR_TOKEN.findall(clean_text(text))
    out = []
    for i, token in enumerate(tokens):
        for topic in _topics_of(token):
            direction = _nearest_direction(tokens, i)
            if direction:
                nearby = tokens[max(0, i - _PAIR_WINDOW) : i + _PAIR_WINDOW]
                negated = "_neg" if _PAIR_NEGATORS.intersection(nearby) else ""
                out.append(f"{topic}_{direction}{negated}")
    return " ".join(out) or "none"


def _pair_features() -> TfidfVectorizer:
    return TfidfVectorizer(preprocessor=direction_pairs, token_pattern=r"\S+", ngram_range=(1, 2), sublinear_tf=True)


# --- Chinese -------------------------------------------------------------------
# Character n-grams need no word segmenter and cover 2-4 character words
# (收紧, 不得超过) whatever the segmentation; negation is marked like in English.
_ZH_NEGATORS = re.compile(r"(不得|不再|不会|不能|未|没有|无|非|禁止|严禁|不)")
_ZH_CLAUSE_END = re.compile(r"[，。；：！？,.;:!?、]")


def mark_negation_zh(text: str) -> str:
    """``clean_text`` with each character inside a negation's clause followed by "~".

    "不会放松" -> "不会放~松~", so a negated 放松 is a different n-gram from 放松.
    """
    text = clean_text(text)
    out: list[str] = []
    negating = False
    i = 0
    while i < len(text):
        match = _ZH_NEGATORS.match(text, i)
        if match:
            out.append(match.group())
            negating = True
            i = match.end()
            continue
        ch = text[i]
        if _ZH_CLAUSE_END.match(ch):
            negating = False
            out.append(ch)
        else:
            out.append(ch + "~" if negating and not ch.isspace() else ch)
        i += 1
    return "".join(out)


ZH_TIGHTENING_CUES = (
    "收紧", "从严", "严禁", "禁止", "整治", "整顿", "清理", "约谈", "处罚", "罚款", "叫停", "暂停", "去杠杆", "上限",
    "限制", "规范", "压降", "严控", "查处", "取缔", "风险", "违规", "加息", "上调", "不得", "整改", "严厉", "打击",
)
ZH_EASING_CUES = (
    "支持", "鼓励", "放宽", "放松", "降低", "下调", "降息", "降准", "提振", "纾困", "贴息", "补贴", "扩大", "宽松", "促进",
    "激发", "加大", "释放", "便利", "优化", "恢复", "常态化", "健康发展", "增加", "发展",
)


class ChineseCueFeatures(TransformerMixin, BaseEstimator):
    """Counts of Chinese tightening and easing cue words, plain and negated."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        rows = []
        for text in X:
            marked = mark_negation_zh(text)
            plain = marked.replace("~", "")
            counts = [0.0, 0.0, 0.0, 0.0]
            for cue in ZH_TIGHTENING_CUES:
                total = plain.count(cue)
                negated = marked.count("~".join(cue) + "~")
                counts[0] += total - negated
                counts[2] += negated
            for cue in ZH_EASING_CUES:
                total = plain.count(cue)
                negated = marked.count("~".join(cue) + "~")
                counts[1] += total - negated
                counts[3] += negated
            rows.append([np.log1p(c) for c in counts])
        return np.asarray(rows, dtype=float)


def _zh_char_features(preprocessor=clean_text) -> TfidfVectorizer:
    return TfidfVectorizer(
        preprocessor=preprocessor, analyzer="char", ngram_range=(1, 4), min_df=2, sublinear_tf=True, max_features=80000
    )


def build_pipeline(name: str = "word_char_lr", **params) -> Pipeline:
    """The candidate pipelines, by name: one ``features`` step and one ``classifier`` step."""
    C = params.get("C", 10.0)
    if name == "word_char_lr":
        features = FeatureUnion([("word", _word_features(**params)), ("char", _char_features(**params))])
        classifier = LogisticRegression(C=C, class_weight="balanced", max_iter=3000)
    elif name == "word_char_svm":
        features = FeatureUnion([("word", _word_features(**params)), ("char", _char_features(**params))])
        # A linear SVM has no probabilities of its own: calibrate them by cross-validation.
        classifier = CalibratedClassifierCV(
            LinearSVC(C=params.get("svm_C", 0.5), class_weight="balanced"), method="sigmoid", cv=5
        )
    elif name == "policy_cues_lr":
        features = FeatureUnion(
            [
                ("word", _word_features(preprocessor=mark_negation, **params)),
                ("char", _char_features(**params)),
                ("cues", PolicyCueFeatures()),
                ("pairs", _pair_features()),
            ],
            transformer_weights={"word": 1.0, "char": 1.0, "cues": 1.0, "pairs": params.get("pair_weight", 2.0)},
        )
        classifier = LogisticRegression(C=C, class_weight="balanced", max_iter=3000)
    elif name == "policy_cues_minilm_lr":
        # policy_cues_lr's blocks plus sentence embeddings: each block is unit length,
        # so weight 1 gives the embedding as much say as the word or char n-grams.
        features = FeatureUnion(
            [
                ("word", _word_features(preprocessor=mark_negation, **params)),
                ("char", _char_features(**params)),
                ("cues", PolicyCueFeatures()),
                ("pairs", _pair_features()),
                ("minilm", SentenceEmbeddingFeatures()),
            ],
            transformer_weights={
                "word": 1.0, "char": 1.0, "cues": 1.0, "pairs": params.get("pair_weight", 2.0),
                "minilm": params.get("embedding_weight", 1.0),
            },
        )
        classifier = LogisticRegression(C=C, class_weight="balanced", max_iter=3000)
    elif name == "zh_char_lr":
        features = FeatureUnion([("char", _zh_char_features())])
        classifier = LogisticRegression(C=C, class_weight="balanced", max_iter=3000)
    elif name == "zh_char_svm":
        features = FeatureUnion([("char", _zh_char_features())])
        classifier = CalibratedClassifierCV(
            LinearSVC(C=params.get("svm_C", 0.5), class_weight="balanced"), method="sigmoid", cv=5
        )
    elif name == "zh_cues_lr":
        features = FeatureUnion(
            [("char", _zh_char_features(preprocessor=mark_negation_zh)), ("cues", ChineseCueFeatures())],
            transformer_weights={"char": 1.0, "cues": params.get("cue_weight", 1.0)},
        )
        classifier = LogisticRegression(C=C, class_weight="balanced", max_iter=3000)
    else:
        raise ModelError(f"unknown pipeline {name!r}; choose one of: {', '.join(ALL_PIPELINES)}")
    return Pipeline([("features", features), ("classifier", classifier)])


#: Candidate pipelines per language; training compares them on dev.
PIPELINES_BY_LANGUAGE = {
    "en": ("word_char_lr", "word_char_svm", "policy_cues_lr"),
    "zh": ("zh_char_lr", "zh_char_svm", "zh_cues_lr"),
}
PIPELINE_NAMES = PIPELINES_BY_LANGUAGE["en"]
#: Candidates that need the optional ``benchmark`` extra (PyTorch): never shipped.
EMBEDDING_PIPELINES = ("policy_cues_minilm_lr",)
ALL_PIPELINES = PIPELINES_BY_LANGUAGE["en"] + PIPELINES_BY_LANGUAGE["zh"] + EMBEDDING_PIPELINES


def benchmark_pipelines() -> tuple[str, ...]:
    """The English candidates for an external benchmark: the embedding one too when installed."""
    return PIPELINE_NAMES + (EMBEDDING_PIPELINES if embeddings.available() else ())


def calibration_scores(gold: list[str], probs: np.ndarray, bins: int = 10) -> dict:
    """Multiclass Brier score and expected calibration error of the top class."""
    if len(gold) == 0:
        return {"brier": None, "ece": None}
    onehot = np.array([[1.0 if g == label else 0.0 for label in STANCE_LABELS] for g in gold])
    brier = float(np.mean(np.sum((probs - onehot) ** 2, axis=1)))
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == onehot.argmax(axis=1)).astype(float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            ece += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return {"brier": brier, "ece": float(ece)}


def classification_report(gold: list[str], predicted: list[str]) -> dict:
    """Per-label precision/recall/F1, macro and weighted F1, and the confusion matrix."""
    labels = list(STANCE_LABELS)
    p, r, f, s = precision_recall_fscore_support(gold, predicted, labels=labels, zero_division=0)
    return {
        "n": len(gold),
        "per_label": {
            label: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, label in enumerate(labels)
        },
        "macro_f1": float(f1_score(gold, predicted, labels=labels, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(gold, predicted, labels=labels, average="weighted", zero_division=0)),
        "accuracy": float(np.mean([g == p for g, p in zip(gold, predicted)])) if gold else 0.0,
        "labels": labels,
        "confusion": confusion_matrix(gold, predicted, labels=labels).tolist(),
    }


class FastFeatures:
    """The ``features`` step of a fitted pipeline, computed faster and to the same matrix.

    scikit-learn's vectorisers count n-grams in a Python loop over every n-gram
    (``CountVectorizer._count_vocab``): for character n-grams that is some 600 dict
    look-ups per sentence, most of the cost of scoring. Here each text is preprocessed
    once for all vectorisers sharing a preprocessor, and ``char_wb`` n-grams, which never
    cross a word, are looked up once per distinct word and cached (words repeat: Zipf).
    The counts go into the same canonical CSR matrix scikit-learn builds, and the
    tf-idf weighting, normalisation, union weights and stacking are scikit-learn's own
    code, so the features (and every probability) are identical; a test checks it on
    the labelled corpus. Transformers of other kinds run as they are.
    """

    #: Distinct words whose char_wb n-grams are cached per vectoriser (then the cache restarts).
    MAX_CACHED_WORDS = 100_000

    def __init__(self, union: FeatureUnion):
        self.union = union
        self._word_cache: dict[int, dict[str, tuple[int, ...]]] = {}

    @classmethod
    def supports(cls, pipeline: Pipeline) -> bool:
        steps = getattr(pipeline, "steps", None)
        return bool(steps) and len(steps) == 2 and isinstance(steps[0][1], FeatureUnion)

    @staticmethod
    def _fast(vectorizer) -> bool:
        return (
            type(vectorizer) is TfidfVectorizer
            and vectorizer.input == "content"
            and vectorizer.analyzer in ("word", "char_wb", "char")
            and vectorizer.tokenizer is None
            and vectorizer.get_stop_words() is None
            and hasattr(vectorizer, "vocabulary_")
        )

    def _columns(self, vectorizer, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Vocabulary indices of the texts' n-grams (repeats kept, unknown n-grams dropped),
        all rows in one int32 array, and the number of indices in each row."""
        get = vectorizer.vocabulary_.get
        rows: list[bytes] = []
        if vectorizer.analyzer == "char_wb":
            # Per word, the indices as int32 bytes: a row is a join of cached byte strings.
            cache = self._word_cache.setdefault(id(vectorizer), {})
            if len(cache) > self.MAX_CACHED_WORDS:
                cache.clear()
            spaces = vectorizer._white_spaces
            for text in texts:
                pieces = []
                for word in spaces.sub(" ", text).split():
                    found = cache.get(word)
                    if found is None:
                        found = np.fromiter(
                            (i for i in map(get, vectorizer._char_wb_ngrams(word)) if i is not None), dtype=np.int32
                        ).tobytes()
                        cache[word] = found
                    pieces.append(found)
                rows.append(b"".join(pieces))
        else:
            analyze = vectorizer._char_ngrams if vectorizer.analyzer == "char" else None
            tokenize = vectorizer.build_tokenizer() if analyze is None else None
            for text in texts:
                grams = analyze(text) if analyze is not None else vectorizer._word_ngrams(tokenize(text))
                rows.append(np.array([i for i in map(get, grams) if i is not None], dtype=np.int32).tobytes())
        lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows)) // 4
        return np.frombuffer(b"".join(rows), dtype=np.int32), lengths

    def _tfidf(self, vectorizer, texts: list[str]):
        """What ``vectorizer.transform`` returns for the (already preprocessed) texts."""
        import scipy.sparse as sp

        cols, lengths = self._columns(vectorizer, texts)
        row_ids = np.repeat(np.arange(len(texts), dtype=np.int32), lengths)
        counts = sp.csr_matrix(
            (np.ones(len(cols), dtype=vectorizer.dtype), (row_ids, cols)),
            shape=(len(texts), len(vectorizer.vocabulary_)),
            dtype=vectorizer.dtype,
        )
        counts.sum_duplicates()  # canonical: one entry per n-gram, columns sorted, as sklearn builds it
        counts.sort_indices()
        if vectorizer.binary:
            counts.data.fill(1)
        return vectorizer._tfidf.transform(counts, copy=False)

    def transform(self, texts: list[str]):
        preprocessed: dict[int, list[str]] = {}
        blocks = []
        for _, transformer, weight in self.union._iter():
            if self._fast(transformer):
                preprocess = transformer.build_preprocessor()
                key = id(transformer.preprocessor) if transformer.preprocessor is not None else id(transformer)
                if key not in preprocessed:
                    decode = transformer.decode
                    preprocessed[key] = [preprocess(decode(t)) for t in texts]
                block = self._tfidf(transformer, preprocessed[key])
            else:
                block = transformer.transform(texts)
            blocks.append(block if weight is None else block * weight)
        return self.union._hstack(blocks)


@dataclass
class StanceModel:
    """A fitted pipeline plus its metadata; probabilities come in ``STANCE_LABELS`` order."""

    pipeline: Pipeline
    meta: dict = field(default_factory=dict)
    #: Compute the features with :class:`FastFeatures` (same numbers, several times faster).
    fast: bool = True

    @property
    def version(self) -> str:
        return self.meta.get("version", "unversioned")

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, len(STANCE_LABELS)))
        if self.fast and FastFeatures.supports(self.pipeline):
            if getattr(self, "_features", None) is None:
                self._features = FastFeatures(self.pipeline.steps[0][1])
            probs = self.pipeline.steps[-1][1].predict_proba(self._features.transform(list(texts)))
        else:
            probs = self.pipeline.predict_proba(texts)
        order = [list(self.pipeline.classes_).index(label) for label in STANCE_LABELS]
        return probs[:, order]

    def score(self, texts: list[str]) -> list[tuple[float, str, float]]:
        """``(score, label, relevance)`` per text; relevance = 1 - P(neutral)."""
        probs = self.predict_proba(texts)
        if not len(probs):
            return []
        scores = (probs[:, 2] - probs[:, 0]).tolist()
        labels = [STANCE_LABELS[i] for i in probs.argmax(axis=1).tolist()]
        relevance = (1.0 - probs[:, 1]).tolist()
        return list(zip(scores, labels, relevance))

    def predict(self, texts: list[str]) -> list[str]:
        return [label for _, label, _ in self.score(texts)]


def fit(records: list[dict], *, name: str = "word_char_lr", params: dict | None = None) -> Pipeline:
    """Fit a named pipeline on the given records (the caller chooses the rows: train only)."""
    pipeline = build_pipeline(name, **(params or {}))
    pipeline.fit([r["text"] for r in records], [r["label"] for r in records])
    _compact_for_saving(pipeline)
    return pipeline


def _compact_for_saving(pipeline: Pipeline) -> None:
    """Make a fitted pipeline small to save, without changing a single prediction.

    Vectorizers keep every term they pruned (``stop_words_``) only for introspection:
    dropped. A vocabulary cut by ``max_features`` maps terms to numpy integers, which
    skops writes as one file each inside the model's zip: made plain ``int``.
    """
    for _, transformer in pipeline.named_steps["features"].transformer_list:
        if hasattr(transformer, "stop_words_"):
            del transformer.stop_words_
        if hasattr(transformer, "vocabulary_"):
            transformer.vocabulary_ = {term: int(column) for term, column in transformer.vocabulary_.items()}


def library_versions() -> dict[str, str]:
    import spacy

    return {"scikit-learn": sklearn.__version__, "skops": skops.__version__, "numpy": np.__version__, "spacy": spacy.__version__}


def make_meta(*, name: str, language: str, data_hash: str, data_files: list[str], params: dict, counts: dict, scores: dict) -> dict:
    return {
        "version": f"stance-{language}-{name}-{data_hash[:10]}",
        "language": language,
        "pipeline": name,
        "params": params,
        "data_hash": data_hash,
        "data_files": data_files,
        "counts": counts,
        "scores": scores,
        "code_version": __version__,
        "library_versions": library_versions(),
        "trained_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
    }


# --- persistence ------------------------------------------------------------

#: Types inside our pipelines that skops does not trust by default; anything else
#: found in a model file makes loading fail.
TRUSTED_TYPES = frozenset(
    {
        "tracker.stance.clean_text",
        "tracker.stance.mark_negation",
        "tracker.stance.PolicyCueFeatures",
        "tracker.stance.direction_pairs",
        "tracker.stance.mark_negation_zh",
        "tracker.stance.ChineseCueFeatures",
        # scikit-learn's own calibration internals (the calibrated SVM candidates)
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
    }
)


def save(model: StanceModel, directory: str | Path) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    # The vocabulary is stored as JSON: deflate shrinks the file about tenfold.
    sio.dump(model.pipeline, directory / MODEL_FILE, compression=zipfile.ZIP_DEFLATED, compresslevel=9)
    (directory / META_FILE).write_text(json.dumps(model.meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return directory


def load(directory: str | Path) -> StanceModel:
    """Load a saved model without pickle; refuse files holding types outside the allow-list."""
    directory = Path(directory)
    model_file, meta_file = directory / MODEL_FILE, directory / META_FILE
    if not model_file.exists() or not meta_file.exists():
        raise ModelError(f"no stance model in {directory}: run 'tracker train --out {directory}'")
    untrusted = set(sio.get_untrusted_types(file=model_file))
    unexpected = untrusted - TRUSTED_TYPES
    if unexpected:
        raise ModelError(f"{model_file} holds untrusted types {sorted(unexpected)}; refusing to load it")
    pipeline = sio.load(model_file, trusted=sorted(untrusted))
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    return StanceModel(pipeline=pipeline, meta=meta)


@lru_cache(maxsize=4)
def load_cached(directory: str) -> StanceModel:
    return load(directory)
