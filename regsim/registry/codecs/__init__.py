"""Redundancy codecs: how a blob becomes fragments on storage nodes (replication is one too).

``parse_codec("rs(4,2)")`` gives a codec; wrap it in :class:`MeteredCodec` to record its work.
"""

from .base import Codec
from .metered import MeteredCodec, needs_decode
from .parse import parse_codec
from .reed_solomon import ReedSolomon, chunk_size
from .replicate import MAX_FRAGMENTS, Replicate

__all__ = [
    "Codec",
    "MAX_FRAGMENTS",
    "MeteredCodec",
    "ReedSolomon",
    "Replicate",
    "chunk_size",
    "needs_decode",
    "parse_codec",
]
