"""Storage cluster: fragment format, placement, reads healthy and degraded, failures, repair, receipts."""

from __future__ import annotations

import itertools
import re
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regsim.registry import receipts
from regsim.registry.cluster import StorageCluster, repair
from regsim.registry.cluster import fragment as fmt
from regsim.registry.cluster.layout import fragment_key, split_fragment_key
from regsim.registry.cluster.placement import place, rank, spare
from regsim.registry.codecs import parse_codec
from regsim.registry.errors import (
    BlobUploadInvalid,
    ConfigError,
    DataLoss,
    IntegrityError,
    InvalidKey,
    KeyNotFound,
    StorageUnavailable,
)
from regsim.registry.receipts import Kind
from regsim.registry.storage.memory import MemoryBackend

KEY = "blobs/sha256/ab/ab" + "0" * 62
DATA = bytes(range(256)) * 400 + b"odd tail"  # 102,408 bytes: not a multiple of 4, 6 or 10


def make(codec: str = "rs(4,2)", nodes: int = 8) -> StorageCluster:
    return StorageCluster([MemoryBackend(f"s{i}") for i in range(nodes)], parse_codec(codec))


def damage(cluster: StorageCluster, key: str, index: int, at: int = -1) -> None:
    """Flip one byte of a stored fragment (the last payload byte by default)."""
    node = cluster.node(cluster.layout(key).nodes[index])
    blob = bytearray(node.get(fragment_key(key, index)))
    blob[at] ^= 0xFF
    node.put(fragment_key(key, index), bytes(blob))


# -- fragment format -----------------------------------------------------------------------------


def framed(payload: bytes = b"payload!", key: str = KEY) -> tuple[fmt.FragmentHeader, bytes]:
    header = fmt.FragmentHeader.describe(key, "rs(4,2)", 3, 4, 6, 4 * len(payload) - 1, payload)
    return header, fmt.frame(header, payload)


def test_fragment_header_round_trips():
    header, blob = framed()
    parsed, payload = fmt.parse(blob)
    assert parsed == header and bytes(payload) == b"payload!"
    assert header.length == fmt.header_size("rs(4,2)", KEY) == len(blob) - len(payload)
    assert fmt.parse_header(blob[: header.length]) == header
    assert fmt.declared_header_size(blob[: fmt.FIXED_SIZE]) == header.length


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_flipped_byte_of_a_fragment_is_detected(data):
    _, blob = framed()
    at = data.draw(st.integers(0, len(blob) - 1))
    bit = data.draw(st.integers(0, 7))
    damaged = bytearray(blob)
    damaged[at] ^= 1 << bit
    with pytest.raises(IntegrityError):
        fmt.parse(bytes(damaged))


@pytest.mark.parametrize(
    "mangle, message",
    [
        (lambda b: b"XXXX" + b[4:], "not a regsim fragment"),
        (lambda b: b[:4] + b"\x09" + b[5:], "version 9 is not supported"),
        (lambda b: b[:-1], "7 payload bytes, expected 8"),
        (lambda b: b + b"!", "9 payload bytes"),
        (lambda b: b[:10], "truncated"),
        (lambda b: b[:-2] + bytes([b[-2] ^ 1]) + b[-1:], "payload crc32c mismatch"),
        (lambda b: b[:30] + bytes([b[30] ^ 1]) + b[31:], "header crc32c mismatch"),
    ],
)
def test_damaged_fragments_say_what_is_wrong(mangle, message):
    _, blob = framed()
    with pytest.raises(IntegrityError, match=message):
        fmt.parse(mangle(blob))


def test_fragment_keys_round_trip():
    assert split_fragment_key(fragment_key(KEY, 12)) == (KEY, 12)
    for bad in ["fragments/x", "other/a/1", "fragments/a/b/c"]:
        with pytest.raises(InvalidKey):
            split_fragment_key(bad)


# -- placement -----------------------------------------------------------------------------------

