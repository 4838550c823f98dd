"""The simulated platform of one variant, built from its scenario.

Cluster nodes sit in racks behind top-of-rack switches; the registry site is one more rack
holding the frontends, the storage nodes (named ``s0``..., as the registry names them in its
receipts) and the database. The frontends sit behind a load balancer and share the site's egress:
their traffic to and from every host but the storage nodes and the database crosses one gateway
link each way at ``registry.egress``
(:meth:`~regsim.sim.topology.Topology.add_gateway`), and each frontend's NIC runs at the same rate
(the scenario states no NIC rate of its own for a frontend), so a lone client can draw the whole
egress from any frontend and N busy clients share it -- rather than each frontend holding a fixed
``egress / frontends``. Storage-to-frontend traffic stays inside the rack (storage NIC, then the
frontend's downlink) and never crosses the gateway, so it does not count against the clients'
egress; responses, uploads, cache fills and P2P origins' preheats do (origins sit in the
registry rack, yet fetch through the egress). The rack's uplink is sized for the egress plus the
storage nodes' NICs, as before, so that what else the rack sends (P2P origins' uploads) is not
squeezed into the egress. Every host gets CPU cores priced by
the run's cost profile (transformed by the TEE model when the registry runs in one), storage
nodes get disks, and one :class:`ReceiptExecutor` turns the real registry's receipts into time.

Every fragment a push writes and every fragment a pull reads crosses the network: a transfer from
the frontend to the storage node (push) or back (pull), over the frontend's NIC and the storage
node's, so the storage cluster's own traffic shares those NICs with the clients' (a frontend's
NIC carries a pull's response out while the fragments come in, and a push's upload in while its
``n`` fragments go out). With ``registry.storage.colocated`` the frontends *are* the storage nodes
(``s0``... serve clients too, MinIO's layout): each machine has one NIC each way
(``storage.nic``), the registry's cores and the storage disk; a fragment that stays on the
frontend's own node moves no bytes on the network, every other one crosses two NICs. The
frontends still share the site's egress (``registry.egress``), which a co-located scenario sets to
at least the sum of its nodes' NICs when clients reach every node directly.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

import simpy

from regsim.registry.receipts import Kind, WorkItem
from regsim.sim.cpu import HostCPU
from regsim.sim.database import DatabaseServer
from regsim.sim.disk import Disk
from regsim.sim.nfs import NfsParams, NfsServer
from regsim.sim.object_store import ObjectStore, ObjectStoreParams
from regsim.sim.receipt_executor import ReceiptExecutor
from regsim.sim.network import Network
from regsim.sim.profile import CostProfile, load_profile
from regsim.sim.rng import RunRandom
from regsim.sim.tee import TeeModel
from regsim.sim.topology import Topology
from regsim.spec.infra import Storage
from regsim.spec.storage_tier import ObjectStoreSpec

from .network import flow_model
from .spec import ModelConfig

REGISTRY_RACK = "registry"
#: the gateway (load balancer) the frontends share the site's egress through
EGRESS = "registry-egress"
DATABASE = "db"


class CountingEnvironment(simpy.Environment):
    """A SimPy environment that counts the events it processes (for events/s in run metadata)."""

    def __init__(self, initial_time: float = 0) -> None:
        super().__init__(initial_time)
        self.events = 0

    def step(self) -> None:
        self.events += 1
        super().step()

    def run(self, until: float | simpy.Event | None = None) -> object:
        """:meth:`simpy.Environment.run`; run to the end (``until=None``, as the rollouts do) with
        :meth:`step`'s work inlined, in the same order: a 10,000-client rollout processes about
        500,000 events, and two calls per event (the counting step, then simpy's) cost 0.15-0.3 s
        of its ~5.5 s of CPU. ``events`` is brought up to date when the run returns or raises."""
        if until is not None:
            return super().run(until)
        queue, done = self._queue, 0
        try:
            while queue:
                self._now, _, _, event = heapq.heappop(queue)
                done += 1
                callbacks, event.callbacks = event.callbacks, None
                for callback in callbacks:
                    callback(event)
                if not event._ok and not hasattr(event, "_defused"):
                    # a failed event nobody defused crashes the run, as in simpy's step
                    exc = type(event._value)(*event._value.args)
                    exc.__cause__ = event._value
                    raise exc
        except simpy.core.StopSimulation as stop:
            # a callback stopped the run (simpy.core.StopSimulation): as simpy does, the event's
            # remaining callbacks run when the run resumes
            event.callbacks = callbacks[callbacks.index(callback) + 1:]
            self.schedule(event, simpy.events.EventPriority(-1))
            return stop.args[0]
        finally:
            self.events += done
        return None


@dataclass
class World:
    env: CountingEnvironment
    rr: RunRandom
    topology: Topology
    net: Network
    profile: CostProfile
    executor: ReceiptExecutor
    nodes: list[str]
    frontends: list[str]
    storage: list[str]
    cpus: dict[str, HostCPU] = field(default_factory=dict)
    #: what serves each storage node's I/O: a Disk, or an ObjectStore / NfsServer for those tiers
    disks: dict[str, Disk | ObjectStore] = field(default_factory=dict)
    database: DatabaseServer | None = None
    tee: TeeModel | None = None
    node_rack: dict[str, int] = field(default_factory=dict)
    #: hosts whose every transfer belongs to one traffic class (the storage repair's worker)
    host_classes: dict[str, str] = field(default_factory=dict)

    @property
    def egress_link(self) -> int:
        """The link id of the registry site's egress: the frontends' shared gateway, outbound. Its
        utilisation is the registry's egress utilisation (each frontend's NIC runs at the full
        egress, so a mean over the NICs reads ``1 / frontends`` of it when one frontend sends)."""
        return self.topology.gateway(EGRESS)[0]


def build_world(scenario: ModelConfig, seed: int) -> World:
    cluster, reg = scenario.cluster, scenario.registry
    env = CountingEnvironment()
    topo = Topology(hop_latency=cluster.latency.host)
    nodes: list[str] = []
    node_rack: dict[str, int] = {}
    width = len(str(cluster.nodes - 1))
    rr = RunRandom(seed)
    node = cluster.node
    # each node's share of its nominal NIC and disk rates (all ones unless cluster.node.variation
    # says otherwise), drawn from its own stream so no other draw of the run moves
    speed = node.variation.factors(rr.stream("cluster/hosts"), cluster.nodes).tolist()
    for r, size in enumerate(cluster.rack_sizes()):
        rack = f"rack{r}"
        topo.add_rack(rack, uplink=cluster.rack_uplink.capacity(size, node.nic.up),
                      latency=cluster.latency.core)
        for _ in range(size):
            f = speed[len(nodes)]
            name = f"node{len(nodes):0{width}d}"
            topo.add_host(name, rack=rack, nic_up=node.nic.up * f, nic_down=node.nic.down * f,
                          cores=node.cores, disk_read=node.disk.read * f, disk_write=node.disk.write * f)
            nodes.append(name)
            node_rack[name] = r

    storage_spec = reg.storage
    store_nic = _store_nic(storage_spec)
    # the rack's uplink carries the frontends' egress and what else the rack sends (P2P origins
    # that models add later, storage nodes); the frontends' share of it is bounded by their gateway
    site_uplink = reg.egress + storage_spec.nodes * store_nic[0]
    topo.add_rack(REGISTRY_RACK, uplink=site_uplink, latency=cluster.latency.core + reg.latency)
    storage = [f"s{i}" for i in range(storage_spec.nodes)]
    if storage_spec.colocated:
        # every storage node is a frontend too: one machine, one NIC each way, the registry's cores
        frontends = list(storage)
        for name in storage:
            topo.add_host(name, rack=REGISTRY_RACK, nic_up=storage_spec.nic.up, nic_down=storage_spec.nic.down,
                          cores=reg.cores, disk_read=storage_spec.disk.read, disk_write=storage_spec.disk.write)
    else:
        frontends = [f"fe{i}" for i in range(reg.frontends)]
        for name in frontends:
            topo.add_host(name, rack=REGISTRY_RACK, nic=reg.egress, cores=reg.cores)
        for name in storage:
            topo.add_host(name, rack=REGISTRY_RACK, nic_up=store_nic[0], nic_down=store_nic[1],
                          disk_read=storage_spec.disk.read, disk_write=storage_spec.disk.write)
    topo.add_host(DATABASE, rack=REGISTRY_RACK, nic=storage_spec.nic.up)
    # one shared link each way between the frontends and every host but their back-ends: the site's
    # egress (clients, caches, P2P origins and scanners all fetch through it)
    topo.add_gateway(EGRESS, frontends, capacity=reg.egress, backends=storage + [DATABASE])

    profile = load_profile(scenario.profile)
    net = Network(env, topo, model=flow_model(scenario.network), coalesce_s=scenario.network.coalesce,
                  classes=scenario.network.classes)
    hosts = list(dict.fromkeys(frontends + storage))  # a co-located node once
    cpus = {name: HostCPU(env, topo.host(name).cores, profile, name=name) for name in hosts}
    disks = {name: _storage_device(env, storage_spec, topo, name, rr, profile) for name in storage}
    database = None
    if reg.auth.mode == "db":
        database = DatabaseServer(env, pool_size=reg.auth.db.pool, query_s=_query_s(profile),
                                  network_latency_s=reg.auth.db.latency)
    tee = None
    if reg.tee.enabled:
        tee = TeeModel.for_kind(reg.tee.kind, **reg.tee.overrides.model_kwargs())
    executor = ReceiptExecutor(env, cpus=cpus, disks=disks, network=net, profile=profile, database=database,
                               tee=tee, default_node=frontends[0], parallel_transfers=True,
                               tee_nodes=hosts if tee else None,
                               working_set_bytes=reg.tee.working_set if tee else 0)
    world = World(env, rr, topo, net, profile, executor, nodes, frontends, storage, cpus, disks,
                 database, tee, node_rack)
    net.classify = traffic_class(world.host_classes)
    return world


def _store_nic(storage: Storage) -> tuple[float, float]:
    """(up, down) of each storage host: its NIC, or the object store's bandwidth, or the file server's NIC."""
    tier = storage.tier
    if tier.kind == "object":
        return tier.object.bandwidth, tier.object.bandwidth
    if tier.kind == "nfs":
        return tier.nfs.nic, tier.nfs.nic
    return storage.nic.up, storage.nic.down


def _storage_device(env: simpy.Environment, storage: Storage, topo: Topology, name: str,
                    rr: RunRandom, profile: CostProfile) -> Disk | ObjectStore:
    """What serves a storage node's reads and writes: its disk, an object store or a file server."""
    tier = storage.tier
    if tier.kind == "object":
        params = object_store_params(tier.object, client_cost=s3_client_cost(profile))
        return ObjectStore(env, params, rr.stream(f"storage/object/{name}"), name=name)
    if tier.kind == "nfs":
        n = tier.nfs
        return NfsServer(env, NfsParams(rtt_s=n.rtt, metadata_round_trips=n.metadata_round_trips, rsize=n.rsize,
                                        in_flight=n.in_flight), n.disk, name=name)
    return Disk(env, topo.host(name).disk_read, topo.host(name).disk_write, name=name)


