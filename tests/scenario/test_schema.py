"""The scenario schema: defaults, units, cross-field rules, the documentation, and the resolved form."""

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from regsim.scenario import Scenario, ScenarioError, dump_yaml, load_scenario, parse_yaml, resolved, scenario_from_dict
from regsim.spec.base import Section
from regsim.scenario.paths import _alternatives, _field_type, _fields, _model, resolve, split_path
from regsim.models.requests.config import Poisson
from regsim.models.rollout.config import Rollout
from regsim.models.trace.config import Trace

from .layouts import manifest_bytes

DATA = Path(__file__).parent / "data"
DOC = Path(__file__).parents[2] / "docs" / "scenarios.md"


def test_minimal_scenario_takes_every_default():
    s = load_scenario(DATA / "minimal.yaml")
    assert s.name == "minimal" and s.seed == 0 and s.duration == 86400.0
    assert s.cluster.nodes == 100 and s.cluster.racks == 1
    assert s.cluster.node.nic.up == s.cluster.node.nic.down == 1.25e9
    assert s.cluster.node.disk.read == 500e6 and s.cluster.node.disk.write == 400e6
    assert s.cluster.rack_uplink.oversubscription == 1.0 and s.cluster.rack_uplink.rate is None
    assert s.registry.storage.codec == "replicate(3)" and s.registry.storage.nodes == 3
    assert s.registry.auth.mode == "none" and s.registry.tee.enabled is False
    assert s.image.layers == [100_000_000, 300_000_000, 500_000_000] and s.image.total_size() == 900_000_000
    assert isinstance(s.workload, Rollout) and s.workload.start == 0.0
    assert s.distribution.strategy == "central" and s.distribution.p2p.piece_size == 4 * 2**20
    assert s.data_plane == "modelled" and s.failures.events == [] and s.sweep == {}


def test_full_scenario_sets_everything():
    s = load_scenario(DATA / "full.yaml")
    assert s.cluster.node.nic.up == 125e6 and s.cluster.node.nic.down == 1.25e9
    assert s.cluster.rack_uplink.oversubscription == 4.0
    assert s.cluster.latency.host == pytest.approx(20e-6) and s.cluster.latency.core == pytest.approx(100e-6)
    assert s.cluster.rack_sizes() == [40] * 25
    assert s.cluster.rack_uplink.capacity(40, s.cluster.node.nic.up) == 40 * 125e6 / 4
    storage = s.registry.storage
    assert storage.codec == "rs(10,4)" and storage.codec_kn() == (10, 14)
    assert storage.disk.read == storage.disk.write == 3e9
    assert s.registry.auth.db.pool == 32 and s.registry.auth.cache == 0
    tee = s.registry.tee
    assert tee.kind == "sgx" and tee.working_set == 2**30
    assert tee.overrides.model_kwargs() == pytest.approx(
        {"transition_s": 5e-6, "cpu_slowdown": 1.2, "protected_bytes": 256 * 2**20, "copy_s_per_byte": 1 / 4e9})
    assert s.image.from_ == (DATA / "layout").resolve()
    assert s.image.layers == [30_000_000, 20_000_000] and s.image.total_size() == 50_000_000  # read from it
    assert isinstance(s.workload, Poisson) and s.workload.rate == 5000.0 and s.workload.duration == 5400.0
    assert (s.workload.mix.pull, s.workload.mix.push, s.workload.mix.auth) == pytest.approx((0.8, 0.15, 0.05))
    assert s.workload_duration() == 5400.0 and s.clients() == 2000
    assert s.failures.afr == pytest.approx(0.02)
    assert [e.target for e in s.failures.events] == ["storage/3", "storage/3", "rack/2", "db", "node/999"]
    assert s.failures.events[2].target_kind() == "rack" and s.failures.events[2].target_index() == 2
    assert s.failures.events[3].target_index() is None
    assert list(s.sweep) == ["distribution.strategy", "registry.storage.codec"]


