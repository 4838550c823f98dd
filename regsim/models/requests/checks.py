"""What the request-load models refuse before they run, checked when the scenario is loaded."""

from __future__ import annotations

from ..core.spec import Finding
from .config import RequestsConfig

#: scenario keys the request-load models do not simulate (caches are the trace model's; a request
#: load has no distribution strategy)
IGNORES = ("registry.cache", "distribution.strategy", "registry.upstream_limit", "distribution.preheat")
#: fail/repair events these models play, by target kind (storage: the storage failures)
PLAYED_FAILS = ("storage", "frontend", "db")


def _event_path(i: int) -> str:
    return f"failures.events[{i}].target"


def request_checks(config: RequestsConfig) -> list[Finding]:
    """Failure events these models do not play, and degraded-read phases the storage cannot hold."""
    kind, failures = config.workload.kind, config.failures
    found: list[Finding] = []
    for i, event in enumerate(failures.events):
        target, where = event.target_kind(), _event_path(i)
        if event.kind in ("fail", "repair") and target not in PLAYED_FAILS:
            found.append(Finding(where, f"the {kind} model has no '{event.kind}' of {event.target!r}: it fails and "
                                        f"repairs {', '.join(PLAYED_FAILS)}; a 'partition' cuts a node or rack off "
                                        "the network", ("failures.events",)))
        elif target == "db" and config.registry.auth.mode == "none":
            found.append(Finding(where, f"'{event.kind}' of the database needs registry.auth.mode 'jwt' or 'db'; "
                                        "this scenario has no database", ("failures.events", "registry.auth.mode")))
    scripted = any(e.target_kind() == "storage" and e.kind in ("fail", "repair") for e in failures.events)
    tier = config.registry.storage.tier.kind
    if tier != "local" and (scripted or failures.measure_degraded or failures.afr > 0):
        found.append(Finding("registry.storage.tier", f"an {tier} tier keeps each blob once and states its durability "
                                                      "(registry.storage.tier.*.durability): its disk failures and "
                                                      "repair are not modelled; leave out failures.afr, "
                                                      "measure_degraded and storage fail/repair events",
                             ("registry.storage.tier", "failures")))
    if failures.measure_degraded and not scripted and config.registry.storage.nodes < 2:
        found.append(Finding("failures.measure_degraded", "fails two storage nodes, but registry.storage.nodes is "
                                                          f"{config.registry.storage.nodes}",
                             ("failures", "registry.storage.nodes")))
    return found
