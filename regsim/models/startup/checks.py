"""What a start-up variant refuses before it runs, checked when the scenario is loaded."""

from __future__ import annotations

from ..core.spec import Finding
from .config import StartupConfig

#: scenario keys no start-up model simulates: nodes start on a healthy platform, each logs in once
IGNORES = ("failures", "scan", "monitoring", "registry.storage.capacity", "registry.tls", "registry.rate_limit",
           "registry.cache", "registry.auth.service_cores", "registry.auth.db.hash", "registry.auth.db.credentials",
           "registry.auth.token_ttl", "registry.auth.issuer", "registry.upstream_limit", "duration",
           "distribution.proxy", "distribution.mirror", "distribution.preheat", "distribution.p2p.peers",
           "distribution.p2p.parents", "distribution.p2p.origins",
           "distribution.p2p.origin_nic", "distribution.p2p.selection", "distribution.p2p.seeders",
           "distribution.p2p.super_seeding", "distribution.p2p.connect_rtts", "distribution.p2p.initial_window",
           "distribution.p2p.announce_interval", "distribution.p2p.handout")

#: generated images larger than this are refused: every byte is built and converted for real
MAX_GENERATED_BYTES = 4 << 30


def startup_checks(config: StartupConfig) -> list[Finding]:
    """Prefetch modes a format has not, and images too large to build."""
    w = config.workload
    found: list[Finding] = []
    if w.prefetch == "landmarks" and w.format != "estargz":
        found.append(Finding("workload.prefetch", f"landmarks are eStargz's prefetch; {w.format} prefetches by "
                                                  "`trace` (or use format: estargz)",
                             ("workload.prefetch", "workload.format")))
    if config.distribution.strategy not in ("central", "p2p-scheduler"):
        found.append(Finding("distribution.strategy", f"a start-up runs central or p2p-scheduler, not "
                                                      f"{config.distribution.strategy!r}",
                             ("distribution.strategy",)))
    total = config.image.total_size()
    if config.image.from_ is None and total > MAX_GENERATED_BYTES:
        found.append(Finding("image.layers", f"a start-up builds and converts every byte of a generated image; "
                                             f"{total / 1e9:.1f} GB is more than {MAX_GENERATED_BYTES / 1e9:.1f} GB",
                             ("image.layers",)))
    return found
