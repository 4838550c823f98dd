"""Prices per JWT algorithm and per HTTP endpoint class: in the reference profile, in pricing, in calibration."""

import pytest

from regsim.registry.auth.keys import ALGORITHMS
from regsim.registry.receipts import Kind, WorkItem
from regsim.server import build_services, create_app, parse_config
from regsim.sim.calibrate import calibrate
from regsim.sim.calibration_workloads import _jwt_workload, http_workload
from regsim.sim.profile import (HTTP_KINDS, QUALIFIED_KINDS, Adjustment, CostProfile, Price, load_profile,
                                qualified_kind)

REF = load_profile("reference")


def per_op(kind: str) -> float:
    return REF.prices[kind].per_op_s


def test_every_algorithm_has_its_own_sign_and_verify_price():
    for alg in ALGORITHMS:
        for kind in (Kind.JWT_SIGN, Kind.JWT_VERIFY):
            assert qualified_kind(kind, alg) in REF.prices, (kind, alg)
    assert set(QUALIFIED_KINDS) == {f"jwt_{op}_{a.lower()}" for op in ("sign", "verify") for a in ALGORITHMS}


def test_algorithm_prices_differ_as_measured():
    sign = {a: per_op(f"jwt_sign_{a.lower()}") for a in ALGORITHMS}
    verify = {a: per_op(f"jwt_verify_{a.lower()}") for a in ALGORITHMS}
    assert min(sign, key=sign.get) == "HS256" and min(verify, key=verify.get) == "HS256"  # an HMAC
    assert max(sign, key=sign.get) == "RS256"  # an RSA signature is the dearest, by ~4x
    assert sign["RS256"] > 3 * sign["ES256"]
    assert verify["RS256"] < verify["ES256"] < verify["EdDSA"]  # RSA verifies cheaply (e = 65537)
    assert len(set(sign.values())) == 4 and len(set(verify.values())) == 4


def test_an_item_is_priced_by_the_price_of_its_algorithm():
    for alg in ALGORITHMS:
        item = WorkItem(Kind.JWT_SIGN, 2, "fe0", detail=alg)
        assert REF.cost(item) == pytest.approx(2 * per_op(f"jwt_sign_{alg.lower()}"))
        assert REF.price_key(Kind.JWT_VERIFY, alg) == f"jwt_verify_{alg.lower()}"
    # no algorithm (a token refused before its key was found), or one the profile does not price
    assert REF.cost(WorkItem(Kind.JWT_VERIFY, 1)) == pytest.approx(per_op("jwt_verify"))
    assert REF.cost(WorkItem(Kind.JWT_VERIFY, 1, detail="PS512")) == pytest.approx(per_op("jwt_verify"))


def test_a_profile_without_algorithm_prices_falls_back_to_the_plain_kind():
    profile = CostProfile({Kind.JWT_SIGN: Price(per_op_s=1e-4)})
    assert profile.cost(WorkItem(Kind.JWT_SIGN, 1, detail="ES256")) == pytest.approx(1e-4)


def test_adjusting_the_plain_kind_adjusts_its_algorithm_prices():
    slower = REF.adjusted(Adjustment(scale=2.0), [Kind.JWT_VERIFY])
    item = WorkItem(Kind.JWT_VERIFY, 1, detail="ES256")
    assert slower.cost(item) == pytest.approx(2 * REF.cost(item))
    own = slower.adjusted(Adjustment(scale=3.0), ["jwt_verify_es256"])  # composes with the plain one? no: its own
    assert own.cost(item) == pytest.approx(3 * REF.cost(item))
    live = REF.with_mode("live").adjusted(Adjustment(scale=2.0), [Kind.JWT_VERIFY])
    assert live.cost(item._replace(cpu_s=1e-3)) == pytest.approx(2e-3)


def test_a_qualified_price_round_trips_and_must_be_per_operation(tmp_path):
    back = load_profile(REF.save(tmp_path / "p.json"))
    assert back.prices["jwt_sign_eddsa"] == REF.prices["jwt_sign_eddsa"]
    with pytest.raises(ValueError, match="seconds per operation"):
        CostProfile({"jwt_sign_es256": Price(throughput=1.0)})


def test_calibration_prices_each_algorithm_from_the_receipts():
    profile = calibrate([_jwt_workload("HS256"), _jwt_workload("RS256")], repeats=1, warmup=0)
    assert profile.prices["jwt_sign_hs256"].per_op_s < profile.prices["jwt_sign_rs256"].per_op_s
    assert "jwt_sign_es256" not in profile.prices  # not exercised
    assert profile.prices["jwt_sign"].per_op_s > 0  # the plain kind: over every algorithm


def test_the_reference_prices_every_http_endpoint_class():
    assert HTTP_KINDS == {"http_ping", "http_token", "http_manifest_get", "http_manifest_head", "http_manifest_put",
                          "http_blob_head", "http_blob_get", "http_upload_start", "http_upload_chunk",
                          "http_upload_finish"}
    assert all(per_op(k) > 0 for k in HTTP_KINDS)
    assert min(HTTP_KINDS, key=per_op) == "http_ping"  # the bare GET /v2/ does least
    assert per_op("http_manifest_head") < per_op("http_manifest_get")  # no body


def test_the_http_workload_measures_every_endpoint_class_on_the_server_app():
    def registry():
        return create_app(build_services(parse_config({})))

    def token_service():
        return create_app(build_services(parse_config(
            {"auth": {"mode": "jwt", "algorithm": "HS256", "anonymous_pull": True}})))

    profile = calibrate([http_workload(registry, token_service)], repeats=1, warmup=0)
    assert HTTP_KINDS <= set(profile.prices)
    assert "sha256" not in profile.prices  # the requests' own items stay off the calibration's receipt
    for kind in HTTP_KINDS:
        assert 1e-6 < profile.prices[kind].per_op_s < 0.05, kind
