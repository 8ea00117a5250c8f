"""A worker's NLP in a child process of its own, one that never starts a thread.

Why a process: spaCy's compiled NER parser takes and drops the GIL millions of times a second (Cython `nogil`
helpers that check for errors through PyGILState_Ensure), and each take or drop locks a pthread mutex. glibc
takes such a lock with a plain store while the process has never started a thread, and with an atomic
instruction once it has. A worker has threads (the ClickHouse insert, asyncio's executor), and there the same
enrich_batch cost 13 % more CPU per post than in a process that never had one (bench/RESULTS.md). In its own
process the NLP also runs beside the worker's event loop (fetches, produces, inserts) instead of pausing it.

One pipe, pickled messages (multiprocessing.connection):
    worker → child: (NlpSettings, gc threshold) once; then per batch (records as tuples, now); None to stop
    child → worker: ("ready", threads) or ("failed", traceback) once; per batch ("ok", EnrichOutcome) or
                    ("error", traceback)
The child ignores SIGINT/SIGTERM (a worker's graceful stop may still need it for the batch in hand) and exits
when the pipe closes, so it never outlives its worker, even one killed with -9.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Sequence
from datetime import datetime
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mode import Service

from streams.runtime.process_tuning import one_blas_thread

if TYPE_CHECKING:  # the child imports NLP only after setting up its environment (see main)
    from streams.runtime.records import KafkaRecord
    from streams.settings import NlpSettings
    from streams.stages.enrich import EnrichOutcome

log = logging.getLogger(__name__)

STOP_TIMEOUT_SECONDS = 30.0
# A batch is 256 posts of at most 10,000 characters: seconds at worst. Far longer means the child is stuck.
BATCH_TIMEOUT_SECONDS = 300.0
PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # where `streams` is importable from, whatever the cwd


class EnrichProcessError(RuntimeError):
    """The child exited, hung or raised on a batch: a bug some input triggers (data errors are dead letters), so the
    failure policy retries the batch a bounded number of times, then splits it to isolate the record."""


class EnrichProcessUnavailable(ConnectionError):
    """The child could not start or load its models: an infrastructure fault, retried for as long as it takes."""


class EnrichProcess(Service):
    """The worker's side, an `Enricher` for the enrich stage: `enrich` waits for the child's answer in a thread
    (`enrich_blocking`). The child works on one batch at a time; concurrent callers wait in line."""

    def __init__(self, nlp: NlpSettings, *, gc_threshold: int, batch_timeout: float = BATCH_TIMEOUT_SECONDS,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # sent to the child as they are: the worker's settings may have been built in code, not from env
        self.nlp = nlp
        self.gc_threshold = gc_threshold
        self.batch_timeout = batch_timeout
        self._child: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        # One exchange at a time: a caller cancelled while waiting leaves its thread to read its own answer, and a
        # caller that waits here has its batch sent the moment the one before is answered.
        self._lock = threading.Lock()
        self.threads: int | None = None  # the child's, once started: 1 unless something started a thread there

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    async def on_start(self) -> None:
        await self.loop.run_in_executor(None, self.start_now)

    async def on_stop(self) -> None:
        await self.loop.run_in_executor(None, self.close)

    async def enrich(self, records: Sequence[KafkaRecord], now: datetime) -> EnrichOutcome:
        """The stages' `Enricher`: the batch in a thread of the worker's, which waits for the child."""
        return await asyncio.to_thread(self.enrich_blocking, records, now)

    def enrich_blocking(self, records: Sequence[KafkaRecord], now: datetime) -> EnrichOutcome:
        # (un)pickled outside the lock, so the child waits only for the bytes between two batches
        request = pickle.dumps(([(r.topic, r.partition, r.offset, r.key, r.value) for r in records], now),
                               protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            if self._conn is None:  # died on an earlier batch: a new child, with the models loaded again
                self._start()
            conn = self._conn  # close() may reap it from another thread if this batch outlasts the stop timeout
            assert conn is not None
            try:
                conn.send_bytes(request)
                answered = conn.poll(self.batch_timeout)
                reply = conn.recv_bytes() if answered else b""
            except (EOFError, OSError) as exc:
                code = self._reap()
                raise EnrichProcessError(f"the NLP process exited (code {code}) during a batch") from exc
            if not answered:  # stuck: a stall the worker's liveness would not show; killed, the batch is retried
                self._reap(wait=0)
                raise EnrichProcessError(f"the NLP process gave no answer in {self.batch_timeout:.0f} s; killed it")
        status, detail = pickle.loads(reply)  # noqa: S301 - our own child, over a private socketpair
        if status != "ok":
            raise EnrichProcessError(f"enrich failed in the NLP process:\n{detail}")
        return detail  # type: ignore[no-any-return]

    def close(self) -> None:
        """Ask the child to exit after the batch in hand; kill it if it does not within the timeout."""
        got = self._lock.acquire(timeout=STOP_TIMEOUT_SECONDS)
        try:
            if self._conn is not None and got:
                try:
                    self._conn.send(None)
                except OSError:
                    pass
            self._reap(wait=STOP_TIMEOUT_SECONDS)
        finally:
            if got:
                self._lock.release()

    def start_now(self) -> None:
        """Start the child and wait until its models are loaded (seconds)."""
        with self._lock:
            self._start()

    def _start(self) -> None:
        parent, child = Pipe()
        path = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONPATH": path}
        self._child = subprocess.Popen([sys.executable, "-m", "streams.runtime.nlp_process", str(child.fileno())],
                                       pass_fds=[child.fileno()], stdin=subprocess.DEVNULL, env=env)
        child.close()
        self._conn = parent
        try:
            parent.send((self.nlp, self.gc_threshold))
            status, detail = parent.recv()
        except (EOFError, OSError) as exc:
            code = self._reap()
            raise EnrichProcessUnavailable(f"the NLP process exited (code {code}) while loading the models") from exc
        if status != "ready":
            self._reap(wait=STOP_TIMEOUT_SECONDS)
            raise EnrichProcessUnavailable(f"the NLP process could not load the models:\n{detail}")
        log.info("NLP process %d ready", self._child.pid)
        self.threads = detail
        if detail != 1:
            log.warning("the NLP process runs %s threads, not 1: its NLP costs ~13 %% more CPU (a BLAS pool? "
                        "set OPENBLAS_NUM_THREADS=1)", detail)

    def _reap(self, wait: float = 5.0) -> int | None:
        """Close the pipe (the child exits on EOF) and collect the child; kill it if it lingers."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        child, self._child = self._child, None
        if child is None:
            return None
        try:
            return child.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            child.kill()
            return child.wait()


