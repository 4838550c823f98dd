"""regsim: simulate and benchmark container-registry architectures.

``regsim.registry`` is a real in-process OCI registry that reports its work as receipts;
``regsim.sim`` prices those receipts on SimPy models of clusters, networks and disks.
"""

__version__ = "0.1.0"
