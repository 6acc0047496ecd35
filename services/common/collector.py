"""When a worker process runs Python's cyclic garbage collector: between batches, over what the
batch left behind, instead of in the middle of them over everything the process holds.

Left to itself, the collector makes a full pass whenever a quarter more objects have survived
since the last one, and a full pass walks every object the process holds: the rules worker's
whole in-memory state, the modules, the engine. Measured on the benchmark day (``bench.workers``,
batches of 1,000), those passes were 16 % of the rules worker's CPU and paused it for up to 182 ms
at a time, which goes straight into the latency of the records waiting behind them.

So after each batch the collector runs once (cheap: it walks only objects made since the last
batch) and what survives is frozen (:func:`gc.freeze`): it is not walked again. A frozen object
that later becomes garbage is freed by reference counting as usual, unless it is part of a
reference cycle; such cycles wait for the next full pass, which unfreezes everything and
collects. That pass comes by CPython's own rule, when the objects frozen since the last full pass
exceed a quarter of what it left, so garbage in cycles is bounded as it is without freezing; it
comes at a batch boundary instead of in the middle of one, and far less often, because objects that
die young never reach it.

A rebuild (:func:`folding_a_log`) goes further: it holds the whole log in memory, so the collector
is off while it folds and runs only between its batches, never over everything.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# CPython's rule for a full pass: the objects that survived into the oldest generation since the
# last full pass exceed a quarter of what that pass left (here: what was frozen since, against
# what the last full pass froze).
FULL_PASS_AFTER = 0.25

_lock = threading.Lock()
_after_last_full = 0     # objects frozen by the last full pass
_frozen_since_full = 0   # objects frozen since (counted as they are frozen; some have died since)


def between_batches(*, full_pass_allowed: bool = True) -> None:
    """Collect what the batch left, freeze the survivors, and make a full pass when it is due.

    A rebuild passes ``full_pass_allowed=False``: it holds every record of the log frozen until it
    ends, a full pass would walk them all, and it unfreezes when it ends anyway. The survivors are
    counted as they are frozen, because counting the frozen objects (``gc.get_freeze_count``) walks
    all of them: 39 ms over the rules state, after every batch, doubled a quiet worker's CPU.
    """
    global _after_last_full, _frozen_since_full
    if not _lock.acquire(blocking=False):  # another worker thread of this process is at it
        return
    try:
        gc.collect()
        _frozen_since_full += len(gc.get_objects(generation=2))  # after a full collection, every survivor
        gc.freeze()
        if full_pass_allowed and _frozen_since_full > FULL_PASS_AFTER * _after_last_full:
            gc.unfreeze()
            gc.collect()
            _after_last_full = len(gc.get_objects(generation=2))
            _frozen_since_full = 0
            gc.freeze()
    finally:
        _lock.release()


def thaw() -> None:
    """Unfreeze everything (where a rebuild ends); the next full pass is then due at the next batch."""
    global _after_last_full, _frozen_since_full
    with _lock:
        gc.unfreeze()
        _after_last_full = _frozen_since_full = 0


@contextmanager
def folding_a_log() -> Iterator[None]:
    """Around a rebuild's fold, after it has read the log: what is alive (the records) is frozen, the
    collector is off, and the rebuild calls ``between_batches(full_pass_allowed=False)`` after each
    batch. A batch keeps its decoded records alive until it commits, so passes during it found
    almost nothing and walked the state on each full pass: a quarter of the rules rebuild (a
    million records: 147 -> 110 s, same digest). At the end everything is thawed and the collector
    is given back as it was found."""
    collecting = gc.isenabled()
    between_batches(full_pass_allowed=False)
    gc.disable()
    try:
        yield
    finally:
        thaw()
        if collecting:
            gc.enable()
