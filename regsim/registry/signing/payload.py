"""The "simple signing" payload that a cosign signature signs.

A cosign (sigstore) signature does not sign the image manifest itself but a small JSON document
naming it -- the format containers/image defined for its own signatures, with cosign's ``type``
(cosign's ``specs/SIGNATURE_SPEC.md``, "Simple Signing")::

    {"critical": {"identity": {"docker-reference": "registry.example/team/app:v1"},
                  "image": {"docker-manifest-digest": "sha256:<hex>"},
                  "type": "cosign container image signature"},
     "optional": {"creator": "...", "timestamp": 1700000000}}

The signature is then taken over these exact bytes, so the payload is stored as a blob beside it
and never re-serialised before verifying. :func:`parse` is as strict as containers/image's
parser (``signature/internal/sigstore_payload.go``), which skopeo uses to verify: ``critical``
and its ``image`` and ``identity`` objects must hold exactly their fields, a key given twice is
refused (two readers must never see two different digests in one payload), ``optional`` may be
``null`` (cosign writes that) or absent (the spec makes it optional, though containers/image
wants it), and its ``timestamp`` must be a whole number. Every refusal is a
:class:`~.errors.PayloadInvalid` naming the field and what was wrong.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..digest import Digest
from ..errors import DigestInvalid
from .errors import PayloadInvalid

#: ``critical.type`` of a cosign container image signature
SIGNATURE_TYPE = "cosign container image signature"
#: the media type of the payload blob (the signature manifest's layer)
SIMPLE_SIGNING_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"


@dataclass(frozen=True, slots=True)
class SimpleSigningPayload:
    """What a signature claims: that ``docker_reference`` is the image whose manifest hashes to
    ``manifest_digest``; ``optional`` carries unsigned-for-policy extras (creator, timestamp)."""

    docker_reference: str
    manifest_digest: Digest
    optional: dict[str, Any] | None = field(default=None, compare=False)

    def to_bytes(self) -> bytes:
        """The payload as signed: compact JSON, keys in the order cosign and containers/image
        write them (both marshal sorted maps), ``optional`` null when there is nothing in it."""
        doc = {
            "critical": {
                "identity": {"docker-reference": self.docker_reference},
                "image": {"docker-manifest-digest": str(self.manifest_digest)},
                "type": SIGNATURE_TYPE,
            },
            "optional": dict(sorted(self.optional.items())) if self.optional else None,
        }
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()

    @property
    def repository(self) -> str:
        """The docker reference without its tag or digest (``host/team/app``)."""
        return repository_of(self.docker_reference)


def repository_of(reference: str) -> str:
    """``name`` of ``name[:tag][@digest]``; a ``:`` before the last ``/`` is a registry port."""
    name = reference.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def parse(data: bytes | bytearray | memoryview) -> SimpleSigningPayload:
    """The payload in ``data``; :class:`PayloadInvalid` naming the field when it is not one."""
    try:
        doc = json.loads(bytes(data), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise PayloadInvalid(f"signature payload is not JSON: {e}") from None
    top = _exact(doc, "payload", ("critical", "optional"), optional=("optional",))
    critical = _exact(top["critical"], "critical", ("identity", "image", "type"))
    kind = critical["type"]
    if kind != SIGNATURE_TYPE:
        raise PayloadInvalid(f"signature payload: critical.type is {_show(kind)}, expected {SIGNATURE_TYPE!r}")
    image = _exact(critical["image"], "critical.image", ("docker-manifest-digest",))
    identity = _exact(critical["identity"], "critical.identity", ("docker-reference",))
    digest_text = image["docker-manifest-digest"]
    if not isinstance(digest_text, str):
        raise PayloadInvalid(f"signature payload: critical.image.docker-manifest-digest is {_show(digest_text)}, "
                             "expected a digest string")
    try:
        digest = Digest.parse(digest_text)
    except DigestInvalid as e:
        raise PayloadInvalid(f"signature payload: critical.image.docker-manifest-digest: {e.message}") from None
    reference = identity["docker-reference"]
    if not isinstance(reference, str) or not reference:
        raise PayloadInvalid(f"signature payload: critical.identity.docker-reference is {_show(reference)}, "
                             "expected a non-empty string")
    return SimpleSigningPayload(reference, digest, _optional(top.get("optional")))


def _optional(value: object) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise PayloadInvalid(f"signature payload: optional is {_show(value)}, expected an object or null")
    if "creator" in value and not isinstance(value["creator"], str):
        raise PayloadInvalid(f"signature payload: optional.creator is {_show(value['creator'])}, expected a string")
    if "timestamp" in value:
        stamp = value["timestamp"]
        whole = isinstance(stamp, int) or (isinstance(stamp, float) and stamp.is_integer())
        if isinstance(stamp, bool) or not whole:
            raise PayloadInvalid(f"signature payload: optional.timestamp is {_show(stamp)}, expected a whole number")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise PayloadInvalid(f"signature payload: key {key!r} appears twice in one object")
        out[key] = value
    return out


def _exact(value: object, where: str, fields: tuple[str, ...], *, optional: tuple[str, ...] = ()) -> dict:
    """``value`` as an object holding exactly ``fields`` (those in ``optional`` may be absent)."""
    if not isinstance(value, dict):
        raise PayloadInvalid(f"signature payload: {where} is {_show(value)}, expected an object")
    missing = [f for f in fields if f not in value and f not in optional]
    if missing:
        raise PayloadInvalid(f"signature payload: {where} lacks {', '.join(missing)}")
    unknown = sorted(k for k in value if k not in fields)
    if unknown:
        raise PayloadInvalid(f"signature payload: {where} has unknown field {', '.join(map(repr, unknown))}; "
                             f"expected only {', '.join(fields)}")
    return value


def _show(value: object) -> str:
    text = json.dumps(value) if not isinstance(value, (bytes, bytearray)) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
