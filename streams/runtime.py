"""Process-wide tuning of a worker: the cyclic garbage collector.

The pipeline allocates millions of short-lived, acyclic objects (decoded events, rows, spaCy docs) that reference
counting frees; CPython's default thresholds (700, 10, 10) still run a young collection every 700 allocations and
an older one every 7,000, each walking every object a batch keeps alive. Raising the young threshold makes them
rare; freezing the heap after start-up (models, vocabularies, libraries) keeps full collections from walking it.
Cyclic garbage is still collected, only later.
"""

from __future__ import annotations

import gc

_OLDER_GENERATIONS = (20, 10)


def tune_gc(young_threshold: int) -> None:
    """Collect the young generation every `young_threshold` allocations (0: leave Python's defaults)."""
    if young_threshold > 0:
        gc.set_threshold(young_threshold, *_OLDER_GENERATIONS)


def freeze_heap() -> None:
    """Move everything alive now (loaded models, imported libraries) out of the collector's sight for good."""
    gc.collect()
    gc.freeze()
