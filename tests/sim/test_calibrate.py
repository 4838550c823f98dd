"""Calibration: prices are derived from recorded work, workloads plug in, profiles are written."""

import pytest

from regsim.registry import receipts
from regsim.registry.receipts import Kind, WorkItem
from regsim.sim import calibrate as cal
from regsim.sim.profile import CostProfile, ProfileError, load_profile


def synthetic(throughput=1e9, overhead=2e-6, per_op=5e-5):
    """A workload recording items whose CPU time follows an exact price (no clock involved)."""
    def run():
        for size in (4096, 65536, 1 << 20, 4 << 20):
            receipts.record(Kind.SHA256, size, cpu_s=overhead + size / throughput)
        receipts.record(Kind.JWT_SIGN, 4, cpu_s=4 * per_op)
        receipts.record(Kind.DISK_WRITE, 4096, cpu_s=1.0)  # not CPU work: ignored
    return run


def test_fit_bytes_recovers_throughput_and_overhead():
    items = [WorkItem(Kind.SHA256, n, cpu_s=3e-6 + n / 5e8) for n in (1000, 10_000, 100_000, 1_000_000)]
    throughput, overhead = cal.fit_bytes(items)
    assert throughput == pytest.approx(5e8, rel=1e-6)
    assert overhead == pytest.approx(3e-6, rel=1e-4)


def test_fit_bytes_uses_the_median_per_size_and_never_a_negative_overhead():
    items = [WorkItem(Kind.SHA256, 1000, cpu_s=c) for c in (1e-6, 1e-6, 9.0)]  # one outlier
    items += [WorkItem(Kind.SHA256, 2000, cpu_s=2e-6)]
    throughput, overhead = cal.fit_bytes(items)
    assert throughput == pytest.approx(1e9, rel=1e-6) and overhead == 0.0


def test_fit_with_one_size_is_a_plain_ratio():
    assert cal.fit_bytes([WorkItem(Kind.SHA256, 1000, cpu_s=1e-6)]) == (pytest.approx(1e9), 0.0)


def test_fits_refuse_unmeasurable_work():
    with pytest.raises(ProfileError, match="no measurable CPU time"):
        cal.fit_bytes([WorkItem(Kind.SHA256, 1000, cpu_s=0.0)])
    with pytest.raises(ProfileError, match="no operations"):
        cal.fit_ops([WorkItem(Kind.JWT_SIGN, 0, cpu_s=1.0)])


def test_calibrate_derives_prices_from_recorded_work():
    profile = cal.calibrate([synthetic()], repeats=3)
    sha = profile.prices[Kind.SHA256]
    assert sha.throughput == pytest.approx(1e9, rel=1e-6)
    assert sha.overhead_s == pytest.approx(2e-6, rel=1e-4)
    assert sha.rel_std == pytest.approx(0.0, abs=1e-9) and sha.samples == 3
    assert profile.prices[Kind.JWT_SIGN].per_op_s == pytest.approx(5e-5)
    assert set(profile.prices) == {Kind.SHA256, Kind.JWT_SIGN}
    assert profile.machine["logical_cpus"] and "3 repeats" in profile.note


def test_calibrate_reports_the_spread_over_repeats():
    speeds = iter([1e9, 2e9, 1e9, 2e9])  # warm-up, then three repeats

    def alternating():
        t = next(speeds)
        receipts.record(Kind.SHA256, 1 << 20, cpu_s=(1 << 20) / t)

    price = cal.calibrate([alternating], repeats=3).prices[Kind.SHA256]
    assert price.throughput == pytest.approx(2e9)  # median of the repeats 2e9, 1e9, 2e9
    assert price.rel_std > 0.2


def test_default_workloads_measure_real_hashing():
    profile = cal.calibrate(repeats=2)
    for kind in (Kind.SHA256, Kind.SHA512):
        price = profile.prices[kind]
        assert price.throughput > 0 and price.overhead_s >= 0 and price.samples == 2


def test_registering_a_workload_is_one_line(monkeypatch):
    # only this test's workload: others (the registry's, registered by any `regsim calibrate`
    # earlier in the session) would measure the same kinds for real
    monkeypatch.setattr(cal, "WORKLOADS", {})
    cal.register_workload("synthetic", synthetic(per_op=7e-5))
    assert "synthetic" in cal.WORKLOADS
    profile = cal.calibrate(repeats=1)
    assert profile.prices[Kind.JWT_SIGN].per_op_s == pytest.approx(7e-5)

    @cal.register_workload("decorated")
    def decorated():
        receipts.record(Kind.KEY_WRAP, 1, cpu_s=1e-6)

    assert cal.WORKLOADS["decorated"] is decorated


def test_unmeasured_kinds_come_from_a_base_profile():
    ref = load_profile("reference")
    profile = cal.calibrate([synthetic(throughput=3e9)], repeats=1, base=ref)
    assert profile.prices[Kind.SHA256].throughput == pytest.approx(3e9)
    assert profile.prices[Kind.AES_GCM_ENCRYPT] == ref.prices[Kind.AES_GCM_ENCRYPT]


def test_write_profile_round_trips(tmp_path):
    profile = cal.calibrate([synthetic()], repeats=1, name="laptop")
    path = cal.write_profile(profile, tmp_path / "profiles" / "laptop.json")
    back = load_profile(path)
    assert isinstance(back, CostProfile) and back.name == "laptop" and back.prices == profile.prices


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="at least one workload"):
        cal.calibrate([], repeats=1)
    with pytest.raises(ValueError, match="repeats"):
        cal.calibrate([synthetic()], repeats=0)
    with pytest.raises(TypeError, match="callable"):
        cal.register_workload("bad", 42)
