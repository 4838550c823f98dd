"""capacity_rps and bottleneck: the resource that saturates first, each against its closed form.

Each scenario makes one resource clearly the first to saturate -- the token service, the database
pool, the frontends' cores, TLS handshakes, the egress, the ingress -- and checks that the KPIs
name it, that ``capacity_rps`` meets ``servers / demand per request``, and that the report's note
says the same. (The database's own CPU is not modelled apart from its pool, so it has no test.)
"""

import pytest

from regsim.models.requests.access_report import demand_spans
from regsim.models.requests.report import request_result
from regsim.models.requests.run import RequestRun
from regsim.sim.profile import load_profile

from .helpers import build

PRICE = load_profile("reference").prices
HIT, HASH = PRICE["jwt_cache_hit"].per_op_s, PRICE["password_hash"].per_op_s
SIGN = PRICE["jwt_sign_es256"].per_op_s  # the token service signs with ES256, the registry's default
FULL = PRICE["tls_handshake_full"].per_op_s
#: the HTTP handling of each request's endpoint class (reference.json's http_* prices): a manifest
#: GET and a token request's ``GET /v2/`` on a frontend, a login's ``GET /token`` at the token service
MANIFEST_HTTP, PING_HTTP, TOKEN_HTTP = (PRICE[k].per_op_s for k in ("http_manifest_get", "http_ping", "http_token"))
QUERY_S = 100e-6  # the database's service time when the profile prices no db_query


def scenario(**over):
    doc = {
        "name": "b",
        "duration": "1h",
        "cluster": {"nodes": 10},
        "registry": {"frontends": 1, "cores": 1, "storage": {"codec": "replicate(3)", "nodes": 3},
                     "auth": {"mode": "none"}},
        "image": {"layers": ["1MB"]},
        "workload": {"kind": "poisson", "rate": "100/s", "duration": "10m", "requests": 1000, "clients": 50,
                     "mix": {"manifest": "100%"}},
    }
    return build(doc, over)


def measure(sc, seed=3):
    """(the finished run, its KPIs, its notes)."""
    run = RequestRun.build(sc, seed)
    run.run()
    result = request_result(run.record())
    return run, result.kpis, result.notes


def _note_agrees(k, notes):
    note = next(n for n in notes if "saturates at about" in n)
    assert f"{k['capacity_rps']:,.0f} requests/s ({k['bottleneck']} is the bottleneck" in note


def test_short_tokens_and_one_service_core_make_the_token_service_the_bottleneck():
    """50 clients with 5 s tokens need ~10 logins/s of 0.32 s on one core: the token service
    saturates. Each request of the window demands (logins / requests completed in the window) x
    (the ``GET /token``'s HTTP handling + hash + signature) of it, so ``capacity_rps`` is the rate
    at which the window completed requests,
    over the token service's utilisation. (Before tokens were dated from the login's service, the
    drain paid a login per request: its tokens had expired in the queue.)"""
    sc = scenario(**{"registry.auth": {"mode": "jwt", "token_ttl": "5s", "service_cores": 1},
                     "workload.rate": "100/s", "workload.requests": 2000})
    run, k, notes = measure(sc)
    assert k["bottleneck"] == "token_service_cpu"
    assert demand_spans(run.record())["token_service_cpu"] == "window"
    window = run.window_counters
    per_request = window["logins"] / window["done"] * (TOKEN_HTTP + HASH + SIGN)
    # a login under way at the window's end is in the busy time, not in the logins: 1 in 63
    assert k["capacity_rps"] == pytest.approx(1 / per_request, rel=0.02)
    assert k["saturated"] and k["token_service_utilisation"] > 0.9
    served = window["done"] / k["window_s"]  # requests completed per second of window
    assert k["capacity_rps"] == pytest.approx(served / k["token_service_utilisation"], rel=1e-9)  # utilisation law
    # the run starts in the steady state, so the service's queue builds up over the window's first
    # seconds: it serves within a few per cent of its capacity, not at it
    assert 0.9 * k["capacity_rps"] < served < k["capacity_rps"]
    # a token is dated from when its login is served, so one that waited in the service's queue
    # still lives its whole TTL: the drain costs about what the window does per request
    whole = run.auth.logins / len(run.requests) * (TOKEN_HTTP + HASH + SIGN)
    assert 0.7 * k["capacity_rps"] < 1 / whole <= k["capacity_rps"]
    _note_agrees(k, notes)


