"""The access layer and the auth path against closed forms: connections, TLS, rate limits, saturation."""

import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regsim.models import simulate
from regsim.models.requests.access import NETWORK_TIMEOUT_S, TokenBucket
from regsim.models.requests.auth_path import AUTH_HOST, REFRESH_MARGIN_S
from regsim.models.requests.run import RequestRun
from regsim.registry.auth import TokenVerifier
from regsim.scenario import ScenarioError, scenario_from_dict
from regsim.sim.calibrate import calibrate
from regsim.sim.calibration_workloads import _tls_contexts, tls_handshake, tls_handshakes
from regsim.sim.profile import load_profile
from regsim.sim.tee import DEFAULTS as TEE_DEFAULTS

from .helpers import build, scripted

PRICE = load_profile("reference").prices
# the scenarios below sign and verify with ES256 (the registry's default algorithm)
VERIFY, HIT = PRICE["jwt_verify_es256"].per_op_s, PRICE["jwt_cache_hit"].per_op_s
HASH, SIGN = PRICE["password_hash"].per_op_s, PRICE["jwt_sign_es256"].per_op_s
#: the HTTP handling of a manifest GET on a frontend, of the start of a blob GET, of a token request
HTTP_GET, HTTP_PULL, HTTP_TOKEN = (PRICE[k].per_op_s for k in ("http_manifest_get", "http_blob_get", "http_token"))
QUERY_S = 100e-6  # the database's service time when the profile prices no db_query
#: a workload that (for these seeds) sends nothing by itself: requests are scripted with submit()
QUIET = {"kind": "poisson", "rate": "0.0001/s", "duration": "1s", "clients": 4, "mix": {"manifest": "100%"}}


def scenario(**over):
    doc = {
        "name": "a",
        "duration": "1h",
        "cluster": {"nodes": 10},
        "registry": {"frontends": 1, "cores": 2, "storage": {"codec": "replicate(3)", "nodes": 3},
                     "auth": {"mode": "jwt"}},
        "image": {"layers": ["1MB"]},
        "workload": dict(QUIET),
    }
    return build(doc, over)


def load(rate, requests, seed=2, **over):
    """Manifest GETs at ``rate`` until ``requests`` were sent."""
    return simulate(scenario(**{"workload": {"kind": "poisson", "rate": rate, "duration": "10m", "requests": requests,
                                             "clients": 100, "mix": {"manifest": "100%"}}, **over}), seed).kpis


# -- the token bucket -----------------------------------------------------------------------------