NODES = [f"s{i}" for i in range(12)]
KEYS = [f"blobs/sha256/{i:02x}/{i:064x}" for i in range(400)]


def test_placement_is_deterministic_distinct_and_order_free():
    for key in KEYS[:50]:
        nodes = place(key, NODES, 6)
        assert nodes == place(key, list(reversed(NODES)), 6)
        assert len(set(nodes)) == 6
        assert nodes == tuple(rank(key, NODES)[:6])


def test_excluding_a_node_moves_only_its_fragment():
    for key, down in itertools.product(KEYS[:100], ["s0", "s5"]):
        healthy, degraded = place(key, NODES, 6), place(key, NODES, 6, exclude={down})
        changed = [i for i in range(6) if healthy[i] != degraded[i]]
        if down in healthy:
            assert changed == [healthy.index(down)]
            assert degraded[changed[0]] not in healthy
        else:
            assert changed == []


def test_removing_a_node_changes_only_the_stripes_that_used_it():
    smaller = [n for n in NODES if n != "s7"]
    moved = 0
    for key in KEYS:
        before, after = set(place(key, NODES, 6)), set(place(key, smaller, 6))
        if "s7" in before:
            assert len(before - after) == 1 and before - after == {"s7"}
            moved += 1
        else:
            assert before == after
    assert 0.3 < moved / len(KEYS) < 0.7  # about n/N = 6/12 of the keys use any given node


def test_placement_spreads_fragments_evenly():
    load = Counter(node for key in KEYS for node in place(key, NODES, 6))
    expected = len(KEYS) * 6 / len(NODES)
    assert all(0.75 * expected < load[n] < 1.25 * expected for n in NODES), load


def test_placement_with_too_few_usable_nodes_names_them():
    with pytest.raises(StorageUnavailable, match=r"only 5 of 7 nodes are usable \(unavailable: s1, s2"):
        place(KEY, NODES[:7], 6, exclude={"s1", "s2"})
    assert spare(KEY, NODES[:3], exclude=set(NODES[:3])) is None


# -- healthy operation ---------------------------------------------------------------------------


@pytest.mark.parametrize("codec", ["replicate(1)", "replicate(3)", "rs(4,2)", "rs(6,3)", "rs(10,4)"])
@pytest.mark.parametrize("data", [b"", b"x", DATA])
def test_put_get_round_trip(codec, data):
    cluster = make(codec, nodes=14)
    layout = cluster.put(KEY, data)
    assert (layout.size, layout.codec, len(set(layout.nodes))) == (len(data), codec, parse_codec(codec).n)
    assert cluster.get(KEY) == data
    assert cluster.stat(KEY) == len(data) and cluster.exists(KEY)
    assert cluster.layout(KEY) == layout


def test_put_receipt_transfers_each_fragment_to_its_node():
    cluster = make("rs(4,2)")
    with receipts.collect() as r:
        layout = cluster.put(KEY, DATA)
    assert r.total(Kind.EC_ENCODE) == layout.chunk * 4 * 2  # bytes multiplied: chunk x k x m
    transfers = r.of(Kind.TRANSFER)
    assert [(t.node, t.dst) for t in transfers] == [("frontend", n) for n in layout.nodes]
    assert len({t.amount for t in transfers}) == 1
    assert 1.5 * len(DATA) < r.total(Kind.TRANSFER) < 1.51 * len(DATA)  # 1.5x plus headers
    assert not any(k.startswith("disk") for k in r.by_kind()), "disk work belongs to the node wrapper"


def test_replicated_put_and_get_receipts():
    cluster = make("replicate(3)")
    with receipts.collect() as put:
        cluster.put(KEY, DATA)
    assert put.total(Kind.REPLICATE) == len(DATA)
    assert 3 * len(DATA) < put.total(Kind.TRANSFER) < 3 * len(DATA) + 1000
    with receipts.collect() as get:
        cluster.get(KEY)
    assert len(get.of(Kind.TRANSFER)) == 1 and Kind.EC_DECODE not in get.by_kind()


