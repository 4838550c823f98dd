"""A public upstream's per-client pull limit on the simulated clock (``registry.upstream_limit``).

The counting is the registry library's own (:class:`regsim.registry.pullthrough.ratelimit.RateLimiter`,
the limiter its in-memory upstream answers 429 with): a pull is a manifest GET, a HEAD costs
nothing, and each client address has ``pulls`` slots in a sliding ``window``. A rollout is far
shorter than Docker Hub's 6-hour window, so a refused node does not wait for its Retry-After:
its pull fails, as ``docker pull`` does on "toomanyrequests".
"""

from __future__ import annotations

from collections.abc import Callable

from regsim.registry.pullthrough.ratelimit import RateLimit, RateLimiter
from regsim.spec.infra import UpstreamLimit

#: the address every client shares behind one NAT (``per: site``)
SITE = "site"


class UpstreamGate:
    """Admits or refuses one manifest GET per call; counts both."""

    def __init__(self, spec: UpstreamLimit, clock: Callable[[], float]) -> None:
        self.per = spec.per
        self.limiter = RateLimiter(RateLimit(spec.pulls, spec.window), clock)
        self.pulls = self.refused = 0

    def address(self, client: str) -> str:
        """The address ``client`` pulls from: its own, or the site's shared one."""
        return client if self.per == "node" else SITE

    def admit(self, client: str) -> bool:
        """Take one pull of ``client``'s address; False (a 429) when its window is full."""
        if self.limiter.take(self.address(client)).allowed:
            self.pulls += 1
            return True
        self.refused += 1
        return False

    def kpis(self) -> dict[str, int]:
        return {"upstream_pulls": self.pulls, "upstream_pulls_refused": self.refused}


def upstream_gate(spec: UpstreamLimit | None, clock: Callable[[], float]) -> UpstreamGate | None:
    return None if spec is None else UpstreamGate(spec, clock)
