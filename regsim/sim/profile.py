"""Cost profiles: what one unit of each kind of registry work costs in CPU-seconds.

A receipt says *what* the registry did ("sha256 of 4 MiB", "jwt_verify x1"); a cost profile says
what that is worth on a given machine, so that a simulation is deterministic for a seed and a
profile and can stand in for machines we do not have. Prices are measured by
:func:`regsim.sim.calibrate.calibrate` and stored as JSON (see ``profiles/reference.json``).

Two shapes of price, following the unit of the kind (:data:`Kind.BYTE_KINDS`):

- byte kinds: a throughput on one core (bytes/s) plus a fixed per-call overhead (s), so hashing
  ``n`` bytes in one call costs ``overhead_s + n / throughput``;
- op kinds: seconds per operation.

Each price carries its measured spread (relative standard deviation over calibration repeats).

Some kinds cost very different amounts depending on a detail the receipt item carries: a JWT
signature or verification costs 30 us with HS256 and 280 us with RS256. For those kinds
(:data:`QUALIFIED`) a profile may hold a price per detail under a qualified key
(``jwt_sign_es256``, ``jwt_verify_hs256``: :func:`qualified_kind`); an item whose detail has such a
price is priced by it, any other item (no detail, e.g. a token refused before its key was found) by
the plain kind's price. Adjustments of the plain kind apply to its qualified prices too, unless a
qualified key has an adjustment of its own.

The ``http_*`` kinds price the HTTP handling of one request of an endpoint class on the server
that answers it (see :class:`~regsim.registry.receipts.Kind`); the registry library never records
them, request models add them. The ``s3_*_request`` kinds price the client side of one request of
the S3 storage backend (PUT and GET per request and per byte; HEAD, LIST and DELETE per request),
measured by the calibration's ``s3`` workload (:mod:`regsim.sim.calibration_s3`); the registry
library does not record them either. ``gzip_inflate`` and ``zstd_decompress`` (per uncompressed
byte), ``tar_unpack`` (per byte of file data written) and ``file_create`` (per filesystem entry)
price what a node spends unpacking a layer or inflating the part of it a lazy read needs,
measured by the calibration's ``unpack`` workload (:mod:`regsim.sim.calibration_unpack`).

Only CPU work is priced here. ``disk_read``, ``disk_write``, ``transfer`` and ``db_query`` are
priced by the disk, network and database models (:data:`NON_CPU_KINDS`); asking a profile for
them is an error, so no receipt item is ever priced twice.

``mode="profile"`` prices from the table; ``mode="live"`` uses each item's ``cpu_s``, measured on
the real call. Either way an optional per-kind :class:`Adjustment` (a scale and a per-unit extra)
is applied after pricing: that is how a TEE or a "2x faster CPU" what-if transforms a profile
without touching the measured table.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from regsim.errors import UserError
from regsim.registry.auth.keys import ALGORITHMS as JWT_ALGORITHMS
from regsim.registry.receipts import Kind, WorkItem

SCHEMA = "regsim.cost-profile"
SCHEMA_VERSION = 1
MODES = ("profile", "live")

#: every receipt kind the registry can emit.
ALL_KINDS = frozenset(v for k, v in vars(Kind).items() if k.isupper() and isinstance(v, str))
#: kinds priced by the disk, network and database models, never by a cost profile.
NON_CPU_KINDS = frozenset({Kind.DISK_READ, Kind.DISK_WRITE, Kind.TRANSFER, Kind.DB_QUERY})
#: kinds priced per value of the item's ``detail``: the JWT work, per signing algorithm.
QUALIFIED: Mapping[str, tuple[str, ...]] = {Kind.JWT_SIGN: JWT_ALGORITHMS, Kind.JWT_VERIFY: JWT_ALGORITHMS}


def qualified_kind(kind: str, detail: str) -> str:
    """The price key of ``kind`` for items whose detail is ``detail``: ``jwt_sign`` + ``ES256`` ->
    ``jwt_sign_es256``."""
    return f"{kind}_{detail.lower()}"


#: qualified price key -> (plain kind, detail)
QUALIFIED_KINDS: Mapping[str, tuple[str, str]] = {
    qualified_kind(kind, d): (kind, d) for kind, details in QUALIFIED.items() for d in details}
#: the HTTP handling of one request per endpoint class, priced on the server answering it.
HTTP_KINDS = frozenset(k for k in ALL_KINDS if k.startswith("http_"))
#: kinds a cost profile prices: CPU work done by the node that recorded the item (with the
#: qualified keys, which price items of a plain kind by their detail).
CPU_KINDS = (ALL_KINDS - NON_CPU_KINDS) | frozenset(QUALIFIED_KINDS)


class ProfileError(UserError, ValueError):
    """A cost profile is malformed, or was asked for a price it cannot give."""


def check_cpu_kind(kind: str) -> str:
    """Return ``kind`` if a cost profile prices it; otherwise say who does."""
    if kind in CPU_KINDS:
        return kind
    if kind in NON_CPU_KINDS:
        raise ProfileError(f"{kind!r} is not CPU work: the disk, network or database model prices it")
    raise ProfileError(f"unknown receipt kind {kind!r}; known CPU kinds: {', '.join(sorted(CPU_KINDS))}")


def base_kind(kind: str) -> str:
    """The plain kind of a price key (itself unless it is qualified)."""
    return QUALIFIED_KINDS[kind][0] if kind in QUALIFIED_KINDS else kind


def _number(value: object, what: str, *, positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ProfileError(f"{what} must be a finite number, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise ProfileError(f"{what} must be {'positive' if positive else 'non-negative'}, got {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class Price:
    """The price of one kind: throughput + overhead for byte kinds, seconds per op otherwise."""

    throughput: float | None = None
    overhead_s: float = 0.0
    per_op_s: float | None = None
    rel_std: float = 0.0
    samples: int = 0

    @property
    def is_bytes(self) -> bool:
        return self.throughput is not None

    def linear(self) -> tuple[float, float]:
        """(fixed seconds per call, seconds per unit of amount)."""
        if self.throughput is not None:
            return self.overhead_s, 1.0 / self.throughput
        return 0.0, float(self.per_op_s or 0.0)

    def to_dict(self) -> dict[str, Any]:
        head = ({"throughput_Bps": self.throughput, "overhead_s": self.overhead_s} if self.is_bytes
                else {"per_op_s": self.per_op_s})
        return {**head, "rel_std": self.rel_std, "samples": self.samples}

    @classmethod
    def from_dict(cls, kind: str, data: object) -> Price:
        """Validate one entry of a profile file's ``prices`` table for ``kind``."""
        where = f"price of {kind!r}"
        if not isinstance(data, Mapping):
            raise ProfileError(f"{where} must be an object, got {type(data).__name__}")
        byte_kind = base_kind(kind) in Kind.BYTE_KINDS
        allowed = {"rel_std", "samples"} | ({"throughput_Bps", "overhead_s"} if byte_kind else {"per_op_s"})
        unknown = set(data) - allowed
        if unknown:
            raise ProfileError(f"{where} has unexpected fields {sorted(unknown)}; "
                               f"a {'byte' if byte_kind else 'per-operation'} kind takes {sorted(allowed)}")
        rel_std = _number(data.get("rel_std", 0.0), f"{where}: rel_std", positive=False)
        samples = data.get("samples", 0)
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 0:
            raise ProfileError(f"{where}: samples must be a non-negative integer, got {samples!r}")
        if byte_kind:
            if "throughput_Bps" not in data:
                raise ProfileError(f"{where} needs throughput_Bps (bytes per second on one core)")
            return cls(throughput=_number(data["throughput_Bps"], f"{where}: throughput_Bps", positive=True),
                       overhead_s=_number(data.get("overhead_s", 0.0), f"{where}: overhead_s", positive=False),
                       rel_std=rel_std, samples=samples)
        if "per_op_s" not in data:
            raise ProfileError(f"{where} needs per_op_s (seconds per operation)")
        return cls(per_op_s=_number(data["per_op_s"], f"{where}: per_op_s", positive=True),
                   rel_std=rel_std, samples=samples)


