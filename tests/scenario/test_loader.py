"""Loading scenarios: YAML, overrides, the malformed corpus, and the resolved dump."""

from pathlib import Path

import pytest

from regsim.scenario import (
    ScenarioError,
    apply_overrides,
    dump_yaml,
    load_scenario,
    parse_yaml,
    resolved,
    scenario_from_dict,
)

HERE = Path(__file__).parent
MALFORMED = sorted((HERE / "malformed").glob("*.yaml"))


def _expectation(path: Path) -> tuple[str, str, list[str]]:
    lines = path.read_text().splitlines()
    assert lines[0].startswith("# expect: "), f"{path.name}: first line must be '# expect: KEY | fragment'"
    key, fragment = (part.strip() for part in lines[0][len("# expect: "):].split(" | ", 1))
    overrides = [line[len("# set: "):] for line in lines[1:] if line.startswith("# set: ")]
    return key, fragment, overrides


def test_the_corpus_is_large_enough():
    assert len(MALFORMED) >= 15


@pytest.mark.parametrize("path", MALFORMED, ids=[p.stem for p in MALFORMED])
def test_malformed_scenario_names_file_key_and_expectation(path):
    key, fragment, overrides = _expectation(path)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path, overrides)
    message = str(err.value)
    assert fragment in message, message
    prefix = f"{path}: {key}: " if key else f"{path}: "
    assert any(line.startswith(prefix) for line in message.splitlines()), message
    assert all(line.startswith(f"{path}: ") for line in message.splitlines()), message
    assert "Traceback" not in message and "pydantic" not in message and "Input should" not in message


def test_several_problems_are_reported_one_per_line(tmp_path):
    path = tmp_path / "many.yaml"
    path.write_text("name: x\ncluster: {nodes: 0, colour: red}\nregistry: {egress: fast}\nsweep: {nope: [1]}\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    lines = str(err.value).splitlines()
    assert len(lines) == 4 and len(err.value.problems) == 4
    keys = [p.key for p in err.value.problems]
    assert keys == ["cluster.nodes", "cluster.colour", "registry.egress", "sweep.nope"]


def test_unreadable_file(tmp_path):
    with pytest.raises(ScenarioError, match=r"missing\.yaml: cannot read the scenario"):
        load_scenario(tmp_path / "missing.yaml")


def test_relative_paths_are_taken_from_the_scenario_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "trace.csv").write_text("t,op\n")
    (tmp_path / "sub" / "s.yaml").write_text("name: x\nworkload: {kind: trace, path: trace.csv}\n")
    s = load_scenario(tmp_path / "sub" / "s.yaml")
    assert s.workload.path == (tmp_path / "sub" / "trace.csv").resolve()


# -- YAML without surprises --------------------------------------------------------------------------

def test_yaml_reads_ratios_octal_lookalikes_and_exponents_safely():
    data = parse_yaml("a: 4:1\nb: 010\nc: 1e3\nd: 1_000\ne: 0x10\nf: 1.5\ng: yes\nh: 12:30:00\n")
    assert data == {"a": "4:1", "b": "010", "c": 1000.0, "d": 1000, "e": 16, "f": 1.5, "g": True, "h": "12:30:00"}


def test_yaml_duplicate_keys_are_errors():
    with pytest.raises(ScenarioError, match="line 3, column 3: invalid YAML: the key 'a' appears twice"):
        parse_yaml("x:\n  a: 1\n  a: 2\n", "d.yaml")


def test_yaml_refuses_python_objects():
    with pytest.raises(ScenarioError, match="invalid YAML"):
        parse_yaml("name: !!python/object/apply:os.system ['true']\n")


# -- overrides ------------------------------------------------------------------------------------------

