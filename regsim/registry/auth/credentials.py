"""Short-lived registry credentials: issue with a TTL, rotate, revoke.

Long-lived passwords in cluster secrets leak and never expire. A short-lived credential is a
username plus a random secret that works as a Basic-auth password -- at the registry's
:class:`~.authorizer.DatabaseAuthorizer` and at the token service alike -- until its TTL runs out
(the model of ``aws ecr get-login-password``). It is stored as a hash in the auth database's
token table, so checking it is one indexed look-up and no password hash.

Rotation issues the successor first and lets the predecessor live for an optional overlap, so
pods that still hold the old secret keep pulling while the new one propagates; revocation ends a
credential at once. Every issue, rotation and revocation is an audit event.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ConfigError
from .audit import ISSUED, REVOKED, ROTATED, AuditLog, Auditor
from .database import Database
from .dockerconfig import DockerConfig, DockerConfigSecret, RegistryAuth
from .principal import BasicCredentials
from .tokenstore import CREDENTIAL, TokenRecord, TokenStore


@dataclass(frozen=True, slots=True)
class ShortLivedCredential:
    """An issued credential; ``secret`` is known only now, the database keeps its hash."""

    id: str
    username: str
    secret: str = field(repr=False)
    issued_at: float
    expires_at: float

    def basic(self) -> BasicCredentials:
        return BasicCredentials(self.username, self.secret)

    def registry_auth(self) -> RegistryAuth:
        return RegistryAuth(self.username, self.secret)

    def to_secret(self, name: str, registry: str, *, namespace: str | None = None) -> DockerConfigSecret:
        """A ``kubernetes.io/dockerconfigjson`` secret holding this credential for ``registry``."""
        return DockerConfigSecret(name, DockerConfig({registry: self.registry_auth()}), namespace)


class CredentialIssuer:
    """Issues short-lived credentials for database users; TTLs are bounded by ``max_ttl``."""

    def __init__(self, db: Database, *, default_ttl: float = 3600.0, max_ttl: float = 12 * 3600.0,
                 audit: AuditLog | None = None) -> None:
        if not 0 < default_ttl <= max_ttl:
            raise ConfigError(f"credential ttl {default_ttl} s must be positive and at most max_ttl ({max_ttl} s)")
        self.db = db
        self.tokens = TokenStore(db)
        self.default_ttl, self.max_ttl = default_ttl, max_ttl
        self.audit = Auditor(audit, "credentials", db.clock)

    def issue(self, username: str, ttl: float | None = None) -> ShortLivedCredential:
        """A new credential for ``username`` valid for ``ttl`` seconds (default ``default_ttl``)."""
        ttl = self.default_ttl if ttl is None else ttl
        if not 0 < ttl <= self.max_ttl:
            raise ConfigError(f"credential ttl {ttl} s must be positive and at most {self.max_ttl} s")
        issued = self.tokens.issue(username, ttl, kind=CREDENTIAL)
        self.audit.event(username, ISSUED, f"credential {issued.id} valid for {ttl:g} s")
        return ShortLivedCredential(issued.id, issued.username, issued.token, issued.issued_at, issued.expires_at)

    def rotate(self, current: ShortLivedCredential, ttl: float | None = None, *,
               overlap: float = 0.0) -> ShortLivedCredential:
        """Issue the successor of ``current``; ``current`` stays valid ``overlap`` more seconds
        (never beyond its own expiry), or is revoked at once when ``overlap`` is 0."""
        if overlap < 0:
            raise ConfigError(f"rotation overlap must not be negative, got {overlap}")
        record = self.tokens.get(current.id)
        if record is None or record.kind != CREDENTIAL:
            raise ConfigError(f"no credential {current.id!r} to rotate")
        successor = self.issue(record.user.username, ttl)
        if overlap == 0:
            self.tokens.revoke(current.id)
        else:
            self.tokens.expire_at(current.id, self.db.clock() + overlap)
        self.audit.event(record.user.username, ROTATED,
                         f"credential {current.id} replaced by {successor.id}, overlap {overlap:g} s")
        return successor

    def revoke(self, credential_id: str) -> bool:
        """End a credential now; True if it was live."""
        record = self.tokens.get(credential_id)
        if record is None or record.kind != CREDENTIAL:
            return False
        done = self.tokens.revoke(credential_id)
        if done:
            self.audit.event(record.user.username, REVOKED, f"credential {credential_id} revoked")
        return done

    def revoke_all(self, username: str) -> int:
        """End every credential of ``username``; returns how many were live."""
        count = self.tokens.revoke_user(username, kind=CREDENTIAL)
        self.audit.event(username, REVOKED, f"all {count} live credentials revoked")
        return count

    def active(self, username: str) -> list[TokenRecord]:
        return self.tokens.active(username, kind=CREDENTIAL)
