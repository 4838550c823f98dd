"""The registry's check of a bearer token issued by the token service.

A token is accepted only if all of these hold:

- its header names a ``kid`` the :class:`~.keys.KeySet` trusts, and its signature verifies with
  that key under the one algorithm bound to the key -- PyJWT gets an explicit allow-list taken
  from the key, never from the token header, so ``alg: none`` and an HS256 token "signed" with an
  RSA public key are both refused;
- ``iss`` and ``aud`` are the configured issuer and this registry's service name;
- ``exp``, ``nbf`` and ``iat`` are present and hold at the injected clock's time within the
  stated leeway (default **30 seconds**, for clock skew between token service and registry): not
  expired (``now <= exp + leeway``), already valid (``nbf <= now + leeway``), not issued in the
  future (``iat <= now + leeway``), and not living longer than the key set's ``max_token_ttl``;
- ``sub``, ``jti`` and a well-formed ``access`` list are present; with ``single_use`` the ``jti``
  has not been seen before.

Which actions the token grants is the caller's question (:meth:`VerifiedToken.missing`). A token
that passed is cached until it expires, so its next uses skip PyJWT; a revoked key empties the
cache. Receipts: ``jwt_verify`` (detail: algorithm) for a full check, failed ones included, since
a forged token costs a signature check too; ``jwt_cache_hit`` for a cached one.
"""

from __future__ import annotations

from ..errors import RegsimError
import binascii
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
from jwt.utils import base64url_decode

from ..errors import Unauthorized
from ..receipts import Kind
from .cache import JtiLedger, TokenCache
from .keys import KeySet
from .metering import meter
from .scopes import Scope, ScopeInvalid

DEFAULT_LEEWAY = 30.0
_REQUIRED = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"]
_OPTIONS = {"require": _REQUIRED, "verify_exp": False, "verify_nbf": False, "verify_iat": False}


class _Miss(RegsimError):
    pass


