"""Process-wide tuning of a worker and its NLP process: the cyclic garbage collector and BLAS threads.

The pipeline allocates millions of short-lived, acyclic objects (decoded events, rows, spaCy docs) that reference
counting frees; CPython's default thresholds (700, 10, 10) still run a young collection every 700 allocations and
an older one every 7,000, each walking every object a batch keeps alive. Raising the young threshold makes them
rare; freezing the heap after start-up (models, vocabularies, libraries) keeps full collections from walking it.
Cyclic garbage is still collected, only later.
"""

from __future__ import annotations

import gc
import os

_OLDER_GENERATIONS = (20, 10)

BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def one_blas_thread() -> None:
    """One BLAS thread unless the environment says otherwise; effective only before numpy loads.

    A BLAS pool beside a worker's NLP fights the other workers for the cores, and any thread at all makes the NLP
    dearer: see streams/runtime/nlp_process.py."""
    for variable in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(variable, "1")


def tune_gc(young_threshold: int) -> None:
    """Collect the young generation every `young_threshold` allocations (0: leave Python's defaults)."""
    if young_threshold > 0:
        gc.set_threshold(young_threshold, *_OLDER_GENERATIONS)


def freeze_heap() -> None:
    """Move everything alive now (loaded models, imported libraries) out of the collector's sight for good."""
    gc.collect()
    gc.freeze()
