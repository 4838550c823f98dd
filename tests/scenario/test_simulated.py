"""What each model simulates: settings a model ignores, and rules it enforces, refused at load time."""

from pathlib import Path

import pytest

from regsim.models import simulate
from regsim.scenario import Scenario, ScenarioError, expand, load_scenario, scenario_from_dict
from regsim.scenario.simulated import ignored_by_model, model_problems

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
TRACE = SCENARIOS / "traces" / "caching-small.json"
POISSON = {"kind": "poisson", "rate": "5/s", "duration": "10s"}
TRACE_WORKLOAD = {"kind": "trace", "path": str(TRACE)}


def raw(workload=None, **sections):
    doc = {"name": "x", **sections}
    if workload is not None:
        doc["workload"] = workload
        if workload.get("kind") != "rollout":  # a rollout runs to its end: it takes no duration
            doc = {"duration": "1h", **doc}
    return doc


def problems(doc):
    try:
        scenario_from_dict(doc, "s.yaml")
    except ScenarioError as exc:
        return str(exc)
    return ""


# -- the audit's case -----------------------------------------------------------------------------------

def test_a_rollout_with_failures_tls_and_a_rate_limit_is_refused_naming_them():
    overrides = ["cluster.nodes=20", "registry.tls.enabled=true", "registry.rate_limit.rate=1/s",
                 "failures.events=[{at: 1s, kind: fail, target: storage/0}, {at: 2s, kind: partition, target: rack/1}]"]
    with pytest.raises(ScenarioError) as err:
        load_scenario(SCENARIOS / "quickstart.yaml", overrides)
    assert str(err.value) == (
        f"{SCENARIOS / 'quickstart.yaml'}: workload.kind rollout (distribution.strategy central) does not simulate "
        "failures.events, registry.tls.enabled, registry.rate_limit.rate; use workload.kind poisson or closed, "
        "or remove them")


# -- which keys each workload ignores --------------------------------------------------------------------

#: one setting per ignored key, with what it needs switched on to matter anywhere
SETTINGS = {
    "failures.afr": {"failures": {"afr": "2%"}},
    "failures.events": {"failures": {"events": [{"at": "1s", "kind": "fail", "target": "storage/0"}]}},
    "registry.tls.enabled": {"registry": {"tls": {"enabled": True}}},
    "registry.tls.keep_alive": {"registry": {"tls": {"keep_alive": 5}}},
    "registry.rate_limit.rate": {"registry": {"rate_limit": {"rate": "10/s"}}},
    "registry.cache.policy": {"registry": {"cache": {"policy": "lru"}}},
    "scan.at": {"scan": {"at": ["1m"]}},
    "monitoring.interval": {"monitoring": {"interval": "1s"}},
    "registry.storage.capacity": {"registry": {"storage": {"capacity": "1TB"}}},
    "registry.auth.token_ttl": {"registry": {"auth": {"mode": "jwt", "token_ttl": "1m"}}},
    "registry.auth.service_cores": {"registry": {"auth": {"mode": "jwt", "service_cores": 2}}},
    "registry.auth.db.hash": {"registry": {"auth": {"mode": "db", "db": {"hash": "argon2id"}}}},
    "registry.auth.db.credentials": {"registry": {"auth": {"mode": "db", "db": {"credentials": "basic"}}}},
    "distribution.strategy": {"distribution": {"strategy": "p2p-swarm"}},
    "image.layers": {"image": {"layers": ["1MB"]}},
}
ROLLOUT_IGNORES = {k for k in SETTINGS if k not in ("distribution.strategy", "image.layers")}
IGNORES = {
    "rollout": ROLLOUT_IGNORES,
    "poisson": {"registry.cache.policy", "distribution.strategy"},
    "trace": (ROLLOUT_IGNORES - {"registry.cache.policy", "registry.auth.token_ttl"}) | {"distribution.strategy",
                                                                                         "image.layers"},
}
WORKLOADS = {"rollout": None, "poisson": POISSON, "trace": TRACE_WORKLOAD}


@pytest.mark.parametrize("kind", list(WORKLOADS))
@pytest.mark.parametrize("key", list(SETTINGS))
def test_a_key_is_refused_exactly_when_the_workload_ignores_it(kind, key):
    message = problems(raw(WORKLOADS[kind], **SETTINGS[key]))
    if key in IGNORES[kind]:
        assert f"does not simulate {key};" in message, message
        assert message.startswith(f"s.yaml: workload.kind {kind}")
    else:
        assert message == ""


