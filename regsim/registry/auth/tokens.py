"""The token service of the Docker registry token authentication spec.

A client refused by the registry asks the service named in the challenge's ``realm`` for a token,
with ``service`` (the registry's name) and one or more ``scope`` parameters, authenticating with
Basic credentials, a database session token, or nothing. The service grants, per requested
resource, the intersection of the requested actions and what its :class:`~.policy.Policy`
allows. A partial or empty grant is not an error: the token simply carries less access, and the
registry refuses what it lacks. Only failed authentication is an error (:class:`Unauthorized`).

The token is a JWT signed with the key set's active key, its header naming the key (``kid``):

    {"iss", "sub" ("" if anonymous), "aud" (the service), "exp", "nbf", "iat", "jti",
     "access": [{"type", "name", "actions"}, ...]}

and the response body is ``{"token", "access_token", "expires_in", "issued_at"}`` (RFC 3339).
Times are whole seconds, as Go clients parse them into integers.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import jwt

from ..errors import ConfigError, Denied, Unauthorized
from ..receipts import Kind
from .audit import UNAUTHORIZED, AuditLog, Auditor
from .keys import KeySet
from .metering import meter
from .policy import Policy
from .principal import Anonymous, BasicCredentials, BearerToken, Credentials
from .scopes import Scope, granted_actions, merge_scopes, parse_scopes
from .tokenstore import SESSION, TokenStore


@dataclass(frozen=True, slots=True)
class TokenResponse:
    """An issued token and what it grants."""

    token: str = field(repr=False)
    subject: str = ""
    audience: str = ""
    access: tuple[Scope, ...] = ()
    issued_at: int = 0
    expires_in: int = 0
    jti: str = ""

    @property
    def expires_at(self) -> int:
        return self.issued_at + self.expires_in

    def to_json(self) -> dict[str, Any]:
        """The token endpoint's response body."""
        issued = datetime.fromtimestamp(self.issued_at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"token": self.token, "access_token": self.token, "expires_in": self.expires_in, "issued_at": issued}


def _as_scopes(scopes: str | Iterable[str | Scope]) -> list[Scope]:
    """Scope strings (each possibly several, space-separated) and Scope objects, merged."""
    if isinstance(scopes, str):
        scopes = [scopes]
    items: list[Scope] = []
    for item in scopes:
        items.extend([item] if isinstance(item, Scope) else parse_scopes(item))
    return merge_scopes(items)


class TokenService:
    """Issues tokens for one or more registry services (audiences) from a policy.

    ``ttl`` is the token lifetime (default 5 minutes, as Docker's); it may not exceed the key set's
    ``max_token_ttl``, which is how long retired keys stay trusted. ``users`` authenticates Basic
    credentials and session tokens when given.
    """

    def __init__(self, keys: KeySet, *, issuer: str, service: str | Iterable[str], policy: Policy,
                 ttl: float = 300.0, users: TokenStore | None = None, audit: AuditLog | None = None,
                 clock: Callable[[], float] | None = None, node: str | None = None) -> None:
        if not 0 < ttl <= keys.max_token_ttl:
            raise ConfigError(f"token ttl {ttl} s must be positive and at most the key set's "
                              f"max_token_ttl ({keys.max_token_ttl} s)")
        self.keys = keys
        self.issuer = issuer
        self.services = [service] if isinstance(service, str) else list(service)
        if not self.services:
            raise ConfigError("the token service needs at least one service name (audience)")
        self.policy = policy
        self.ttl = int(ttl)
        self.users = users
        self.clock = clock or keys.clock
        self.node = node
        self.audit = Auditor(audit, "token_service", self.clock)

    def request(self, credentials: Credentials, scopes: str | Iterable[str | Scope] = (), *,
                service: str | None = None, remote: str | None = None) -> TokenResponse:
        """Authenticate ``credentials`` and issue a token for what the subject may have of ``scopes``;
        ``remote`` (the client's address, if known) is recorded on the audit events."""
        requested = _as_scopes(scopes)
        try:
            subject = self._authenticate(credentials)
        except Unauthorized as e:
            who = credentials.username if isinstance(credentials, BasicCredentials) else ""
            self.audit.refused(who, UNAUTHORIZED, e.message, requested, remote=remote)
            raise
        return self.issue(subject, requested, service=service, remote=remote)

    def _authenticate(self, credentials: Credentials) -> str | None:
        if isinstance(credentials, Anonymous):
            return None
        if self.users is None:
            raise Unauthorized("this token service has no user database; only anonymous requests are served")
        if isinstance(credentials, BasicCredentials):
            return self.users.authenticate(credentials.username, credentials.password).username
        if isinstance(credentials, BearerToken):
            return self.users.lookup(credentials.token, kind=SESSION).user.username
        raise Unauthorized(f"unsupported credentials {type(credentials).__name__}")

    def issue(self, subject: str | None, scopes: str | Iterable[str | Scope] = (), *,
              service: str | None = None, remote: str | None = None) -> TokenResponse:
        """A token for an already-authenticated ``subject`` (None or "": anonymous)."""
        subject = subject or None
        audience = service or self.services[0]
        if audience not in self.services:
            raise Denied(f"this token service issues tokens for {self.services}, not for service {audience!r}")
        requested = _as_scopes(scopes)
        allowed = self.policy.allowed(subject, requested)
        granted = {s.resource: granted_actions(s.actions, allowed.get(s.resource, frozenset())) for s in requested}
        access = tuple(s.with_actions(granted[s.resource]) for s in requested if granted[s.resource])
        self.audit.decisions(subject or "", requested, granted, "policy", remote=remote)
        key = self.keys.active
        now = int(self.clock())
        jti = secrets.token_urlsafe(16)
        claims = {"iss": self.issuer, "sub": subject or "", "aud": audience, "exp": now + self.ttl, "nbf": now,
                  "iat": now, "jti": jti, "access": [s.to_claim() for s in access]}
        with meter(Kind.JWT_SIGN, detail=key.algorithm, node=self.node):
            token = jwt.encode(claims, key.signing_key, algorithm=key.algorithm,  # type: ignore[arg-type]
                               headers={"kid": key.kid, "typ": "JWT"})
        return TokenResponse(token, subject or "", audience, access, now, self.ttl, jti)
