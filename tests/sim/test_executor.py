"""ReceiptExecutor: receipts become simulated time on the right resources, in closed form."""

import time

import pytest
import simpy

from regsim.registry.receipts import Kind, Receipt, WorkItem
from regsim.sim.cpu import HostCPU
from regsim.sim.database import DatabaseServer
from regsim.sim.disk import Disk, DiskFailed
from regsim.sim.receipt_executor import ReceiptExecutor, UnroutableItem
from regsim.sim.profile import CostProfile, Price
from regsim.sim.tee import TeeModel

T = 1e9  # sha256 throughput, bytes/s
PROFILE = CostProfile({Kind.SHA256: Price(throughput=T), Kind.JWT_VERIFY: Price(per_op_s=1e-4)})


class FakeNetwork:
    """Latency plus bytes over a fixed bandwidth; transfers do not share it. Fails towards 'down*'."""

    def __init__(self, env, latency_s=0.001, bandwidth=1e8):
        self.env, self.latency_s, self.bandwidth = env, latency_s, bandwidth
        self.calls = []

    def transfer(self, src, dst, nbytes):
        self.calls.append((self.env.now, src, dst, nbytes))
        if dst.startswith("down"):
            event = self.env.event()
            event.fail(ConnectionError(f"{dst} unreachable"))
            return event
        return self.env.timeout(self.latency_s + nbytes / self.bandwidth)


def build(nodes=("s1", "s2", "s3", "s4"), cores=1, **kw):
    env = simpy.Environment()
    net = FakeNetwork(env)
    cpus = {n: HostCPU(env, cores, PROFILE, name=n) for n in nodes}
    disks = {n: Disk(env, read_bw=2e8, write_bw=1e8, seek_s=0.004, name=n) for n in nodes}
    executor = ReceiptExecutor(env, cpus=cpus, disks=disks, network=net, profile=PROFILE, **kw)
    return env, executor


def elapsed(env, executor, receipt):
    proc = executor.process(receipt)
    env.run()
    return proc.value


def test_hashing_b_bytes_takes_b_over_t():
    env, ex = build()
    assert elapsed(env, ex, [WorkItem(Kind.SHA256, 3 * 10**9, "s1")]) == pytest.approx(3.0)
    assert ex.cpus["s1"].busy_s == pytest.approx(3.0)


def test_a_disk_read_then_a_transfer_add_up():
    env, ex = build()
    receipt = Receipt([WorkItem(Kind.DISK_READ, 10**8, "s1"), WorkItem(Kind.TRANSFER, 10**8, "s1", "client")])
    assert elapsed(env, ex, receipt) == pytest.approx((0.004 + 0.5) + (0.001 + 1.0))
    assert ex.time_by_kind[Kind.DISK_READ] == pytest.approx(0.504)
    assert ex.time_by_kind[Kind.TRANSFER] == pytest.approx(1.001)
    assert ex.network.calls == [(pytest.approx(0.504), "s1", "client", 10**8)]


def fan_out(k, nbytes=10**7):
    return [WorkItem(Kind.TRANSFER, nbytes * (i + 1), "frontend", f"s{i + 1}") for i in range(k)]


def test_parallel_fan_out_takes_the_max_not_the_sum():
    env, ex = build(parallel_transfers=True)
    assert elapsed(env, ex, fan_out(4)) == pytest.approx(0.001 + 4 * 10**7 / 1e8)
    assert {t for t, *_ in ex.network.calls} == {0.0}  # all four started together
    env, ex = build()
    assert elapsed(env, ex, fan_out(4)) == pytest.approx(4 * 0.001 + (1 + 2 + 3 + 4) * 10**7 / 1e8)


def test_fan_out_groups_only_consecutive_transfers_from_one_node():
    env, ex = build(parallel_transfers=True)
    receipt = [*fan_out(2), WorkItem(Kind.SHA256, 10**9, "s1"), *fan_out(2),
               WorkItem(Kind.TRANSFER, 10**7, "s2", "s3")]
    group = 0.001 + 0.2
    assert elapsed(env, ex, receipt) == pytest.approx(group + 1.0 + group + 0.101)


def test_items_without_a_node_run_on_the_default_node():
    env, ex = build(default_node="s2")
    elapsed(env, ex, [WorkItem(Kind.SHA256, 10**9), WorkItem(Kind.DISK_WRITE, 10**8)])
    assert ex.cpus["s2"].busy_s == pytest.approx(1.0) and ex.disks["s2"].bytes_written == 10**8
    env, ex = build()
    with pytest.raises(UnroutableItem, match="no node and the executor has no default_node"):
        elapsed(env, ex, [WorkItem(Kind.SHA256, 1)])


def test_concurrent_receipts_contend_for_a_node_cpu():
    env, ex = build(cores=1)
    a = ex.process([WorkItem(Kind.SHA256, 10**9, "s1")])
    b = ex.process([WorkItem(Kind.SHA256, 10**9, "s1")])
    env.run()
    assert (a.value, b.value) == (pytest.approx(1.0), pytest.approx(2.0))


def test_db_queries_go_to_the_database():
    env, ex = build()
    ex.database = DatabaseServer(env, pool_size=1, query_s=0.002, network_latency_s=0.001)
    assert elapsed(env, ex, [WorkItem(Kind.DB_QUERY, 2, "s1"), WorkItem(Kind.JWT_VERIFY, 1, "s1")]) == \
        pytest.approx(2 * 0.003 + 1e-4)
    assert ex.database.queries == 2


