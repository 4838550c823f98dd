"""The auth database: users with password hashes, per-repository permissions, opaque tokens.

SQLite from the standard library, ``:memory:`` by default or a file (WAL journal). One connection
is opened with the database and reused for every statement under a lock, as a connection pool of
one would be; the schema and its indices are created on open::

    users(id, username UNIQUE, password_hash, created_at)
    permissions(user_id, resource_type, pattern, actions)     primary key (user_id, resource_type, pattern)
    tokens(id, token_hash UNIQUE, user_id, kind, created_at, expires_at, revoked_at)   index (user_id, kind)

Tokens (sessions and short-lived credentials, see :mod:`.tokenstore`) are stored only as SHA-256
hashes of their value. Permission patterns are shell-style globs on resource names
(``team-a/*``), matched in Python so that the database and the static policy agree exactly.

Receipts: every SQL statement records one ``db_query`` item whose detail is a short label
(``user_lookup``, ``permission_lookup``, ...); password checks record ``password_hash``.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from os import PathLike
from typing import Any

from ..errors import ConfigError, Unauthorized
from ..receipts import Kind
from .metering import meter
from .audit import ANONYMOUS_NAME
from .passwords import BcryptHasher, PasswordHasher, verify_password
from .scopes import Scope, ScopeInvalid, allowed_by

_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_ACTION = re.compile(r"[a-z]+|\*")
_TYPE = re.compile(r"[a-z0-9]+")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS permissions (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    resource_type TEXT NOT NULL,
    pattern TEXT NOT NULL,
    actions TEXT NOT NULL,
    PRIMARY KEY (user_id, resource_type, pattern)
);
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    revoked_at REAL
);
CREATE INDEX IF NOT EXISTS tokens_by_user ON tokens(user_id, kind);
"""


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str


@dataclass(frozen=True, slots=True)
class Permission:
    resource_type: str
    pattern: str
    actions: frozenset[str]


def check_username(username: str) -> str:
    """Return ``username`` if acceptable: 1-64 of [A-Za-z0-9._@-], no ':' (Basic auth splits there)."""
    if not isinstance(username, str) or not _USERNAME.fullmatch(username):
        raise ConfigError(f"invalid username {username!r}: 1-64 characters of letters, digits and '._@-', "
                          "starting with a letter or digit")
    if username == ANONYMOUS_NAME:
        raise ConfigError(f"username {ANONYMOUS_NAME!r} is reserved for unauthenticated requests")
    return username


