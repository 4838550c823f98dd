"""HostCPU: cores held for priced durations, FIFO contention, no leaked cores, busy-time counters."""

import time

import pytest
import simpy

from regsim.registry.receipts import Kind, WorkItem
from regsim.sim.cpu import HostCPU
from regsim.sim.profile import CostProfile, Price

PROFILE = CostProfile({Kind.SHA256: Price(throughput=1e9), Kind.JWT_SIGN: Price(per_op_s=0.5)})


def sha(nbytes):
    return WorkItem(Kind.SHA256, nbytes, "n1")


def test_one_item_holds_a_core_for_its_price():
    env = simpy.Environment()
    cpu = HostCPU(env, 2, PROFILE, name="n1")
    proc = env.process(cpu.execute([sha(2_000_000_000)]))
    env.run()
    assert env.now == pytest.approx(2.0) and proc.value == pytest.approx(2.0)
    assert cpu.items_done == 1


def test_items_of_one_receipt_run_in_sequence_and_skip_non_cpu_work():
    env = simpy.Environment()
    cpu = HostCPU(env, 4, PROFILE)
    items = [sha(10**9), WorkItem(Kind.DISK_READ, 10**12), WorkItem(Kind.JWT_SIGN, 2)]
    env.process(cpu.run(items))
    env.run()
    assert env.now == pytest.approx(1.0 + 2 * 0.5)
    assert cpu.items_done == 2


def test_more_work_than_cores_queues_fifo():
    env = simpy.Environment()
    cpu = HostCPU(env, 2, PROFILE)
    ends = []

    def job(i):
        yield from cpu.run([sha(10**9)])
        ends.append((i, env.now))

    for i in range(3):
        env.process(job(i))
    env.run()
    assert ends == [(0, 1.0), (1, 1.0), (2, 2.0)]
    assert cpu.busy_s == pytest.approx(3.0)
    assert cpu.utilisation() == pytest.approx(3.0 / (2 * 2.0))
    assert cpu.mean_queue() == pytest.approx(1.0 / 2.0)  # one item waited 1 s of 2 s


def test_utilisation_counts_work_in_progress():
    env = simpy.Environment()
    cpu = HostCPU(env, 1, PROFILE)
    env.process(cpu.hold(10.0))
    env.run(until=4.0)
    assert cpu.busy_s == pytest.approx(4.0) and cpu.utilisation() == pytest.approx(1.0)
    env.run(until=20.0)
    assert cpu.utilisation() == pytest.approx(0.5)


def test_an_interrupted_holder_gives_its_core_back():
    env = simpy.Environment()
    cpu = HostCPU(env, 1, PROFILE)
    victim = env.process(cpu.hold(100.0))
    done = []

    def waiter():
        yield from cpu.hold(1.0)
        done.append(env.now)

    def killer():
        yield env.timeout(3.0)
        victim.interrupt("cancelled")

    env.process(waiter())
    env.process(killer())
    with pytest.raises(simpy.Interrupt):
        env.run(until=victim)
    env.run()
    assert done == [4.0] and cpu.count == 0
    assert cpu.busy_s == pytest.approx(4.0)


def test_an_interrupted_waiter_leaves_the_queue():
    env = simpy.Environment()
    cpu = HostCPU(env, 1, PROFILE)
    env.process(cpu.hold(5.0))
    waiter = env.process(cpu.hold(1.0))

    def cancel():
        yield env.timeout(1.0)
        waiter.interrupt()
        waiter.defused = True

    env.process(cancel())
    env.run(until=2.0)
    assert len(cpu.queue) == 0 and cpu.waiting.level == 0
    env.run()
    assert env.now == 5.0 and cpu.busy_s == pytest.approx(5.0)


def test_invalid_arguments():
    env = simpy.Environment()
    with pytest.raises(ValueError, match="cores must be a positive integer"):
        HostCPU(env, 0, PROFILE, name="n1")
    with pytest.raises(ValueError, match="negative time"):
        next(HostCPU(env, 1, PROFILE).hold(-1))


@pytest.mark.benchmark
def test_bench_hold_against_raw_simpy_resource(benchmark):
    n = 5000

    def raw():
        env = simpy.Environment()
        res = simpy.Resource(env, 2)

        def job():
            for _ in range(n):
                with res.request() as req:
                    yield req
                    yield env.timeout(1e-3)

        env.process(job())
        env.run()

    def modelled():
        env = simpy.Environment()
        cpu = HostCPU(env, 2, PROFILE)
        env.process(cpu.run([sha(1_000_000)] * n))
        env.run()

    t0 = time.perf_counter()
    for _ in range(5):
        raw()
    raw_s = (time.perf_counter() - t0) / 5
    benchmark(modelled)
    ratio = benchmark.stats.stats.median / raw_s
    print(f"\nHostCPU.run over a raw simpy request+timeout loop: {ratio:.2f}x ({n} items)")
    assert ratio < 2.5 / 0.8
