"""A synthetic registry trace shaped like the findings of Anwar et al. (FAST '18).

The study's traces are large and anonymised; tests, examples and the cache evaluation need small
ones whose shape is known. :func:`generate` draws one from :class:`SyntheticSpec`, whose defaults
follow what the study reports about production registries:

- layers are small: sizes are log-normal with a median of 1 MiB and sigma 1.6, so about 92 % of
  layers are under 10 MB while a few reach hundreds of megabytes;
- popularity is heavily skewed: repositories are pulled with Zipf weights (exponent 1.2), so a
  handful of repositories take most pulls;
- reads dominate: pulls outnumber pushes twenty to one, and most images share base layers;
- a push is followed by pulls of the same image: each push brings, on average, five pulls of
  the new version within minutes (exponential delays, mean 2 minutes);
- a pull is a manifest GET followed by GETs of only the layers the client lacks (clients keep
  their layers; ``fresh_client`` of pulls come from a client with an empty store).

Every parameter and its default: ``docs/traces.md``. The output is a :class:`~.ibm.Trace` whose
requests write to the IBM format and parse back unchanged; the same spec gives the same trace.
"""

from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import asdict, dataclass, fields

import numpy as np

from .ibm import Request, Trace, parse_uri

__all__ = ["SyntheticSpec", "generate"]

#: 2017-06-20T00:00:00Z, within the study's collection period.
TRACE_START = 1_497_916_800.0


@dataclass(frozen=True)
class SyntheticSpec:
    """Parameters of a synthetic trace (see ``docs/traces.md`` for the finding behind each)."""

    seed: int = 0
    start: float = TRACE_START
    duration_s: float = 3600.0
    users: int = 8
    repositories: int = 40
    clients: int = 50
    pull_rate: float = 0.1
    push_rate: float = 0.005
    popularity: float = 1.2
    layers_mean: float = 6.0
    max_layers: int = 30
    layer_median: int = 1 << 20
    layer_sigma: float = 1.6
    max_layer: int = 2 << 30
    base_layers: int = 8
    base_share: float = 0.7
    new_layers_mean: float = 1.5
    pulls_after_push: float = 5.0
    follow_delay_s: float = 120.0
    fresh_client: float = 0.3
    bandwidth: float = 50e6
    latency_s: float = 0.004

    def __post_init__(self) -> None:
        positive = ("duration_s", "users", "repositories", "clients", "layers_mean", "max_layers", "layer_median",
                    "max_layer", "new_layers_mean", "follow_delay_s", "bandwidth")
        non_negative = ("seed", "start", "pull_rate", "push_rate", "popularity", "layer_sigma", "base_layers",
                        "pulls_after_push", "latency_s")
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"synthetic trace: {f.name} must be a finite number, got {value!r}")
            if f.name in positive and not value > 0:
                raise ValueError(f"synthetic trace: {f.name} must be positive, got {value!r}")
            if f.name in non_negative and value < 0:
                raise ValueError(f"synthetic trace: {f.name} cannot be negative, got {value!r}")
        for name in ("base_share", "fresh_client"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"synthetic trace: {name} must be a fraction in [0, 1], got {getattr(self, name)!r}")
        if self.layers_mean < 1 or self.new_layers_mean < 1:
            raise ValueError("synthetic trace: layers_mean and new_layers_mean must be at least 1 "
                             "(an image has a layer)")


Layer = tuple[str, int]  # (digest, bytes)


