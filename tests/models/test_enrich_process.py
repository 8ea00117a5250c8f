"""The worker's NLP process (streams/runtime/nlp_process.py) with the real models: same output as in the worker,
one thread, restarts after a crash, exits with its worker (marker `models`)."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from processors.enrich import EnrichmentModels
from processors.models import load_models
from streams import codec
from streams.runtime.failure_policy import Fault, classify
from streams.runtime.nlp_process import EnrichProcess, EnrichProcessError, EnrichProcessUnavailable
from streams.runtime.records import Destination, Record
from streams.settings import Settings
from streams.stages.enrich import enrich_outcome

pytestmark = pytest.mark.models
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
TEXTS = [
    "RT @fan: I love Spotify Premium but Apple Music is cheaper 👍🏽 #SpotifyWrapped",
    "Me encanta escuchar música en Spotify con mis amigos de Madrid, ¿y vosotros? 🇪🇸",
    "Terrible service from @Delta today, stuck in Atlanta for 6 hours https://t.co/x",
]


def nlp_process(**changes: object) -> EnrichProcess:
    s = Settings()
    return EnrichProcess(s.nlp.model_copy(update=changes), gc_threshold=s.worker.gc_threshold)


def batch(texts: list[str] = TEXTS) -> list[Record]:
    values = [json.dumps({
        "event_id": f"x:{i}", "network": "x", "native_id": str(i), "kind": "post", "author": {"id": "u"},
        "text": text, "created_at": "2026-11-27T11:59:00+00:00", "ingested_at": "2026-11-27T11:59:01+00:00",
    }).encode() for i, text in enumerate(texts)]
    return [Record("social.raw.v1", 0, i, None, v) for i, v in enumerate([*values, b'{"event_id": '])]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"


def wait_gone(pid: int, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not alive(pid)


@pytest.fixture(scope="module")
def process() -> Iterator[EnrichProcess]:
    proc = nlp_process()
    proc.start_now()
    yield proc
    proc.close()


@pytest.fixture(scope="module")
def models() -> EnrichmentModels:
    return load_models(profile="fast")


def test_enrich_process_gives_the_bytes_the_worker_would_and_dead_letters_poison(
        process: EnrichProcess, models: EnrichmentModels) -> None:
    records = batch()
    there = process.enrich_blocking(records, NOW)
    here = enrich_outcome(records, models=models, limits=codec.Limits(), now=NOW)
    assert there.out == here.out
    assert (there.records, there.posts) == (4, 3)
    assert there.dead_letters == [("invalid_json", "decode")]
    assert [m.destination for m in there.out].count(Destination.ENRICHED) == 3
    assert there.nlp_seconds > 0


def test_enrich_process_runs_its_nlp_in_a_process_that_never_started_a_thread(process: EnrichProcess) -> None:
    assert process.threads == 1
    assert process.pid != os.getpid()


def test_enrich_process_killed_mid_life_fails_that_batch_and_the_next_one_gets_a_new_process(
        process: EnrichProcess) -> None:
    first = process.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    with pytest.raises(EnrichProcessError, match="exited"):
        process.enrich_blocking(batch(), NOW)
    assert len(process.enrich_blocking(batch(), NOW).out) == 4  # the worker retries the batch in place
    assert process.pid not in (None, first)


def test_enrich_process_ignores_sigterm_and_exits_when_its_worker_is_gone() -> None:
    proc = nlp_process()
    proc.start_now()
    pid = proc.pid
    assert pid is not None
    os.kill(pid, signal.SIGTERM)  # a worker's graceful stop may still need it for the batch in hand
    assert len(proc.enrich_blocking(batch(), NOW).out) == 4
    assert proc._conn is not None
    proc._conn.close()  # what a worker killed with -9 leaves behind: the pipe's other end closed
    assert wait_gone(pid)
    proc.close()


def test_enrich_process_that_cannot_load_its_models_fails_to_start_with_the_reason(tmp_path: Path) -> None:
    proc = nlp_process(brand_queries_path=tmp_path / "missing.yaml")
    with pytest.raises(EnrichProcessUnavailable, match="missing.yaml") as raised:
        proc.start_now()
    assert classify(raised.value) is Fault.INFRASTRUCTURE  # retried until it starts, never dead-letters a batch
    assert proc.pid is None


def test_enrich_process_that_gives_no_answer_in_time_is_killed_and_the_retry_gets_a_new_one(
        process: EnrichProcess) -> None:
    stuck = process.pid
    assert stuck is not None
    # texts the child has not seen (its cache answers those in microseconds): 50 posts take tens of ms, so a 1 ms
    # timeout stands in for a child that hangs
    uncached = [f"Post {i} of {time.time_ns()}: flying from Madrid to Boston with Delta" for i in range(50)]
    process.batch_timeout = 0.001
    try:
        with pytest.raises(EnrichProcessError, match="no answer"):
            process.enrich_blocking(batch(uncached), NOW)
    finally:
        process.batch_timeout = 300.0
    assert wait_gone(stuck, seconds=5)
    assert len(process.enrich_blocking(batch(), NOW).out) == 4
    assert process.pid not in (None, stuck)