def test_overrides_are_applied_in_order(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: x\ncluster: {nodes: 10}\n")
    s = load_scenario(path, ["cluster.nodes=1000", "cluster.racks=10", "cluster.nodes=500",
                             "registry.storage.codec=rs(4,2)", "registry.storage.nodes=6",
                             "image.layers=[1GB, 2GB]", "cluster.rack_uplink=4:1"])
    assert s.cluster.nodes == 500 and s.cluster.racks == 10
    assert s.registry.storage.codec == "rs(4,2)" and s.image.layers == [10**9, 2 * 10**9]
    assert s.cluster.rack_uplink.oversubscription == 4.0


def test_override_spells_out_a_compact_value():
    data = apply_overrides({"name": "x", "cluster": {"node": {"nic": "10Gbps"}}}, ["cluster.node.nic.up=1Gbps"])
    assert data["cluster"]["node"]["nic"] == {"up": "1Gbps", "down": "10Gbps"}
    s = scenario_from_dict(data)
    assert s.cluster.node.nic.up == 125e6 and s.cluster.node.nic.down == 1.25e9


def test_override_does_not_touch_the_input():
    raw = {"name": "x", "cluster": {"nodes": 3}}
    apply_overrides(raw, ["cluster.nodes=4", "registry.cores=2"])
    assert raw == {"name": "x", "cluster": {"nodes": 3}}


def test_override_sets_list_items_and_sweep_entries():
    raw = {"name": "x", "workload": {"kind": "poisson"}, "registry": {"auth": {"mode": "jwt"}},
           "failures": {"events": [{"at": "1m", "kind": "db-down"}]}}
    data = apply_overrides(raw, ["failures.events[0].at=5m", "sweep.cluster.nodes=[10, 20]"])
    assert data["failures"]["events"][0]["at"] == "5m" and data["sweep"] == {"cluster.nodes": [10, 20]}
    assert scenario_from_dict(data).failures.events[0].at == 300.0


@pytest.mark.parametrize("override,fragment", [
    ("cluster.nodes", "expected KEY=VALUE"),
    ("=3", "expected KEY=VALUE"),
    ("cluster..nodes=3", "expected a dotted key path"),
    ("name.first=a", "name holds a single value"),
    ("failures.events.3.at=1m", "failures.events has 0 items"),
    ("cluster.rack_uplink.rate.x=1", "rack_uplink.rate holds a single value"),
    ("workload.spead=2", "workload has no key 'spead' (did you mean 'speedup'?)"),
    ("cluster.nodes=[1, 2", "invalid YAML"),
])
def test_bad_overrides(override, fragment):
    with pytest.raises(ScenarioError) as err:
        apply_overrides({"name": "x"}, [override], "s.yaml")
    assert str(err.value).startswith("s.yaml: ") and fragment in str(err.value)


def test_override_through_a_scalar_the_user_wrote():
    with pytest.raises(ScenarioError, match="cluster.rack_uplink is '4:1', not a mapping"):
        apply_overrides({"name": "x", "cluster": {"rack_uplink": "4:1"}}, ["cluster.rack_uplink.rate=1Gbps"])


# -- the resolved form ----------------------------------------------------------------------------------

def test_dump_yaml_writes_a_file_that_loads_back_equal(tmp_path):
    s = load_scenario(HERE / "data" / "full.yaml", ["cluster.node.cores=12"])
    out = tmp_path / "results" / "scenario.yaml"
    out.parent.mkdir()
    text = dump_yaml(s, out)
    assert out.read_text() == text
    assert load_scenario(out) == s


def test_dump_yaml_quotes_strings_that_would_read_as_numbers():
    s = scenario_from_dict({"name": "x", "description": "1e3", "sweep": {"description": ["010", "4:1", "1e5", "7"]}})
    data = parse_yaml(dump_yaml(s))
    assert data["description"] == "1e3" and data["sweep"]["description"] == ["010", "4:1", "1e5", "7"]
    assert scenario_from_dict(data) == s


def test_resolved_is_plain_data():
    data = resolved(load_scenario(HERE / "data" / "full.yaml"))
    assert data["image"]["from"] == str((HERE / "data" / "layout").resolve())

    def plain(value):
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return value is None or isinstance(value, (str, int, float, bool))
    assert plain(data)


def test_one_override_may_be_a_plain_string_and_dump_makes_its_folder(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: x\n")
    assert load_scenario(path, "cluster.nodes=10").cluster.nodes == 10
    target = tmp_path / "results" / "x" / "run-1" / "scenario.yaml"
    dump_yaml(load_scenario(path), target)
    assert load_scenario(target).name == "x"
