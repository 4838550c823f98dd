"""Calibration workloads that exercise the whole registry: push and pull, auth, manifests.

:func:`register_registry_workloads` adds them to :data:`regsim.sim.calibrate.WORKLOADS`, so
``regsim calibrate`` prices
every receipt kind the registry emits from real calls on the machine it runs on: envelope
encryption and RS(4,2) on a push and on a degraded pull, JWT signing and verification for each
algorithm (cached and not), the database token check, and password hashing at the registry's
default cost.
"""

from __future__ import annotations

import numpy as np

from regsim.registry.auth import (
    BasicCredentials,
    BcryptHasher,
    BearerToken,
    Database,
    DatabaseAuthorizer,
    KeySet,
    Scope,
    SigningKey,
    StaticPolicy,
    TokenService,
    TokenStore,
    TokenVerifier,
)
from regsim.registry.config import RegistryConfig
from regsim.registry.registry import Registry

from .calibrate import register_workload

LAYER_SIZES = (64 << 10, 1 << 20, 4 << 20)
_rng = np.random.default_rng(1)
_LAYERS = [_rng.integers(0, 256, s, dtype=np.uint8).tobytes() for s in LAYER_SIZES]
_round = iter(range(1 << 62))


def registry_push_pull() -> None:
    """Push three layers into an encrypted RS(4,2) registry, pull them healthy and degraded."""
    reg = Registry(RegistryConfig(codec="rs(4,2)", nodes=6, encryption="aes-256-gcm", segment_size=1 << 20))
    salt = next(_round).to_bytes(8, "little")
    layers = [salt + layer for layer in _LAYERS]  # new content each round: nothing deduplicates
    reg.push_image("calibrate/app", "v1", layers)
    reg.pull_image("calibrate/app", "v1")
    reg.fail_node("s0")
    reg.fail_node("s1")
    reg.pull_image("calibrate/app", "v1")
    reg.replace_node("s0")
    reg.repair()


def _lazy(setup):
    """Run ``setup`` on first use only, so importing this module generates no keys or hashes."""
    state: list = []

    def get():
        if not state:
            state.append(setup())
        return state[0]

    return get


def _jwt_workload(algorithm: str):
    def setup():
        keys = KeySet([SigningKey.generate(algorithm)])
        policy = StaticPolicy.from_dict({"calibrate": {"calibrate/*": "pull,push"}})
        return keys, TokenService(keys, issuer="regsim-calibrate", service="registry", policy=policy)

    state = _lazy(setup)
    scope = [Scope.repository("calibrate/app", "pull")]

    def run() -> None:
        keys, service = state()
        verifier = TokenVerifier(keys, issuer="regsim-calibrate", audience="registry")
        for _ in range(20):
            token = service.issue("calibrate", scope).token
            verifier.verify(token)  # uncached: PyJWT runs
            for _ in range(5):
                verifier.verify(token)  # cached

    return run


def _database_workload():
    def setup():
        db = Database(hasher=BcryptHasher())  # the registry's default cost
        db.add_user("calibrate", "correct horse battery staple")
        db.grant("calibrate", "calibrate/*", "pull,push")
        return DatabaseAuthorizer(db), TokenStore(db).issue("calibrate", ttl=1e9).token

    state = _lazy(setup)
    scope = [Scope.repository("calibrate/app", "pull")]

    def run() -> None:
        authorizer, token = state()
        for _ in range(200):
            authorizer.authorize(BearerToken(token), scope)
        authorizer.authorize(BasicCredentials("calibrate", "correct horse battery staple"), scope)

    return run


def register_registry_workloads() -> list[str]:
    """Add the registry-level workloads to the default calibration set; returns their names."""
    names = ["registry-push-pull"]
    register_workload("registry-push-pull", registry_push_pull)
    for alg in ("RS256", "ES256", "EdDSA", "HS256"):
        names.append(f"jwt-{alg.lower()}")
        register_workload(names[-1], _jwt_workload(alg))
    names.append("database-auth")
    register_workload("database-auth", _database_workload())
    return names
