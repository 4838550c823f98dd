"""The storage cluster: blobs as codec fragments over storage nodes, with placement and repair.

    cluster = StorageCluster([MemoryBackend(f"s{i}") for i in range(6)], parse_codec("rs(4,2)"))
    cluster.put("blobs/sha256/ab/ab12...", data)
    cluster.fail_node("s2")
    cluster.get("blobs/sha256/ab/ab12...")      # degraded read: decoded from 4 of 6 fragments
    repair(cluster)                             # rebuilds what s2 held on another node
"""

from .cluster import StorageCluster
from .fragment import FragmentHeader, parse, parse_header
from .layout import StripeLayout, fragment_key
from .placement import place, rank
from .repair import RepairReport, repair

__all__ = [
    "FragmentHeader",
    "RepairReport",
    "StorageCluster",
    "StripeLayout",
    "fragment_key",
    "parse",
    "parse_header",
    "place",
    "rank",
    "repair",
]