def test_scenarios_are_immutable():
    s = scenario_from_dict({"name": "x"})
    with pytest.raises(ValidationError):
        s.cluster.nodes = 5  # type: ignore[misc]


def test_compact_and_mapping_forms_are_equal():
    a = scenario_from_dict({"name": "x", "cluster": {"node": {"nic": "1Gbps", "disk": "1GB/s"}, "latency": "1ms"}})
    b = scenario_from_dict({"name": "x", "cluster": {"node": {"nic": {"up": "1Gbps", "down": "1000Mbps"},
                                                              "disk": {"read": "1GB/s", "write": "1000MB/s"}},
                                                     "latency": {"host": "1ms", "core": "1000us"}}})
    assert a == b


def test_uplink_as_rate_or_ratio():
    s = scenario_from_dict({"name": "x", "cluster": {"rack_uplink": "40Gbps", "racks": 2, "nodes": 10}})
    assert s.cluster.rack_uplink.rate == 5e9 and s.cluster.rack_uplink.capacity(5, 1e9) == 5e9
    s = scenario_from_dict({"name": "x", "cluster": {"rack_uplink": {"oversubscription": 2}}})
    assert s.cluster.rack_uplink.capacity(10, 1e9) == 5e9


def test_uneven_racks_are_spread_evenly():
    s = scenario_from_dict({"name": "x", "cluster": {"nodes": 10, "racks": 4}})
    assert s.cluster.rack_sizes() == [3, 3, 2, 2]


def test_codec_spelling_is_canonical():
    s = scenario_from_dict({"name": "x", "registry": {"storage": {"codec": " RS( 4 , 2 ) ", "nodes": 6}}})
    assert s.registry.storage.codec == "rs(4,2)"


def test_workload_kinds_and_helpers():
    s = scenario_from_dict({"name": "x", "duration": "2h", "workload": {"kind": "poisson"}})
    assert isinstance(s.workload, Poisson) and s.workload_duration() == 7200.0 and s.clients() == 100
    s = scenario_from_dict({"name": "x", "workload": {"start": "5m", "nodes": 10}})
    assert isinstance(s.workload, Rollout) and s.workload.start == 300.0 and s.clients() == 10
    trace = DATA / "full.yaml"
    s = scenario_from_dict({"name": "x", "workload": {"kind": "trace", "path": "full.yaml", "speedup": 4}},
                           base_dir=DATA)
    assert isinstance(s.workload, Trace) and s.workload.path == trace.resolve() and s.workload.speedup == 4.0


def test_profile_path_is_made_absolute(tmp_path):
    (tmp_path / "fast.json").write_text("{}")
    s = scenario_from_dict({"name": "x", "profile": "fast.json"}, base_dir=tmp_path)
    assert s.profile == str((tmp_path / "fast.json").resolve())
    assert scenario_from_dict({"name": "x", "profile": "live"}).profile == "live"


def test_image_from_a_manifest_file(tmp_path):
    (tmp_path / "manifest.json").write_bytes(manifest_bytes([5_000, 7_000]))
    s = scenario_from_dict({"name": "x", "image": {"from": "manifest.json"}}, base_dir=tmp_path)
    assert s.image.layers == [5_000, 7_000] and s.image.total_size() == 12_000


def test_image_from_a_folder_needs_an_index(tmp_path):
    with pytest.raises(ScenarioError, match=r"image\.from: .*without index\.json"):
        scenario_from_dict({"name": "x", "image": {"from": "."}}, base_dir=tmp_path)


