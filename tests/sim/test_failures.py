"""Failures: AFR/MTTF rates, repair, scripted events, callbacks, and seeded reproducibility."""

import math

import numpy as np
import pytest
import simpy

from regsim.sim.disk import Disk
from regsim.sim.failure_processes import YEAR_S, FailureEvent, FailureInjector, Repair, afr_to_rate, rate_to_afr
from regsim.sim.rng import RunRandom


def test_afr_converts_to_a_rate_and_back():
    rate = afr_to_rate(0.02)
    assert rate == pytest.approx(-math.log(0.98) / (365.25 * 86400))
    assert rate == pytest.approx(0.02 / YEAR_S, rel=0.02)  # small AFRs: lambda ~ AFR / year
    assert rate_to_afr(rate) == pytest.approx(0.02)
    with pytest.raises(ValueError, match="probability in"):
        afr_to_rate(1.0)


def test_empirical_failure_rate_matches_lambda_for_one_target():
    env = simpy.Environment()
    inj = FailureInjector(env, RunRandom(2024))
    inj.add("disk-0", mttf_s=1000.0, repair=10.0)
    env.run(until=1_000_000)
    failures = inj.failures("disk-0")
    uptime = env.now - inj.downtime("disk-0")
    expected = uptime / 1000.0
    assert abs(failures - expected) < 4 * math.sqrt(expected)  # Poisson count, 4 sigma
    assert inj.downtime("disk-0") == pytest.approx(10.0 * failures, abs=10.0)


def test_empirical_failure_rate_matches_an_afr_over_a_fleet():
    env = simpy.Environment()
    inj = FailureInjector(env, RunRandom(7))
    for i in range(2000):
        inj.add(f"disk-{i}", afr=0.04, repair=Repair(86400.0, "exponential"))
    env.run(until=5 * YEAR_S)
    expected = afr_to_rate(0.04) * (2000 * 5 * YEAR_S - sum(inj.downtime(f"disk-{i}") for i in range(2000)))
    assert abs(inj.failures() - expected) < 4 * math.sqrt(expected)


def test_times_to_failure_are_exponential():
    env = simpy.Environment()
    inj = FailureInjector(env, RunRandom(11))
    inj.add("host", mttf_s=50.0, repair=1.0)
    env.run(until=200_000)
    fails = np.array([e.time for e in inj.log if e.event == "fail"])
    repairs = np.array([0.0] + [e.time for e in inj.log if e.event == "repair"])
    uptimes = fails - repairs[: len(fails)]
    n = len(uptimes)
    assert abs(uptimes.mean() - 50.0) < 4 * 50.0 / math.sqrt(n)
    share_below_mean = np.mean(uptimes < 50.0)  # 1 - 1/e for an exponential
    assert abs(share_below_mean - (1 - math.exp(-1))) < 4 * math.sqrt(0.23 / n)


def test_same_seed_same_log_and_targets_do_not_disturb_each_other():
    def run(seed, extra_target):
        env = simpy.Environment()
        inj = FailureInjector(env, RunRandom(seed))
        inj.add("a", mttf_s=100.0, repair=5.0)
        if extra_target:
            inj.add("b", mttf_s=10.0, repair=1.0)
        env.run(until=5000)
        return [e for e in inj.log if e.target == "a"]

    assert run(1, False) == run(1, False)
    assert run(1, False) == run(1, True)
    assert run(1, False) != run(2, False)


def test_callbacks_drive_a_disk():
    env = simpy.Environment()
    disk = Disk(env, 1e6, 1e6, name="d")
    seen = []

    def on_fail(target, t):
        seen.append(("fail", target, t))
        disk.fail()

    def on_repair(target, t):
        seen.append(("repair", target, t))
        disk.repair()

    inj = FailureInjector(env, RunRandom(3), on_fail=on_fail, on_repair=on_repair)
    inj.add("d", mttf_s=100.0, repair=20.0)
    env.run(until=10_000)
    assert seen and seen[0][0] == "fail"
    assert [(e.event, e.target, e.time) for e in inj.log] == seen
    assert disk.failed == inj.is_failed("d") and disk.failures == inj.failures("d")


def test_permanent_failure_happens_once():
    env = simpy.Environment()
    inj = FailureInjector(env, RunRandom(5))
    inj.add("x", mttf_s=10.0)
    env.run(until=10_000)
    assert inj.failures("x") == 1 and inj.failed() == ["x"]
    assert inj.downtime("x") == pytest.approx(env.now - inj.log[0].time)


def test_scripted_events_play_in_time_order():
    env = simpy.Environment()
    calls = []
    inj = FailureInjector(env, RunRandom(0), on_fail=lambda t, at: calls.append((t, at)))
    inj.schedule([(30.0, "s2", "repair"), (10.0, "s1", "fail"), (20.0, "s2", "fail"), (25.0, "s2", "fail")])
    env.run()
    assert inj.log == [FailureEvent(10.0, "s1", "fail"), FailureEvent(20.0, "s2", "fail"),
                       FailureEvent(30.0, "s2", "repair")]  # the second failure of a down target is a no-op
    assert calls == [("s1", 10.0), ("s2", 20.0)]
    assert inj.failed() == ["s1"] and inj.downtime("s2") == 10.0


@pytest.mark.parametrize("events, message", [
    ([(1.0, "a", "explode")], "'fail' or 'repair'"),
    ([(1.0, "a")], "is \\(time, target"),
    ([(-1.0, "a", "fail")], "in the past"),
])
def test_bad_scripts_are_refused(events, message):
    with pytest.raises(ValueError, match=message):
        FailureInjector(simpy.Environment(), RunRandom(0)).schedule(events)


def test_bad_random_targets_are_refused():
    inj = FailureInjector(simpy.Environment(), RunRandom(0))
    with pytest.raises(ValueError, match="exactly one of afr= or mttf_s="):
        inj.add("a")
    with pytest.raises(ValueError, match="mttf_s must be positive"):
        inj.add("a", mttf_s=0)
    with pytest.raises(ValueError, match="'fixed' or 'exponential'"):
        Repair(1.0, "weibull")
    inj.add("a", mttf_s=1.0)
    with pytest.raises(ValueError, match="one failure model"):
        inj.add("a", mttf_s=2.0)
    with pytest.raises(ValueError, match="one failure model"):
        inj.schedule([(1.0, "a", "fail")])