def sources(cluster: StorageCluster, reads: int, read=lambda c: c.get(KEY)) -> list[str]:
    """The node each of ``reads`` successive reads of KEY fetched from."""
    nodes = []
    for _ in range(reads):
        with receipts.collect() as r:
            assert read(cluster) in (DATA, DATA[10:30])
        (transfer,) = r.of(Kind.TRANSFER)
        nodes.append(transfer.node)
    return nodes


@pytest.mark.parametrize("read", [lambda c: c.get(KEY), lambda c: c.read_at(KEY, 10, 20)], ids=["get", "read_at"])
def test_replicated_reads_take_the_copies_in_turn(read):
    cluster = make("replicate(3)")
    layout = cluster.put(KEY, DATA)
    assert sources(cluster, 6, read) == [*layout.nodes, *layout.nodes]


def test_primary_replica_reads_always_fetch_the_first_copy():
    cluster = StorageCluster([MemoryBackend(f"s{i}") for i in range(8)], parse_codec("replicate(3)"),
                             replica_reads="primary")
    layout = cluster.put(KEY, DATA)
    assert sources(cluster, 4) == [layout.nodes[0]] * 4
    cluster.fail_node(layout.nodes[0])
    assert sources(cluster, 2) == [layout.nodes[1]] * 2


def test_spread_reads_skip_a_lost_copy_and_share_the_rest():
    cluster = make("replicate(3)")
    layout = cluster.put(KEY, DATA)
    cluster.fail_node(layout.nodes[1])
    got = Counter(sources(cluster, 6))
    assert layout.nodes[1] not in got and set(got) == {layout.nodes[0], layout.nodes[2]}
    assert sum(got.values()) == 6 and max(got.values()) <= 4


def test_erasure_coded_reads_fetch_the_data_fragments_whatever_the_replica_policy():
    cluster = make("rs(4,2)")
    layout = cluster.put(KEY, DATA)
    for _ in range(3):
        with receipts.collect() as r:
            cluster.get(KEY)
        assert [t.node for t in r.of(Kind.TRANSFER)] == list(layout.nodes[:4])


def test_an_unknown_replica_read_policy_is_a_configuration_error():
    with pytest.raises(ConfigError, match="replica_reads: expected one of spread, primary, got 'random'"):
        StorageCluster([MemoryBackend(f"s{i}") for i in range(3)], parse_codec("replicate(3)"), replica_reads="random")


def test_healthy_get_reads_data_fragments_and_decodes_nothing():
    cluster = make("rs(4,2)")
    layout = cluster.put(KEY, DATA)
    with receipts.collect() as r:
        assert cluster.get(KEY) == DATA
    assert [(t.node, t.dst) for t in r.of(Kind.TRANSFER)] == [(n, "frontend") for n in layout.nodes[:4]]
    assert Kind.EC_DECODE not in r.by_kind()


@pytest.mark.parametrize("offset, length", [(0, 10), (25_600, 5), (25_590, 30), (0, len(DATA)), (102_400, 100),
                                            (len(DATA), 10), (5, 0)])
def test_read_at_reads_only_the_covering_fragment_bytes(offset, length):
    cluster = make("rs(4,2)")
    layout = cluster.put(KEY, DATA)
    expected = DATA[offset : offset + length]
    with receipts.collect() as r:
        assert cluster.read_at(KEY, offset, length) == expected
    transfers = r.of(Kind.TRANSFER)
    assert sum(t.amount for t in transfers) == len(expected)
    covering = {layout.nodes[p] for p in range(4) if p * layout.chunk < offset + length and
                offset < (p + 1) * layout.chunk} if expected else set()
    assert {t.node for t in transfers} == covering


