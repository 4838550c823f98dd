"""Shared fixtures: a hand-driven clock, key sets per algorithm, a fast-hashing database."""

from __future__ import annotations

import pytest

from regsim.registry.auth import BcryptHasher, Database, KeySet, SigningKey, StaticPolicy, TokenService, TokenStore

ALGORITHMS = ["RS256", "ES256", "EdDSA", "HS256"]
ISSUER, SERVICE = "https://auth.example.test", "registry.example.test"


class FakeClock:
    """Epoch seconds that move only when a test says so."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


_KEYS: dict[str, SigningKey] = {}


def signing_key(algorithm: str) -> SigningKey:
    """One key per algorithm for the whole session (RSA generation is the slow part)."""
    if algorithm not in _KEYS:
        _KEYS[algorithm] = SigningKey.generate(algorithm)
    return _KEYS[algorithm]


@pytest.fixture(params=ALGORITHMS)
def algorithm(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def keys(clock: FakeClock) -> KeySet:
    return KeySet([signing_key("ES256")], clock=clock)


@pytest.fixture
def policy() -> StaticPolicy:
    return StaticPolicy.from_dict({
        "alice": {"team-a/*": "pull,push", "shared/base": "pull"},
        "bob": {"team-b/*": "*"},
        "admin": {"registry:catalog": "*", "*": "*"},
        "*": {"library/*": "pull"},
        "anonymous": {"public/*": "pull"},
    })


@pytest.fixture
def service(keys: KeySet, policy: StaticPolicy) -> TokenService:
    return TokenService(keys, issuer=ISSUER, service=SERVICE, policy=policy)


@pytest.fixture
def db(clock: FakeClock):
    database = Database(hasher=BcryptHasher.fastest(), clock=clock)
    yield database
    database.close()


@pytest.fixture
def store(db: Database) -> TokenStore:
    return TokenStore(db)
