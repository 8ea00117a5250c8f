"""Throughput of processors.enrich.enrich_batch vs "spaCy sm NER + VADER alone", and the duplicate cache.

Corpus (fixed, built at start from the dev data, seeded): 2,000 posts of exactly 25 words, half
English (words of TweetEval validation texts), half Spanish (XLM-T Spanish train+val texts), each
post cut from consecutive words of one language's stream. Posts carry no lang_hint.

- chain: enrich_batch(posts, models) with the cache disabled (every post does all the work).
- baseline: the spaCy NER-only pipeline of the post's (known) language over nlp.pipe + VADER per post;
  no language id, social entities, gazetteer, brand queries or output records.
- cache: a stream of the same size where 30 % of the posts repeat an earlier text (retweets /
  copypasta, half of them with an "RT @user: " prefix), enrich_batch with and without the cache.

posts/s = posts / wall time of one pass in batches of --batch; median of --runs passes (one core).

    .venv/bin/python bench/bench_enrich.py [--profile fast] [--runs 5] [--posts 2000] [--write]
"""

from __future__ import annotations

import os

from streams.runtime.process_tuning import one_blas_thread

one_blas_thread()  # before numpy loads, as in a worker

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.quality_md import BENCH, write_section  # noqa: E402
from processors.cache import LRUCache  # noqa: E402
from processors.enrich import EnrichedEvent, EnrichmentModels, enrich_batch  # noqa: E402
from processors.models import load_models  # noqa: E402
from schemas.events import RawEvent  # noqa: E402

DATA = (REPO / ".." / "shared" / "data").resolve()
NOW = datetime(2025, 1, 1, tzinfo=UTC)
WORDS = 25


def word_stream(files: list[Path]) -> list[str]:
    words: list[str] = []
    for f in files:
        for line in f.read_text(encoding="utf-8").splitlines():
            words.extend(line.split())
    return words


def corpus(n: int, seed: int = 7) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    streams = {
        "en": word_stream([DATA / "eval-dev/tweeteval_sentiment_en_val/val_text.txt"]),
        "es": word_stream([DATA / f"eval-dev/xlmt_sentiment_es_trainval/{s}_text.txt" for s in ("train", "val")]),
    }
    out = []
    for i in range(n):
        lang = "en" if i % 2 == 0 else "es"
        words = streams[lang]
        start = rng.randrange(0, len(words) - WORDS)
        out.append((" ".join(words[start : start + WORDS]), lang))
    return out


def to_events(texts: list[str]) -> list[RawEvent]:
    return [
        RawEvent(event_id=f"x:{i}", network="x", native_id=str(i), kind="post", author={"id": "u"}, text=t,
                 created_at=NOW, ingested_at=NOW)
        for i, t in enumerate(texts)
    ]