def test_keys_list_delete_and_stored_bytes():
    cluster = make("rs(4,2)")
    other = "blobs/sha256/cd/cd" + "1" * 62
    cluster.put(KEY, DATA)
    cluster.put(other, b"small")
    assert cluster.keys() == [KEY, other] and list(cluster.list("blobs/sha256/cd")) == [other]
    per_fragment = [cluster.layout(k).fragment_size for k in (KEY, other)]
    assert cluster.stored_bytes() == 6 * sum(per_fragment)
    assert cluster.stored_bytes() == sum(len(n.get(o)) for n in map(cluster.node, cluster.node_names)
                                         for o in n.list("fragments"))
    cluster.delete(KEY)
    assert not cluster.exists(KEY) and cluster.keys() == [other]
    assert all(not list(cluster.node(n).list(f"fragments/{KEY}")) for n in cluster.node_names)
    with pytest.raises(KeyNotFound, match="no blob"):
        cluster.get(KEY)
    with pytest.raises(KeyNotFound):
        cluster.delete(KEY)


def test_overwrite_leaves_no_stale_fragments():
    cluster = make("rs(4,2)")
    cluster.fail_node(cluster.put(KEY, DATA).nodes[1])
    cluster.put(KEY, b"new content")
    cluster.restore_node(cluster.down_nodes[0])
    assert cluster.get(KEY) == b"new content"
    objects = [o for n in cluster.node_names for o in cluster.node(n).list("fragments")]
    assert len(objects) == 6
    assert cluster.rescan() == 1 and cluster.get(KEY) == b"new content"


def test_writer_buffers_until_commit():
    cluster = make("rs(4,2)")
    with cluster.writer(KEY) as w:
        w.write(b"abc")
        w.write(memoryview(b"def"))
        assert not cluster.exists(KEY)
    assert cluster.get(KEY) == b"abcdef"
    with cluster.writer(KEY, append=True) as w:
        w.write(b"gh")
    assert cluster.get(KEY) == b"abcdefgh"
    w = cluster.writer(KEY)
    w.write(b"discarded")
    w.cancel()
    assert cluster.get(KEY) == b"abcdefgh"
    with pytest.raises(BlobUploadInvalid):
        w.write(b"late")


def test_configuration_errors():
    with pytest.raises(ConfigError, match="needs at least 6 storage nodes, got 5"):
        make("rs(4,2)", nodes=5)
    with pytest.raises(ConfigError, match="repeated: s1"):
        StorageCluster([MemoryBackend("s1"), MemoryBackend("s1")], parse_codec("replicate(2)"))
    cluster = make()
    with pytest.raises(ConfigError, match="no storage node named 'nope'"):
        cluster.fail_node("nope")
    with pytest.raises(ConfigError, match="must keep the name"):
        cluster.replace_node("s1", MemoryBackend("other"))
    with pytest.raises(InvalidKey):
        cluster.put("../escape", b"x")
    with pytest.raises(ValueError):
        cluster.read_at(KEY, -1, 4)


# -- failures ------------------------------------------------------------------------------------


@pytest.mark.parametrize("codec", ["replicate(3)", "rs(4,2)", "rs(6,3)"])
def test_degraded_reads_survive_any_m_failed_nodes(codec):
    cluster = make(codec, nodes=9)
    layout = cluster.put(KEY, DATA)
    m = parse_codec(codec).m
    for down in itertools.combinations(layout.nodes, m):
        for name in down:
            cluster.fail_node(name)
        assert cluster.get(KEY) == DATA
        assert cluster.read_at(KEY, 25_590, 30_000) == DATA[25_590:55_590]
        for name in down:
            cluster.restore_node(name)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_degraded_range_reads_match_the_blob(data):
    codec = data.draw(st.sampled_from(["rs(4,2)", "rs(10,4)", "replicate(3)"]))
    cluster = make(codec, nodes=14)
    blob = data.draw(st.binary(min_size=1, max_size=5000))
    layout = cluster.put(KEY, blob)
    down = data.draw(st.sets(st.sampled_from(layout.nodes), max_size=parse_codec(codec).m))
    for name in down:
        cluster.fail_node(name)
    offset = data.draw(st.integers(0, len(blob)))
    length = data.draw(st.integers(0, len(blob)))
    assert cluster.read_at(KEY, offset, length) == blob[offset : offset + length]


