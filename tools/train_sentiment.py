"""Train the sentiment models under processors/trained/sentiment_<lang>/ from the shared data.

    .venv/bin/python tools/train_sentiment.py                 # both languages, data in ../shared/data
    .venv/bin/python tools/train_sentiment.py --data /path/to/shared/data --langs es

Per language: TF-IDF over word 1-2-grams + char 2-5-grams (processors/sentiment_features.py),
dense features (VADER for en, the hand-written lexicon for es), multinomial logistic regression,
then per-class logit offsets tuned for macro-F1 on data the model did not see (en: a seeded 10%
split of the SemEval training data; es: 5-fold out-of-fold predictions on XLM-T es train), then a
final refit on all the training data. Development sets (TweetEval en val, XLM-T es val) are never
read here: bench/quality_sentiment.py scores them.

Seeded and single-threaded where it matters; writes model.json, vocab.json.gz, weights.npz and
metrics.json (own-validation figures) per language.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import itertools
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold, train_test_split

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from processors.sentiment import FORMAT, LinearSentimentModel, dense_features  # noqa: E402
from processors.sentiment_features import FeatureConfig, analyze  # noqa: E402
from tools import datasets  # noqa: E402

SEED = 13
OUT = REPO / "processors" / "trained"


@dataclass(frozen=True)
class Recipe:
    lang: str
    features: FeatureConfig
    dense: str | None
    dense_scale: float
    C: float
    class_weight: str | None
    min_df: int
    notes: str = ""
    extra: dict[str, object] = field(default_factory=dict)


# Chosen by the experiments recorded in processors/trained/sentiment_<lang>/README.md
RECIPES = {
    "en": Recipe(
        lang="en",
        features=FeatureConfig(word_ngrams=2, char_min=2, char_max=5, strip_accents=False, negation=True, lang="en"),
        dense="vader",
        dense_scale=0.5,
        C=2.0,
        class_weight="balanced",
        min_df=3,
    ),
    "es": Recipe(
        lang="es",
        features=FeatureConfig(word_ngrams=2, char_min=2, char_max=5, strip_accents=True, negation=True, lang="es"),
        dense="lexicon",
        dense_scale=1.0,
        C=1.0,
        class_weight=None,
        min_df=2,
        extra={"langs": ("pt", "it", "fr"), "weight": 0.3},
    ),
}


def _vectorizer(recipe: Recipe) -> TfidfVectorizer:
    cfg = recipe.features

    def analyzer(text: str) -> list[str]:
        return analyze(text, cfg)

    return TfidfVectorizer(analyzer=analyzer, min_df=recipe.min_df, sublinear_tf=True, dtype=np.float32)


def _dense(recipe: Recipe, texts: Sequence[str]) -> np.ndarray | None:
    if recipe.dense is None:
        return None
    fn: Callable[[str], tuple[float, ...]] = dense_features(recipe.dense, recipe.features.lang)
    return np.asarray([fn(t) for t in texts], dtype=np.float32) * recipe.dense_scale


@dataclass
class Fitted:
    vec: TfidfVectorizer
    clf: LogisticRegression
    n_dense: int


def fit(
    recipe: Recipe,
    texts: Sequence[str],
    labels: Sequence[int],
    dense: np.ndarray | None,
    weights: np.ndarray | None = None,
) -> Fitted:
    vec = _vectorizer(recipe)
    X = vec.fit_transform(texts)
    if dense is not None:
        X = sp.hstack([X, sp.csr_matrix(dense)]).tocsr()
    clf = LogisticRegression(C=recipe.C, class_weight=recipe.class_weight, max_iter=5000, tol=1e-5)
    clf.fit(X, np.asarray(labels), sample_weight=weights)
    return Fitted(vec, clf, 0 if dense is None else dense.shape[1])


def decision(f: Fitted, texts: Sequence[str], dense: np.ndarray | None) -> np.ndarray:
    X = f.vec.transform(texts)
    if dense is not None:
        X = sp.hstack([X, sp.csr_matrix(dense)]).tocsr()
    return np.asarray(f.clf.decision_function(X))


def tune_bias(logits: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Offsets for (negative, positive) logits (neutral fixed at 0) maximising macro-F1; ties -> smallest."""
    grid = np.round(np.arange(-1.0, 1.0001, 0.05), 2)
    best = (-1.0, 0.0, np.zeros(3))
    for bn, bp in itertools.product(grid, grid):
        b = np.array([bn, 0.0, bp])
        f1 = f1_score(y, (logits + b).argmax(1), average="macro")
        key = (round(f1, 6), -(abs(bn) + abs(bp)))
        if key > (round(best[0], 6), -float(np.abs(best[2]).sum())):
            best = (f1, 0.0, b)
    return best[2].astype(np.float32), float(best[0])


