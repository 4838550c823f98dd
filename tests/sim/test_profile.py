"""Cost profiles: pricing, the CPU / non-CPU split, modes, adjustments and the JSON format."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regsim.registry.receipts import Kind, WorkItem
from regsim.sim.profile import (
    CPU_KINDS,
    NON_CPU_KINDS,
    QUALIFIED_KINDS,
    Adjustment,
    CostProfile,
    Price,
    ProfileError,
    load_profile,
)


@pytest.fixture
def profile():
    return CostProfile({Kind.SHA256: Price(throughput=1e9, overhead_s=2e-6),
                        Kind.JWT_VERIFY: Price(per_op_s=1e-4)}, name="test")


def test_reference_profile_prices_every_cpu_kind():
    ref = load_profile("reference")
    assert ref.name == "reference" and ref.mode == "profile"
    assert set(ref.prices) == set(CPU_KINDS)
    assert ref.note and ref.machine["logical_cpus"] == 2


def test_cpu_and_non_cpu_kinds_split_every_kind():
    every = {v for k, v in vars(Kind).items() if k.isupper() and isinstance(v, str)}
    # the JWT kinds are also priced per algorithm, under qualified keys that no item carries
    assert CPU_KINDS | NON_CPU_KINDS == every | set(QUALIFIED_KINDS) and not CPU_KINDS & NON_CPU_KINDS
    assert NON_CPU_KINDS == {"disk_read", "disk_write", "transfer", "db_query"}


def test_byte_kind_cost_is_overhead_plus_bytes_over_throughput(profile):
    assert profile.cost(WorkItem(Kind.SHA256, 4_000_000)) == pytest.approx(2e-6 + 4e-3)
    assert profile.cost(WorkItem(Kind.SHA256, 0)) == pytest.approx(2e-6)


def test_op_kind_cost_is_seconds_per_op(profile):
    assert profile.cost(WorkItem(Kind.JWT_VERIFY, 3)) == pytest.approx(3e-4)


@pytest.mark.parametrize("kind", sorted(NON_CPU_KINDS))
def test_non_cpu_kinds_are_refused_with_who_prices_them(profile, kind):
    with pytest.raises(ProfileError, match="not CPU work"):
        profile.cost(WorkItem(kind, 10))


def test_unknown_and_unpriced_kinds_are_clear_errors(profile):
    with pytest.raises(ProfileError, match="unknown receipt kind 'md5'"):
        profile.cost(WorkItem("md5", 10))
    with pytest.raises(ProfileError, match="no price for 'sha512'"):
        profile.cost(WorkItem(Kind.SHA512, 10))


def test_live_mode_uses_measured_cpu_time(profile):
    live = profile.with_mode("live")
    assert live.cost(WorkItem(Kind.SHA512, 10, cpu_s=0.25)) == 0.25  # priced or not, cpu_s counts
    assert load_profile("live").mode == "live"
    with pytest.raises(ProfileError, match="not CPU work"):
        live.cost(WorkItem(Kind.TRANSFER, 10, cpu_s=1.0))


def test_adjustments_scale_add_and_compose(profile):
    slower = profile.adjusted(Adjustment(scale=2.0, extra_s_per_unit=1e-9), [Kind.SHA256])
    assert slower.cost(WorkItem(Kind.SHA256, 1_000_000)) == pytest.approx(2 * (2e-6 + 1e-3) + 1e-3)
    assert slower.cost(WorkItem(Kind.JWT_VERIFY, 1)) == pytest.approx(1e-4)  # other kinds untouched
    twice = slower.adjusted(Adjustment(scale=0.5), [Kind.SHA256])
    assert twice.cost(WorkItem(Kind.SHA256, 1_000_000)) == pytest.approx((2e-6 + 1e-3) + 0.5e-3)
    live = slower.with_mode("live")
    assert live.cost(WorkItem(Kind.SHA256, 1_000_000, cpu_s=0.01)) == pytest.approx(0.02 + 1e-3)


def test_save_and_load_round_trip(tmp_path, profile):
    adjusted = profile.adjusted(Adjustment(1.5, 1e-10))
    path = adjusted.save(tmp_path / "sub" / "p.json")
    back = load_profile(path)
    assert back.prices == adjusted.prices and back.adjustments == adjusted.adjustments
    item = WorkItem(Kind.SHA256, 123_456)
    assert back.cost(item) == adjusted.cost(item)


def test_merged_overrides_prices(profile):
    fresh = CostProfile({Kind.SHA256: Price(throughput=2e9)}, name="fresh")
    merged = profile.merged(fresh)
    assert merged.prices[Kind.SHA256].throughput == 2e9 and Kind.JWT_VERIFY in merged.prices


def _doc(**prices):
    return {"schema": "regsim.cost-profile", "schema_version": 1, "prices": prices}


@pytest.mark.parametrize("doc, message", [
    ([], "must be a JSON object"),
    ({"schema": "other"}, "not a cost profile"),
    ({**_doc(), "schema_version": 99}, "unsupported schema_version 99"),
    ({**_doc(), "extra": 1}, "unexpected top-level fields"),
    ({**_doc(), "mode": "fast"}, "mode must be one of"),
    (_doc(md5={"per_op_s": 1}), "unknown receipt kind 'md5'"),
    (_doc(disk_read={"throughput_Bps": 1}), "not CPU work"),
    (_doc(sha256={"per_op_s": 1}), "unexpected fields"),
    (_doc(sha256={"overhead_s": 1}), "needs throughput_Bps"),
    (_doc(sha256={"throughput_Bps": -5}), "must be positive"),
    (_doc(sha256={"throughput_Bps": "fast"}), "finite number"),
    (_doc(jwt_sign={"throughput_Bps": 5}), "unexpected fields"),
    (_doc(jwt_sign={}), "needs per_op_s"),
    (_doc(jwt_sign={"per_op_s": 1, "samples": -1}), "samples"),
])
def test_malformed_profiles_are_refused_with_the_reason(tmp_path, doc, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ProfileError, match=message) as info:
        load_profile(path)
    assert "bad.json" in str(info.value)


def test_unreadable_specs_are_clear(tmp_path):
    with pytest.raises(ProfileError, match="use 'reference', 'live' or a path"):
        load_profile("no-such-profile")
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(ProfileError, match="not valid JSON"):
        load_profile(tmp_path / "x.json")


def test_a_kind_must_be_priced_in_its_unit():
    with pytest.raises(ProfileError, match="priced by a throughput"):
        CostProfile({Kind.SHA256: Price(per_op_s=1.0)})
    with pytest.raises(ProfileError, match="seconds per operation"):
        CostProfile({Kind.JWT_SIGN: Price(throughput=1.0)})


positive = st.floats(1e-9, 1e12, allow_nan=False, allow_infinity=False)


@settings(max_examples=40, deadline=None)
@given(throughput=positive, overhead=st.floats(0, 1), per_op=positive, a=st.integers(0, 2**40),
       b=st.integers(0, 2**40))
def test_cost_is_monotone_in_amount_and_survives_json(throughput, overhead, per_op, a, b):
    p = CostProfile({Kind.SHA256: Price(throughput=throughput, overhead_s=overhead),
                     Kind.JWT_SIGN: Price(per_op_s=per_op)})
    lo, hi = sorted((a, b))
    for kind in (Kind.SHA256, Kind.JWT_SIGN):
        assert p.seconds(kind, lo) <= p.seconds(kind, hi)
    back = CostProfile.from_dict(json.loads(json.dumps(p.to_dict())))
    assert back.prices == p.prices


@pytest.mark.benchmark
def test_bench_cost_per_item_against_raw_linear_formula(benchmark):
    import time
    ref = load_profile("reference")
    items = [WorkItem(Kind.SHA256, 1 << 20, "n1"), WorkItem(Kind.JWT_VERIFY, 1, "n1")] * 5000
    price = {Kind.SHA256: (1e-6, 1 / 1.35e9), Kind.JWT_VERIFY: (0.0, 1.4e-4)}

    def raw():
        return sum(price[i.kind][0] + price[i.kind][1] * i.amount for i in items)

    t0 = time.perf_counter()
    for _ in range(20):
        raw()
    raw_s = (time.perf_counter() - t0) / 20
    benchmark(lambda: sum(ref.cost(i) for i in items))
    ratio = benchmark.stats.stats.median / raw_s
    print(f"\nCostProfile.cost over raw dict+linear formula: {ratio:.2f}x ({len(items)} items)")
    assert ratio < 4.0 / 0.8