# ---------------------------------------------------------------------------- the child


def _threads() -> int:
    with open("/proc/self/status") as status:
        return next((int(line.split()[1]) for line in status if line.startswith("Threads:")), 1)


def serve(conn: Connection) -> None:
    from processors.models import load_models
    from streams.codec import Limits
    from streams.runtime.process_tuning import freeze_heap, tune_gc
    from streams.runtime.records import Record
    from streams.stages.enrich import enrich_outcome

    nlp, gc_threshold = conn.recv()
    try:
        tune_gc(gc_threshold)
        models = load_models(profile=nlp.profile, brand_queries_path=nlp.brand_queries_path, languages=nlp.languages)
        if gc_threshold:
            freeze_heap()
    except Exception:  # noqa: BLE001 - reported to the worker, which fails to start with it
        conn.send(("failed", traceback.format_exc()))
        return
    limits = Limits(max_text_chars=nlp.max_text_chars)
    conn.send(("ready", _threads()))
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        if request is None:
            return
        rows, now = request
        try:
            outcome = enrich_outcome([Record(*row) for row in rows], models=models, limits=limits, now=now)
        except Exception:  # noqa: BLE001 - a bug, not data: the worker retries the batch and logs this
            conn.send(("error", traceback.format_exc()))
            continue
        conn.send(("ok", outcome))


def main(argv: Sequence[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    one_blas_thread()  # before numpy loads: a BLAS pool would make this process multi-threaded
    serve(Connection(int(argv[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