def scores(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    return {
        "macro_f1": round(float(f1_score(y, pred, average="macro")), 4),
        "accuracy": round(float(accuracy_score(y, pred)), 4),
    }


def save(recipe: Recipe, f: Fitted, bias: np.ndarray, out_dir: Path, metrics: dict[str, object]) -> Path:
    directory = out_dir / f"sentiment_{recipe.lang}"
    directory.mkdir(parents=True, exist_ok=True)
    vocab = [str(x) for x in f.vec.get_feature_names_out()]
    coef_all = f.clf.coef_.T.astype(np.float32)  # (n_features + n_dense, 3)
    n_vocab = len(vocab)
    arrays = {
        "idf": f.vec.idf_.astype(np.float32),
        "coef": coef_all[:n_vocab],
        "dense_coef": coef_all[n_vocab:] if f.n_dense else np.zeros((0, 3), np.float32),
        "intercept": f.clf.intercept_.astype(np.float32),
        "bias": bias.astype(np.float32),
    }
    digest = hashlib.sha256()
    digest.update("\n".join(vocab).encode())
    for k in sorted(arrays):
        digest.update(arrays[k].tobytes())
    version = f"tfidf-lr-{recipe.lang}-{digest.hexdigest()[:10]}"
    vocab_bytes = json.dumps(vocab, ensure_ascii=False).encode()
    # mtime=0: the same model gives the same bytes
    with open(directory / "vocab.json.gz", "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as fh:
        fh.write(vocab_bytes)
    np.savez_compressed(directory / "weights.npz", **arrays)
    meta = {
        "format": FORMAT,
        "version": version,
        "lang": recipe.lang,
        "labels": ["negative", "neutral", "positive"],
        "features": recipe.features.to_json(),
        "dense": recipe.dense,
        "dense_scale": recipe.dense_scale,
        "training": {
            "C": recipe.C,
            "class_weight": recipe.class_weight,
            "min_df": recipe.min_df,
            "seed": SEED,
            "vocabulary": n_vocab,
        },
    }
    (directory / "model.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    (directory / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    return directory


def check_parity(directory: Path, f: Fitted, bias: np.ndarray, texts: Sequence[str], dense: np.ndarray | None) -> float:
    """Max |runtime proba - sklearn proba| on some texts: the exported model must equal the trained one."""
    model = LinearSentimentModel.load(directory)
    ours = model.predict_proba(list(texts))
    z = decision(f, texts, dense) + bias
    z = z - z.max(1, keepdims=True)
    ref = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    return float(np.abs(ours - ref).max())


def train_en(data: Path, out_dir: Path) -> dict[str, object]:
    recipe = RECIPES["en"]
    texts, labels, _ = datasets.load_semeval_en(data)
    y = np.asarray(labels)
    idx = np.arange(len(texts))
    tr, va = train_test_split(idx, test_size=0.1, random_state=SEED, stratify=y)
    dense = _dense(recipe, texts)
    t0 = time.perf_counter()
    f = fit(recipe, [texts[i] for i in tr], y[tr], None if dense is None else dense[tr])
    logits = decision(f, [texts[i] for i in va], None if dense is None else dense[va])
    bias, _ = tune_bias(logits, y[va])
    metrics: dict[str, object] = {
        "data": "SemEval-2017 4A English train, deduplicated by id (47,559 tweets)",
        "validation": f"seeded stratified 10% split (seed {SEED}, {len(va)} tweets); not TweetEval val",
        "own_val_no_bias": scores(y[va], logits.argmax(1)),
        "own_val_bias_tuned_on_it (optimistic)": scores(y[va], (logits + bias).argmax(1)),
        "bias": bias.round(3).tolist(),
    }
    print(f"[en] own val: {metrics}  ({time.perf_counter() - t0:.0f}s)", flush=True)
    final = fit(recipe, texts, y, dense)
    metrics["trained_on"] = len(texts)
    directory = save(recipe, final, bias, out_dir, metrics)
    sample = [texts[i] for i in va[:500]]
    diff = check_parity(directory, final, bias, sample, None if dense is None else dense[va[:500]])
    print(f"[en] saved {directory}; runtime/sklearn max |dp| = {diff:.2e}", flush=True)
    if diff > 1e-4:
        raise SystemExit("exported model disagrees with the trained one")
    return metrics


def train_es(data: Path, out_dir: Path) -> dict[str, object]:
    """XLM-T es train, plus XLM-T pt/it/fr train+val at a lower sample weight (Romance languages help a little)."""
    recipe = RECIPES["es"]
    texts, labels = datasets.load_xlmt("es", "train", data)
    y = np.asarray(labels)
    extra_texts: list[str] = []
    extra_labels: list[int] = []
    for lang in recipe.extra.get("langs", ()):  # type: ignore[attr-defined]
        for split in ("train", "val"):
            t, lab = datasets.load_xlmt_clean(lang, split, data)
            extra_texts += t
            extra_labels += lab
    extra_weight = float(recipe.extra.get("weight", 1.0))  # type: ignore[arg-type]
    dense = _dense(recipe, texts)
    extra_dense = _dense(recipe, extra_texts)

    def fit_with_extra(idx: np.ndarray) -> Fitted:
        tx = [texts[i] for i in idx] + extra_texts
        ty = np.concatenate([y[idx], np.asarray(extra_labels, dtype=int)])
        w = np.concatenate([np.ones(len(idx)), np.full(len(extra_texts), extra_weight)])
        d = None if dense is None or extra_dense is None else np.vstack([dense[idx], extra_dense])
        return fit(recipe, tx, ty, d, w)

    oof = np.zeros((len(texts), 3))
    skf = StratifiedKFold(5, shuffle=True, random_state=SEED)
    for tr, va in skf.split(texts, y):
        f = fit_with_extra(tr)
        oof[va] = decision(f, [texts[i] for i in va], None if dense is None else dense[va])
    bias, _ = tune_bias(oof, y)
    metrics: dict[str, object] = {
        "data": (
            f"XLM-T es train (1,839 tweets) + XLM-T {'/'.join(recipe.extra['langs'])} train+val "  # type: ignore[arg-type]
            f"({len(extra_texts)} tweets, sample weight {extra_weight}); XLM-T es val (324) is NOT used here"
        ),
        "validation": f"5-fold stratified out-of-fold predictions on es train (seed {SEED}); extra data in every fold",
        "cv_no_bias": scores(y, oof.argmax(1)),
        "cv_bias_tuned_on_it (optimistic)": scores(y, (oof + bias).argmax(1)),
        "bias": bias.round(3).tolist(),
    }
    print(f"[es] cv: {metrics}", flush=True)
    final = fit_with_extra(np.arange(len(texts)))
    metrics["trained_on"] = len(texts) + len(extra_texts)
    directory = save(recipe, final, bias, out_dir, metrics)
    diff = check_parity(directory, final, bias, texts[:500], None if dense is None else dense[:500])
    print(f"[es] saved {directory}; runtime/sklearn max |dp| = {diff:.2e}", flush=True)
    if diff > 1e-4:
        raise SystemExit("exported model disagrees with the trained one")
    return metrics


TRAINERS = {"en": train_en, "es": train_es}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=datasets.DEFAULT_DATA, help="shared data root (train/, eval-dev/)")
    parser.add_argument("--out", type=Path, default=OUT, help="where sentiment_<lang>/ folders are written")
    parser.add_argument("--langs", nargs="+", default=sorted(TRAINERS), choices=sorted(TRAINERS))
    args = parser.parse_args(argv)
    np.random.seed(SEED)
    for lang in args.langs:
        TRAINERS[lang](args.data, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
