"""What the model tests share: scenarios from a base document with dotted overrides, and runs of
requests sent by hand."""

from __future__ import annotations

import copy
from typing import Any

from regsim.models.requests.run import RequestRun
from regsim.scenario import Scenario, scenario_from_dict


def build(doc: dict[str, Any], over: dict[str, Any]) -> Scenario:
    """The scenario of ``doc`` with each ``dotted.key: value`` of ``over`` set; ``doc`` is left as it was."""
    doc = copy.deepcopy(doc)
    for dotted, value in over.items():
        node = doc
        *path, last = dotted.split(".")
        for key in path:
            node = node.setdefault(key, {})
        node[last] = value
    return scenario_from_dict(doc)


def scripted(sc: Scenario, requests, seed: int = 1):
    """Run ``sc`` with ``requests`` = [(time, client, kind), ...] sent by hand; the run, its requests by time."""
    run = RequestRun.build(sc, seed)
    for at, client, kind in requests:
        run.submit(kind, client, at=at)
    run.run()
    return run, sorted(run.requests, key=lambda r: r.start)