def test_one_connection_far_away_makes_the_database_pool_the_bottleneck():
    """Session checks hold the one connection for two queries of 5 ms + 100 us: 1 / (2 x 5.1 ms)."""
    sc = scenario(**{"registry.auth": {"mode": "db", "token_ttl": "1h", "db": {"pool": 1, "latency": "5ms"}},
                     "registry.cores": 4, "workload.rate": "300/s", "workload.requests": 600})
    _, k, notes = measure(sc)
    assert k["bottleneck"] == "db_pool"
    assert k["capacity_rps"] == pytest.approx(1 / (2 * (5e-3 + QUERY_S)), rel=0.02)
    assert k["saturated"]
    _note_agrees(k, notes)


def test_cached_tokens_on_one_core_make_the_frontend_cores_the_bottleneck():
    """jwt+cache on one frontend core: a cache hit (1.2 us) and the manifest GET's HTTP handling per
    request (the manifest read itself is microseconds)."""
    over = {"workload.rate": "2000000/s", "workload.requests": 4000}
    run, k, notes = measure(scenario(**{"registry.auth": {"mode": "jwt", "token_ttl": "24h"}, **over}))
    assert k["bottleneck"] == "frontend_cpu" and run.auth.logins == 0
    cpu = run.world.cpus["fe0"].busy_s / len(run.requests)
    assert k["capacity_rps"] == pytest.approx(1 / cpu, rel=1e-6)
    assert k["capacity_rps"] == pytest.approx(1 / (HIT + MANIFEST_HTTP), rel=0.05)
    assert k["saturated"]
    _note_agrees(k, notes)


def test_full_handshakes_on_every_connection_make_tls_the_bottleneck():
    """Keep-alive 1 and no resumption: a new connection, so a full handshake (330 us), for nearly
    every token request on the one core -- the requests that arrive while their client's connection
    is opening share it -- against a ``GET /v2/``'s 66 us of HTTP handling (no auth): the bound is
    1 / (handshakes per request x 330 us + 66 us), and handshakes take the larger share of the
    core, so they are the bottleneck. The same load with keep-alive 100 is bound by the request
    work, at 1 / 66 us."""
    over = {"workload.rate": "3000/s", "workload.requests": 4000, "workload.clients": 200,
            "workload.mix": {"auth": "100%"}}
    tls = {"enabled": True, "keep_alive": 1, "resumption": 0}
    _, plain, _ = measure(scenario(**over))
    assert plain["bottleneck"] == "frontend_cpu" and plain["capacity_rps"] == pytest.approx(1 / PING_HTTP, rel=1e-6)
    run, k, notes = measure(scenario(**{"registry.tls": tls, **over}))
    assert k["tls_resumed_handshakes"] == 0 and k["handshakes_per_request"] > 0.75
    assert demand_spans(run.record())["tls_handshakes"] == "run"  # every handshake and request counted
    assert k["handshakes_per_request"] * FULL > 3 * PING_HTTP  # handshakes clearly dominate the core
    assert k["bottleneck"] == "tls_handshakes"
    assert k["capacity_rps"] == pytest.approx(1 / (k["handshakes_per_request"] * FULL + PING_HTTP), rel=0.01)
    assert k["saturated"]
    _note_agrees(k, notes)
    # few handshakes: the request work is the larger part, and names the bound
    _, kept, _ = measure(scenario(**{"registry.tls": {**tls, "keep_alive": 100}, **over}))
    assert kept["handshakes_per_request"] * FULL < PING_HTTP
    assert kept["bottleneck"] == "frontend_cpu"
    assert kept["capacity_rps"] == pytest.approx(1 / (kept["handshakes_per_request"] * FULL + PING_HTTP), rel=0.01)


@pytest.mark.parametrize("kind,resource", [("pull", "egress"), ("push", "ingress")])
def test_big_layers_over_a_slow_link_make_the_network_the_bottleneck(kind, resource):
    """100 MB layers over 100 Mbit/s of registry egress (each way): 12.5 MB/s / 100 MB = 0.125/s."""
    sc = scenario(**{"registry.egress": "100Mbps", "image.layers": ["100MB"], "data_plane": "modelled",
                     "workload.rate": "1/s", "workload.requests": 12, "workload.mix": {kind: "100%"}})
    _, k, notes = measure(sc)
    assert k["bottleneck"] == resource
    assert k["capacity_rps"] == pytest.approx(12.5e6 / 100e6, rel=0.01)
    assert k["saturated"]
    _note_agrees(k, notes)
