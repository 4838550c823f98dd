"""Short-lived credentials in the request models: the issue rate, and what an issuer outage does.

Closed forms: in the steady state each client renews every ``renew_at * ttl``, so over a window
of ``m`` renewal periods the issuer issues ``m`` credentials per client (the issue rate is
``clients / (renew_at * ttl)``). An outage shorter than a credential's remaining life after its
renewal was due (``ttl - renew_at * ttl``) costs nothing but refused renewals; a longer one lets
credentials expire, and the real checks refuse them until the issuer is back.
"""

from __future__ import annotations

import pytest

from regsim.models import simulate
from regsim.models.core.spec import ModelError
from regsim.scenario import ScenarioError

from .helpers import build


def scenario(mode: str = "jwt", events=(), **over):
    doc = {
        "name": "issuer", "seed": 2, "duration": "1h",
        "cluster": {"nodes": 10},
        "registry": {"frontends": 1, "cores": 4, "storage": {"codec": "replicate(3)", "nodes": 3},
                     "auth": {"mode": mode, "token_ttl": "30s",
                              "issuer": {"enabled": True, "ttl": "2m", "renew_at": "50%", "retry": "10s"}}},
        "image": {"layers": ["1MB"]},
        "workload": {"kind": "poisson", "rate": "5/s", "duration": "4m", "clients": 10,
                     "mix": {"pull": "20%", "manifest": "80%"}},
        "data_plane": "modelled",
        "failures": {"events": list(events)},
    }
    return build(doc, over)


def rules(result) -> set[str]:
    return set(result.alerts.rule)


@pytest.mark.parametrize("mode", ["jwt", "db"])
def test_every_client_renews_once_per_renewal_period(mode):
    k = simulate(scenario(mode), 1).kpis
    # 4 minutes of 1-minute renewal periods, 10 clients; a renewal due in the last instant may
    # land just after the window
    assert 39 <= k["credentials_issued"] <= 40
    assert k["credential_issue_rate_expected_per_s"] == pytest.approx(10 / 60.0)
    assert k["credential_renewal_failures"] == 0 and k["auth_failures"] == 0
    assert k["issuer_cpu_busy_s"] > 0


def test_an_outage_shorter_than_the_remaining_life_costs_only_refused_renewals():
    # renewals are due a minute into a credential's two: a 50 s outage ends before any expires
    k = simulate(scenario(events=[{"at": "60s", "kind": "issuer-down", "duration": "50s"}]), 1)
    assert k.kpis["credential_renewal_failures"] > 0 and k.kpis["auth_failures"] == 0
    assert "credentials-expired" not in rules(k)


@pytest.mark.parametrize("mode", ["jwt", "db"])
def test_a_long_outage_lets_credentials_expire_and_requests_fail_until_the_issuer_is_back(mode):
    result = simulate(scenario(mode, events=[{"at": "30s", "kind": "issuer-down", "duration": "150s"}]), 1)
    k = result.kpis
    assert k["auth_failures"] > 0 and k["credentials_expired_at_end"] == 0
    assert {"credential-renewal-failing", "credentials-expired", "consecutive-auth-failures"} <= rules(result)
    alerts = result.alerts.set_index("rule")
    # nobody's credential can run out before the outage began plus the part of its life left
    # after its renewal was due (one minute), nor any renewal be refused before it began
    assert alerts.loc["credentials-expired", "time_s"] >= 30.0
    assert alerts.loc["credential-renewal-failing", "time_s"] >= 30.0
    # a credential whose renewal fell due in the outage runs out a minute later: no request can
    # fail for want of one before 90 s, and they do fail after (the series' bins end at time_s)
    series = result.series
    failing = series[(series.metric == "auth_failure_rate") & (series.value > 0)]
    assert not failing.empty and failing.time_s.min() >= 90.0
    assert alerts.loc["credentials-expired", "time_s"] >= 90.0


def test_an_issuer_outage_needs_the_issuer():
    with pytest.raises(ModelError, match="issuer-down.*issuer.enabled"):
        simulate(scenario(events=[{"at": "1s", "kind": "issuer-down"}],
                          **{"registry.auth.issuer.enabled": False}), 1)


def test_short_lived_credentials_need_users():
    with pytest.raises(ScenarioError, match="issuer.enabled.*'jwt' or 'db'"):
        scenario("none")
