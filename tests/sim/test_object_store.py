"""The object store device: first-byte latency, per-connection rate, multipart, throttling, retries."""

from __future__ import annotations

import math

import numpy as np
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from regsim.sim.disk import DiskFailed
from regsim.sim.nfs import NfsParams, NfsServer
from regsim.sim.object_store import ObjectStore, ObjectStoreParams

MB = 1_000_000


def store(env: simpy.Environment, seed: int = 1, **kw) -> ObjectStore:
    params = {"first_byte_median_s": 0.02, "first_byte_p90_s": 0.02, **kw}
    return ObjectStore(env, ObjectStoreParams(**params), np.random.default_rng(seed))


def run_ops(env: simpy.Environment, s: ObjectStore, ops: list[tuple[float, int, bool]]) -> list[float]:
    """Start each (at, nbytes, write); the end time of each."""
    ends = [math.nan] * len(ops)

    def one(i: int, at: float, n: int, write: bool):
        yield env.timeout(at)
        yield from (s.write(n) if write else s.read(n))
        ends[i] = env.now

    for i, (at, n, write) in enumerate(ops):
        env.process(one(i, at, n, write))
    env.run()
    return ends


def test_a_get_takes_its_first_byte_then_its_bytes_at_the_connection_rate():
    env = simpy.Environment()
    s = store(env, connection_rate=100 * MB)
    [end] = run_ops(env, s, [(0.0, 50 * MB, False)])
    assert end == pytest.approx(0.02 + 0.5)
    assert (s.get_requests, s.put_requests, s.bytes_read, s.reads) == (1, 0, 50 * MB, 1)


def test_a_large_write_is_a_multipart_upload_of_parts_sent_one_after_another():
    env = simpy.Environment()
    part = 10 << 20
    s = store(env, connection_rate=100 * MB, part_size=part)
    n = 2 * part + 5 * MB
    [end] = run_ops(env, s, [(0.0, n, True)])
    # create + 3 parts + complete, one first byte each
    assert s.params.requests_for(n, write=True) == 5 == s.put_requests
    assert end == pytest.approx(5 * 0.02 + n / (100 * MB))


def test_a_write_up_to_one_part_is_a_single_put():
    env = simpy.Environment()
    s = store(env, part_size=10 << 20)
    run_ops(env, s, [(0.0, 10 << 20, True)])
    assert s.put_requests == 1


def test_first_byte_latency_is_lognormal_with_the_given_median_and_p90():
    env = simpy.Environment()
    s = store(env, first_byte_median_s=0.015, first_byte_p90_s=0.020, seed=7)
    draws = np.array([s._first_byte() for _ in range(40_000)])
    assert np.median(draws) == pytest.approx(0.015, rel=0.02)
    assert np.quantile(draws, 0.9) == pytest.approx(0.020, rel=0.02)


def test_requests_beyond_a_partitions_rate_are_throttled_and_the_admitted_rate_holds():
    env = simpy.Environment()
    rate, burst = 100.0, 1.0
    s = store(env, get_rate=rate, burst_s=burst, backoff_base_s=0.05, backoff_cap_s=0.5)
    # 300 GETs/s offered for 5 s, three times what one partition admits
    ops = [(i / 300.0, 0, False) for i in range(1500)]
    ends = run_ops(env, s, ops)
    assert s.throttled > 0 and s.get_requests == 1500
    # the token bucket: no window of the run admitted more than rate * t + burst requests
    done = np.sort(np.array(ends) - 0.02)  # admission = end - first byte (0-byte requests)
    for t0 in np.arange(0.0, done[-1], 0.25):
        inside = np.count_nonzero((done >= t0) & (done < t0 + 1.0))
        assert inside <= rate * 1.0 + rate * burst + 1


def test_more_partitions_admit_more():
    def throttled(partitions: int) -> int:
        env = simpy.Environment()
        s = store(env, get_rate=100.0, partitions=partitions, backoff_base_s=0.05)
        run_ops(env, s, [(i / 300.0, 0, False) for i in range(900)])
        return s.throttled

    assert throttled(8) < throttled(1)


