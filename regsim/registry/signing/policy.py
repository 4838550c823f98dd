"""The ``require-signature`` pull policy: images under a repository prefix must be signed by a trusted key.

A policy is a list of rules, each a repository prefix and the public keys trusted for it.
:meth:`SignaturePolicy.check` finds the rule for a repository -- the longest prefix that matches
-- and raises :class:`~.errors.NoTrustedSignature` unless at least one signature of the manifest
(found by tag and by referrers, :func:`.store.find`) verifies with one of its keys and signs that
very digest. A repository no rule matches is not checked.

A prefix ending in ``/`` matches every repository under it (``library/`` matches
``library/app``); one without matches that repository and those under it (``team/app`` matches
``team/app`` and ``team/app/cache``, not ``team/application``); ``*`` or an empty prefix matches
every repository.

Verdicts are cached per repository, manifest digest and the set of signature manifests found for
it, so a signature added or removed is seen at the next check, while pulls of an unchanged image
cost a tag look-up and a referrers listing rather than reading and verifying its signatures again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from ..digest import Digest
from ..errors import ManifestUnknown, NameUnknown
from .errors import NoTrustedSignature
from .keys import PublicKey, fingerprint
from .signature import Verified, verify
from .store import SIGNATURE_ARTIFACT_TYPE, ImageStore, find, signature_tag

#: verdicts kept (each a few hundred bytes)
CACHE_ENTRIES = 4096


@dataclass(frozen=True)
class Rule:
    """Images of repositories matching ``prefix`` need a signature by one of ``keys``;
    ``names`` says where each key came from (its file), for messages."""

    prefix: str
    keys: tuple[PublicKey, ...]
    names: tuple[str, ...] = ()

    def matches(self, repository: str) -> bool:
        p = self.prefix
        if p in ("", "*"):
            return True
        if p.endswith("/"):
            return repository.startswith(p)
        return repository == p or repository.startswith(p + "/")

    @property
    def specificity(self) -> int:
        return -1 if self.prefix == "*" else len(self.prefix)


class SignaturePolicy:
    """The rules, applied to the images of one :class:`ImageStore` (normally a Registry)."""

    def __init__(self, store: ImageStore, rules: Sequence[Rule]) -> None:
        for rule in rules:
            if not rule.keys:
                raise ValueError(f"rule for prefix {rule.prefix!r} has no trusted key")
        self.store = store
        self.rules = tuple(rules)
        self._cache: OrderedDict[tuple, list[Verified] | NoTrustedSignature] = OrderedDict()
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self.rules)

    def rule_for(self, repository: str) -> Rule | None:
        """The most specific rule matching ``repository`` (None: no signature is required)."""
        matching = [r for r in self.rules if r.matches(repository)]
        return max(matching, key=lambda r: r.specificity) if matching else None

    def check(self, repository: str, manifest_digest: str | Digest) -> list[Verified]:
        """The trusted signatures of the manifest (empty when no rule applies), or
        :class:`NoTrustedSignature` saying which digest and why each signature was refused."""
        rule = self.rule_for(repository)
        if rule is None:
            return []
        digest = Digest.parse(manifest_digest)
        key = (repository, digest, rule.prefix, self._sources(repository, digest))
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
        if cached is None:
            cached = self._verdict(rule, repository, digest)
            with self._lock:
                self._cache[key] = cached
                while len(self._cache) > CACHE_ENTRIES:
                    self._cache.popitem(last=False)
        if isinstance(cached, NoTrustedSignature):
            raise NoTrustedSignature(cached.message, detail=cached.detail)
        return list(cached)

    def _verdict(self, rule: Rule, repository: str, digest: Digest) -> list[Verified] | NoTrustedSignature:
        found = find(self.store, repository, digest)
        try:
            return verify(found.signatures, digest, rule.keys, problems=found.problems)
        except NoTrustedSignature as e:
            trusted = ", ".join(rule.names or [fingerprint(k) for k in rule.keys])
            message = f"{e.message} (policy require-signature for {rule.prefix or '*'!r}: trusted keys {trusted})"
            return NoTrustedSignature(message, detail=e.detail)

    def _sources(self, repository: str, digest: Digest) -> tuple:
        """What the verdict depends on: the digest the signature tag points at and the
        signature referrers' digests, read without reading any manifest's content."""
        repos = getattr(self.store, "repos", None)
        tagged = None
        try:
            if repos is not None:
                tagged = str(repos.resolve(repository, signature_tag(digest)))
            else:
                tagged = str(self.store.get_manifest(repository, signature_tag(digest)).digest)
        except (ManifestUnknown, NameUnknown):
            pass
        try:
            index = self.store.referrers(repository, digest, SIGNATURE_ARTIFACT_TYPE)
            referrers = tuple(sorted(str(m.get("digest")) for m in index.get("manifests", []) if isinstance(m, dict)))
        except (ManifestUnknown, NameUnknown):
            referrers = ()
        return tagged, referrers