class _Generator:
    def __init__(self, spec: SyntheticSpec) -> None:
        self.spec = spec
        self.rng = np.random.default_rng(spec.seed)
        self.requests: list[tuple[int, int, Request]] = []  # (microseconds, sequence, request)
        self.stored: set[str] = set()
        self.base = [self._layer() for _ in range(spec.base_layers)]
        users = [self._hex(4) for _ in range(spec.users)]
        self.repos = [f"{users[i % spec.users]}/{self._hex(4)}" for i in range(spec.repositories)]
        self.images = [self._image(None) for _ in self.repos]
        self.versions = [1] * spec.repositories
        for layers in self.images:
            self.stored.update(d for d, _ in layers)
        ranks = self.rng.permutation(spec.repositories) + 1
        weights = 1.0 / ranks.astype(float) ** spec.popularity
        self.weights = weights / weights.sum()
        self.has: list[set[str]] = [set() for _ in range(spec.clients)]
        self.clients = [self._hex(4) for _ in range(spec.clients)]
        self._seq = itertools.count()

    def _hex(self, nbytes: int) -> str:
        return self.rng.bytes(nbytes).hex()

    def _layer(self) -> Layer:
        s = self.spec
        size = self.rng.lognormal(math.log(s.layer_median), s.layer_sigma)
        return f"sha256:{self._hex(32)}", int(min(max(size, 64), s.max_layer))

    def _image(self, previous: list[Layer] | None) -> list[Layer]:
        s = self.spec
        if previous is None:
            count = int(min(1 + self.rng.poisson(s.layers_mean - 1), s.max_layers))
            layers = [self.base[int(self.rng.integers(len(self.base)))]] if self.base and \
                self.rng.random() < s.base_share else []
            return layers + [self._layer() for _ in range(count - len(layers))]
        replaced = int(min(1 + self.rng.poisson(s.new_layers_mean - 1), len(previous)))
        return previous[: len(previous) - replaced] + [self._layer() for _ in range(replaced)]

    def _emit(self, t: float, method: str, uri: str, size: int, status: int, client: str) -> float:
        """Record one request starting ``t`` s into the trace; returns when it ends."""
        s = self.spec
        micros = round((s.start + t) * 1000) * 1000  # the published traces keep milliseconds
        duration = round(s.latency_s + size / s.bandwidth * float(self.rng.lognormal(0.0, 0.25)), 6)
        kind, repository, reference = parse_uri(uri)
        request = Request(micros / 1e6, method, uri, kind, repository, reference, size, duration, client, status)
        self.requests.append((micros, len(self.requests), request))
        return t + duration

    def pull(self, t: float, repo: int, tag: str | None) -> None:
        s, layers = self.spec, self.images[repo]
        c = int(self.rng.integers(s.clients))
        if self.rng.random() < s.fresh_client:
            self.has[c].clear()
        name, client = self.repos[repo], self.clients[c]
        tag = tag or f"v{self.versions[repo]}"
        t = self._emit(t, "GET", f"v2/{name}/manifests/{tag}", _manifest_size(layers), 200, client)
        missing = [layer for layer in layers if layer[0] not in self.has[c]]
        for i, (digest, size) in enumerate(missing):
            self._emit(t + 0.001 * i, "GET", f"v2/{name}/blobs/{digest}", size, 200, client)
            self.has[c].add(digest)

    def push(self, t: float, repo: int) -> str:
        s = self.spec
        layers = self._image(self.images[repo])
        self.images[repo], self.versions[repo] = layers, self.versions[repo] + 1
        c = int(self.rng.integers(s.clients))
        name, client, tag = self.repos[repo], self.clients[c], f"v{self.versions[repo]}"
        for digest, size in layers:
            if digest in self.stored:
                t = self._emit(t, "HEAD", f"v2/{name}/blobs/{digest}", 0, 200, client)
            else:
                t = self._emit(t, "HEAD", f"v2/{name}/blobs/{digest}", 0, 404, client)
                t = self._emit(t, "PUT", f"v2/{name}/blobs/uploads/{self._hex(8)}?digest={digest}", size, 201, client)
                self.stored.add(digest)
            self.has[c].add(digest)
        self._emit(t, "PUT", f"v2/{name}/manifests/{tag}", _manifest_size(layers), 201, client)
        return tag

    def run(self) -> list[Request]:
        s, rng = self.spec, self.rng
        events: list[tuple[float, int, str, int, str | None]] = []
        for kind, rate in (("pull", s.pull_rate), ("push", s.push_rate)):
            count = rng.poisson(rate * s.duration_s)
            times, repos = rng.uniform(0.0, s.duration_s, count), rng.choice(s.repositories, count, p=self.weights)
            events += [(float(t), next(self._seq), kind, int(r), None) for t, r in zip(times, repos)]
        heapq.heapify(events)
        while events:
            t, _, kind, repo, tag = heapq.heappop(events)
            if kind == "pull":
                self.pull(t, repo, tag)
                continue
            new_tag = self.push(t, repo)
            for delay in rng.exponential(s.follow_delay_s, rng.poisson(s.pulls_after_push)):
                if t + delay < s.duration_s:
                    heapq.heappush(events, (t + float(delay), next(self._seq), "pull", repo, new_tag))
        self.requests.sort(key=lambda item: item[:2])
        return [r for _, _, r in self.requests]


def _manifest_size(layers: list[Layer]) -> int:
    """Bytes of an image manifest (schema 2): a fixed part and one descriptor per layer."""
    return 430 + 160 * len(layers)


def generate(spec: SyntheticSpec | None = None, **overrides: object) -> Trace:
    """A synthetic trace from ``spec`` (defaults: :class:`SyntheticSpec`), fields overridden by keyword."""
    spec = spec or SyntheticSpec()
    if overrides:
        unknown = sorted(set(overrides) - {f.name for f in fields(SyntheticSpec)})
        if unknown:
            raise ValueError(f"synthetic trace: unknown parameter(s) {', '.join(unknown)}; "
                             f"expected some of: {', '.join(f.name for f in fields(SyntheticSpec))}")
        spec = SyntheticSpec(**{**asdict(spec), **overrides})  # type: ignore[arg-type]
    requests = _Generator(spec).run()
    return Trace(requests, f"synthetic(seed={spec.seed})", {"spec": asdict(spec)})