@pytest.mark.parametrize("kind,key,advice", [
    ("rollout", "registry.cache.policy", "use workload.kind trace, or remove it"),
    ("poisson", "distribution.strategy", "use workload.kind rollout or startup, or remove it"),
    ("trace", "failures.afr", "use workload.kind poisson or closed, or remove it"),
])
def test_the_message_names_the_workloads_that_simulate_the_key(kind, key, advice):
    assert problems(raw(WORKLOADS[kind], **SETTINGS[key])).endswith(advice)


def test_the_closed_loop_ignores_what_the_poisson_loop_ignores():
    assert ignored_by_model()["closed"] == ignored_by_model()["poisson"]
    closed = {"kind": "closed", "duration": "10s"}
    assert "does not simulate registry.cache.policy" in problems(raw(closed, **SETTINGS["registry.cache.policy"]))
    assert problems(raw(closed, **SETTINGS["registry.tls.enabled"])) == ""


@pytest.mark.parametrize("sections", [
    {"distribution": {"p2p": {"piece_size": "8MiB"}, "proxy": {"placement": "cluster"}}},
    {"registry": {"cache": {"capacity": "20MB"}}},  # policy none: no cache
    {"registry": {"rate_limit": {"burst": 5}}},  # no rate: no limit
    {"scan": {"findings": [{"id": "CVE-1", "severity": "high"}]}},  # no scan is run
    {"failures": {"repair_time": "1h", "repair_bandwidth": "1Gbps"}},  # nothing fails
    {"registry": {"auth": {"token_ttl": "1m", "db": {"hash": "argon2id"}}}},  # auth mode none
])
def test_the_keys_of_an_alternative_not_chosen_are_not_errors(sections):
    assert problems(raw(None, **sections)) == ""


def test_an_image_read_from_disk_is_refused_by_the_trace_model_alone():
    layout = Path(__file__).parent / "data" / "layout"
    assert problems(raw(None, image={"from": str(layout)})) == ""
    message = problems(raw(TRACE_WORKLOAD, image={"from": str(layout)}))
    assert "does not simulate image.from; use workload.kind rollout or startup or poisson or closed" in message


# -- the ignored keys really change nothing -------------------------------------------------------------

def _unchecked(doc):
    """The scenario of ``doc`` validated by the schema alone, as a model would get it unloaded."""
    return Scenario.model_validate(doc)


@pytest.mark.parametrize("key", sorted(ROLLOUT_IGNORES))
def test_a_central_rollout_gives_the_same_numbers_whatever_it_ignores(key):
    base = {"name": "x", "cluster": {"nodes": 4}, "image": {"layers": ["2MB", "1MB"]}}
    auth = SETTINGS[key].get("registry", {}).get("auth", {})
    plain = _unchecked({**base, "registry": {"auth": {"mode": auth["mode"]}}} if auth else base)
    assert model_problems(plain) == []
    changed = _unchecked(_merge(base, SETTINGS[key]))
    assert model_problems(changed) != []
    assert simulate(changed, seed=2).kpis == simulate(plain, seed=2).kpis


def test_the_poisson_loop_does_simulate_tls():
    base = {"name": "x", "duration": "1h", "cluster": {"nodes": 4}, "image": {"layers": ["1MB"]},
            "workload": {**POISSON, "clients": 20, "mix": {"manifest": "100%"}}}
    plain = simulate(_unchecked(base), seed=2).kpis
    tls = simulate(_unchecked(_merge(base, SETTINGS["registry.tls.keep_alive"])), seed=2).kpis
    assert tls["connections_opened"] > plain["connections_opened"]


def _merge(a, b):
    out = dict(a)
    for key, value in b.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


# -- rules a model would otherwise enforce when it runs ---------------------------------------------------

@pytest.mark.parametrize("strategy", ["proxy-cache", "p2p-swarm", "p2p-scheduler", "node-mirror"])
def test_proxy_and_p2p_nodes_pull_once(strategy):
    message = problems(raw({"kind": "rollout", "repeat": 2}, distribution={"strategy": strategy}))
    assert message == (f"s.yaml: workload.repeat: {strategy}: a node pulls the image once in this model; "
                       "workload.repeat must be 1, got 2")
    assert problems(raw({"kind": "rollout", "repeat": 2})) == ""  # central pulls repeat


