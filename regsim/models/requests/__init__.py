"""The request-load family: open (``poisson``) and closed (``closed``) loops of requests.

Pulls, pushes, manifest GETs and token requests run through the real registry behind an access
layer (connections, TLS, rate limits) and the real auth path, while storage nodes fail and are
repaired, scripted faults strike, a monitor raises alerts and scans run (:mod:`.run` drives it;
:mod:`.report` reports it).
"""

from __future__ import annotations

from regsim.models import register
from regsim.models.core.spec import ModelSpec

from .checks import IGNORES, request_checks
from .config import Closed, Poisson, RequestsConfig
from .run import simulate_poisson

SPEC = register(ModelSpec(
    family="requests",
    workloads={"poisson": Poisson, "closed": Closed},
    config=RequestsConfig,
    order=20,
    simulate=simulate_poisson,
    ignores=IGNORES,
    checks=request_checks,
))