def test_a_bucket_allows_a_burst_then_its_rate():
    bucket = TokenBucket(rate=2.0, burst=3)
    assert [bucket.take("c", 0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take("other", 0.0)  # buckets are per client
    assert not bucket.take("c", 0.4) and bucket.take("c", 0.5)  # one token back after 1/rate
    assert [bucket.take("c", 10.0) for _ in range(4)] == [True, True, True, False]  # refilled to burst, no more
    with pytest.raises(ValueError, match="rate > 0 and burst >= 1"):
        TokenBucket(0.0, 3)


@settings(max_examples=60, deadline=None)
@given(rate=st.floats(0.5, 50), burst=st.integers(1, 10),
       gaps=st.lists(st.floats(0, 2), min_size=1, max_size=60))
def test_a_bucket_never_allows_more_than_burst_plus_rate_times_time(rate, burst, gaps):
    bucket, times = TokenBucket(rate, burst), np.cumsum(gaps)
    taken = [t for t in times if bucket.take("c", float(t))]
    assert len(taken) <= burst + rate * (times[-1] - times[0]) + 1e-9
    spaced = TokenBucket(rate, burst)
    assert all(spaced.take("c", i / rate) for i in range(20))  # one request per 1/rate always passes


# -- connections, TLS and the load balancer -------------------------------------------------------

def _second_request_latency(**over):
    run, reqs = scripted(scenario(**{"registry.auth.mode": "none", **over}), [(1.0, 0, "manifest"), (2.0, 0, "manifest")])
    assert all(r.failure is None for r in reqs)
    return run, reqs[1].latency


def test_a_new_connection_costs_a_round_trip_and_with_tls_a_handshake():
    run, warm = _second_request_latency()
    rtt = 2 * run.world.topology.latency(run.clients[0][1], run.world.frontends[0])
    _, plain = _second_request_latency(**{"registry.tls": {"keep_alive": 1}})
    _, full = _second_request_latency(**{"registry.tls": {"enabled": True, "keep_alive": 1}})
    _, resumed = _second_request_latency(**{"registry.tls": {"enabled": True, "keep_alive": 1, "resumption": "100%"}})
    assert plain - warm == pytest.approx(rtt, rel=1e-9)
    assert full - plain == pytest.approx(rtt + PRICE["tls_handshake_full"].per_op_s, rel=1e-9)
    assert resumed - plain == pytest.approx(rtt + PRICE["tls_handshake_resumed"].per_op_s, rel=1e-9)
    _, kept = _second_request_latency(**{"registry.tls": {"enabled": True}})  # keep-alive 100: no handshake
    assert kept == pytest.approx(warm, rel=1e-12)


def test_an_idle_connection_is_closed_after_the_idle_timeout():
    sc = scenario(**{"registry.auth.mode": "none", "registry.tls": {"idle_timeout": "5s"}})
    run, reqs = scripted(sc, [(1.0, 0, "manifest"), (4.0, 0, "manifest"), (20.0, 0, "manifest")])
    assert run.access.handshakes["tcp"] == 1 and reqs[2].latency > reqs[1].latency


def test_the_balancer_gives_new_connections_to_the_least_loaded_frontend():
    sc = scenario(**{"registry.frontends": 3, "workload.clients": 7})
    run = RequestRun.build(sc, 1)
    assert sorted(run.access.open.values()) == [2, 2, 3]
    run.access.partition(["fe0"], True)
    assert run.access._pick() in ("fe1", "fe2")


def test_requests_beyond_the_rate_limit_are_answered_429_without_reaching_the_registry():
    sc = scenario(**{"registry.rate_limit": {"rate": "1/s", "burst": 3}})
    run, reqs = scripted(sc, [(1.0, 0, "manifest")] * 10 + [(1.0, 1, "manifest"), (6.0, 0, "manifest")])
    first = [r for r in reqs if r.client == "client0" and r.start == 1.0]
    assert sum(r.failure is None for r in first) == 3 and sum(r.failure == "rate_limited" for r in first) == 7
    assert all(r.failure is None for r in reqs if r.client == "client1" or r.start == 6.0)
    assert run.access.rate_limited == 7 and not run.monitor.alerts  # a 429 is no authentication failure


# -- saturation: closed forms ------------------------------------------------------------------------

def test_a_database_pool_saturates_at_pool_size_over_its_hold_time():
    """M/M/c-like: each session check holds a connection for two queries of latency + service time,
    so a pool of c connections serves at most c / (2 (latency + query)) requests per second."""
    over = {"registry.auth": {"mode": "db", "token_ttl": "1h", "db": {"pool": 4, "latency": "1ms"}}}
    bound = 4 / (2 * (1e-3 + QUERY_S))
    calm, busy = load(1000, 2000, **over), load(3000, 3000, **over)
    assert busy["capacity_rps"] == pytest.approx(bound, rel=0.01) and busy["bottleneck"] == "db_pool"
    assert 0.93 * bound < busy["throughput_rps"] < 1.01 * bound and busy["saturated"]
    assert busy["db_utilisation"] > 0.97 and busy["db_queries_per_request"] == pytest.approx(2.0, abs=0.01)
    assert calm["throughput_rps"] == pytest.approx(1000, rel=0.05) and not calm["saturated"]
    assert calm["db_utilisation"] == pytest.approx(1000 / bound, rel=0.1)
    assert busy["latency_p50_s"] > 20 * calm["latency_p50_s"]  # the queue, not the service, sets latency


def test_jwt_without_a_cache_saturates_the_frontend_cores_at_cores_over_verify_cost():
    over = {"registry.auth": {"mode": "jwt", "cache": 0, "token_ttl": "1h"}}
    k = load(20_000, 4000, **over)
    bound = 2 / (VERIFY + HTTP_GET)  # two cores, one signature check and one manifest GET's HTTP handling per request
    assert k["capacity_rps"] == pytest.approx(bound, rel=0.01) and k["bottleneck"] == "frontend_cpu"
    assert 0.93 * bound < k["throughput_rps"] < 1.01 * bound and k["saturated"]
    assert k["frontend_cpu_utilisation"] > 0.97 and k["db_queries_per_request"] < 0.01


def test_jwt_with_a_cache_costs_a_lookup_per_request():
    k = load(2000, 2000, **{"registry.auth": {"mode": "jwt", "token_ttl": "1h"}})
    assert k["capacity_rps"] == pytest.approx(2 / (HIT + HTTP_GET), rel=0.01) and not k["saturated"]
    assert k["throughput_rps"] == pytest.approx(2000, rel=0.05)


def test_basic_credentials_hash_the_password_on_the_frontend_for_every_request():
    sc = scenario(**{"registry.auth": {"mode": "db", "db": {"credentials": "basic", "latency": "1ms"}}})
    run, (req,) = scripted(sc, [(1.0, 0, "manifest")])
    path = run.world.topology.latency(run.clients[0][1], "fe0")
    assert req.latency == pytest.approx(path + HTTP_GET + HASH + 2 * (1e-3 + QUERY_S), rel=0.001)  # + the manifest read
    k = load(50, 120, **{"registry.auth": {"mode": "db", "db": {"credentials": "basic"}}})
    assert k["capacity_rps"] == pytest.approx(2 / (HASH + HTTP_GET), rel=0.01) and k["saturated"]


def test_every_request_runs_the_real_database_check(monkeypatch):
    sc = scenario(**{"registry.auth": {"mode": "db", "token_ttl": "1h"},
                     "workload": {"kind": "poisson", "rate": "200/s", "duration": "2s", "clients": 20,
                                  "mix": {"manifest": "100%"}}})
    run = RequestRun.build(sc, 3)
    labels = []
    real = run.auth.db.execute
    monkeypatch.setattr(run.auth.db, "execute", lambda label, *a, **k: labels.append(label) or real(label, *a, **k))
    run.run()
    assert labels.count("token_lookup") == labels.count("permission_lookup") == len(run.requests) > 300
    assert run.world.database.queries == len(labels)


def test_the_closed_loop_obeys_the_response_time_law():
    sc = scenario(**{"registry.auth": {"mode": "db", "token_ttl": "1h", "db": {"pool": 2}},
                     "workload": {"kind": "closed", "clients": 10, "think_time": "50ms", "duration": "15s",
                                  "mix": {"manifest": "100%"}}})
    result = simulate(sc, 4)
    k, mean = result.kpis, float(np.mean(result.samples["request_time_s"]))
    assert k["throughput_rps"] == pytest.approx(10 / (mean + 0.05), rel=0.03)
    assert k["offered_rps"] == pytest.approx(k["throughput_rps"], rel=0.03) and not k["saturated"]
    crowd = scenario(**{"registry.auth": {"mode": "db", "token_ttl": "1h", "db": {"pool": 2}},
                        "workload": {"kind": "closed", "clients": 30, "think_time": "1ms", "duration": "2s",
                                     "mix": {"manifest": "100%"}}})
    k = simulate(crowd, 4).kpis  # more clients than the pool can serve: X is the pool's bound
    assert k["throughput_rps"] == pytest.approx(2 / (2 * (500e-6 + QUERY_S)), rel=0.03) and k["saturated"]


# -- tokens: refreshes, and the work of a login ----------------------------------------------------------

def test_clients_refresh_tokens_once_per_ttl_at_the_token_service():
    sc = scenario(**{"registry.auth": {"mode": "jwt", "token_ttl": "10s"},
                     "workload": {"kind": "poisson", "rate": "200/s", "duration": "30s", "clients": 20,
                                  "mix": {"manifest": "100%"}}})
    run = RequestRun.build(sc, 5)
    run.run()
    assert 45 <= run.auth.refreshes <= 75  # 20 clients x 30 s / 10 s, each at its next request (0.1 s)
    assert run.auth.login_failures == 0 and all(r.failure is None for r in run.requests)
    # a login is a token request's HTTP handling, a password check and a signature on the token service's cores
    assert run.world.cpus[AUTH_HOST].busy_s == pytest.approx(run.auth.logins * (HTTP_TOKEN + HASH + SIGN), rel=1e-9)
    verifier: TokenVerifier = run.auth.authorizers["fe0"].verifier
    assert verifier.cache is not None and len(verifier.cache) <= run.auth.logins + 20  # each token verified once


def test_token_requests_log_in_afresh_and_queue_for_the_token_service_core():
    sc = scenario(**{"registry.auth": {"mode": "jwt", "service_cores": 1}})
    run, reqs = scripted(sc, [(1.0, 0, "auth"), (1.0, 1, "auth")])
    assert run.auth.logins == 2 and all(r.failure is None for r in reqs)
    # one core: a login holds it for its password check and its signature; the second waits for both
    first, second = sorted(reqs, key=lambda r: r.end)
    assert second.end - first.end == pytest.approx(HASH + SIGN, rel=1e-6)


# -- faults -----------------------------------------------------------------------------------------------

def _during(reqs, start, end):
    return [r for r in reqs if start <= r.start < end]


def test_a_database_outage_fails_database_auth_but_not_valid_jwts():
    events = {"failures.events": [{"at": "2s", "kind": "db-down", "duration": "3s"}]}
    work = [(0.5 * i, i % 4, "manifest") for i in range(2, 20)]
    _, db = scripted(scenario(**{"registry.auth": {"mode": "db", "token_ttl": "1h"}, **events}), work)
    assert all(r.failure == "auth" and "is down" in r.error for r in _during(db, 2.0, 5.0))
    assert all(r.failure is None for r in db if not 2.0 <= r.start < 5.0)
    _, jwt = scripted(scenario(**{"registry.auth": {"mode": "jwt", "token_ttl": "1h"}, **events}), work)
    assert all(r.failure is None for r in jwt)  # tokens are checked without the database


def test_a_partitioned_rack_times_out_as_network_failures():
    sc = scenario(**{"cluster": {"nodes": 10, "racks": 2}, "workload.clients": 8,
                     "failures.events": [{"at": "2s", "kind": "partition", "target": "rack/1", "duration": "3s"}]})
    run, reqs = scripted(sc, [(3.0, c, "manifest") for c in range(8)] + [(6.0, c, "manifest") for c in range(8)])
    cut = {name for name, host in run.clients if run.world.node_rack[host] == 1}
    for r in reqs:
        if r.start == 3.0 and r.client in cut:
            assert r.failure == "network" and r.latency == pytest.approx(NETWORK_TIMEOUT_S)
        else:
            assert r.failure is None
    assert not run.monitor.alerts and 0 < len(cut) < 8  # network failures are not authentication failures


def test_a_partitioned_frontend_breaks_its_connections_and_the_balancer_avoids_it():
    sc = scenario(**{"registry.frontends": 2,
                     "failures.events": [{"at": "2s", "kind": "partition", "target": "frontend/0", "duration": "10s"}]})
    run, reqs = scripted(sc, [(3.0, c, "manifest") for c in range(4)] + [(5.0, c, "manifest") for c in range(4)])
    first = [r for r in reqs if r.start == 3.0]
    assert {r.failure for r in first} == {"network", None}  # fe0's clients time out once ...
    assert all(r.failure is None and r.frontend == "fe1" for r in reqs if r.start == 5.0)  # ... then reconnect


def test_bad_credentials_fail_through_the_real_password_check():
    sc = scenario(**{"registry.auth": {"mode": "jwt", "token_ttl": "1h"},
                     "failures.events": [{"at": "2s", "kind": "bad-credentials", "target": "node/0", "duration": "3s"}]})
    run, reqs = scripted(sc, [(1.5 + i, 0, "manifest") for i in range(6)])
    bad = _during(reqs, 2.0, 5.0)
    assert len(bad) == 3 and all(r.failure == "auth" and "wrong password" in r.error for r in bad)
    assert all(r.failure is None for r in reqs if r not in bad)  # logs in again with the right password
    assert run.auth.login_failures == 3 and run.auth.logins == 1
    assert run.world.cpus[AUTH_HOST].busy_s == pytest.approx(4 * (HTTP_TOKEN + HASH) + SIGN, rel=1e-9)  # every check hashed


# -- the TEE's cost ----------------------------------------------------------------------------------------

def tee_rise(tee, layer=50_000_000):
    sc = scenario(**{"registry": {"frontends": 1, "cores": 8, "egress": "10Gbps", "encryption": "aes-256-gcm",
                                  "storage": {"codec": "replicate(3)", "nodes": 3, "disk": "500MB/s", "nic": "25Gbps"},
                                  "auth": {"mode": "jwt"}, "tee": tee},
                     "image.layers": [layer],
                     "workload": {"kind": "poisson", "rate": "0.5/s", "duration": "20s", "mix": {"pull": "100%"}}})
    return simulate(sc, 1).kpis


def test_a_confidential_vm_adds_8_percent_to_a_disk_bound_pull():
    """The article's +8 %: I/O exits of 4 us per MiB and a bounce-buffer copy at 6.4 GB/s added to the
    pull's bottleneck, its 50 MB read from a 500 MB/s disk (CPU work 3 % slower, and off the critical path)."""
    k = tee_rise({"enabled": True, "kind": "tdx", "overrides": {"cpu_slowdown": 1.03, "transition": "4us",
                                                                  "copy_rate": "6.4GB/s", "io_chunk": "1MiB"}})
    layer, read = 50_000_000, 50_000_000 / 500e6
    # + the CPU work on the pull's critical path (its HTTP handling and token check), 3 % slower
    added = math.ceil(layer / (1 << 20)) * 4e-6 + layer / 6.4e9 + (1.03 - 1) * (HTTP_PULL + HIT)
    assert k["tee_pull_latency_rise"] == pytest.approx(added / (read + (k["baseline_latency_p50_s"] - read)), rel=1e-3)
    assert k["tee_pull_latency_rise"] == pytest.approx(0.08, abs=0.002)


def test_sgx_is_flat_while_the_working_set_fits_and_far_worse_once_paging_bounds_the_pull():
    kpis = {ws: tee_rise({"enabled": True, "kind": "sgx", "working_set": ws}) for ws in ("64MB", "128MB", "256MB", "1GB")}
    rise = {ws: k["tee_pull_latency_rise"] for ws, k in kpis.items()}
    # paging slows decryption, off the critical path, and the per-operation CPU work on it (the
    # pull's HTTP handling and token check): 128 MB rises over 64 MB by that much only
    sgx = TEE_DEFAULTS["sgx"]
    scale = {ws: sgx.adjustments(int(float(ws[:-2]) * 1e6))["http_blob_get"].scale for ws in ("64MB", "128MB")}
    on_path = (scale["128MB"] - scale["64MB"]) * (HTTP_PULL + HIT) / kpis["64MB"]["baseline_latency_p50_s"]
    assert rise["128MB"] - rise["64MB"] == pytest.approx(on_path, rel=0.02, abs=1e-4)
    assert rise["256MB"] > 2 * rise["64MB"] and rise["1GB"] > 5 * rise["64MB"]


# -- calibration of the handshake ----------------------------------------------------------------------

def test_tls_handshakes_are_measured_for_real_and_a_ticket_resumes_the_session():
    server, client = _tls_contexts()
    first, cpu = tls_handshake(server, client)
    again, _ = tls_handshake(server, client, first.session)
    assert cpu > 0 and not first.session_reused and again.session_reused
    profile = calibrate([tls_handshakes], repeats=1, warmup=0)
    assert profile.prices["tls_handshake_full"].per_op_s > 0 and profile.prices["tls_handshake_resumed"].per_op_s > 0


# -- the schema additions -----------------------------------------------------------------------------------

@pytest.mark.parametrize("raw,fragment", [
    ({"registry": {"rate_limit": {"rate": 0}}}, "positive finite number"),
    ({"scan": {"at": ["2h"]}}, "falls after the scenario ends"),
    ({"monitoring": {"time_of_day": "25h"}}, "within 24h"),
    ({"workload": {"kind": "closed", "mix": {"pull": "50%", "manifest": "40%"}}}, "add up to 90%"),
])
def test_the_access_and_monitoring_keys_are_checked(raw, fragment):
    with pytest.raises(ScenarioError, match=fragment):
        scenario_from_dict({"name": "x", "duration": "1h", **raw}, "s.yaml")


def test_working_hours_may_span_midnight():
    sc = scenario_from_dict({"name": "x", "workload": {"kind": "poisson"},
                             "monitoring": {"working_hours": {"start": "22h", "end": "6h"}}})
    hours = sc.monitoring.working_hours
    assert hours.contains(23 * 3600) and hours.contains(3600) and not hours.contains(12 * 3600)


# -- speed ------------------------------------------------------------------------------------------------

#: wall time of simulating one JWT-checked manifest GET (no cache) over the real signature check alone;
#: measured 3.2 on the 2-core reference machine (0.71 ms per simulated request, set-up included, against
#: 0.22 ms per ES256 check).
REQUEST_TARGET = 5.0


@pytest.mark.benchmark
def test_a_simulated_request_costs_a_few_real_token_checks(benchmark):
    sc = scenario(**{"registry.auth": {"mode": "jwt", "cache": 0, "token_ttl": "1h"},
                     "workload": {"kind": "poisson", "rate": "2000/s", "duration": "1s", "clients": 100,
                                  "mix": {"manifest": "100%"}}})
    runs = []

    def simulate_once():
        run = RequestRun.build(sc, 1)
        run.run()
        runs.append(run)

    benchmark.pedantic(simulate_once, rounds=3, iterations=1)
    run = runs[-1]
    per_request = benchmark.stats.stats.min / len(run.requests)
    verifier, token = run.auth.authorizers["fe0"].verifier, run.auth.held["client0"][0].token
    best = math.inf
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(50):
            verifier.verify(token)
        best = min(best, (time.perf_counter() - t0) / 50)
    ratio = per_request / best
    print(f"\n{len(run.requests)} requests: {per_request * 1e3:.3f} ms simulated per request (set-up included), "
          f"real check {best * 1e3:.3f} ms, ratio {ratio:.1f} (target {REQUEST_TARGET})")
    benchmark.extra_info.update(requests=len(run.requests), per_request_s=per_request, check_s=best, ratio=ratio)
    assert ratio < REQUEST_TARGET / 0.8


def test_the_run_starts_in_the_steady_state_with_no_client_due_for_a_login():
    """Credentials have more than the refresh margin left when the run starts (their times are
    whole seconds, so ages are drawn within TTL - margin - 1 s): with 10 s tokens no client of
    1,000 needs a login in the first 50 ms. Aged over the whole TTL, 33 of them did, at once."""
    sc = scenario(**{"registry.auth.token_ttl": "10s", "workload": {
        "kind": "poisson", "rate": "10000/s", "duration": "50ms", "clients": 1000, "mix": {"manifest": "100%"}}})
    run = RequestRun.build(sc, 3)
    lives = [expiry for _, expiry in run.auth.held.values()]
    assert min(lives) > REFRESH_MARGIN_S and max(lives) <= 10.0
    run.run()
    assert len(run.requests) > 400 and run.auth.logins == 0
