"""The real registry behind a simulated one: real pushes, pulls and auth checks, and their receipts.

The control plane always runs for real: every simulated request authenticates through the real
authorizer and every manifest GET reads the real manifest -- except a rollout's, where nothing
changes the registry: the first pulls' GETs read it and the rest reuse their receipts, one per
turn of the replicas, as layer reads do (:meth:`RegistryWork.manifest_pull`). The data plane
depends on the scenario's ``data_plane``:

- ``real``: layers of their full size exist; every simulated pull reads its layers from the
  registry for real and verifies them (small scenarios and tests).
- ``modelled``: each layer is stored as a *sample* of at most :data:`SAMPLE_BYTES` real bytes,
  listed in the manifest with its modelled size; a pull's receipt is the real receipt of reading
  the sample with byte amounts scaled to the modelled size (and per-operation counts scaled by
  the number of extents), which is exact because every byte-priced stage is linear in the bytes.
- ``sampled``: as ``modelled`` for pricing, and the layers of the first :data:`SAMPLED_NODES`
  pulls are also read for real and verified, so a large run still checks real bytes end to end.
"""

from __future__ import annotations

from regsim.errors import UserError
from collections import Counter
import math

import numpy as np

from regsim.registry import receipts
from regsim.registry.auth import AuthSpec, BearerToken, Scope, make_auth
from regsim.registry.descriptors import OCI_LAYER, OCI_MANIFEST, Descriptor
from regsim.registry.digest import Digest, verify
from regsim.registry.manifests import image_documents
from regsim.registry.receipts import Kind, Receipt, WorkItem

from .spec import ModelConfig, ModelError
from .store import build_registry

#: bytes a ``real`` data plane may read in total before a run is refused (the scenario checks it too)
REAL_LIMIT_BYTES = 4 << 30
SAMPLE_BYTES = 1 << 20
SAMPLED_NODES = 3


def check_bytes(data: bytes, digest: Digest | str) -> None:
    """The simulator's own check that real bytes read back are the bytes pushed: not the
    registry's work, so it is kept off every receipt (real and modelled planes price alike)."""
    with receipts.suspended():
        verify(data, digest)


class DataPlaneTooLarge(UserError, ValueError):
    """A `real` data plane would move more bytes than one machine should."""


