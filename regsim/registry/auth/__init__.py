"""Registry authentication and authorization.

Two ways to decide a request, behind one :class:`Authorizer` protocol: a Docker-style token
service issuing JWTs the registry checks statelessly (:class:`TokenService`,
:class:`TokenVerifier`, :class:`JwtAuthorizer`), and a SQLite user database checked per request
(:class:`Database`, :class:`DatabaseAuthorizer`). Around them: the scope grammar, signing keys
with rotation, Kubernetes ``dockerconfigjson`` secrets, short-lived credentials and an audit trail.
Every check records receipt items so the simulator can price stateless against database auth.

:func:`make_auth` wires a whole stack from one :class:`AuthSpec` (mode ``none``, ``jwt`` or ``db``),
so every user of the stack builds it the same way. :class:`Detector` reads access decisions for
signs of a stolen or abused credential (:mod:`.detection`).
"""

from .audit import AuditEvent, AuditLog, LoggingAuditLog, MemoryAuditLog
from .authorizer import AnonymousAuthorizer, Authorizer, DatabaseAuthorizer, JwtAuthorizer
from .cache import CacheStats, JtiLedger, TokenCache
from .credentials import CredentialIssuer, ShortLivedCredential
from .database import Database, Permission, User
from .detection import (Access, ConcurrentUse, DeniedBurst, Detector, NewSourceNetwork, SecurityAlert,
                        network_of)
from .dockerconfig import DockerConfig, DockerConfigSecret, RegistryAuth, SecretInvalid, parse_secret
from .factory import AUTH_MODE_ALIASES, AUTH_MODES, AuthSpec, AuthStack, canonical_auth_mode, make_auth
from .keys import KeySet, SigningKey
from .passwords import Argon2Hasher, BcryptHasher, PasswordHasher, make_hasher, verify_password
from .policy import DatabasePolicy, Policy, StaticPolicy, UnionPolicy
from .principal import (ANONYMOUS, Anonymous, BasicCredentials, BearerToken, Challenge, Credentials, Grant,
                        challenge_of, parse_authorization)
from .scopes import Scope, ScopeInvalid, parse_scopes
from .tokens import TokenResponse, TokenService
from .tokenstore import IssuedToken, TokenRecord, TokenStore
from .verify import DEFAULT_LEEWAY, TokenRejected, TokenVerifier, VerifiedToken

__all__ = [
    "ANONYMOUS", "AUTH_MODES", "AUTH_MODE_ALIASES", "Access", "Anonymous", "AnonymousAuthorizer", "Argon2Hasher",
    "AuditEvent", "AuditLog", "AuthSpec", "AuthStack", "Authorizer", "BasicCredentials", "BcryptHasher",
    "BearerToken", "CacheStats", "Challenge", "ConcurrentUse", "CredentialIssuer", "Credentials", "DEFAULT_LEEWAY",
    "Database", "DatabaseAuthorizer", "DatabasePolicy", "DeniedBurst", "Detector", "DockerConfig",
    "DockerConfigSecret", "Grant", "IssuedToken", "JtiLedger", "JwtAuthorizer", "KeySet", "LoggingAuditLog",
    "MemoryAuditLog", "NewSourceNetwork", "PasswordHasher", "Permission", "Policy", "RegistryAuth", "Scope",
    "ScopeInvalid", "SecretInvalid", "SecurityAlert", "ShortLivedCredential", "SigningKey", "StaticPolicy",
    "TokenCache", "TokenRecord", "TokenRejected", "TokenResponse", "TokenService", "TokenStore", "TokenVerifier",
    "UnionPolicy", "User", "VerifiedToken", "canonical_auth_mode", "challenge_of", "make_auth", "make_hasher",
    "network_of", "parse_authorization", "parse_scopes", "verify_password",
]
