"""Receipt items for auth work, recorded only when some collector listens.

Auth checks are small (a cached token check takes a few microseconds) and run on every request,
so measuring them when nobody collects a receipt would cost more than the check itself. When a
collector is active, :func:`meter` is exactly :func:`regsim.registry.receipts.metered`: the CPU
and wall time of the enclosed work land on the receipt as one item.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from .. import receipts


class _Unmetered:
    """Stands in for a meter when nothing is collected; accepts the same corrections."""

    __slots__ = ("amount", "detail")

    def __init__(self, amount: int, detail: str | None) -> None:
        self.amount, self.detail = amount, detail

    def __enter__(self) -> _Unmetered:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def meter(kind: str, amount: int = 1, *, detail: str | None = None,
          node: str | None = None) -> AbstractContextManager[Any]:
    """Meter the enclosed work as one ``kind`` item if a receipt is being collected.

    As with ``metered``, nothing is recorded if the block raises; callers that want failed work
    priced (a rejected token still cost a signature check) catch inside the block.
    """
    if receipts.recording():
        return receipts.metered(kind, amount, detail=detail, node=node)
    return _Unmetered(amount, detail)
