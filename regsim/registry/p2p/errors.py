"""P2P errors: a metainfo that cannot be trusted, and a peer driven against its own state.

Verification failures of piece bytes are the registry's :class:`~regsim.registry.errors.IntegrityError`,
so a caller handles a corrupt piece the same way as a corrupt fragment.
"""

from __future__ import annotations

from ..errors import RegistryError


class P2PError(RegistryError):
    """A swarm, agent or scheduler was asked to do something its state does not allow.

    Examples: completing a piece that was never requested, taking an upload slot that is not free,
    joining a swarm twice. These are bugs in the driver (the simulator), not events of the run.
    """

    code, status = "UNKNOWN", 500


class MetaInfoInvalid(P2PError):
    """A serialised metainfo is malformed or inconsistent (sizes, piece count, digests)."""

    code, status = "MANIFEST_INVALID", 400