def s3_client_cost(profile: CostProfile) -> Callable[[int, bool], float] | None:
    """The S3 client's CPU seconds per request of ``nbytes`` from the profile's calibrated
    ``s3_put_request`` / ``s3_get_request`` prices (None when the profile has neither)."""
    if Kind.S3_GET_REQUEST not in profile.prices and Kind.S3_PUT_REQUEST not in profile.prices:
        return None

    def cost(nbytes: int, write: bool) -> float:
        kind = Kind.S3_PUT_REQUEST if write else Kind.S3_GET_REQUEST
        return profile.cost(WorkItem(kind, nbytes, None)) if kind in profile.prices else 0.0

    return cost


def object_store_params(spec: ObjectStoreSpec, *,
                        client_cost: Callable[[int, bool], float] | None = None) -> ObjectStoreParams:
    """The engine's parameters from the scenario's ``tier.object`` section."""
    return ObjectStoreParams(client_cost=client_cost,
        first_byte_median_s=spec.first_byte.median, first_byte_p90_s=spec.first_byte.p90,
        connection_rate=spec.connection_rate, get_rate=spec.get_rate, put_rate=spec.put_rate,
        partitions=spec.partitions, repartition_after_s=spec.repartition_after, burst_s=spec.burst,
        part_size=spec.part_size, attempts=spec.retry.attempts, backoff_base_s=spec.retry.base,
        backoff_cap_s=spec.retry.cap)


#: the traffic class of a transfer by its tag (the models tag client responses and uploads)
TAG_CLASSES = {"egress": "pull", "ingress": "push", "scan": "scan"}


def traffic_class(host_classes: dict[str, str]):
    """``classify(src, dst, tag)`` for the network: a host's own class first, then the tag's."""

    def classify(src: str, dst: str, tag: object) -> str | None:
        return host_classes.get(src) or host_classes.get(dst) or TAG_CLASSES.get(tag)  # type: ignore[arg-type]

    return classify


def _query_s(profile: CostProfile) -> float:
    """Service time of one indexed look-up on the database server (the profile's, else 100 us)."""
    price = profile.prices.get("db_query")
    return price.per_op_s if price is not None and price.per_op_s else 100e-6
