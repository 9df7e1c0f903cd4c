"""The stall watch's decision, without a broker: a consumer is stalled only when records
wait on its partitions, it is not processing a batch, not rebalancing, and has made no
progress for the whole period."""

import time

from kafka import TopicPartition

from newsflow.runtime.stall import StallWatch, waiting_here


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


def test_a_process_that_was_not_running_is_not_stalled():
    watch = StallWatch(stall_seconds=0.4, max_gap_seconds=0.3)
    assert watch.check(waiting=5, busy=False, rebalancing=False) is None
    time.sleep(0.5)  # SIGSTOPped, or suspended: no reading for longer than the period
    assert watch.check(waiting=5, busy=False, rebalancing=False) is None
    # Watched again, the period runs from its return.
    returned = time.monotonic()
    while watch.check(waiting=5, busy=False, rebalancing=False) is None:
        assert time.monotonic() - returned < 5, "never stalled once watched again"
        time.sleep(0.05)
    assert time.monotonic() - returned >= 0.4


class LagReading:
    """What a LagMonitor knows: records waiting per partition, and the partitions no member
    of the group holds; `None` when it has no fresh reading (the broker away)."""

    interval = 5.0

    def __init__(self, waiting, unheld=()):
        self.reading = None if waiting is None else (waiting, set(unheld))

    def fresh_reading(self, max_age_seconds):
        return self.reading


RAW = [TopicPartition("articles.raw", n) for n in range(3)]


def test_records_on_this_instances_partitions_and_on_unheld_ones_count():
    lag = LagReading({RAW[0]: 4, RAW[1]: 7, RAW[2]: 100}, unheld=[RAW[1]])
    # RAW[2] is another instance's: its records are not this one's to wait for.
    assert waiting_here(lag, {("articles.raw", 0)}) == 11


def test_an_unknown_lag_or_assignment_is_not_a_reason_to_restart():
    assert waiting_here(LagReading(None), {("articles.raw", 0)}) is None
    assert waiting_here(LagReading({RAW[0]: 4}), None) is None
