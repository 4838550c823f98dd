"""The replication family: registry sites joined by WAN links, and blobs copied between them.

``workload.kind: replication``. :mod:`.config` declares the sites, their WAN links, the blobs and
the mode; :mod:`.sites` builds the flow network; :mod:`.http` prices a request in round trips and
transfers; :mod:`.push` (Harbor's chunked push), :mod:`.pull` (whole blobs fetched by the remote
site) and :mod:`.proxy` (a pull-through cache instead of replication) move the blobs;
:mod:`.clients` are the remote pulls; :mod:`.closed_form` is what the run is tested against; and
:mod:`.report` turns a run's :class:`~.report.ReplicationOutcome` into KPIs. ``docs/geo-replication.md``
explains the model and the published case it reproduces (goharbor/harbor#20704).
"""

from __future__ import annotations

from regsim.models import register
from regsim.models.core.spec import ModelSpec

from .checks import replication_checks
from .config import Replication, ReplicationConfig
from .run import simulate_replication

#: scenario keys the replication model does not simulate: its sites carry their own registries'
#: rates, it prices transfers and round trips only (no registry work, no failures), on a platform
#: of its own (no cluster, no image file), and it runs until every copy and pull is done (no duration)
IGNORES = ("failures", "scan", "monitoring", "cluster", "registry", "image", "distribution", "duration",
           "data_plane")

SPEC = register(ModelSpec(
    family="replication",
    workloads={"replication": Replication},
    config=ReplicationConfig,
    order=40,
    simulate=simulate_replication,
    ignores=IGNORES,
    checks=replication_checks,
))
