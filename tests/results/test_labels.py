"""Names on charts: units from KPI names, numbers from swept values, short labels for swept mappings."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regsim.results.labels import Quantity, compact_labels, quantity, short_key, swept_numbers

TEE = [json.dumps(v, sort_keys=True, separators=(",", ":")) for v in [
    {"enabled": False},
    {"enabled": True, "kind": "tdx", "overrides": {"cpu_slowdown": 1.03, "transition": "4us", "copy_rate": "6.4GB/s",
                                                   "io_chunk": "1MiB"}},
    {"enabled": True, "kind": "tdx"},
    {"enabled": True, "kind": "sev-snp"},
    {"enabled": True, "kind": "sgx", "working_set": "64MB"},
    {"enabled": True, "kind": "sgx", "working_set": "256MB"},
]]


@pytest.mark.parametrize("name, text, unit", [
    ("pull_time_s", "pull time", "s"), ("stored_bytes", "stored bytes", "bytes"),
    ("pull_throughput_Bps", "pull throughput", "bytes/s"), ("throughput_bytes_s", "throughput", "bytes/s"),
    ("capacity_rps", "capacity", "requests/s"), ("logins_per_s", "logins", "/s"),
    ("db_utilisation", "db utilisation", "fraction"), ("codec_k", "codec k", ""), ("s", "s", ""),
])
def test_quantity_reads_the_unit_from_the_suffix(name, text, unit):
    assert quantity(name) == Quantity(text, unit)


def test_short_key_is_the_last_part():
    assert short_key("distribution.strategy") == "strategy" and short_key("nodes") == "nodes"


@pytest.mark.parametrize("values, numbers, unit", [
    ([10, 100, 1000], [10, 100, 1000], ""),
    (["10Gbps", "25Gbps"], [1.25e9, 3.125e9], "bytes/s"),
    (["24h", "7d"], [86400, 604800], "s"),
    (["2%", "10%"], [0.02, 0.1], "fraction"),
    (["20MB", "1GB"], [2e7, 1e9], "bytes"),
])
def test_swept_values_with_units_are_numbers(values, numbers, unit):
    parsed, found = swept_numbers(values)
    assert found == unit and np.allclose(parsed, numbers)


@pytest.mark.parametrize("values", [["central", "p2p-swarm"], ["rs(4,2)", "replicate(3)"], [True, False],
                                    ["10Gbps", "24h"], TEE, [1.0, float("nan")], []])
def test_categories_are_not_numbers(values):
    assert swept_numbers(values) is None


def test_a_swept_mapping_is_named_by_what_sets_it_apart():
    assert compact_labels(TEE) == ["off", "tdx +4 overrides", "tdx", "sev-snp", "sgx ws=64MB", "sgx ws=256MB"]


def test_mappings_with_different_keys_and_lists_get_short_labels():
    assert compact_labels(['{"pull":"100%"}', '{"manifest":"100%"}']) == ["pull=100%", "manifest=100%"]
    assert compact_labels(['["20MB","30MB"]', '["100MB"]']) == ["20MB+30MB", "100MB"]
    assert compact_labels(["central", 10]) == ["central", "10"]


def test_labels_that_would_coincide_fall_back_to_the_full_text():
    values = ['{"kind":"tdx","overrides":{"a":1}}', '{"kind":"tdx","overrides":{"a":2}}']
    assert compact_labels(values) == values


@settings(max_examples=40, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["kind", "size", "enabled", "mode"]),
                                st.one_of(st.booleans(), st.integers(0, 9), st.sampled_from(["a", "b"])),
                                min_size=1), min_size=1, max_size=6, unique_by=lambda d: json.dumps(d, sort_keys=True)))
def test_distinct_mappings_keep_distinct_labels(entries):
    values = [json.dumps(e, sort_keys=True, separators=(",", ":")) for e in entries]
    labels = compact_labels(values)
    assert len(labels) == len(values) and len(set(labels)) == len(labels)
