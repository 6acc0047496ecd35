"""The worker's garbage-collection policy (``services.common.collector``): what it frees and when.

Each test leaves the collector as it found it (thawed), since freezing is process-wide.
"""

from __future__ import annotations

import gc
import weakref

import pytest

from services.common import collector


class Cyclic:
    def __init__(self) -> None:
        self.me = self


@pytest.fixture(autouse=True)
def thawed():
    collector.thaw()
    yield
    collector.thaw()


def test_cycles_a_batch_left_are_freed_between_batches_and_survivors_are_frozen():
    gone = weakref.ref(Cyclic())
    kept = Cyclic()
    collector.between_batches()
    assert gone() is None
    assert gc.get_freeze_count() > 0
    assert all(o is not kept for o in gc.get_objects()), "frozen: alive, but no longer walked"


def test_a_frozen_cycle_that_dies_later_is_freed_by_the_full_pass_once_a_quarter_more_was_frozen():
    collector.between_batches()                      # the first call makes a full pass: the baseline
    doomed = Cyclic()
    ref = weakref.ref(doomed)
    collector.between_batches()                      # alive now: frozen
    del doomed                                       # a frozen cycle: reference counting cannot free it
    collector.between_batches()
    assert ref() is not None, "no full pass is due yet, so the frozen cycle waits"
    grown = [[i] for i in range(int(gc.get_freeze_count() * collector.FULL_PASS_AFTER) + 10)]
    collector.between_batches()                      # a quarter more than the full pass left: frozen since
    assert ref() is None
    del grown


def test_a_rebuild_never_makes_the_full_pass():
    collector.between_batches()
    doomed = Cyclic()
    ref = weakref.ref(doomed)
    collector.between_batches(full_pass_allowed=False)
    del doomed
    grown = [[i] for i in range(gc.get_freeze_count())]  # doubled: a live worker would make the pass
    collector.between_batches(full_pass_allowed=False)
    assert ref() is not None
    collector.thaw()
    gc.collect()
    assert ref() is None, "thawed, the ordinary collector frees it"
    del grown
