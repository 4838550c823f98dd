"""Audit-driven alerts in the simulated series: a stolen credential, a scope probe, and silence otherwise.

Every client sits in its rack's network; a ``stolen-credential`` event makes an outsider use one
client's credentials from 203.0.113.0/24, a ``scope-probe`` makes one client ask for a scope it
holds no grant for. The registry library's rules (the ones ``regsim serve`` runs on its audit log)
must fire on those, for that client, after the event starts -- and never on a run without them.
"""

from __future__ import annotations

import pytest

from regsim.models import simulate
from regsim.models.core.spec import ModelError
from regsim.models.requests.scripted_faults import ATTACK_INTERVAL_S, OUTSIDE_NETWORK, rack_network

from .helpers import build

AUDIT_RULES = {"new-source-network", "denied-scope-burst", "concurrent-credential-use"}


def scenario(events: list[dict], mode: str = "jwt", **over):
    doc = {
        "name": "audit", "seed": 3, "duration": "1h",
        "cluster": {"nodes": 8, "racks": 2},
        "registry": {"frontends": 1, "cores": 4, "storage": {"codec": "replicate(3)", "nodes": 3},
                     "auth": {"mode": mode}},
        "image": {"layers": ["1MB"]},
        "workload": {"kind": "poisson", "rate": "4/s", "duration": "90s", "clients": 8,
                     "mix": {"pull": "20%", "manifest": "80%"}},
        "data_plane": "modelled",
        "failures": {"events": events},
        "monitoring": {"detection": {"new_network_min_history": 3, "denied_burst": {"count": 5, "window": "30s"}}},
    }
    return build(doc, over)


def alerts(result):
    frame = result.alerts
    return frame[frame.rule.isin(AUDIT_RULES)]


def test_clients_in_their_own_networks_raise_no_audit_alert():
    result = simulate(scenario([]), 1)
    assert alerts(result).empty
    assert rack_network(0) != rack_network(1) and rack_network(300) == "10.1.44.0/24"


@pytest.mark.parametrize("mode", ["jwt", "db"])
def test_a_stolen_credential_is_seen_from_a_new_network_and_in_two_places_at_once(mode):
    result = simulate(scenario([{"at": "40s", "kind": "stolen-credential", "target": "node/2",
                                 "duration": "30s"}], mode), 1)
    found = alerts(result)
    assert set(found.rule) == {"new-source-network", "concurrent-credential-use"}
    assert set(found.subject) == {"client2"}
    assert (found.time_s >= 40.0).all() and (found.time_s < 40.0 + 2 * ATTACK_INTERVAL_S + 1).all()
    assert OUTSIDE_NETWORK in " ".join(found.message)
    levels = dict(zip(found.rule, found.level))
    assert levels == {"new-source-network": "warning", "concurrent-credential-use": "critical"}


@pytest.mark.parametrize("mode", ["jwt", "db"])
def test_a_scope_probe_is_refused_by_the_real_authorizer_and_raises_a_burst_alert(mode):
    result = simulate(scenario([{"at": "20s", "kind": "scope-probe", "target": "node/1", "duration": "20s"}],
                               mode), 1)
    found = alerts(result)
    assert list(found.rule) == ["denied-scope-burst"] and list(found.subject) == ["client1"]
    # more than 5 refusals within 30 s: the 6th probe, one a second from 20 s
    assert found.time_s.iloc[0] == pytest.approx(20.0 + 5 * ATTACK_INTERVAL_S, abs=0.5)
    k = result.kpis
    assert k["auth_failures"] >= 20


def test_an_attack_needs_authentication_and_a_client_on_its_node():
    with pytest.raises(ModelError, match=r"stolen-credential.*registry\.auth\.mode"):
        simulate(scenario([{"at": "1s", "kind": "stolen-credential", "target": "node/0"}], "none"), 1)
    with pytest.raises(ModelError, match="no client runs on that node"):
        simulate(scenario([{"at": "1s", "kind": "scope-probe", "target": "node/7"}],
                          **{"workload.clients": 4}), 1)