def test_degraded_get_decodes_from_k_survivors():
    cluster = make("rs(4,2)")
    layout = cluster.put(KEY, DATA)
    cluster.fail_node(layout.nodes[0])
    with receipts.collect() as r:
        assert cluster.get(KEY) == DATA
    assert {t.node for t in r.of(Kind.TRANSFER)} == set(layout.nodes[1:5])
    assert r.total(Kind.EC_DECODE) == 1 * layout.chunk * 4  # one lost data chunk x chunk x k


def test_m_plus_one_failures_raise_data_loss_naming_blob_and_nodes():
    cluster = make("rs(4,2)")
    layout = cluster.put(KEY, DATA)
    down = [layout.nodes[1], layout.nodes[3], layout.nodes[5]]
    for name in down:
        cluster.fail_node(name)
    for read in (lambda: cluster.get(KEY), lambda: cluster.read_at(KEY, 0, 100_000)):
        with pytest.raises(DataLoss) as caught:
            read()
        message = str(caught.value)
        assert KEY in message and "needs 4 of 6" in message
        assert all(re.search(rf"\b{name}\b", message) for name in down)
        assert caught.value.detail["lost"] == {1: down[0], 3: down[1], 5: down[2]}


def test_missing_and_damaged_fragments_count_as_lost():
    cluster = make("rs(4,2)")
    layout = cluster.put(KEY, DATA)
    damage(cluster, KEY, 0)
    cluster.node(layout.nodes[2]).delete(fragment_key(KEY, 2))
    with receipts.collect() as r:
        assert cluster.get(KEY) == DATA
    assert r.total(Kind.EC_DECODE) == 2 * layout.chunk * 4  # data chunks 0 and 2 decoded x chunk x k
    damage(cluster, KEY, 4, at=0)  # bad magic
    with pytest.raises(DataLoss, match=r"#0 on s\d+ \(fragment damaged: .*crc32.*#2 on s\d+ \(fragment missing\)"):
        cluster.get(KEY)


def test_range_read_decodes_only_the_range_around_a_missing_fragment():
    cluster = make("rs(4,2)")
    layout = cluster.put(KEY, DATA)
    cluster.node(layout.nodes[1]).delete(fragment_key(KEY, 1))
    offset = layout.chunk + 10
    with receipts.collect() as r:
        assert cluster.read_at(KEY, offset, 100) == DATA[offset : offset + 100]
    # the same 100-byte window of k = 4 fragments decodes that window of the one lost data chunk:
    # 1 x 100 x k bytes multiplied, not the blob's chunk
    assert r.total(Kind.EC_DECODE) == 1 * 100 * 4, "a 100-byte window of one lost chunk, not the blob"
    assert r.total(Kind.TRANSFER) == 4 * 100
    assert cluster.suspects(KEY) == {1}


def test_range_read_decodes_every_lost_data_chunk_of_its_window():
    cluster = make("rs(10,4)", nodes=14)
    layout = cluster.put(KEY, DATA)
    for index in (1, 2):
        cluster.node(layout.nodes[index]).delete(fragment_key(KEY, index))
    offset = layout.chunk + 10  # inside chunk 1 only; chunk 2 is lost too and decoded with it
    with receipts.collect() as r:
        assert cluster.read_at(KEY, offset, 100) == DATA[offset : offset + 100]
    assert r.total(Kind.EC_DECODE) == 2 * 100 * 10  # j = 2 lost data chunks x the window x k = 10


def test_a_fragment_belonging_to_another_stripe_is_damaged():
    cluster = make("rs(4,2)")
    layout = cluster.put(KEY, DATA)
    node = cluster.node(layout.nodes[0])
    other = cluster.put("blobs/x", DATA)
    stray = cluster.node(other.nodes[0]).get(fragment_key("blobs/x", 0))
    node.put(fragment_key(KEY, 0), stray)
    with receipts.collect() as r:
        assert cluster.get(KEY) == DATA
    assert r.total(Kind.EC_DECODE) == 1 * layout.chunk * 4  # the stray fragment 0 decoded x chunk x k


