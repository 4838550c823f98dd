"""Opaque tokens in the auth database: login sessions and short-lived credentials.

A token is a random string (``secrets.token_urlsafe``, 256 bits) shown once to its holder and
stored only as its SHA-256: a leaked database gives no usable token, and because the value is
random and long, a fast hash is as safe as a slow one. Each token belongs to a user, has a kind,
an expiry and possibly a revocation time. Its prefix says its kind -- ``rss_`` for sessions,
``rsc_`` for credentials -- so a Basic-auth password that is a credential is recognised without
trying the password hash first (and a leaked one is easy to spot in logs and scanners).

The per-request check of a token is one indexed look-up (``token_lookup``).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field

from ..errors import ConfigError, Unauthorized
from .database import Database, User

SESSION, CREDENTIAL = "session", "credential"
PREFIXES = {SESSION: "rss_", CREDENTIAL: "rsc_"}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token just issued: the only time its value is known to the registry."""

    id: str
    token: str = field(repr=False)
    username: str = ""
    kind: str = SESSION
    issued_at: float = 0.0
    expires_at: float = 0.0


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A stored token as a check sees it (never its value)."""

    id: str
    user: User
    kind: str
    issued_at: float
    expires_at: float
    revoked_at: float | None


class TokenStore:
    """Issue, check, shorten and revoke a database's tokens."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def issue(self, username: str, ttl: float, *, kind: str = SESSION) -> IssuedToken:
        """A new token for ``username`` valid for ``ttl`` seconds."""
        if kind not in PREFIXES:
            raise ConfigError(f"unknown token kind {kind!r}: use {' or '.join(PREFIXES)}")
        if not ttl > 0:
            raise ConfigError(f"token ttl must be positive, got {ttl}")
        user = self.db.user(username)
        token = PREFIXES[kind] + secrets.token_urlsafe(32)
        token_id, now = secrets.token_hex(8), self.db.clock()
        self.db.execute("token_insert", "INSERT INTO tokens (id, token_hash, user_id, kind, created_at, expires_at) "
                        "VALUES (?, ?, ?, ?, ?, ?)", (token_id, token_hash(token), user.id, kind, now, now + ttl))
        return IssuedToken(token_id, token, user.username, kind, now, now + ttl)

    def lookup(self, token: str, *, kind: str | None = None) -> TokenRecord:
        """The live token record for ``token``, else :class:`Unauthorized` saying why not."""
        if not isinstance(token, str) or not token:
            raise Unauthorized("empty token")
        row = self.db.execute(
            "token_lookup",
            "SELECT t.id, t.user_id, u.username, t.kind, t.created_at, t.expires_at, t.revoked_at "
            "FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?",
            (token_hash(token),), fetch="one")
        if row is None:
            raise Unauthorized("unknown token")
        record = TokenRecord(row[0], User(row[1], row[2]), row[3], row[4], row[5], row[6])
        if kind is not None and record.kind != kind:
            raise Unauthorized(f"a {record.kind} token cannot be used as a {kind}")
        if record.revoked_at is not None:
            raise Unauthorized(f"token {record.id} was revoked")
        if self.db.clock() >= record.expires_at:
            raise Unauthorized(f"token {record.id} expired")
        return record

    def get(self, token_id: str) -> TokenRecord | None:
        """A token's record by id, whatever its state (None if there is no such token)."""
        row = self.db.execute(
            "token_get",
            "SELECT t.id, t.user_id, u.username, t.kind, t.created_at, t.expires_at, t.revoked_at "
            "FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?", (token_id,), fetch="one")
        return None if row is None else TokenRecord(row[0], User(row[1], row[2]), row[3], row[4], row[5], row[6])

    def revoke(self, token_id: str) -> bool:
        """Revoke a token by its id; True if a live token was revoked."""
        return bool(self.db.execute("token_revoke", "UPDATE tokens SET revoked_at = ? WHERE id = ? "
                                    "AND revoked_at IS NULL", (self.db.clock(), token_id)))

    def revoke_token(self, token: str) -> bool:
        """Revoke a token by its value (a logout)."""
        return bool(self.db.execute("token_revoke", "UPDATE tokens SET revoked_at = ? WHERE token_hash = ? "
                                    "AND revoked_at IS NULL", (self.db.clock(), token_hash(token))))

    def revoke_user(self, username: str, *, kind: str | None = None) -> int:
        """Revoke every live token of a user (of one kind if given); returns how many."""
        user = self.db.user(username)
        sql = "UPDATE tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL"
        params: tuple = (self.db.clock(), user.id)
        if kind is not None:
            sql, params = sql + " AND kind = ?", params + (kind,)
        return int(self.db.execute("token_revoke_user", sql, params))

    def expire_at(self, token_id: str, when: float) -> bool:
        """Bring a token's expiry forward to ``when`` (never extends it)."""
        return bool(self.db.execute("token_expire", "UPDATE tokens SET expires_at = MIN(expires_at, ?) "
                                    "WHERE id = ?", (when, token_id)))

    def active(self, username: str, *, kind: str | None = None) -> list[TokenRecord]:
        """A user's tokens that are neither revoked nor expired, oldest first."""
        user = self.db.user(username)
        rows = self.db.execute("token_list", "SELECT id, kind, created_at, expires_at FROM tokens WHERE user_id = ? "
                               "AND revoked_at IS NULL AND expires_at > ? ORDER BY created_at",
                               (user.id, self.db.clock()), fetch="all")
        return [TokenRecord(i, user, k, c, e, None) for i, k, c, e in rows if kind is None or k == kind]

    def purge(self) -> int:
        """Delete tokens that are expired or revoked; returns how many."""
        return int(self.db.execute("token_purge", "DELETE FROM tokens WHERE expires_at <= ? OR revoked_at IS NOT NULL",
                                   (self.db.clock(),)))

    def login(self, username: str, password: str, ttl: float = 3600.0) -> IssuedToken:
        """Check a password (or a short-lived credential, :meth:`authenticate`) and open a session:
        the token to send as ``Bearer`` afterwards."""
        self.authenticate(username, password)
        return self.issue(username, ttl, kind=SESSION)

    def authenticate(self, username: str, password: str) -> User:
        """Check Basic credentials: a short-lived credential (by its prefix) or the password."""
        if password.startswith(PREFIXES[CREDENTIAL]):
            record = self.lookup(password, kind=CREDENTIAL)
            if record.user.username != username:
                raise Unauthorized(f"credential {record.id} does not belong to {username!r}")
            return record.user
        return self.db.check_password(username, password)
