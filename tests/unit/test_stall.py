"""The stall watch's decision, without a broker: a worker is stalled only when records wait
on its partitions, it is not processing a batch, not rebalancing, and has made no progress
for the whole period."""

import time

from newsflow.runtime.stall import StallWatch


def test_records_waiting_with_no_progress_for_the_period_is_a_stall():
    watch = StallWatch(stall_seconds=0.2)
    assert watch.check(waiting=5, busy=False, rebalancing=False) is None
    time.sleep(0.25)
    why = watch.check(waiting=5, busy=False, rebalancing=False)
    assert why is not None and why.startswith("5 records wait")


def test_progress_restarts_the_period():
    watch = StallWatch(stall_seconds=0.2)
    time.sleep(0.15)
    watch.progressed()
    time.sleep(0.1)
    assert watch.check(waiting=5, busy=False, rebalancing=False) is None


def test_nothing_waiting_a_batch_in_hand_or_a_rebalance_is_no_stall():
    for waiting, busy, rebalancing in ((0, False, False), (None, False, False),
                                       (5, True, False), (5, False, True)):  # fmt: skip
        watch = StallWatch(stall_seconds=0.1)
        time.sleep(0.15)
        assert watch.check(waiting, busy=busy, rebalancing=rebalancing) is None
        # ... and the period starts again from there, not from before.
        assert watch.check(waiting=5, busy=False, rebalancing=False) is None
