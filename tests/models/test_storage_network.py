"""The storage cluster's own traffic on the NICs, against closed forms (core/world.py).

A push sends its ``n`` fragments (``B / k`` bytes each) from the frontend to their storage nodes
and a pull reads ``k`` of them back, every one over the frontend's NIC and the storage node's,
beside the client's own transfer. Each test saturates the NICs with a closed loop of clients that
never think, and compares the bytes pushed or pulled per second of the time it took to serve them
(``push_goodput_Bps``, ``pull_goodput_Bps``) with the closed form (a little under it: the drain
at the end and a push's wait for its slowest fragment leave the links idle a few percent of the
time: every test allows 5 %). The disks, the cores, the clients' NICs and the site's
egress are made too fast to bind.

With ``registry.storage.colocated`` the ``N`` storage nodes are the frontends (each NIC ``C`` each
way). Per node, with the load spread evenly and fragments placed uniformly over the nodes (a
fragment lands on the frontend's own node, moving no bytes, with probability ``1 / N`` per
fragment -- exactly one of the ``n`` when ``N = n``):

- push at ``S`` bytes/s per node: in = ``S`` (uploads) + ``S (n/k)(1 - 1/N)`` (fragments from the
  other frontends), out = ``S (n/k)(1 - 1/N)``; in binds, so the aggregate is
  ``N C / (1 + (n/k)(1 - 1/N))`` -- ``N C / (1 + (n-1)/k)`` when ``N = n``, and one NIC's worth,
  ``C``, for ``replicate(N)`` (every byte lands on all ``N`` nodes);
- pull: out = ``S`` (responses) + ``S (1 - 1/N)`` (fragments to the other frontends), in =
  ``S (1 - 1/N)``; out binds: ``N C / (2 - 1/N)``.

With separate frontends (the default) the push's fragments leave through the frontend's NIC:
``n/k`` bytes out per byte uploaded, so one frontend with a NIC of ``F`` pushes at most
``F k / n``; and ``N = n`` storage nodes each take ``1/k`` of every pushed byte: ``N C k / n``.
"""

from __future__ import annotations

import pytest

from regsim.models.requests.config import RequestsConfig
from regsim.models.requests.report import request_result
from regsim.models.requests.run import RequestRun
from regsim.scenario import ScenarioError

from .helpers import build

GBIT = 125_000_000  # bytes/s
C = 10 * GBIT       # every storage NIC, each way


def doc(codec: str, nodes: int, kind: str, *, colocated: bool = True, clients: int = 12, layers: int = 1,
        size: str = "4MB", window: str = "0.3s", egress: str = "1000Gbps") -> dict:
    return {
        "name": "nic", "duration": "1h", "seed": 1,
        "cluster": {"nodes": 6, "node": {"nic": "1000Gbps", "cores": 64}},
        "registry": {"frontends": nodes if colocated else 1, "egress": egress, "cores": 64,
                     "storage": {"codec": codec, "nodes": nodes, "disk": "1000GB/s", "nic": "10Gbps",
                                 "colocated": colocated}},
        "image": {"layers": [size] * layers},
        "workload": {"kind": "closed", "clients": clients, "think_time": "0s", "duration": window,
                     "mix": {kind: "100%"}},
        "data_plane": "modelled",
    # the closed forms these tests check are max-min's; the TCP-like default has its own tests
    "network": {"model": "maxmin"},
    }


def throughput(d: dict, kind: str) -> float:
    """Bytes/s the clients pushed or pulled, over the time it took."""
    sc = build(d, {})
    run = RequestRun.build(RequestsConfig.from_sections(sc), 1)
    run.run()
    assert all(r.error is None for r in run.requests)
    kpis = request_result(run.record()).kpis
    return float(kpis[f"{kind}_goodput_Bps"])


def colocated_push(k: int, n: int, nodes: int) -> float:
    return nodes * C / (1 + (n / k) * (1 - 1 / nodes))


def colocated_pull(nodes: int) -> float:
    return nodes * C / (2 - 1 / nodes)


def test_colocated_push_of_rs_4_2_on_six_nodes_sends_n_minus_1_fragments_over_the_nics():
    # 6 C / (1 + 5/4) = 26.7 Gbit/s: each NIC takes its uploads and 5/4 of them again in fragments
    got = throughput(doc("rs(4,2)", 6, "push", clients=48), "push")
    assert got == pytest.approx(colocated_push(4, 6, 6), rel=0.05)
    assert colocated_push(4, 6, 6) == pytest.approx(6 * C / (1 + 5 / 4))


def test_colocated_push_of_full_replication_is_one_nic():
    got = throughput(doc("replicate(4)", 4, "push", clients=32, size="2MB", window="0.4s"), "push")
    assert got == pytest.approx(C, rel=0.05)
    assert colocated_push(1, 4, 4) == pytest.approx(C)


def test_colocated_pull_of_replicas_ships_all_but_one_nth_between_nodes():
    # 4 C / (2 - 1/4) = 22.9 Gbit/s: a node's NIC out carries its responses and 3/4 as much for the others
    got = throughput(doc("replicate(4)", 4, "pull", layers=4, window="0.5s"), "pull")
    assert got == pytest.approx(colocated_pull(4), rel=0.05)


def test_colocated_pull_of_rs_4_2_reads_k_fragments_over_the_nics():
    # many layers so that which nodes hold the data fragments evens out over the nodes
    got = throughput(doc("rs(4,2)", 6, "pull", clients=24, layers=60, window="0.4s"), "pull")
    assert got == pytest.approx(colocated_pull(6), rel=0.05)


def test_separate_frontend_nic_carries_the_n_over_k_fragments_of_a_push():
    # one frontend with a 20 Gbit/s NIC: its NIC out carries 6/4 of every pushed byte, 13.3 Gbit/s
    got = throughput(doc("rs(4,2)", 6, "push", colocated=False, clients=48, egress="20Gbps", window="0.5s"), "push")
    assert got == pytest.approx(20 * GBIT * 4 / 6, rel=0.05)


def test_separate_storage_nics_take_one_kth_of_every_pushed_byte():
    # six storage nodes (one fragment each) and a fast frontend: 6 C 4 / 6 = 40 Gbit/s
    got = throughput(doc("rs(4,2)", 6, "push", colocated=False, clients=48, window="0.5s"), "push")
    assert got == pytest.approx(6 * C * 4 / 6, rel=0.05)


def test_colocated_needs_one_frontend_per_storage_node():
    with pytest.raises(ScenarioError, match="frontends must equal storage.nodes"):
        build(doc("rs(4,2)", 6, "push") | {"registry": {"frontends": 2, "storage": {"codec": "rs(4,2)",
                                                                                     "nodes": 6,
                                                                                     "colocated": True}}}, {})


def test_colocated_world_has_one_host_per_node():
    from regsim.models.core.world import build_world

    sc = build(doc("rs(4,2)", 6, "push"), {})
    world = build_world(sc, 1)
    assert world.frontends == world.storage == [f"s{i}" for i in range(6)]
    assert set(world.cpus) == set(world.storage)
    host = world.topology.host("s0")
    assert (host.nic_up, host.nic_down, host.cores) == (C, C, 64)
    # a fragment the frontend keeps moves nothing; one for another node crosses both NICs only
    assert world.topology.path("s0", "s0") == ()
    assert world.topology.path("s0", "s1") == (host.up, world.topology.host("s1").down)