class RegistryWork:
    def __init__(self, scenario: ModelConfig, seed: int) -> None:
        reg = scenario.registry
        self.scenario = scenario
        self.mode = scenario.data_plane
        self.repo, self.tag = scenario.image.repository, scenario.image.tag
        # an image read `from` disk has its sizes filled in when the scenario is validated
        self.sizes = [int(s) for s in scenario.image.layers or ()]
        if not self.sizes:
            raise ModelError("image: no layer sizes to simulate; give image.layers or image.from")
        self.extent = 64 << 20
        self.registry = build_registry(scenario, extent=self.extent)
        self._rng = np.random.default_rng(seed)
        #: (layer, turn) -> the receipt of a read of that layer; a replicated store that spreads its
        #: reads gives each copy its own template, taken in turn as the store takes its copies
        self._pull_templates: dict[tuple[int, int], Receipt] = {}
        codec = self.registry.codec
        self._turns_per_layer = codec.n if codec.k == 1 and reg.storage.replica_reads == "spread" else 1
        self._pull_turns: Counter[int] = Counter()
        #: (id of a template, frontend) -> the template's items on that frontend (templates live
        #: as long as this object, so their ids stay theirs)
        self._placed: dict[tuple[int, str], list[WorkItem]] = {}
        #: manifest GETs of rollout pulls so far, and a real GET's receipt per turn of the replicas
        self._manifest_gets = 0
        self._manifest_templates: dict[int, Receipt] = {}
        self.push_receipt = Receipt()
        self.layers: list[Digest] = []
        self.sample_sizes: list[int] = []
        self._push()
        self._auth = RequestAuth(scenario, self._rng) if reg.auth.mode != "none" else None

    # -- set-up ------------------------------------------------------------------------------

    def _push(self) -> None:
        real = self.mode in ("real", "sampled")
        with receipts.collect() as r:
            for size in self.sizes:
                n = size if real else min(size, SAMPLE_BYTES)
                data = self._rng.integers(0, 256, n, dtype=np.uint8).tobytes()
                self.layers.append(self.registry.put_blob(self.repo, data))
                self.sample_sizes.append(n)
            # the manifest lists each layer at its modelled size, whatever the sample stored
            image = image_documents([Descriptor(OCI_LAYER, d, s) for d, s in zip(self.layers, self.sizes)])
            self.registry.put_blob(self.repo, image.config)
            self.registry.put_manifest(self.repo, self.tag, image.manifest, OCI_MANIFEST)
        self.push_receipt = r

    def check_real_budget(self, pulls: int) -> None:
        if self.mode == "real" and pulls * sum(self.sizes) > REAL_LIMIT_BYTES:
            raise DataPlaneTooLarge(
                f"data_plane: real would read {pulls * sum(self.sizes) / 1e9:.1f} GB of real bytes "
                f"({pulls} pulls of {sum(self.sizes) / 1e6:.0f} MB); use 'modelled' or 'sampled' for runs this large")

    # -- per-request work --------------------------------------------------------------------

    def login(self, node: str) -> tuple[object | None, Receipt]:
        """A node's credentials for the run (a JWT, or a database session token) and the cost of getting them."""
        if self._auth is None:
            return None, Receipt()
        with receipts.collect() as r:
            creds = self._auth.login(node, self.repo)
        return creds, r

    def authorize(self, creds: object | None) -> Receipt:
        if self._auth is None:
            return Receipt()
        with receipts.collect() as r:
            self._auth.authorize(creds, self.repo)
        return r

    def manifest_get(self) -> Receipt:
        with receipts.collect() as r:
            self.registry.get_manifest(self.repo, self.tag)
        return r

    def manifest_pull(self) -> Receipt:
        """The receipt of a rollout pull's manifest GET: real for the first pulls, then a template.

        Nothing changes the registry during a rollout, so a GET does the same work as the GET
        one turn of the replicas before it (a replicated store that spreads its reads takes its
        copies in turn, as for layers, see :meth:`_template`). The first :data:`SAMPLED_NODES`
        GETs (and at least one per turn) run on the real registry and give the templates; the rest
        reuse them, which the registry would have answered alike -- a 10,000-node rollout is spared
        10,000 real manifest reads. A ``real`` data plane reads every one. Only for models that
        nothing else reads the manifest in: a template's turn is the registry's only so.
        """
        n = self._manifest_gets
        self._manifest_gets += 1
        turn = n % self._turns_per_layer
        if self.mode == "real" or n < max(SAMPLED_NODES, self._turns_per_layer):
            receipt = self.manifest_get()
            self._manifest_templates.setdefault(turn, receipt)
            return receipt
        return self._manifest_templates[turn]

    def layer_get(self, index: int, *, verify_bytes: bool = False) -> Receipt:
        """The receipt of serving layer ``index`` once (real read when bytes are real and asked for)."""
        if self.mode == "real" or (verify_bytes and self.mode == "sampled"):
            with receipts.collect() as r:
                data = self.registry.get_blob(self.repo, self.layers[index])
                check_bytes(data, self.layers[index])
            return merged(r) if self.mode == "real" else self._template(index)
        return self._template(index)

    def layer_items(self, index: int, frontend: str, *, verify_bytes: bool = False) -> list[WorkItem]:
        """:meth:`layer_get` placed on ``frontend`` (:func:`on_frontend`): the items a model replays.

        A template's items on a frontend are the same every time, so they are placed once and the
        list is shared (models only read it); a real read is placed afresh.
        """
        receipt = self.layer_get(index, verify_bytes=verify_bytes)
        if not any(receipt is t for t in self._pull_templates.values()):
            return on_frontend(receipt, frontend)
        key = (id(receipt), frontend)
        placed = self._placed.get(key)
        if placed is None:
            placed = self._placed[key] = on_frontend(receipt, frontend)
        return placed

    def range_items(self, index: int, nbytes: int, frontend: str) -> list[WorkItem]:
        """The registry's work for a ranged read of ``nbytes`` of layer ``index`` (a P2P agent's
        back-to-source piece, a lazy client's Range GET), placed on ``frontend``.

        The layer's read receipt scaled to the range: every byte-priced stage is linear in the bytes
        read, and per-extent operations scale with the extents the range touches.
        """
        whole = self.layer_get(index)
        return on_frontend(merged(scale(whole, nbytes, self.sizes[index], self.extent)), frontend)

    def _template(self, index: int) -> Receipt:
        turn = self._pull_turns[index] % self._turns_per_layer
        self._pull_turns[index] += 1
        key = (index, turn)
        if key not in self._pull_templates:
            with receipts.collect() as r:
                self.registry.get_blob(self.repo, self.layers[index])
            self._pull_templates[key] = merged(scale(r, self.sizes[index], self.sample_sizes[index], self.extent))
        return self._pull_templates[key]


