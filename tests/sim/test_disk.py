"""Disk: seek + bytes/bandwidth service, FIFO queueing, failure that refuses and aborts I/O."""

import pytest
import simpy

from regsim.sim.disk import Disk, DiskFailed


def make(env, **kw):
    return Disk(env, read_bw=100e6, write_bw=50e6, seek_s=0.01, name="d0", **kw)


def run_io(env, gen, log, tag):
    try:
        yield from gen
        log.append((tag, env.now, "ok"))
    except DiskFailed as exc:
        log.append((tag, env.now, str(exc)))


def test_service_time_is_seek_plus_bytes_over_bandwidth():
    env = simpy.Environment()
    disk = make(env)
    assert disk.service_time(100_000_000) == pytest.approx(1.01)
    assert disk.service_time(100_000_000, write=True) == pytest.approx(2.01)
    proc = env.process(disk.write(50_000_000))
    env.run()
    assert proc.value == pytest.approx(1.01) and env.now == pytest.approx(1.01)
    assert disk.bytes_written == 50_000_000 and disk.writes == 1 and disk.reads == 0


def test_requests_queue_fifo_on_one_slot():
    env = simpy.Environment()
    disk = make(env)
    log = []
    for tag in "abc":
        env.process(run_io(env, disk.read(10_000_000), log, tag))
    env.run()
    assert [(t, round(at, 6)) for t, at, _ in log] == [("a", 0.11), ("b", 0.22), ("c", 0.33)]
    assert disk.utilisation() == pytest.approx(1.0)
    assert disk.mean_queue() == pytest.approx((0.11 * 2 + 0.11 * 1) / 0.33)
    assert disk.bytes_read == 30_000_000


def test_queue_depth_serves_requests_concurrently():
    env = simpy.Environment()
    disk = make(env, queue_depth=2)
    log = []
    for tag in "abc":
        env.process(run_io(env, disk.read(10_000_000), log, tag))
    env.run()
    assert [round(at, 6) for _, at, _ in log] == [0.11, 0.11, 0.22]
    assert disk.utilisation() == pytest.approx(3 * 0.11 / (2 * 0.22))


def test_a_failed_disk_refuses_io_until_repaired():
    env = simpy.Environment()
    disk = make(env)
    disk.fail()
    with pytest.raises(DiskFailed, match="disk 'd0' has failed: read refused"):
        next(disk.read(1))
    assert disk.refused == 1
    disk.repair()
    env.process(disk.read(1000))
    env.run()
    assert disk.reads == 1


def test_failing_aborts_io_in_flight_and_queued_at_the_failure_time():
    env = simpy.Environment()
    disk = make(env)
    log = []
    env.process(run_io(env, disk.read(100_000_000), log, "in-flight"))
    env.process(run_io(env, disk.read(100_000_000), log, "queued"))

    def failer():
        yield env.timeout(0.5)
        assert disk.fail() == 1
        yield env.timeout(1.0)
        disk.repair()
        yield from run_io(env, disk.read(0), log, "after-repair")

    env.process(failer())
    env.run()
    assert log[0][:2] == ("in-flight", 0.5) and "failed at t=0.5 during I/O" in log[0][2]
    assert log[1][:2] == ("queued", 0.5) and "refused" in log[1][2]
    assert log[2] == ("after-repair", pytest.approx(1.51), "ok")
    assert disk.bytes_read == 0 and disk.failures == 1 and disk.aborted == 1
    assert disk.busy_s == pytest.approx(0.5 + 0.01) and disk.count == 0


def test_failing_twice_counts_once():
    env = simpy.Environment()
    disk = make(env)
    disk.fail()
    assert disk.fail() == 0 and disk.failures == 1


def test_an_interrupted_io_releases_the_device():
    env = simpy.Environment()
    disk = make(env)
    victim = env.process(disk.read(1_000_000_000))
    victim.defused = True
    log = []
    env.process(run_io(env, disk.read(0), log, "next"))

    def killer():
        yield env.timeout(1.0)
        victim.interrupt()

    env.process(killer())
    env.run()
    assert log == [("next", pytest.approx(1.01), "ok")]
    disk.fail()  # the abandoned service period must not crash the run when it is aborted
    env.run()


@pytest.mark.parametrize("kw, message", [
    ({"read_bw": 0}, "read_bw must be a positive bandwidth"),
    ({"write_bw": -1}, "write_bw must be a positive bandwidth"),
    ({"seek_s": -0.1}, "seek_s"),
    ({"queue_depth": 0}, "queue_depth"),
])
def test_invalid_parameters(kw, message):
    args = {"read_bw": 1e6, "write_bw": 1e6, **kw}
    with pytest.raises(ValueError, match=message):
        Disk(simpy.Environment(), **args)


def test_start_io_runs_as_a_process_would_without_one():
    """The callback form queues, serves and meters exactly as ``read`` does (a rollout runs its
    layer reads this way), and reports a failure at the moment a process would have seen it."""
    times = {}
    for form in ("process", "callback"):
        env = simpy.Environment()
        disk = make(env)
        log = []
        for tag in "abc":
            if form == "process":
                env.process(run_io(env, disk.read(10_000_000), log, tag))
            else:
                disk.start_io(10_000_000, lambda out, tag=tag: log.append(
                    (tag, env.now, "ok" if not isinstance(out, DiskFailed) else str(out))))
        env.run()
        times[form] = (log, disk.bytes_read, disk.busy_s, disk.mean_queue())
    assert times["callback"] == times["process"]

    env = simpy.Environment()
    disk = make(env)
    log = []
    for tag in ("in-flight", "queued"):
        disk.start_io(100_000_000, lambda out, tag=tag: log.append((tag, env.now, out)))
    env.timeout(0.5).callbacks.append(lambda _: disk.fail())
    env.run()
    assert [(tag, at, type(out)) for tag, at, out in log] == [("in-flight", 0.5, DiskFailed),
                                                              ("queued", 0.5, DiskFailed)]
    assert "refused" in str(log[1][2]) and disk.count == 0 and disk.bytes_read == 0


def test_an_abort_fails_pending_periods_in_the_order_they_began():
    # a set would fail them in the order of their memory addresses, which varies between runs
    from regsim.sim.disk import InFlight

    env = simpy.Environment()
    periods = InFlight(env)
    order: list[int] = []

    def wait(i: int):
        try:
            yield periods.service(10.0 + i)
        except RuntimeError:
            order.append(i)

    for i in range(50):
        env.process(wait(i))

    def fail_at_one():
        yield env.timeout(1.0)
        assert periods.abort(lambda: RuntimeError("disk gone")) == 50

    env.process(fail_at_one())
    env.run()
    assert order == list(range(50))
    assert len(periods) == 0
