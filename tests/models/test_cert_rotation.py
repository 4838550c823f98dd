"""Certificate rotation in the access layer: new ticket keys end every session's resumption.

Closed forms on scripted requests: with ``resumption: 100%`` every handshake before a rotation
resumes; after it, each client's first new connection is a full handshake (forced), and the
ones after resume again. With ``drop_connections`` every open connection closes at the rotation,
so each client's next request opens one: exactly one forced full handshake per client that sends.
"""

from __future__ import annotations

import pytest

from regsim.models import simulate
from regsim.scenario import ScenarioError

from .helpers import build, scripted

QUIET = {"kind": "poisson", "rate": "0.0001/s", "duration": "60s", "clients": 4, "mix": {"manifest": "100%"}}


def scenario(**over):
    doc = {
        "name": "rotation", "duration": "1h", "cluster": {"nodes": 4},
        "registry": {"frontends": 1, "cores": 2, "storage": {"codec": "replicate(3)", "nodes": 3},
                     # one request per connection: every request opens one, so every request handshakes
                     "tls": {"enabled": True, "resumption": "100%", "keep_alive": 1,
                             "rotation": {"at": "10s"}}},
        "image": {"layers": ["1MB"]},
        "workload": dict(QUIET),
    }
    return build(doc, over)


def handshakes(run):
    return dict(run.access.handshakes)


def test_before_a_rotation_every_handshake_resumes_and_after_it_each_client_pays_one_full():
    requests = [(t, c, "manifest") for t in (1.0, 2.0, 12.0, 13.0, 14.0) for c in (0, 1)]
    run, reqs = scripted(scenario(), requests)
    assert all(r.error is None for r in reqs)
    assert run.access.rotations == [10.0]
    h = handshakes(run)
    # before: each client's first request rides its warm connection, its second resumes; after:
    # per client one forced full handshake, then two resumed
    assert h["full"] == 2 and h["forced_full"] == 2 and h["resumed"] == 2 + 4
    full_times = sorted(t for t, kind in run.access.handshake_times if kind == "full")
    assert all(t >= 12.0 for t in full_times)


def test_dropping_connections_at_a_rotation_reconnects_every_client_once():
    over = {"registry.tls.keep_alive": 100, "registry.tls.rotation.drop_connections": True}
    requests = [(t, c, "manifest") for t in (1.0, 2.0, 12.0, 13.0) for c in range(4)]
    run, reqs = scripted(scenario(**over), requests)
    assert all(r.error is None for r in reqs)
    h = handshakes(run)
    # the warm connections carry everything before the rotation (no handshake); after it each of
    # the four clients opens one connection, a full handshake, and keeps it
    assert h["full"] == h["forced_full"] == 4
    assert h["tcp"] == 4


def test_without_dropping_open_connections_carry_on_after_a_rotation():
    over = {"registry.tls.keep_alive": 100}
    requests = [(t, c, "manifest") for t in (1.0, 12.0) for c in range(4)]
    run, _ = scripted(scenario(**over), requests)
    assert handshakes(run).get("full", 0) == 0 and run.access.rotations == [10.0]


def test_a_rotation_needs_tls():
    with pytest.raises(ScenarioError, match="rotation.at.*needs TLS"):
        scenario(**{"registry.tls.enabled": False})


def test_rotations_repeat_every_period_while_requests_arrive():
    run, _ = scripted(scenario(**{"registry.tls.rotation.every": "20s"}), [(55.0, 0, "manifest")])
    assert run.access.rotations == [10.0, 30.0, 50.0]


def test_the_storm_shows_in_the_kpis_and_the_series():
    over = {"registry.tls.keep_alive": 100, "registry.tls.resumption": "50%",
            "registry.tls.rotation.drop_connections": True, "registry.auth.mode": "none",
            "workload": {"kind": "poisson", "rate": "200/s", "duration": "20s", "clients": 400,
                         "mix": {"manifest": "100%"}}}
    result = simulate(scenario(**over), 3)
    k = result.kpis
    assert k["tls_rotations"] == 1
    # every client that sent after the rotation reconnected with a full handshake
    assert 300 <= k["tls_forced_full_handshakes"] <= 400
    assert k["tls_handshake_peak_per_s"] > 10 * k["tls_handshakes_per_s_before"]
    series = result.series
    rates = series[series.metric == "tls_handshakes_per_s"]
    assert not rates.empty and rates.value.max() > 0
