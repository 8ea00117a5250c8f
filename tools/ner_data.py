"""Read the shared CoNLL NER sets (BTC, WNUT-17) into (text, gold spans) with our unified labels.

Used by tools/train_ner.py (train splits) and bench/quality_ner.py (dev splits). Never reads holdout.

Text: tokens joined by one space, except that a bare "@" token is glued to the next token
("@ SportsCenter" -> "@SportsCenter"), as the post was written.

Gold spans follow the enricher's entity convention: a leading "@" or "#" is not part of an entity
(the handle's or tag's name is). BTC tags the bare "@" token of a mention itself (``@/B-ORG
SportsCenter/B-ORG`` = two spans): the "@" is dropped and the name keeps the type, which is the
README's "merge the @ token with the next one" once the sigil is stripped.

Unified labels (LABELS): BTC PER/ORG/LOC -> PERSON/ORG/LOC; WNUT person -> PERSON, location -> LOC,
corporation and group -> ORG (OntoNotes and BTC call sports teams, bands and companies ORG),
product -> PRODUCT, creative-work -> WORK_OF_ART.

WNUT does not annotate usernames: its @handle tokens are tagged O. For training they are marked
"missing" so the model is not taught that handles are never entities (BTC says they are).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = (REPO / ".." / "shared" / "data").resolve()

LABELS = ("PERSON", "ORG", "LOC", "PRODUCT", "WORK_OF_ART")
BTC_MAP = {"PER": "PERSON", "ORG": "ORG", "LOC": "LOC"}
WNUT_MAP = {
    "person": "PERSON",
    "location": "LOC",
    "corporation": "ORG",
    "group": "ORG",
    "product": "PRODUCT",
    "creative-work": "WORK_OF_ART",
}
DATASETS = {
    "btc_dev": ("eval-dev/btc_en_dev/btc.dev", BTC_MAP),
    "wnut17_dev": ("eval-dev/wnut17_en_dev/emerging.dev.conll", WNUT_MAP),
    "btc_train": ("train/btc_en_train/btc.train", BTC_MAP),
    "wnut17_train": ("train/wnut17_en_train/wnut17train.conll", WNUT_MAP),
}
DATASET_TYPES = {"btc": ("PERSON", "ORG", "LOC"), "wnut17": LABELS}


@dataclass(frozen=True)
class NerDoc:
    text: str
    spans: tuple[tuple[int, int, str], ...]  # (start, end, label) gold entities
    missing: tuple[tuple[int, int], ...] = ()  # char ranges whose annotation is unknown (WNUT handles)


def read_conll(path: Path) -> list[list[tuple[str, str]]]:
    docs: list[list[tuple[str, str]]] = []
    cur: list[tuple[str, str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():  # WNUT has separators that are a lone tab
            if cur:
                docs.append(cur)
                cur = []
            continue
        token, _, tag = line.rstrip("\n").partition("\t")
        cur.append((token, tag.strip() or "O"))
    if cur:
        docs.append(cur)
    return docs


def to_doc(tokens: list[tuple[str, str]], label_map: dict[str, str], *, wnut: bool) -> NerDoc:
    words = [w for w, _ in tokens]
    tags = [t for _, t in tokens]
    # a bare "@" is never inside an entity; the name after it starts the entity
    for i, w in enumerate(words):
        if w == "@" and i + 1 < len(words):
            tags[i] = "O"
            if tags[i + 1].startswith("I-"):
                tags[i + 1] = "B-" + tags[i + 1][2:]
    pieces: list[str] = []
    starts: list[int] = []
    pos = 0
    for i, w in enumerate(words):
        if i > 0 and not (words[i - 1] == "@"):
            pieces.append(" ")
            pos += 1
        starts.append(pos)
        pieces.append(w)
        pos += len(w)
    text = "".join(pieces)
    spans: list[tuple[int, int, str]] = []
    missing: list[tuple[int, int]] = []
    cur: list[int] | None = None  # [start, end, label-index]
    cur_label = ""

    def close() -> None:
        nonlocal cur
        if cur is not None:
            s, e = cur[0], cur[1]
            while s < e and text[s] in "@#":
                s += 1
            if s < e:
                spans.append((s, e, cur_label))
            cur = None

    for i, (w, tag) in enumerate(zip(words, tags, strict=True)):
        start, end = starts[i], starts[i] + len(w)
        kind = tag[2:] if len(tag) > 2 else ""
        label = label_map.get(kind)
        if tag.startswith("B-") and label:
            close()
            cur, cur_label = [start, end], label
        elif tag.startswith("I-") and label and cur is not None and cur_label == label:
            cur[1] = end
        elif tag.startswith("I-") and label:  # orphan I-: start a span
            close()
            cur, cur_label = [start, end], label
        else:
            close()
        if wnut and tag == "O" and (w.startswith("@") and len(w) > 1 or (w == "@")):
            missing.append((start, end if w != "@" or i + 1 >= len(words) else starts[i + 1] + len(words[i + 1])))
    close()
    return NerDoc(text, tuple(spans), tuple(missing))


def load(name: str, data: Path = DEFAULT_DATA) -> list[NerDoc]:
    rel, label_map = DATASETS[name]
    wnut = name.startswith("wnut")
    return [to_doc(toks, label_map, wnut=wnut) for toks in read_conll(data / rel)]
