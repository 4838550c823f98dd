"""MonitoredResource: busy time, utilisation and queue length, the same for cores, disks and pools.

The shared scenario has a closed form: three jobs of ``S`` seconds each arrive at t=0 at a
resource of two slots. Two run over [0, S] while the third waits, then it runs over [S, 2S]. So
busy time is 3S, utilisation 3S / (2 slots * 2S) = 0.75, and one job waits S of 2S: a mean queue
of 0.5.
"""

import pytest
import simpy

from regsim.registry.receipts import Kind
from regsim.sim.cpu import HostCPU
from regsim.sim.database import DatabaseServer
from regsim.sim.disk import Disk
from regsim.sim.monitored import MonitoredResource, TimeWeighted
from regsim.sim.profile import CostProfile, Price

S = 1.0


class Plain(MonitoredResource):
    """The base used directly: hold a slot for ``seconds``."""

    def hold(self, seconds):
        with self.request() as req:
            yield from self.wait_for(req)
            with self.busy:
                yield self._env.timeout(seconds)


def plain(env):
    res = Plain(env, 2)
    return res, lambda: res.hold(S)


def cpu(env):
    res = HostCPU(env, 2, CostProfile({Kind.SHA256: Price(throughput=1e9)}))
    return res, lambda: res.hold(S)


def disk(env):
    res = Disk(env, read_bw=1e6, write_bw=1e6, queue_depth=2)
    return res, lambda: res.read(int(S * 1e6))


def database(env):
    res = DatabaseServer(env, pool_size=2, query_s=S / 2, network_latency_s=S / 2)
    return res, lambda: res.query()


RESOURCES = pytest.mark.parametrize("make", [plain, cpu, disk, database], ids=lambda f: f.__name__)


@RESOURCES
def test_busy_time_utilisation_and_queue_have_the_closed_form(make):
    env = simpy.Environment()
    res, job = make(env)
    for _ in range(3):
        env.process(job())
    env.run(until=S / 2)
    assert res.queue_length == 1 and res.busy.level == 2 and res.waiting.level == 1
    env.run()
    assert env.now == pytest.approx(2 * S)
    assert res.busy_s == pytest.approx(3 * S)
    assert res.utilisation() == pytest.approx(0.75)
    assert res.mean_queue() == pytest.approx(0.5)
    assert res.queue_length == 0 and res.busy.peak == 2 and res.waiting.peak == 1


@RESOURCES
def test_an_idle_resource_reports_zero_and_a_free_slot_is_not_queueing(make):
    env = simpy.Environment()
    res, job = make(env)
    assert res.busy_s == 0.0 and res.utilisation() == 0.0 and res.mean_queue() == 0.0
    env.process(job())
    env.run()
    assert res.busy_s == pytest.approx(S) and res.waiting.peak == 0 and res.mean_queue() == 0.0


@RESOURCES
def test_an_interrupted_waiter_leaves_the_queue_and_is_never_busy(make):
    env = simpy.Environment()
    res, job = make(env)
    env.process(job())
    env.process(job())
    waiter = env.process(job())

    def cancel():
        yield env.timeout(S / 4)
        waiter.interrupt()
        waiter.defused = True

    env.process(cancel())
    env.run()
    assert env.now == pytest.approx(S)
    assert res.waiting.level == 0 and res.busy.level == 0 and res.queue_length == 0
    assert res.busy_s == pytest.approx(2 * S) and res.mean_queue() == pytest.approx(0.25)


def test_time_weighted_mean():
    env = simpy.Environment()
    meter = TimeWeighted(env)

    def steps():
        meter.change(+2)
        yield env.timeout(1)
        meter.change(-1)
        yield env.timeout(3)
        meter.change(-1)

    env.process(steps())
    env.run()
    assert meter.area == pytest.approx(2 + 3) and meter.mean() == pytest.approx(5 / 4) and meter.peak == 2


def test_a_time_weighted_block_counts_one_and_always_gives_it_back():
    env = simpy.Environment()
    meter = TimeWeighted(env)

    def failing():
        with meter:
            yield env.timeout(2)
            raise RuntimeError("boom")

    proc = env.process(failing())
    proc.defused = True
    env.run()
    assert meter.level == 0 and meter.area == pytest.approx(2.0) and meter.peak == 1
