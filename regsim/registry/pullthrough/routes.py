"""Which upstream serves which repository: routes by name prefix, with fallbacks.

A cache in front of several registries names its repositories after them, the way containerd's
``hosts.toml`` and Harbor's proxy projects do: ``docker.io/library/alpine`` is
``library/alpine`` on the ``docker.io`` route, ``ghcr.io/org/app`` is ``org/app`` on ``ghcr.io``.
A route's prefix is stripped from the name before asking its upstreams (``strip=False`` keeps
it); the longest matching prefix wins; the empty prefix is a catch-all. A prefix matches whole
path components only (``docker.io`` matches ``docker.io/x``, not ``docker.iox/y``).

A route may list several upstreams -- mirrors of the same content, e.g. ``mirror.gcr.io`` before
``docker.io`` -- tried in order: the next is asked when one refuses (429), is down or does not
have the content. CNCF distribution's proxy mirrors exactly one remote ("It's currently possible
to mirror only one upstream registry at a time", docs/content/recipes/mirror.md); several
upstreams are what containerd's mirror lists and Harbor's per-project proxies provide.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..errors import NameUnknown
from ..names import validate_name
from .upstream import Upstream


@dataclass(frozen=True)
class Route:
    """Repositories under ``prefix`` come from ``upstreams``, in fallback order."""

    prefix: str
    upstreams: tuple[Upstream, ...]
    strip: bool = True

    def __post_init__(self) -> None:
        if not self.upstreams:
            raise ValueError(f"route {self.prefix!r} has no upstream")

    def matches(self, name: str) -> bool:
        return self.prefix == "" or name.startswith(self.prefix)

    def upstream_name(self, name: str) -> str:
        """The repository's name on this route's upstreams."""
        return name[len(self.prefix):] if self.strip else name


def _normalise(prefix: str) -> str:
    prefix = prefix.strip("/")
    return prefix + "/" if prefix else ""


class Router:
    """Routes by prefix. ``routes`` maps a prefix (``docker.io``, ``ghcr.io/``, ``""``) to an
    upstream or a sequence of them (fallback order), or is a sequence of :class:`Route`."""

    def __init__(self, routes: Mapping[str, Upstream | Sequence[Upstream]] | Sequence[Route]) -> None:
        if isinstance(routes, Mapping):
            built = []
            for prefix, ups in routes.items():
                ups = (ups,) if isinstance(ups, Upstream) else tuple(ups)
                built.append(Route(_normalise(prefix), ups))
        else:
            built = [Route(_normalise(r.prefix), tuple(r.upstreams), r.strip) for r in routes]
        prefixes = [r.prefix for r in built]
        if len(set(prefixes)) != len(prefixes):
            raise ValueError(f"a prefix is routed twice: {sorted(prefixes)}")
        #: longest prefix first, so the first match is the most specific
        self.routes: tuple[Route, ...] = tuple(sorted(built, key=lambda r: -len(r.prefix)))

    def resolve(self, name: str) -> tuple[Route, str]:
        """The route of repository ``name`` and the name to ask its upstreams for."""
        validate_name(name)
        for route in self.routes:
            if route.matches(name):
                upstream_name = route.upstream_name(name)
                if not upstream_name:
                    break
                return route, upstream_name
        known = ", ".join(repr(r.prefix) for r in self.routes)
        raise NameUnknown(f"no upstream serves repository {name!r}; routes: {known}")

    def upstreams(self) -> list[Upstream]:
        """Every upstream of every route, each once, in route order."""
        seen: dict[int, Upstream] = {}
        for route in self.routes:
            for up in route.upstreams:
                seen.setdefault(id(up), up)
        return list(seen.values())