def with_duplicates(texts: list[str], share: float, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    out: list[str] = []
    for i, t in enumerate(texts):
        if i > 0 and rng.random() < share:
            earlier = out[rng.randrange(0, len(out))]
            out.append(f"RT @fan{i}: {earlier}" if rng.random() < 0.5 else earlier)
        else:
            out.append(t)
    return out


Rates = dict[str, list[float]]


def interleaved_rates(fns: dict[str, Callable[[], int]], runs: int) -> tuple[Rates, Rates]:
    """Posts/s of each function by wall clock and by process CPU time, run in turn (A B C D A B C D ...)
    so that load from other processes on the shared machine hits all of them alike."""
    wall: dict[str, list[float]] = {name: [] for name in fns}
    cpu: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            t0, c0 = time.perf_counter(), time.process_time()
            n = fn()
            wall[name].append(n / (time.perf_counter() - t0))
            cpu[name].append(n / (time.process_time() - c0))
    return wall, cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="fast")
    ap.add_argument("--posts", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--write", action="store_true", help="write 'Enrichment throughput' in bench/RESULTS.md")
    args = ap.parse_args()

    load_before = os.getloadavg()[0]
    rows = corpus(args.posts)
    texts = [t for t, _ in rows]
    events = to_events(texts)
    models = load_models(profile=args.profile, cache_size=0)
    nocache = models
    cached_models = dataclasses.replace(models, cache=LRUCache(50_000))

    def run_chain(m: EnrichmentModels, evs: list[RawEvent]) -> int:
        n = 0
        for i in range(0, len(evs), args.batch):
            out = enrich_batch(evs[i : i + args.batch], m, now=NOW)
            n += sum(isinstance(r, EnrichedEvent) for r in out)
        assert n == len(evs), f"{len(evs) - n} failures"
        return n

    # baseline: stock sm NER (only the ner pipe) + VADER, language known
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from processors.models import load_spacy_ner

    base_nlp = {lang: load_spacy_ner(lang, "stock") for lang in ("en", "es")}
    vader = SentimentIntensityAnalyzer()
    by_lang = {lang: [t for t, lg in rows if lg == lang] for lang in ("en", "es")}

    def run_baseline() -> int:
        n = 0
        for lang, items in by_lang.items():
            for i in range(0, len(items), args.batch):
                chunk = items[i : i + args.batch]
                for doc in base_nlp[lang].pipe(chunk, batch_size=64):
                    _ = [(e.start_char, e.end_char, e.label_) for e in doc.ents]
                for t in chunk:
                    vader.polarity_scores(t)
                n += len(chunk)
        return n

    dup_texts = with_duplicates(texts, 0.30)
    dup_events = to_events(dup_texts)

    def run_cached() -> int:
        assert cached_models.cache is not None
        cached_models.cache.clear()  # every pass starts cold: the speed-up comes from duplicates in the stream
        return run_chain(cached_models, dup_events)

    run_chain(nocache, events[:200])  # warm-up
    run_baseline()
    rates, cpu_rates = interleaved_rates(
        {
            "chain": lambda: run_chain(nocache, events),
            "baseline": run_baseline,
            "dup_nocache": lambda: run_chain(nocache, dup_events),
            "dup_cache": run_cached,
        },
        args.runs,
    )
    chain, base, no_cache_dup, cache_rate = (
        statistics.median(rates[k]) for k in ("chain", "baseline", "dup_nocache", "dup_cache")
    )
    chain_runs, base_runs = rates["chain"], rates["baseline"]
    c_chain, c_base, c_nocache_dup, c_cache = (
        statistics.median(cpu_rates[k]) for k in ("chain", "baseline", "dup_nocache", "dup_cache")
    )
    from processors.normalize_text import body_of

    unique_share = len({body_of(t).text for t in dup_texts}) / len(dup_texts)

    table = f"""| what | posts/s, wall clock (median of {args.runs}) | posts per CPU-second (median) |
|---|---|---|
| spaCy sm NER + VADER alone (baseline) | {base:,.0f} | {c_base:,.0f} |
| enrich_batch, profile `{args.profile}`, cache off | {chain:,.0f} ({chain / base:.2f}× baseline) | \
{c_chain:,.0f} ({c_chain / c_base:.2f}×) |
| 30 % duplicate stream, cache off | {no_cache_dup:,.0f} | {c_nocache_dup:,.0f} |
| 30 % duplicate stream, cache on (cold at start of each pass) | {cache_rate:,.0f} \
({cache_rate / no_cache_dup:.2f}× speed-up) | {c_cache:,.0f} ({c_cache / c_nocache_dup:.2f}×) |
"""
    print(table)
    print(f"chain runs: {[round(r) for r in chain_runs]}; baseline runs: {[round(r) for r in base_runs]}")
    print(f"distinct bodies in the duplicate stream: {unique_share:.3f}; version: {models.version}")
    if args.write:
        cmd = f".venv/bin/python bench/bench_enrich.py --profile {args.profile} --runs {args.runs} --write"
        body = f"""Command: `{cmd}` (one process, BLAS threads = 1, on the shared 2-core dev machine
with other engineers' jobs running — the four measurements are interleaved run by run so load
hits them alike; {args.posts} posts of {WORDS} words, half EN half ES, batches of {args.batch}).
Enricher: `{models.version}`.

{table}
Duplicate stream: {1 - unique_share:.0%} of its posts repeat an earlier body (after "RT @user:" removal).
The chain does language id, NER (gazetteer + statistical), sentiment, social entities, brand-query matching
and builds the EnrichedEvent records; the baseline only runs NER and VADER with the language given.
Target: ≥ 350 posts/s for the whole chain. Wall-clock figures depend on the load other processes put
on the 2 shared cores; posts per CPU-second is what one core delivers to this process (still slowed
when the sibling hyper-thread is busy). Load average (1 min) at start / end: {load_before:.1f} / \
{os.getloadavg()[0]:.1f}.

Where the time goes (CPU ms per 25-word post, measured separately under similar load): NER en
(fine-tuned sm CNN) 1.4–2.4, NER es 0.8, trained sentiment 0.35 (VADER 0.07), language id 0.16, social
entities 0.08, brand-query matching 0.06, gazetteer 0.04. NER is the bulk: batch size 64 is the sweet spot
(16: +20 %, 256/1000: +5–10 %). An earlier run of the same chain with VADER as the scorer measured
430 posts/s wall (0.82× a 522 posts/s baseline) at a lower load.
"""
        write_section(BENCH / "RESULTS.md", "Enrichment throughput", body, header="# Benchmark results\n\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