def test_a_throttled_request_backs_off_and_gives_up_after_its_attempts():
    env = simpy.Environment()
    # one token a second: the second request at t=0 must wait for the refill at t=1
    s = store(env, get_rate=1.0, burst_s=1.0, attempts=2, backoff_base_s=0.01, backoff_cap_s=0.02)
    ends = run_ops(env, s, [(0.0, 0, False), (0.0, 0, False)])
    assert ends[0] == pytest.approx(0.02)
    assert ends[1] >= 1.0
    # tries every ~0.03-0.04 s for a second: many 503s, and the SDK gave up every second try
    assert s.throttled > 10
    assert s.failed_requests == s.throttled // 2


def test_backoff_waits_grow_and_stay_under_the_cap():
    env = simpy.Environment()
    s = store(env, get_rate=1.0, burst_s=1.0, attempts=100, backoff_base_s=0.1, backoff_cap_s=0.4)
    run_ops(env, s, [(0.0, 0, False), (0.0, 0, False)])
    # waits uniform on [0, 0.1], [0, 0.2], [0, 0.4], [0, 0.4], ...: at least 1 s of retrying
    # takes more than 1 / (0.02 + 0.4) tries, fewer than with no backoff
    assert 1.0 / (0.02 + 0.4) <= s.throttled <= 1.0 / 0.02 + 1


def test_sustained_overload_doubles_the_partitions():
    env = simpy.Environment()
    s = store(env, get_rate=100.0, repartition_after_s=2.0, backoff_base_s=0.05)
    run_ops(env, s, [(i / 400.0, 0, False) for i in range(4000)])
    assert s.repartitions >= 1 and s.partitions == 2 ** s.repartitions


def test_a_failed_store_refuses_requests():
    env = simpy.Environment()
    s = store(env)
    s.fail()
    outcomes = []
    s.start_io(10, outcomes.append)
    env.run()
    assert isinstance(outcomes[0], DiskFailed)
    s.repair()
    s.start_io(10, outcomes.append)
    env.run()
    assert outcomes[1] == pytest.approx(0.02 + 10 / 93e6)


def test_start_io_gives_the_same_time_as_the_generator():
    env = simpy.Environment()
    s = store(env, connection_rate=50 * MB)
    got = []
    s.start_io(25 * MB, got.append, write=False)
    env.run()
    assert got == [pytest.approx(0.02 + 0.5)]


def test_utilisation_is_the_share_of_the_request_budget_used():
    env = simpy.Environment()
    s = store(env, get_rate=100.0, put_rate=100.0)
    run_ops(env, s, [(i / 50.0, 0, False) for i in range(500)])  # 50 GETs/s for 10 s
    # GETs use half their budget, PUTs none: the mean of the two is a quarter
    assert s.utilisation() == pytest.approx(0.25, rel=0.02)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 200 << 20), part=st.integers(5 << 20, 64 << 20))
def test_requests_for_a_write_cover_its_bytes_in_parts(n, part):
    p = ObjectStoreParams(part_size=part)
    count = p.requests_for(n, write=True)
    if n <= part:
        assert count == 1
    else:
        parts = count - 2
        assert (parts - 1) * part < n <= parts * part
    assert p.requests_for(n, write=False) == 1


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="p90"):
        ObjectStoreParams(first_byte_median_s=0.02, first_byte_p90_s=0.01)
    with pytest.raises(ValueError, match="get_rate"):
        ObjectStoreParams(get_rate=0)


# -- the file server ---------------------------------------------------------------------------------


def nfs(env: simpy.Environment, **kw) -> NfsServer:
    return NfsServer(env, NfsParams(**kw), 1000 * MB)


def test_an_nfs_read_pays_its_metadata_round_trips_then_the_slower_of_disk_and_window():
    env = simpy.Environment()
    # window: 4 x 1 MiB per 10 ms = 419 MB/s, slower than the 1 GB/s disk
    server = nfs(env, rtt_s=0.01, metadata_round_trips=2, rsize=1 << 20, in_flight=4)
    got = []
    server.start_io(100 * MB, got.append)
    env.run()
    assert got == [pytest.approx(0.02 + 100 * MB * 0.01 / (4 << 20))]


def test_nfs_operations_queue_at_the_server_disk():
    env = simpy.Environment()
    server = nfs(env, rtt_s=1e-4, metadata_round_trips=1, rsize=1 << 20, in_flight=1024)
    ends = []

    def op():
        yield from server.read(100 * MB)
        ends.append(env.now)

    env.process(op())
    env.process(op())
    env.run()
    # the window is no bound here; the disk serves one at a time at 1 GB/s
    assert sorted(ends) == [pytest.approx(1e-4 + 0.1), pytest.approx(1e-4 + 0.2)]