class Database:
    """Users, permissions and tokens in one SQLite database; safe to share between threads."""

    def __init__(self, path: str | PathLike[str] = ":memory:", *, hasher: PasswordHasher | None = None,
                 clock: Callable[[], float] = time.time, node: str | None = None) -> None:
        self.path = str(path)
        self.hasher = hasher or BcryptHasher()
        self.clock = clock
        self.node = node
        self._lock = threading.Lock()
        self._dummy_hash: str | None = None
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA foreign_keys = ON")
        if self.path != ":memory:":
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.executescript(_SCHEMA)

    # -- plumbing -----------------------------------------------------------------------------

    def execute(self, label: str, sql: str, params: Iterable[Any] = (), *, fetch: str | None = None) -> Any:
        """Run one statement as one metered ``db_query``; ``fetch`` is "one", "all" or None
        (then the number of rows changed is returned)."""
        with self._lock, meter(Kind.DB_QUERY, detail=label, node=self.node):
            cur = self._conn.execute(sql, tuple(params))
            if fetch == "one":
                return cur.fetchone()
            if fetch == "all":
                return cur.fetchall()
            return cur.rowcount

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- users --------------------------------------------------------------------------------

    def add_user(self, username: str, password: str) -> User:
        """Create a user with a password hashed by the configured hasher."""
        check_username(username)
        encoded = self.hasher.hash(password)
        try:
            self.execute("user_insert", "INSERT INTO users (username, password_hash, created_at) VALUES (?, ?, ?)",
                         (username, encoded, self.clock()))
        except sqlite3.IntegrityError:
            raise ConfigError(f"user {username!r} already exists") from None
        return self.user(username)

    def user(self, username: str) -> User:
        row = self.execute("user_lookup", "SELECT id, username FROM users WHERE username = ?", (username,),
                           fetch="one")
        if row is None:
            raise ConfigError(f"no user named {username!r}")
        return User(*row)

    def set_password(self, username: str, password: str) -> None:
        encoded = self.hasher.hash(password)
        if not self.execute("password_update", "UPDATE users SET password_hash = ? WHERE username = ?",
                            (encoded, username)):
            raise ConfigError(f"no user named {username!r}")

    def remove_user(self, username: str) -> bool:
        """Delete a user with their permissions and tokens. True if the user existed."""
        return bool(self.execute("user_delete", "DELETE FROM users WHERE username = ?", (username,)))

    def usernames(self) -> list[str]:
        return [r[0] for r in self.execute("user_list", "SELECT username FROM users ORDER BY username", fetch="all")]

    def check_password(self, username: str, password: str) -> User:
        """The user if ``password`` is theirs, else :class:`Unauthorized`.

        An unknown user costs a hash check too (against a dummy hash), so that response time
        does not reveal which usernames exist.
        """
        row = self.execute("user_lookup", "SELECT id, username, password_hash FROM users WHERE username = ?",
                           (username,), fetch="one")
        if row is None:
            if self._dummy_hash is None:
                self._dummy_hash = self.hasher.hash("regsim-dummy-password")
            verify_password(password, self._dummy_hash)
            raise Unauthorized(f"unknown user or wrong password for {username!r}")
        if not verify_password(password, row[2]):
            raise Unauthorized(f"unknown user or wrong password for {username!r}")
        return User(row[0], row[1])

    # -- permissions --------------------------------------------------------------------------

    def grant(self, username: str, pattern: str, actions: Iterable[str] | str, *,
              resource_type: str = "repository") -> Permission:
        """Allow ``username`` the ``actions`` on resources matching ``pattern`` (replacing any
        earlier grant on the same pattern)."""
        acts = frozenset(actions.split(",") if isinstance(actions, str) else actions)
        bad = [a for a in acts if not _ACTION.fullmatch(a)]
        if not acts or bad:
            raise ScopeInvalid(f"permission actions must be lowercase words or '*', got {sorted(acts)}")
        if not _TYPE.fullmatch(resource_type):
            raise ScopeInvalid(f"resource type {resource_type!r} must be [a-z0-9]+")
        if not pattern or any(c.isspace() for c in pattern) or len(pattern) > 255:
            raise ScopeInvalid(f"permission pattern {pattern!r} must be 1-255 characters without spaces")
        user = self.user(username)
        self.execute("permission_upsert",
                     "INSERT INTO permissions (user_id, resource_type, pattern, actions) VALUES (?, ?, ?, ?) "
                     "ON CONFLICT (user_id, resource_type, pattern) DO UPDATE SET actions = excluded.actions",
                     (user.id, resource_type, pattern, ",".join(sorted(acts))))
        return Permission(resource_type, pattern, acts)

    def revoke_permission(self, username: str, pattern: str, *, resource_type: str = "repository") -> bool:
        user = self.user(username)
        return bool(self.execute("permission_delete",
                                 "DELETE FROM permissions WHERE user_id = ? AND resource_type = ? AND pattern = ?",
                                 (user.id, resource_type, pattern)))

    def permissions(self, username: str) -> list[Permission]:
        user = self.user(username)
        rows = self.execute("permission_list", "SELECT resource_type, pattern, actions FROM permissions "
                            "WHERE user_id = ? ORDER BY resource_type, pattern", (user.id,), fetch="all")
        return [Permission(t, p, frozenset(a.split(","))) for t, p, a in rows]

    def allowed(self, user: User | str, scopes: Iterable[Scope]) -> dict[tuple, frozenset[str]]:
        """What the user's permissions allow on each scope's resource, from one statement."""
        if isinstance(user, User):
            rows = self.execute("permission_lookup", "SELECT resource_type, pattern, actions FROM permissions "
                                "WHERE user_id = ?", (user.id,), fetch="all")
        else:
            rows = self.execute("permission_lookup", "SELECT p.resource_type, p.pattern, p.actions "
                                "FROM permissions p JOIN users u ON u.id = p.user_id WHERE u.username = ?",
                                (user,), fetch="all")
        result: dict[tuple, frozenset[str]] = {}
        for scope in scopes:
            rules = [(p, a.split(",")) for t, p, a in rows if t == scope.type]
            result[scope.resource] = allowed_by(rules, scope.name)
        return result