def scale(receipt: Receipt, size: int, sample: int, extent: int) -> Receipt:
    """A receipt of reading ``sample`` bytes, scaled to ``size`` bytes stored in ``extent``-byte extents."""
    if size == sample:
        return receipt
    by_bytes = size / max(sample, 1)
    by_extents = max(1, math.ceil(size / extent)) / max(1, math.ceil(sample / extent))
    items = []
    for item in receipt:
        factor = by_bytes if item.kind in Kind.BYTE_KINDS else by_extents
        items.append(item._replace(amount=int(round(item.amount * factor)), cpu_s=item.cpu_s * factor,
                                   wall_s=item.wall_s * factor))
    return Receipt(items)


def merged(receipt: Receipt) -> Receipt:
    """One item per (kind, node, destination): the same work, in far fewer simulated steps.

    A layer read is dozens of per-extent items (each fragment's disk read and transfer, each
    extent's decryption); a streaming server overlaps them, so the model prices their sums.
    """
    totals: dict[tuple, WorkItem] = {}
    for item in receipt:
        key = (item.kind, item.node, item.dst)
        prev = totals.get(key)
        totals[key] = item if prev is None else prev._replace(
            amount=prev.amount + item.amount, cpu_s=prev.cpu_s + item.cpu_s, wall_s=prev.wall_s + item.wall_s)
    return Receipt(list(totals.values()))


def on_frontend(receipt: Receipt, frontend: str) -> list[WorkItem]:
    """The receipt's items with the registry's frontend placeholder replaced by a real host."""
    out = []
    for item in receipt:
        if item.node in (None, "frontend") or item.dst == "frontend":
            item = item._replace(node=frontend if item.node in (None, "frontend") else item.node,
                                 dst=frontend if item.dst == "frontend" else item.dst)
        out.append(item)
    return out


class RequestAuth:
    """The real auth path of the scenario: a token service and JWT check, or database sessions."""

    def __init__(self, scenario: ModelConfig, rng: np.random.Generator) -> None:
        auth = scenario.registry.auth
        self.mode = auth.mode
        self.scope = [Scope.repository(scenario.image.repository, "pull")]
        stack = make_auth(AuthSpec(mode=self.mode, algorithm=auth.algorithm, token_ttl=auth.token_ttl,
                                   cache_size=auth.cache, grants={"*": {scenario.image.repository: "pull"}},
                                   hash_cost="fastest"))
        self.service, self.authorizer = stack.tokens, stack.authorizer  # jwt
        self.db, self.store = stack.database, stack.sessions  # db
        self._users: set[str] = set()

    def login(self, node: str, repo: str) -> BearerToken:
        if self.mode == "jwt":
            return BearerToken(self.service.issue(node, self.scope).token)
        if node not in self._users:
            with receipts.suspended():  # provisioning the user is set-up, not the pull's work
                self.db.add_user(node, f"pw-{node}")
                self.db.grant(node, repo, "pull")
            self._users.add(node)
        return BearerToken(self.store.issue(node, ttl=1e9).token)

    def authorize(self, creds: object, repo: str) -> None:
        self.authorizer.authorize(creds, self.scope)
