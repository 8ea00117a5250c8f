"""Loaders for the shared, human-labelled data under ``<data>/train`` and ``<data>/eval-dev``.

Pure file readers: they return ``(texts, labels)`` with labels as ints 0 = negative, 1 = neutral,
2 = positive (TweetEval's mapping). ``data`` defaults to ``../shared/data`` relative to the repo.
The reserved test data (``shared/holdout``) is never read here.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = (REPO / ".." / "shared" / "data").resolve()

LABEL_IDS = {"negative": 0, "neutral": 1, "positive": 2}

# file order as listed in the folder's SOURCE.md: dedupe by tweet id keeps the first occurrence
SEMEVAL_FILES = (
    "twitter-2013train-A.tsv",
    "twitter-2013dev-A.tsv",
    "twitter-2013test-A.tsv",
    "twitter-2014sarcasm-A.tsv",
    "twitter-2014test-A.tsv",
    "twitter-2015train-A.tsv",
    "twitter-2015test-A.tsv",
    "twitter-2016train-A.tsv",
    "twitter-2016dev-A.tsv",
    "twitter-2016devtest-A.tsv",
    "twitter-2016test-A.tsv",
)

_U_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
_MENTION = re.compile(r"@\w+")
_URL = re.compile(r"https?://\S*|www\.\S+")


def _decode_u_escapes(text: str) -> str:
    out = _U_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    # surrogate pairs written as two escapes -> one character
    return out.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def tweeteval_style(text: str) -> str:
    """SemEval raw text -> TweetEval's form: escapes decoded, @handles -> @user, URLs dropped."""
    text = html.unescape(_decode_u_escapes(text)).strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = text[1:-1].strip()
    text = _MENTION.sub("@user", text)
    text = _URL.sub("", text)
    return " ".join(text.split())


def load_semeval_en(data: Path = DEFAULT_DATA) -> tuple[list[str], list[int], list[str]]:
    """SemEval-2017 4A English training data, deduplicated by tweet id (first occurrence wins).

    Returns texts (TweetEval-normalised), labels and the source file name of each row.
    """
    folder = Path(data) / "train" / "semeval2017t4a_sentiment_en_train"
    seen: set[str] = set()
    texts: list[str] = []
    labels: list[int] = []
    files: list[str] = []
    for name in SEMEVAL_FILES:
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")
            if len(parts) < 3 or not parts[0].strip():
                continue
            tweet_id, label, text = parts[0].strip(), parts[1].strip(), parts[2]
            if tweet_id in seen or label not in LABEL_IDS:
                continue
            seen.add(tweet_id)
            texts.append(tweeteval_style(text))
            labels.append(LABEL_IDS[label])
            files.append(name)
    return texts, labels, files


def _read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n") if path.stat().st_size else []


def _load_pair(folder: Path, split: str) -> tuple[list[str], list[int]]:
    texts = [t.strip() for t in _read_lines(folder / f"{split}_text.txt")]
    labels = [int(x) for x in _read_lines(folder / f"{split}_labels.txt") if x.strip()]
    if texts and not texts[-1] and len(texts) == len(labels) + 1:
        texts.pop()  # final newline
    if len(texts) != len(labels):
        raise ValueError(f"{folder}/{split}: {len(texts)} texts but {len(labels)} labels")
    return texts, labels


def load_tweeteval_en_val(data: Path = DEFAULT_DATA) -> tuple[list[str], list[int]]:
    """TweetEval sentiment validation (2,000 rows): the English DEV set. Never train on it."""
    return _load_pair(Path(data) / "eval-dev" / "tweeteval_sentiment_en_val", "val")


def load_xlmt(lang: str, split: str, data: Path = DEFAULT_DATA) -> tuple[list[str], list[int]]:
    """XLM-T sentiment train/val for ``lang`` (es lives in eval-dev, the others in train)."""
    if split not in ("train", "val"):
        raise ValueError("split must be 'train' or 'val' (test data is not held here)")
    name = f"xlmt_sentiment_{lang}_trainval"
    folder = Path(data) / ("eval-dev" if lang == "es" else "train") / name
    return _load_pair(folder, split)


# XLM-T French lines that equal lines of the (uncopied) XLM-T French test split, 1-based, from the
# folder's SOURCE.md. Dropped so that the French data never carries test text into a model.
XLMT_FR_TEST_OVERLAP = {
    "train": {246, 315, 316, 678, 1014, 1203, 1273, 1285, 1286, 1429, 1629, 1726, 1804},
    "val": {86, 292},
}


def load_xlmt_clean(lang: str, split: str, data: Path = DEFAULT_DATA) -> tuple[list[str], list[int]]:
    texts, labels = load_xlmt(lang, split, data)
    if lang != "fr":
        return texts, labels
    drop = XLMT_FR_TEST_OVERLAP[split]
    keep = [i for i in range(len(texts)) if i + 1 not in drop]
    return [texts[i] for i in keep], [labels[i] for i in keep]