class TokenRejected(Unauthorized):
    """A bearer token failed the check; ``reason`` is a short machine-readable cause."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"invalid token ({reason}): {message}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """What a valid token says: who, for which service, which access, until when."""

    subject: str
    issuer: str
    audience: tuple[str, ...]
    access: tuple[Scope, ...]
    expires_at: float
    issued_at: float
    jti: str
    kid: str
    algorithm: str
    claims: Mapping[str, Any] = field(repr=False, compare=False)
    _actions: Mapping[tuple[str, str | None, str], frozenset[str]] = field(repr=False, compare=False)

    def actions_on(self, scope: Scope) -> frozenset[str]:
        """Every action the token grants on the resource of ``scope``."""
        return self._actions.get(scope.resource, frozenset())

    def missing(self, scope: Scope) -> frozenset[str]:
        """The requested actions of ``scope`` the token does not grant (empty: all granted)."""
        granted = self._actions.get(scope.resource, frozenset())
        return frozenset() if "*" in granted else scope.actions - granted


def _number(claims: Mapping[str, Any], name: str) -> float:
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TokenRejected("malformed", f"claim {name!r} must be a number of seconds, got {value!r}")
    return float(value)


def _unverified_header(token: str) -> dict[str, Any]:
    """The JOSE header, read only to find the ``kid``; PyJWT re-reads and checks it in full.
    (PyJWT's own ``get_unverified_header`` decodes the whole token, doubling the cost.)"""
    try:
        header = json.loads(base64url_decode(token[: token.index(".")]))
    except (ValueError, TypeError, binascii.Error):
        raise TokenRejected("malformed", "token header is not base64url-encoded JSON") from None
    if not isinstance(header, dict):
        raise TokenRejected("malformed", "token header must be a JSON object")
    return header


class TokenVerifier:
    """Checks tokens of one issuer for one service (audience); thread-safe.

    ``cache_size`` bounds the verified-token cache (0 disables it). ``single_use`` rejects a token
    whose ``jti`` was seen before. The clock defaults to the key set's.
    """

    def __init__(self, keys: KeySet, *, issuer: str, audience: str | Iterable[str],
                 leeway: float = DEFAULT_LEEWAY, cache_size: int = 10_000, single_use: bool = False,
                 clock: Callable[[], float] | None = None, node: str | None = None) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = [audience] if isinstance(audience, str) else list(audience)
        self.leeway = float(leeway)
        self.clock = clock or keys.clock
        self.node = node
        self.cache: TokenCache[VerifiedToken] | None = TokenCache(cache_size) if cache_size else None
        self.ledger = JtiLedger() if single_use else None
        self._revision = keys.revision

    def verify(self, token: str) -> VerifiedToken:
        """The verified content of ``token``, or :class:`TokenRejected` naming what failed."""
        now = self.clock()
        cache = self.cache
        if cache is not None:
            if self._revision != self.keys.revision:  # a key was revoked: trust nothing cached
                cache.clear()
                self._revision = self.keys.revision
            hit = self._cached(cache, token, now)
            if hit is not None:
                self._consume(hit, now)
                return hit
        verified = self._verify_uncached(token, now)
        self._consume(verified, now)
        if cache is not None:
            cache.put(token, verified, verified.expires_at + self.leeway)
        return verified

    def _cached(self, cache: TokenCache[VerifiedToken], token: object, now: float) -> VerifiedToken | None:
        """The cached verification of ``token``, metered as a cache hit; a miss records nothing
        here, its look-up is a sliver of the full check that follows."""
        if not isinstance(token, str):
            return None
        try:
            with meter(Kind.JWT_CACHE_HIT, node=self.node) as m:
                hit = cache.get(token, now)
                if hit is None:
                    raise _Miss  # leaving the meter by an exception records nothing
                m.detail = hit.algorithm
                return hit
        except _Miss:
            return None

    def _consume(self, verified: VerifiedToken, now: float) -> None:
        if self.ledger is not None and not self.ledger.consume(verified.jti, verified.expires_at + self.leeway, now):
            raise TokenRejected("replayed", f"single-use token {verified.jti!r} was already used")

    def _verify_uncached(self, token: object, now: float) -> VerifiedToken:
        failure: TokenRejected | None = None
        with meter(Kind.JWT_VERIFY, node=self.node) as m:
            try:
                verified = self._check(token, now, m)
            except TokenRejected as e:
                failure = e
        if failure is not None:
            raise failure
        return verified

    def _check(self, token: object, now: float, m: Any) -> VerifiedToken:
        if not isinstance(token, str) or token.count(".") != 2:
            raise TokenRejected("malformed", "a token is three base64url segments joined by '.'")
        header = _unverified_header(token)
        kid = header.get("kid")
        try:
            key = self.keys.get(kid, leeway=self.leeway)
        except Unauthorized as e:
            raise TokenRejected("unknown_key", e.message) from None
        m.detail = key.algorithm
        try:
            claims = jwt.decode(token, key.verify_key, algorithms=[key.algorithm], audience=self.audience,
                                issuer=self.issuer, options=_OPTIONS)  # type: ignore[arg-type]
        except jwt.InvalidAlgorithmError:
            raise TokenRejected("algorithm", f"key {kid!r} verifies {key.algorithm} only; the token says "
                                f"{header.get('alg')!r}") from None
        except jwt.InvalidSignatureError:
            raise TokenRejected("signature", "signature does not verify (tampered token or wrong key)") from None
        except jwt.InvalidAudienceError as e:
            raise TokenRejected("audience", f"{e}; this registry is {self.audience}") from None
        except jwt.InvalidIssuerError as e:
            raise TokenRejected("issuer", f"{e}; expected {self.issuer!r}") from None
        except jwt.MissingRequiredClaimError as e:
            raise TokenRejected("malformed", str(e)) from None
        except jwt.PyJWTError as e:
            raise TokenRejected("malformed", str(e)) from None
        return self._check_claims(claims, key.kid, key.algorithm, now)

    def _check_claims(self, claims: dict[str, Any], kid: str, algorithm: str, now: float) -> VerifiedToken:
        exp, nbf, iat = _number(claims, "exp"), _number(claims, "nbf"), _number(claims, "iat")
        if now > exp + self.leeway:
            raise TokenRejected("expired", f"token expired at {exp:.0f}, now is {now:.0f} (leeway {self.leeway:g} s)")
        if nbf > now + self.leeway:
            raise TokenRejected("not_yet_valid", f"token not valid before {nbf:.0f}, now is {now:.0f}")
        if iat > now + self.leeway:
            raise TokenRejected("not_yet_valid", f"token issued in the future ({iat:.0f}), now is {now:.0f}")
        if exp - iat > self.keys.max_token_ttl + self.leeway:
            raise TokenRejected("lifetime", f"token lives {exp - iat:.0f} s, longer than the allowed "
                                f"{self.keys.max_token_ttl:.0f} s")
        subject, jti, access = claims["sub"], claims["jti"], claims.get("access", [])
        if not isinstance(subject, str) or not isinstance(jti, str):
            raise TokenRejected("malformed", "claims 'sub' and 'jti' must be strings")
        if not isinstance(access, list):
            raise TokenRejected("malformed", "claim 'access' must be a list")
        try:
            scopes = tuple(Scope.from_claim(entry) for entry in access)
        except ScopeInvalid as e:
            raise TokenRejected("malformed", e.message) from None
        actions: dict[tuple[str, str | None, str], frozenset[str]] = {}
        for s in scopes:
            actions[s.resource] = actions.get(s.resource, frozenset()) | s.actions
        aud = claims["aud"]
        return VerifiedToken(subject, claims["iss"], (aud,) if isinstance(aud, str) else tuple(aud), scopes,
                             exp, iat, jti, kid, algorithm, claims, actions)