def test_a_sweep_over_strategies_validates_each_variant():
    s = scenario_from_dict(raw({"kind": "rollout", "repeat": 2},
                               sweep={"distribution.strategy": ["central", "proxy-cache", "p2p-swarm"]}), "s.yaml")
    variants = expand(s, "s.yaml")
    assert [v.ok for v in variants] == [True, False, False]
    assert "s.yaml [v001]: workload.repeat: proxy-cache: a node pulls the image once" in variants[1].error


def test_a_problem_the_sweep_cannot_change_is_reported_when_loading():
    doc = raw(None, registry={"tls": {"enabled": True}}, sweep={"cluster.nodes": [10, 20]})
    assert "does not simulate registry.tls.enabled" in problems(doc)
    # ... and one it can change is left to the variants it breaks
    s = scenario_from_dict(raw(None, sweep={"registry.tls.enabled": [False, True]}))
    assert [v.ok for v in expand(s)] == [True, False]
    # a swept switch too: Basic credentials matter only in the variants with database auth
    s = scenario_from_dict(raw(None, registry={"auth": {"mode": "db", "db": {"credentials": "basic"}}},
                               sweep={"registry.auth.mode": ["none", "jwt", "db"]}))
    assert [v.ok for v in expand(s)] == [True, True, False]


def test_p2p_seeders_must_leave_nodes_to_pull_and_hold_no_real_bytes():
    p2p = {"strategy": "p2p-swarm", "p2p": {"seeders": 4}}
    assert "distribution.p2p.seeders: 4 seeders leave no node of the 4" in problems(
        raw(None, cluster={"nodes": 4}, distribution=p2p))
    assert "distribution.p2p.seeders: seeders need the modelled or sampled data plane" in problems(
        raw(None, cluster={"nodes": 8}, distribution=p2p, data_plane="real", image={"layers": ["1MB"]}))
    assert problems(raw(None, cluster={"nodes": 8}, distribution=p2p)) == ""


def test_a_real_data_plane_is_bounded_by_what_one_machine_should_read():
    message = problems(raw({"kind": "rollout", "repeat": 3}, cluster={"nodes": 10}, data_plane="real",
                           image={"layers": ["200MB"]}))
    assert "s.yaml: data_plane: real would read 6.0 GB of real bytes (30 pulls of 200 MB)" in message
    assert problems(raw(None, cluster={"nodes": 10}, data_plane="real", image={"layers": ["200MB"]})) == ""


@pytest.mark.parametrize("event,auth,fragment", [
    ({"at": "1s", "kind": "fail", "target": "node/0"}, "jwt", "no 'fail' of 'node/0'"),
    ({"at": "1s", "kind": "repair", "target": "rack/0"}, "jwt", "no 'repair' of 'rack/0'"),
    ({"at": "1s", "kind": "db-down"}, "none", "'db-down' of the database needs registry.auth.mode"),
    ({"at": "1s", "kind": "fail", "target": "db"}, "none", "'fail' of the database needs registry.auth.mode"),
])
def test_the_poisson_loop_refuses_events_it_does_not_play(event, auth, fragment):
    message = problems(raw(POISSON, failures={"events": [event]}, registry={"auth": {"mode": auth}}))
    assert message.startswith("s.yaml: failures.events[0].target: ") and fragment in message
    played = {"at": "1s", "kind": "partition", "target": event.get("target", "node/0").replace("db", "node/0")}
    assert problems(raw(POISSON, failures={"events": [played]}, registry={"auth": {"mode": auth}})) == ""


def test_measuring_degraded_reads_needs_two_storage_nodes():
    one = {"storage": {"codec": "replicate(1)", "nodes": 1}}
    message = problems(raw(POISSON, failures={"measure_degraded": True}, registry=one))
    assert "failures.measure_degraded: fails two storage nodes, but registry.storage.nodes is 1" in message
    scripted = {"measure_degraded": True, "events": [{"at": "1s", "kind": "fail", "target": "storage/0"}]}
    assert problems(raw(POISSON, failures=scripted, registry=one)) == ""  # scripted events win


# -- the shipped scenarios ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")) + sorted(SCENARIOS.glob("ci/*.yaml"))
                         + sorted(SCENARIOS.glob("published/*.yaml")),
                         ids=lambda p: p.stem)
def test_every_variant_of_every_shipped_scenario_is_valid(path):
    variants = expand(load_scenario(path), str(path))
    assert all(v.ok for v in variants), [v.error for v in variants if not v.ok]


def test_a_rollout_refuses_a_duration_it_would_not_honour():
    assert "does not simulate duration;" in problems(raw(duration="4h"))
    assert problems(raw(POISSON, duration="4h")) == ""
