"""Rules the replication model would otherwise meet only when it runs, as findings for ``regsim validate``."""

from __future__ import annotations

from typing import Any

from ..core.spec import Finding

__all__ = ["replication_checks"]


def replication_checks(config: Any) -> list[Finding]:
    """A pull-through cache with no remote client moves nothing: there would be nothing to measure."""
    w = config.workload
    if w.mode == "proxy-cache" and w.clients == 0:
        return [Finding("workload.clients", "mode proxy-cache replicates nothing: with no remote client "
                        "nothing crosses the WAN, so give clients: 1 or more", depends=("workload.mode",))]
    return []