@pytest.mark.parametrize("raw,key,fragment", [
    ({"cluster": {"racks": 101}}, "cluster.racks", "at most one rack per node"),
    ({"registry": {"storage": {"codec": "replicate(5)"}}}, "registry.storage.nodes", "at least 5 storage nodes"),
    ({"workload": {"nodes": 101}}, "workload.nodes", "cluster.nodes is 100"),
    ({"duration": "1h", "workload": {"kind": "poisson", "duration": "2h"}}, "workload.duration", "longer than"),
    ({"failures": {"events": [{"at": "1m", "kind": "fail", "target": "storage/3"}]}},
     "failures.events[0].target", "there are 3 storages"),
    ({"failures": {"events": [{"at": "1m", "kind": "partition", "target": "db"}]}},
     "failures.events[0].target", "cannot target 'db'"),
    ({"workload": {"kind": "poisson", "mix": {"pull": "50%", "push": "40%"}}}, "workload.mix.pull", "add up to 90%"),
])
def test_cross_field_rules(raw, key, fragment):
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict({"name": "x", **raw}, "s.yaml")
    assert f"s.yaml: {key}: " in str(err.value) and fragment in str(err.value)


# -- the documentation ---------------------------------------------------------------------------

def _doc_rows() -> dict[str, str]:
    """``{key: default column}`` from every table row of docs/scenarios.md whose first cell is a `key`."""
    rows = {}
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) == 4 and re.fullmatch(r"`[a-z0-9_.\[\]]+`", cells[0]):
            rows[cells[0].strip("`")] = cells[2]
    return rows


def _fields_at(path: str) -> list:
    """Every (model field) a documented key may name: one per workload kind that has it."""
    parts = split_path(path.replace("[]", ".0"))
    found = []
    for ann in resolve(Scenario, parts[:-1]) if len(parts) > 1 else [Scenario]:
        for kind in _alternatives(ann):
            model = _model(kind)
            if model is not None and parts[-1] in _fields(model):
                found.append(_fields(model)[parts[-1]])
    return found