def test_writes_while_nodes_are_down_go_to_live_nodes():
    cluster = make("rs(4,2)", nodes=7)
    healthy = place(KEY, cluster.node_names, 6)
    cluster.fail_node(healthy[2])
    layout = cluster.put(KEY, DATA)
    assert healthy[2] not in layout.nodes
    assert [i for i in range(6) if layout.nodes[i] != healthy[i]] == [2]
    cluster.fail_node(layout.nodes[0])
    with pytest.raises(StorageUnavailable, match=rf"only 5 of 7 nodes are usable \(unavailable: .*{healthy[2]}"):
        cluster.put("blobs/other", b"data")
    assert not cluster.exists("blobs/other")


def test_delete_while_a_node_is_down_finishes_when_it_returns():
    cluster = make("rs(4,2)")
    layout = cluster.put(KEY, DATA)
    cluster.fail_node(layout.nodes[3])
    cluster.delete(KEY)
    held = cluster.node(layout.nodes[3])
    assert held.exists(fragment_key(KEY, 3))
    cluster.restore_node(layout.nodes[3])
    assert not held.exists(fragment_key(KEY, 3))
    assert cluster.rescan() == 0


def test_rescan_rebuilds_the_index_from_fragment_headers():
    cluster = make("rs(4,2)")
    layouts = {key: cluster.put(key, DATA[: 1000 * i]) for i, key in enumerate(KEYS[:5])}
    fresh = StorageCluster([cluster.node(n) for n in cluster.node_names], parse_codec("replicate(2)"))
    assert fresh.rescan() == 5
    assert {k: fresh.layout(k) for k in fresh.keys()} == layouts
    assert fresh.get(KEYS[3]) == DATA[:3000], "read with the codec the stripe was written with"

    damage(cluster, KEYS[2], 1, at=8)  # in the header: rescan cannot vouch for this fragment
    cluster.fail_node(layouts[KEYS[2]].nodes[4])
    cluster.rescan()
    expected = tuple(None if i in (1, 4) else node for i, node in enumerate(layouts[KEYS[2]].nodes))
    assert cluster.layout(KEYS[2]).nodes == expected
    assert cluster.get(KEYS[2]) == DATA[:2000]


# -- repair --------------------------------------------------------------------------------------


def test_repair_onto_replaced_nodes_restores_full_redundancy():
    cluster = make("rs(4,2)", nodes=6)
    blobs = {key: DATA[: 997 * (i + 1)] for i, key in enumerate(KEYS[:6])}
    for key, blob in blobs.items():
        cluster.put(key, blob)
    for name in ("s1", "s4"):
        cluster.fail_node(name)
        cluster.replace_node(name, MemoryBackend(name))
    with receipts.collect() as r:
        report = repair(cluster)
    assert report.complete and report.blobs_checked == 6 and report.blobs_repaired == 6
    assert report.fragments_rebuilt == 12
    # each blob lost its two fragments on s1 and s4, both rebuilt: every lost data chunk decoded and
    # every lost parity re-encoded from k = 4 fragments, (j + p) = 2 x chunk x k
    assert r.total(Kind.EC_RECONSTRUCT) == sum(2 * cluster.layout(k).chunk * 4 for k in blobs)
    assert report.bytes_read == sum(t.amount for t in r.of(Kind.TRANSFER) if t.dst == "frontend")
    assert report.bytes_written == sum(t.amount for t in r.of(Kind.TRANSFER) if t.node == "frontend")
    rebuilt = sum(2 * cluster.layout(k).chunk for k in blobs)
    assert report.bytes_written == 12 * cluster.layout(KEYS[0]).header_size + rebuilt
    for name in ("s0", "s5"):  # m more failures are survivable again
        cluster.fail_node(name)
    assert all(cluster.get(key) == blob for key, blob in blobs.items())


