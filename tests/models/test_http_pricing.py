"""HTTP handling per endpoint class and JWT work per algorithm, as the request models price them.

Closed forms at a load so light that nothing queues: a request's latency is its round trip plus
the CPU work its frontend does, so doubling one price moves the latency by exactly that price,
and changing the JWT algorithm moves it by the difference of the verification prices.
"""

import json

import pytest

from regsim.models.requests.request_kinds import HTTP_REQUESTS
from regsim.registry.receipts import Kind
from regsim.sim.profile import load_profile

from .helpers import build, scripted

REFERENCE = load_profile("reference")
PRICE = REFERENCE.prices
QUIET = {"kind": "poisson", "rate": "0.0001/s", "duration": "1s", "clients": 4, "mix": {"manifest": "100%"}}


def scenario(**over):
    doc = {
        "name": "http",
        "duration": "1h",
        "cluster": {"nodes": 10},
        "registry": {"frontends": 1, "cores": 2, "storage": {"codec": "replicate(3)", "nodes": 3},
                     "auth": {"mode": "none"}},
        "image": {"layers": ["1MB"]},
        "workload": dict(QUIET),
    }
    return build(doc, over)


def _latency(kind: str, **over) -> float:
    """The latency of one ``kind`` request at an idle registry (a warm connection, nothing queued)."""
    _, reqs = scripted(scenario(**over), [(1.0, 0, kind)])
    assert reqs[0].failure is None, reqs[0].error
    return reqs[0].latency


def _doubled(tmp_path, kind: str) -> str:
    """A profile file: the reference with ``kind``'s price doubled."""
    doc = REFERENCE.to_dict()
    doc["prices"][kind]["per_op_s"] *= 2
    path = tmp_path / f"{kind}.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_every_request_kind_names_its_endpoint_classes():
    assert HTTP_REQUESTS == {"auth": (Kind.HTTP_PING,), "pull": (Kind.HTTP_BLOB_GET,),
                             "push": (Kind.HTTP_UPLOAD_START, Kind.HTTP_UPLOAD_CHUNK, Kind.HTTP_UPLOAD_FINISH),
                             "manifest": (Kind.HTTP_MANIFEST_GET,)}


@pytest.mark.parametrize("request_kind", ["auth", "manifest", "pull"])
def test_a_request_pays_the_http_price_of_its_class_on_the_frontend(tmp_path, request_kind):
    """Without auth an ``auth`` request is a bare ``GET /v2/``: its latency rises by exactly the
    http_ping price when that price doubles; likewise a manifest GET and the start of a blob GET."""
    (kind,) = HTTP_REQUESTS[request_kind]
    base = _latency(request_kind)
    doubled = _latency(request_kind, profile=_doubled(tmp_path, kind))
    assert doubled - base == pytest.approx(PRICE[kind].per_op_s, rel=1e-6)


def test_a_push_pays_the_three_upload_steps(tmp_path):
    base = _latency("push")
    for kind in HTTP_REQUESTS["push"]:
        doubled = _latency("push", profile=_doubled(tmp_path, kind))
        assert doubled - base == pytest.approx(PRICE[kind].per_op_s, rel=1e-6), kind


def test_a_login_pays_the_token_request_at_the_token_service(tmp_path):
    """An ``auth`` request with JWT is a login (a GET /token) and a GET /v2/ with the new token."""
    over = {"registry.auth": {"mode": "jwt", "cache": 0}}
    base = _latency("auth", **over)
    doubled = _latency("auth", profile=_doubled(tmp_path, Kind.HTTP_TOKEN), **over)
    assert doubled - base == pytest.approx(PRICE[Kind.HTTP_TOKEN].per_op_s, rel=1e-6)


@pytest.mark.parametrize("a, b", [("ES256", "HS256"), ("RS256", "EdDSA"), ("ES256", "RS256")])
def test_the_jwt_algorithm_moves_a_request_by_its_verification_price(a, b):
    """Without the token cache each manifest GET verifies its token once (the client holds one
    already): the p50 difference of two algorithms is the difference of their verify prices."""
    over = {"registry.auth": {"mode": "jwt", "cache": 0}}
    _, ra = scripted(scenario(**{**over, "registry.auth.algorithm": a}), [(1.0, 0, "manifest"), (2.0, 1, "manifest")])
    _, rb = scripted(scenario(**{**over, "registry.auth.algorithm": b}), [(1.0, 0, "manifest"), (2.0, 1, "manifest")])
    assert all(r.failure is None for r in ra + rb)
    verifies = 1
    expected = verifies * (PRICE[f"jwt_verify_{a.lower()}"].per_op_s - PRICE[f"jwt_verify_{b.lower()}"].per_op_s)
    for x, y in zip(ra, rb):
        assert x.latency - y.latency == pytest.approx(expected, rel=0.01)


def test_the_jwt_algorithm_moves_a_login_by_its_signing_price():
    """A login signs once and the GET /v2/ after it verifies once (cache off)."""
    over = {"registry.auth": {"mode": "jwt", "cache": 0}}
    la = _latency("auth", **over, **{"registry.auth.algorithm": "RS256"})
    lb = _latency("auth", **over, **{"registry.auth.algorithm": "HS256"})
    expected = (PRICE["jwt_sign_rs256"].per_op_s - PRICE["jwt_sign_hs256"].per_op_s
                + PRICE["jwt_verify_rs256"].per_op_s - PRICE["jwt_verify_hs256"].per_op_s)
    assert la - lb == pytest.approx(expected, rel=0.01)