@pytest.mark.parametrize("item, message", [
    (WorkItem(Kind.SHA256, 1, "nowhere"), "no CPU modelled for node 'nowhere'"),
    (WorkItem(Kind.DISK_READ, 1, "nowhere"), "no disk modelled for node 'nowhere'"),
    (WorkItem(Kind.TRANSFER, 1, "s1"), "has no destination"),
    (WorkItem(Kind.DB_QUERY, 1, "s1"), "needs a database model"),
    (WorkItem("teleport", 1, "s1"), "unknown receipt kind 'teleport'"),
])
def test_unroutable_items_are_clear_errors(item, message):
    env, ex = build()
    with pytest.raises(UnroutableItem, match=message):
        elapsed(env, ex, [item])


def test_a_failing_branch_fails_the_receipt_once():
    env, ex = build(parallel_transfers=True)
    receipt = [WorkItem(Kind.TRANSFER, 10, "frontend", d) for d in ("s1", "down1", "down2")]
    proc = ex.process(receipt)
    with pytest.raises(ConnectionError, match="down1 unreachable"):
        env.run(until=proc)
    env.run()  # the sibling failure and the still-running branch do not crash the run


def test_device_failures_reach_the_caller():
    env, ex = build()
    ex.disks["s1"].fail()
    with pytest.raises(DiskFailed):
        elapsed(env, ex, [WorkItem(Kind.DISK_READ, 10, "s1")])


def test_tee_nodes_pay_transitions_and_slower_cpu_others_do_not():
    tee = TeeModel("t", transition_s=0.01, copy_s_per_byte=0.0, cpu_slowdown=2.0, io_chunk_bytes=None)
    env, ex = build(tee=tee, tee_nodes=["s1"])
    receipt = [WorkItem(Kind.SHA256, 10**9, "s1"), WorkItem(Kind.TRANSFER, 10**7, "s1", "s2"),
               WorkItem(Kind.SHA256, 10**9, "s2"), WorkItem(Kind.TRANSFER, 10**7, "s2", "s1")]
    assert elapsed(env, ex, receipt) == pytest.approx(2.0 + 0.01 + 0.101 + 1.0 + 0.101)
    assert ex.cpus["s1"].busy_s == pytest.approx(2.01)


def test_same_receipt_same_time():
    receipt = [WorkItem(Kind.DISK_READ, 12345, "s1"), WorkItem(Kind.SHA256, 777, "s1"), *fan_out(3)]
    runs = []
    for _ in range(2):
        env, ex = build(parallel_transfers=True)
        runs.append(elapsed(env, ex, receipt))
    assert runs[0] == runs[1]


@pytest.mark.benchmark
def test_bench_executor_against_hand_written_simpy(benchmark):
    n = 3000
    receipt = [WorkItem(Kind.SHA256, 1 << 20, "s1"), WorkItem(Kind.DISK_READ, 1 << 20, "s1"),
               WorkItem(Kind.TRANSFER, 1 << 20, "s1", "s2")] * (n // 3)

    def raw():
        # the same resources and events written by hand: what the executor must add little to
        env = simpy.Environment()
        cpu, disk = simpy.Resource(env, 1), simpy.Resource(env, 1)

        def job():
            for item in receipt:
                if item.kind == Kind.TRANSFER:
                    yield env.timeout(0.001 + item.amount / 1e8)
                    continue
                res, seconds = (cpu, item.amount / T) if item.kind == Kind.SHA256 else (disk, 0.004 + item.amount / 2e8)
                with res.request() as req:
                    yield req
                    yield env.timeout(seconds)

        env.process(job())
        env.run()

    def modelled():
        env, ex = build()
        ex.process(receipt)
        env.run()

    t0 = time.perf_counter()
    for _ in range(5):
        raw()
    raw_s = (time.perf_counter() - t0) / 5
    benchmark(modelled)
    ratio = benchmark.stats.stats.median / raw_s
    print(f"\nReceiptExecutor over the same SimPy resources and events by hand: {ratio:.2f}x ({n} items)")
    assert ratio < 3.0 / 0.8


def test_start_gives_the_times_of_a_process_per_item():
    """``start`` runs transfers and disk items without a process each, at the same times."""
    items = [WorkItem(Kind.DISK_READ, 4_000_000, "s1"), WorkItem(Kind.TRANSFER, 4_000_000, "s1", "s2"),
             WorkItem(Kind.SHA256, 1 << 20, "s2")]
    ends = {}
    for form in ("process", "start"):
        env, ex = build()
        done = []
        for item in items * 2:
            event = ex.process([item]) if form == "process" else ex.start(item)
            event.callbacks.append(lambda _, kind=item.kind: done.append((kind, env.now)))
        env.run()
        ends[form] = (done, dict(ex.time_by_kind), ex.items_done)
    assert ends["start"] == ends["process"]


def test_start_reports_a_failed_disk_or_fails_its_event():
    env, ex = build()
    ex.disks["s1"].fail()
    failed = []
    tolerant = ex.start(WorkItem(Kind.DISK_READ, 10, "s1"), failed.append)
    strict = ex.start(WorkItem(Kind.DISK_READ, 10, "s1"))
    strict.defused = True
    env.run()
    assert tolerant.ok and failed == [WorkItem(Kind.DISK_READ, 10, "s1")]
    assert not strict.ok and isinstance(strict.value, DiskFailed)
