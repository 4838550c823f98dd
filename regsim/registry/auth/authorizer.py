"""One question for every request -- may these credentials have these scopes? -- three answers.

:class:`Authorizer` is the protocol: ``authorize(credentials, scopes) -> Grant``. A grant lists
every requested scope, for the request needs all of them; otherwise

- :class:`~regsim.registry.errors.Unauthorized`: credentials missing, invalid, expired or revoked
  (HTTP 401; the client should authenticate, or fetch a token, and retry);
- :class:`~regsim.registry.errors.Denied`: valid credentials without enough access (HTTP 403).

Both carry a :class:`~.principal.Challenge` as ``detail`` with the scope and the reason, from
which an HTTP layer builds ``WWW-Authenticate``. Implementations:

- :class:`JwtAuthorizer` -- stateless: checks a bearer JWT from the token service (cached).
- :class:`DatabaseAuthorizer` -- a session-token look-up, or a password (or short-lived
  credential) check for Basic credentials, then a permission look-up.
- :class:`AnonymousAuthorizer` -- no credentials: everything, or what a policy allows anyone.

Every check leaves receipt items (``jwt_verify``/``jwt_cache_hit``, ``db_query``,
``password_hash``) and, given an audit log, one audit event per requested scope.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from ..errors import Denied, Unauthorized
from .audit import UNAUTHORIZED, AuditLog, Auditor
from .database import Database, User
from .policy import Policy
from .principal import BasicCredentials, BearerToken, Challenge, Credentials, Grant
from .scopes import Scope
from .tokenstore import SESSION, TokenStore
from .verify import TokenRejected, TokenVerifier


@runtime_checkable
class Authorizer(Protocol):
    def authorize(self, credentials: Credentials, scopes: Sequence[Scope], *, remote: str | None = None) -> Grant:
        """The grant for ``scopes``, or :class:`Unauthorized` / :class:`Denied` with a challenge;
        ``remote`` (the client's address, if known) is recorded on the audit events."""
        ...


class _Base:
    """What the implementations share: the challenge, the audit trail and the access decision."""

    method = "none"
    scheme = "Bearer"

    def __init__(self, realm: str, service: str, audit: AuditLog | None, clock: Callable[[], float]) -> None:
        self.realm, self.service = realm, service
        self.audit = Auditor(audit, self.method, clock)

    def _challenge(self, scopes: Sequence[Scope], error: str | None, description: str | None) -> Challenge:
        return Challenge(self.realm, self.service, tuple(scopes), error, description, self.scheme)

    def _unauthorized(self, who: str, scopes: Sequence[Scope], message: str, error: str | None,
                      remote: str | None) -> Unauthorized:
        self.audit.refused(who, UNAUTHORIZED, message, scopes, remote=remote)
        return Unauthorized(message, detail=self._challenge(scopes, error, message))

    def _decide(self, subject: str, scopes: Sequence[Scope], allowed: dict, reason: str,
                expires_at: float | None, remote: str | None) -> Grant:
        """Grant if every requested action is allowed, else refuse naming what is missing."""
        granted, lacking = {}, []
        for scope in scopes:
            have = allowed.get(scope.resource, frozenset())
            got = scope.actions if "*" in have else scope.actions & have
            granted[scope.resource] = got
            if got != scope.actions:
                lacking.append(f"{','.join(sorted(scope.actions - got))} on {scope.type_label}:{scope.name}")
        if lacking:
            who = subject or "anonymous"
            message = f"{who} lacks {'; '.join(lacking)}"
            self.audit.decisions(subject, scopes, granted, message, remote=remote)
            if not subject:  # anonymous: authenticating may help, so 401 rather than 403
                raise Unauthorized(f"authentication required: {message}",
                                   detail=self._challenge(scopes, None, message))
            raise Denied(f"access denied: {message}", detail=self._challenge(scopes, "insufficient_scope", message))
        self.audit.decisions(subject, scopes, granted, reason, remote=remote)
        return Grant(subject, tuple(scopes), self.method, expires_at)


class JwtAuthorizer(_Base):
    """Accepts bearer JWTs of the token service, checked by a :class:`~.verify.TokenVerifier`."""

    method = "jwt"

    def __init__(self, verifier: TokenVerifier, *, realm: str, service: str | None = None,
                 audit: AuditLog | None = None) -> None:
        super().__init__(realm, service or verifier.audience[0], audit, verifier.clock)
        self.verifier = verifier

    def authorize(self, credentials: Credentials, scopes: Sequence[Scope], *, remote: str | None = None) -> Grant:
        if not isinstance(credentials, BearerToken):
            who = credentials.username if isinstance(credentials, BasicCredentials) else ""
            raise self._unauthorized(who, scopes, "a bearer token from the token service is required", None, remote)
        try:
            token = self.verifier.verify(credentials.token)
        except TokenRejected as e:
            self.audit.refused("", UNAUTHORIZED, e.message, scopes, remote=remote)
            e.detail = self._challenge(scopes, "invalid_token", e.message)
            raise
        allowed = {s.resource: token.actions_on(s) for s in scopes}
        return self._decide(token.subject, scopes, allowed, f"token {token.jti}", token.expires_at, remote)


class DatabaseAuthorizer(_Base):
    """Checks session tokens (Bearer) or Basic credentials against the auth database."""

    method = "database"
    scheme = "Basic"

    def __init__(self, db: Database, *, realm: str = "regsim", service: str = "regsim",
                 audit: AuditLog | None = None) -> None:
        super().__init__(realm, service, audit, db.clock)
        self.db = db
        self.tokens = TokenStore(db)

    def authorize(self, credentials: Credentials, scopes: Sequence[Scope], *, remote: str | None = None) -> Grant:
        user, expires_at = self._authenticate(credentials, scopes, remote)
        allowed = self.db.allowed(user, scopes) if scopes else {}
        return self._decide(user.username, scopes, allowed, "permissions", expires_at, remote)

    def _authenticate(self, credentials: Credentials, scopes: Sequence[Scope],
                      remote: str | None) -> tuple[User, float | None]:
        try:
            if isinstance(credentials, BearerToken):
                record = self.tokens.lookup(credentials.token, kind=SESSION)
                return record.user, record.expires_at
            if isinstance(credentials, BasicCredentials):
                return self.tokens.authenticate(credentials.username, credentials.password), None
        except Unauthorized as e:
            who = credentials.username if isinstance(credentials, BasicCredentials) else ""
            raise self._unauthorized(who, scopes, e.message, "invalid_token", remote) from None
        raise self._unauthorized("", scopes, "credentials required", None, remote)


class AnonymousAuthorizer(_Base):
    """No authentication: credentials are ignored. Without a policy every scope is granted (an
    open registry); with one, what it allows anonymous requests."""

    method = "anonymous"

    def __init__(self, policy: Policy | None = None, *, realm: str = "regsim", service: str = "regsim",
                 audit: AuditLog | None = None, clock: Callable[[], float] = time.time) -> None:
        super().__init__(realm, service, audit, clock)
        self.policy = policy

    def authorize(self, credentials: Credentials, scopes: Sequence[Scope], *, remote: str | None = None) -> Grant:
        if self.policy is None:
            return self._decide("", scopes, {s.resource: frozenset({"*"}) for s in scopes}, "open registry", None,
                                remote)
        return self._decide("", scopes, self.policy.allowed(None, scopes), "anonymous policy", None, remote)