def _all_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every settable key below ``model``: leaves, lists and sections written as one value."""
    paths = []
    for key, field in _fields(model).items():
        path, leaf = f"{prefix}{key}", True
        for kind in _alternatives(field.annotation):
            inner = _alternatives(kind.__args__[0])[0] if getattr(kind, "__origin__", None) is list else kind
            sub = _model(inner)
            if sub is not None and not getattr(sub, "scalar_form", False):
                leaf = inner is not kind  # a list of sections is documented itself, and its items' keys
                step = f"{path}[]." if inner is not kind else f"{path}."
                paths += [p for p in _all_paths(sub, step) if p not in paths]
        if leaf:
            paths.append(path)
    return paths


def test_documented_keys_exist_with_their_defaults():
    rows = _doc_rows()
    assert len(rows) > 70
    for key, default in rows.items():
        fields = _fields_at(key)
        assert fields, f"docs/scenarios.md documents {key}, which the schema does not have"
        if default == "required":
            assert any(f.is_required() for f in fields), f"{key} is documented as required but has a default"
            continue
        literal = re.fullmatch(r"`(.*)`", default)
        assert literal, f"{key}: the default column should be `value` or required, got {default!r}"
        matches = []
        for field in fields:
            if field.is_required():
                continue
            adapter = TypeAdapter(_field_type(field))
            model_default = adapter.validate_python(field.get_default(call_default_factory=True))
            try:
                matches.append(adapter.validate_python(parse_yaml(literal.group(1))) == model_default)
            except ValidationError:  # another workload kind's field of the same name
                matches.append(False)
        assert any(matches), f"docs/scenarios.md gives {key} the default {default}, the schema does not"


def test_every_key_is_documented():
    rows = set(_doc_rows())
    workload_keys = {f"workload.{k}" for m in (Rollout, Poisson, Trace) for k in _fields(m)}
    missing = [p for p in _all_paths(Scenario) + sorted(workload_keys) if p not in rows and p != "workload"]
    assert not missing, f"keys missing from docs/scenarios.md: {missing}"


def test_every_section_forbids_unknown_keys():
    def sections(model):
        yield model
        for field in model.model_fields.values():
            for kind in _alternatives(field.annotation):
                if _model(kind) is not None and issubclass(kind, Section):
                    yield from sections(kind)
    for model in sections(Scenario):
        assert model.model_config.get("extra") == "forbid", model.__name__


# -- resolved scenarios round-trip ------------------------------------------------------------------

def _round_trip(s: Scenario) -> Scenario:
    return scenario_from_dict(parse_yaml(dump_yaml(s)), "resolved.yaml")


def test_resolved_full_scenario_round_trips():
    s = load_scenario(DATA / "full.yaml")
    assert _round_trip(s) == s
    assert resolved(_round_trip(s)) == resolved(s)


def test_resolved_uses_human_units():
    data = resolved(scenario_from_dict({"name": "x"}))
    assert data["cluster"]["node"]["nic"] == "10Gbps"
    assert data["cluster"]["node"]["disk"] == {"read": "500MB/s", "write": "400MB/s"}
    assert data["cluster"]["latency"] == "50us" and data["cluster"]["rack_uplink"] == "1:1"
    assert data["image"]["layers"] == ["100MB", "300MB", "500MB"]
    assert data["workload"] == {"kind": "rollout", "start": "all", "nodes": None, "repeat": 1, "pause": "0s"}
    assert data["failures"]["afr"] == "0%" and data["duration"] == "1d"


RATES = st.sampled_from(["1Gbps", "10Gbps", "25Gbps", "300MB/s", "2.5GiB/s", 123456.789, "1.1Mbps"])
SIZES = st.one_of(st.integers(0, 10**12), st.sampled_from(["4MiB", "900MB", "1.5GB", "3KiB"]))
DURATIONS = st.one_of(st.sampled_from(["50us", "3ms", "2.5s", "5m", "1h30m"]), st.floats(0, 3000))


@st.composite
def scenarios(draw):
    nodes = draw(st.integers(1, 2000))
    k, m = draw(st.integers(1, 12)), draw(st.integers(0, 4))
    codec = draw(st.sampled_from([f"replicate({k})", f"rs({k},{m})"]))
    n = k if codec.startswith("replicate") else k + m
    workload = draw(st.one_of(
        st.fixed_dictionaries({"kind": st.just("rollout"), "start": st.one_of(st.just("all"), DURATIONS),
                               "repeat": st.integers(1, 5), "nodes": st.one_of(st.none(), st.integers(1, nodes))}),
        st.fixed_dictionaries({"kind": st.just("poisson"), "rate": st.floats(0.01, 1e5),
                               "mix": st.just({"pull": "70%", "push": "20%", "auth": "10%"})}),
    ))
    return {
        "name": "generated",
        "seed": draw(st.integers(0, 2**32)),
        "cluster": {"nodes": nodes, "racks": draw(st.integers(1, nodes)),
                    "node": {"nic": draw(st.one_of(RATES, st.fixed_dictionaries({"up": RATES, "down": RATES}))),
                             "disk": draw(RATES)},
                    "rack_uplink": draw(st.one_of(RATES, st.sampled_from(["4:1", "2.5:1", "1:2"]))),
                    "latency": draw(st.one_of(DURATIONS, st.fixed_dictionaries({"host": DURATIONS,
                                                                                "core": DURATIONS})))},
        "registry": {"storage": {"codec": codec, "nodes": n + draw(st.integers(0, 3))},
                     "tee": {"overrides": draw(st.fixed_dictionaries({}, optional={
                         "transition": DURATIONS, "cpu_slowdown": st.floats(1, 3),
                         "io_chunk": st.integers(1, 10**9)}))}},
        "image": {"layers": draw(st.lists(SIZES, min_size=1, max_size=5))},
        "workload": workload,
        # failures are played by the poisson model only: a rollout that sets them is refused
        "failures": ({"afr": draw(st.floats(0, 1)), "repair_time": draw(DURATIONS)}
                     if workload["kind"] == "poisson" else {}),
    }


@settings(max_examples=40, deadline=None)
@given(scenarios())
def test_generated_scenarios_round_trip_through_resolved_yaml(raw):
    s = scenario_from_dict(raw)
    assert _round_trip(s) == s