def test_repair_moves_fragments_off_down_nodes_to_spares():
    cluster = make("rs(4,2)", nodes=8)
    layout = cluster.put(KEY, DATA)
    cluster.fail_node(layout.nodes[0])
    cluster.fail_node(layout.nodes[5])
    report = repair(cluster)
    repaired = cluster.layout(KEY)
    assert report.fragments_rebuilt == 2 and report.complete
    assert repaired.nodes[1:5] == layout.nodes[1:5]
    assert set(repaired.nodes).isdisjoint({layout.nodes[0], layout.nodes[5]})
    assert len(set(repaired.nodes)) == 6
    cluster.fail_node(repaired.nodes[1])
    cluster.fail_node(repaired.nodes[2])
    assert cluster.get(KEY) == DATA
    cluster.restore_node(layout.nodes[0])  # its old copy was superseded and is deleted on return
    assert not cluster.node(layout.nodes[0]).exists(fragment_key(KEY, 0))


def test_damage_found_by_a_read_is_repaired_in_place():
    cluster = make("rs(4,2)")
    layout = cluster.put(KEY, DATA)
    damage(cluster, KEY, 2)
    assert repair(cluster).fragments_rebuilt == 0, "damage no read has met goes unseen without scrub"
    assert cluster.get(KEY) == DATA  # reads around fragment 2 and reports it
    assert cluster.suspects(KEY) == {2}
    with receipts.collect() as r:
        report = repair(cluster)
    assert report.fragments_rebuilt == 1 and cluster.layout(KEY) == layout and not cluster.suspects(KEY)
    assert len([t for t in r.of(Kind.TRANSFER) if t.dst == "frontend"]) == 4, "recovery reads k fragments"
    with receipts.collect() as r:
        assert cluster.get(KEY) == DATA
    assert Kind.EC_DECODE not in r.by_kind()


def test_scrub_finds_damage_no_read_has_met():
    cluster = make("rs(4,2)")
    layout = cluster.put(KEY, DATA)
    damage(cluster, KEY, 5)  # parity: healthy reads never look at it
    assert cluster.get(KEY) == DATA and not cluster.suspects(KEY)
    with receipts.collect() as r:
        report = repair(cluster, scrub=True)
    assert report.fragments_rebuilt == 1 and cluster.layout(KEY) == layout
    assert len([t for t in r.of(Kind.TRANSFER) if t.dst == "frontend"]) == 6, "a scrub reads everything"
    fmt.parse(cluster.node(layout.nodes[5]).get(fragment_key(KEY, 5)))  # intact again
    cluster.fail_node(layout.nodes[0])
    cluster.fail_node(layout.nodes[1])
    assert cluster.get(KEY) == DATA


def test_repair_finds_missing_fragments_and_runs_on_a_worker():
    cluster = make("rs(4,2)")
    layout = cluster.put(KEY, DATA)
    cluster.node(layout.nodes[4]).delete(fragment_key(KEY, 4))
    with receipts.collect() as r:
        report = repair(cluster, worker="repairer")
    assert report.fragments_rebuilt == 1
    assert {i.node for i in r.of(Kind.EC_RECONSTRUCT)} == {"repairer"}
    assert len([t for t in r.of(Kind.TRANSFER) if t.dst == "repairer"]) == 4


def test_repair_lists_unrecoverable_and_short_blobs_without_raising():
    cluster = make("rs(4,2)", nodes=6)
    lost, short = KEYS[0], KEYS[1]
    cluster.put(lost, DATA)
    cluster.put(short, DATA)
    for index in (0, 1, 2):
        cluster.node(cluster.layout(lost).nodes[index]).delete(fragment_key(lost, index))
    cluster.fail_node("s3")  # down and not replaced: with 6 nodes there is no spare
    report = repair(cluster)
    assert report.unrecoverable == [lost] and "needs 4 of 6" in report.causes[lost]
    assert report.short == [short] and not report.complete
    assert "unrecoverable: " + lost in str(report)
    assert cluster.get(short) == DATA
