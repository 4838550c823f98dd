"""What a request presents (credentials), what it is given (a grant), and how a refusal says so.

Credentials are one of a bearer token, a Basic username and password, or nothing (anonymous);
:func:`parse_authorization` reads them from an ``Authorization`` header value so an HTTP layer
needs no parsing of its own. A :class:`Challenge` rides on every :class:`Unauthorized` and
:class:`Denied` the authorizers raise (as the error's ``detail``) and renders the
``WWW-Authenticate: Bearer realm=..,service=..,scope=..,error=..`` header of the token spec.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from ..errors import RegistryError, Unauthorized
from .scopes import Scope, format_scopes


@dataclass(frozen=True, slots=True)
class BearerToken:
    token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class BasicCredentials:
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Anonymous:
    pass


Credentials = BearerToken | BasicCredentials | Anonymous
ANONYMOUS = Anonymous()


def parse_authorization(header: str | None) -> Credentials:
    """Credentials from an ``Authorization`` header value (None or empty: anonymous)."""
    if not header or not header.strip():
        return ANONYMOUS
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return BearerToken(value)
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("Basic credentials are not valid base64 of UTF-8 'user:password'") from None
        username, sep, password = decoded.partition(":")
        if not sep:
            raise Unauthorized("Basic credentials must be 'user:password'")
        return BasicCredentials(username, password)
    if scheme.lower() in ("bearer", "basic"):
        raise Unauthorized(f"the Authorization header names the {scheme} scheme but carries no credentials")
    raise Unauthorized(f"unsupported Authorization scheme {scheme!r}: use Bearer or Basic")


@dataclass(frozen=True, slots=True)
class Grant:
    """Access a request was given: the subject and every granted action on every resource."""

    subject: str
    access: tuple[Scope, ...]
    method: str
    expires_at: float | None = None

    @property
    def anonymous(self) -> bool:
        return self.subject == ""

    def allows(self, scope: Scope) -> bool:
        """True if every action of ``scope`` is granted on its resource."""
        for granted in self.access:
            if granted.resource == scope.resource and ("*" in granted.actions or scope.actions <= granted.actions):
                return True
        return False


@dataclass(frozen=True, slots=True)
class Challenge:
    """The hint a refused client needs: where to get a token, for which service and scope, and why.

    ``error`` follows RFC 6750: ``invalid_token`` (bad or expired credentials),
    ``insufficient_scope`` (valid credentials, not enough access), or None (none were sent).
    ``scheme`` is ``Bearer`` for token auth and ``Basic`` for database auth.
    """

    realm: str
    service: str
    scopes: tuple[Scope, ...] = ()
    error: str | None = None
    description: str | None = None
    scheme: str = "Bearer"

    def header(self) -> str:
        """The ``WWW-Authenticate`` header value (a ``Basic`` challenge names the realm only)."""
        if self.scheme == "Basic":
            return f'Basic realm="{_quote(self.realm)}"'
        params = [("realm", self.realm), ("service", self.service)]
        if self.scopes:
            params.append(("scope", format_scopes(self.scopes)))
        if self.error:  # RFC 6750 3.1: no error details when no credentials were sent
            params.append(("error", self.error))
            if self.description:
                params.append(("error_description", self.description))
        quoted = ",".join(f'{k}="{_quote(v)}"' for k, v in params)
        return f"Bearer {quoted}"


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def challenge_of(error: RegistryError) -> Challenge | None:
    """The challenge an auth error carries, if any."""
    return error.detail if isinstance(error.detail, Challenge) else None