@dataclass(frozen=True, slots=True)
class Adjustment:
    """A transformation of priced cost: ``cost * scale + amount * extra_s_per_unit``."""

    scale: float = 1.0
    extra_s_per_unit: float = 0.0

    def then(self, other: Adjustment) -> Adjustment:
        """This adjustment followed by ``other``."""
        return Adjustment(self.scale * other.scale, self.extra_s_per_unit * other.scale + other.extra_s_per_unit)


IDENTITY = Adjustment()


@dataclass(frozen=True)
class CostProfile:
    """Prices of CPU work per receipt kind, and the mode in which to apply them."""

    prices: Mapping[str, Price]
    mode: str = "profile"
    name: str = "unnamed"
    note: str = ""
    machine: Mapping[str, Any] = field(default_factory=dict)
    adjustments: Mapping[str, Adjustment] = field(default_factory=dict)

    cpu_kinds = CPU_KINDS

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ProfileError(f"cost profile mode must be one of {MODES}, got {self.mode!r}")
        for kind, price in self.prices.items():
            check_cpu_kind(kind)
            if price.is_bytes != (base_kind(kind) in Kind.BYTE_KINDS):
                unit = "a throughput" if base_kind(kind) in Kind.BYTE_KINDS else "seconds per operation"
                raise ProfileError(f"{kind!r} must be priced by {unit}")
        for kind in self.adjustments:
            check_cpu_kind(kind)
        object.__setattr__(self, "prices", dict(self.prices))
        object.__setattr__(self, "adjustments", dict(self.adjustments))
        # Every price and adjustment is linear in the amount: cost = fixed + per_unit * amount.
        linear = {}
        for kind, price in self.prices.items():
            fixed, per_unit = price.linear()
            adj = self._adjustment(kind)
            linear[kind] = (fixed * adj.scale, per_unit * adj.scale + adj.extra_s_per_unit)
        object.__setattr__(self, "_linear", linear)
        # (plain kind, detail) -> qualified key, for the qualified keys this profile prices
        object.__setattr__(self, "_qualified", {QUALIFIED_KINDS[k]: k for k in self.prices if k in QUALIFIED_KINDS})

    def _adjustment(self, kind: str) -> Adjustment:
        """The adjustment of ``kind``; a qualified key without one of its own takes its plain kind's."""
        adj = self.adjustments.get(kind)
        if adj is None and kind in QUALIFIED_KINDS:
            adj = self.adjustments.get(QUALIFIED_KINDS[kind][0])
        return adj or IDENTITY

    def price_key(self, kind: str, detail: str | None) -> str:
        """The key an item of ``kind`` with ``detail`` is priced by: its qualified key if this
        profile prices that one, else ``kind``."""
        if detail is not None:
            return self._qualified.get((kind, detail), kind)  # type: ignore[attr-defined]
        return kind

    # -- pricing -------------------------------------------------------------------------------

    def cost(self, item: WorkItem) -> float:
        """CPU-seconds of one work item under this profile's mode (by its qualified price if the
        profile has one for the item's detail)."""
        kind = item.kind
        if item.detail is not None:
            kind = self._qualified.get((kind, item.detail), kind)  # type: ignore[attr-defined]
        return self.seconds(kind, item.amount, cpu_s=item.cpu_s)

    def seconds(self, kind: str, amount: int, *, cpu_s: float = 0.0) -> float:
        """CPU-seconds of ``amount`` units of ``kind`` (``cpu_s`` is used in live mode only)."""
        if self.mode == "live":
            adj = self._adjustment(check_cpu_kind(kind))
            return cpu_s * adj.scale + amount * adj.extra_s_per_unit
        try:
            fixed, per_unit = self._linear[kind]  # type: ignore[attr-defined]
        except KeyError:
            check_cpu_kind(kind)
            raise ProfileError(f"cost profile {self.name!r} has no price for {kind!r}; "
                               "calibrate it or use a profile that does") from None
        return fixed + per_unit * amount

    # -- derived profiles ------------------------------------------------------------------------

    def with_mode(self, mode: str) -> CostProfile:
        return CostProfile(self.prices, mode, self.name, self.note, self.machine, self.adjustments)

    def adjusted(self, adjustment: Adjustment | Mapping[str, Adjustment],
                 kinds: Iterable[str] | None = None, *, name: str | None = None) -> CostProfile:
        """A profile whose costs are further transformed: one adjustment for ``kinds`` (default: all
        CPU kinds), or a mapping kind -> adjustment. Adjustments compose with existing ones."""
        if isinstance(adjustment, Adjustment):
            per_kind = dict.fromkeys(CPU_KINDS if kinds is None else kinds, adjustment)
        else:
            per_kind = dict(adjustment)
        merged = dict(self.adjustments)
        for kind, adj in per_kind.items():
            merged[check_cpu_kind(kind)] = merged.get(kind, IDENTITY).then(adj)
        return CostProfile(self.prices, self.mode, name or self.name, self.note, self.machine, merged)

    def merged(self, other: CostProfile) -> CostProfile:
        """This profile with ``other``'s prices added or overriding (e.g. fresh measurements)."""
        return CostProfile({**self.prices, **other.prices}, self.mode, other.name, other.note,
                           other.machine or self.machine, self.adjustments)

    # -- files -------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "name": self.name,
            "mode": self.mode,
            "note": self.note,
            "machine": dict(self.machine),
            "prices": {kind: self.prices[kind].to_dict() for kind in sorted(self.prices)},
        }
        if self.adjustments:
            out["adjustments"] = {k: {"scale": a.scale, "extra_s_per_unit": a.extra_s_per_unit}
                                  for k, a in sorted(self.adjustments.items())}
        return out

    @classmethod
    def from_dict(cls, data: object, *, source: str = "<dict>") -> CostProfile:
        """Validate a profile document; errors name ``source`` and the offending field."""
        try:
            return cls._from_dict(data)
        except ProfileError as exc:
            raise ProfileError(f"{source}: {exc}") from None

    @classmethod
    def _from_dict(cls, data: object) -> CostProfile:
        if not isinstance(data, Mapping):
            raise ProfileError(f"a cost profile must be a JSON object, got {type(data).__name__}")
        if data.get("schema") != SCHEMA:
            raise ProfileError(f"not a cost profile: schema is {data.get('schema')!r}, expected {SCHEMA!r}")
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ProfileError(f"unsupported schema_version {data.get('schema_version')!r}; "
                               f"this regsim reads version {SCHEMA_VERSION}")
        allowed = {"schema", "schema_version", "name", "mode", "note", "machine", "prices", "adjustments"}
        if set(data) - allowed:
            raise ProfileError(f"unexpected top-level fields {sorted(set(data) - allowed)}")
        prices = data.get("prices")
        if not isinstance(prices, Mapping):
            raise ProfileError("'prices' must be an object mapping receipt kinds to prices")
        machine = data.get("machine", {})
        if not isinstance(machine, Mapping):
            raise ProfileError("'machine' must be an object")
        adjustments = {}
        for kind, adj in (data.get("adjustments") or {}).items():
            if not isinstance(adj, Mapping) or set(adj) - {"scale", "extra_s_per_unit"}:
                raise ProfileError(f"adjustment of {kind!r} must be an object with scale and extra_s_per_unit")
            adjustments[check_cpu_kind(kind)] = Adjustment(
                _number(adj.get("scale", 1.0), f"adjustment of {kind!r}: scale", positive=False),
                _number(adj.get("extra_s_per_unit", 0.0), f"adjustment of {kind!r}: extra_s_per_unit",
                        positive=False))
        return cls(
            prices={check_cpu_kind(kind): Price.from_dict(kind, p) for kind, p in prices.items()},
            mode=str(data.get("mode", "profile")),
            name=str(data.get("name", "unnamed")),
            note=str(data.get("note", "")),
            machine=dict(machine),
            adjustments=adjustments,
        )

    def save(self, path: str | Path) -> Path:
        """Write the profile as indented JSON (stable key order, so diffs stay readable)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path


def _read_json(text: str, source: str) -> CostProfile:
    try:
        return CostProfile.from_dict(json.loads(text), source=source)
    except json.JSONDecodeError as exc:
        raise ProfileError(f"{source}: not valid JSON ({exc})") from None


def load_profile(spec: str | Path = "reference") -> CostProfile:
    """A profile by name or path: ``"reference"`` (the committed table), ``"live"`` (price each
    item by the CPU time measured on the real call) or a path to a profile JSON file."""
    if spec in ("reference", "live"):
        text = resources.files("regsim.sim").joinpath("profiles", "reference.json").read_text("utf-8")
        profile = _read_json(text, "reference profile")
        return profile.with_mode("live") if spec == "live" else profile
    path = Path(spec)
    if not path.is_file():
        raise ProfileError(f"no cost profile {str(spec)!r}: use 'reference', 'live' or a path to a JSON file")
    return _read_json(path.read_text(encoding="utf-8"), str(path))
