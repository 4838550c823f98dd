"""Key pairs in cosign's format: the encrypted private key file and the PEM public key."""

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from regsim.registry.errors import UserError
from regsim.registry.signing import keys
from regsim.registry.signing.errors import KeyInvalid, WrongPassword


def _envelope(pem: bytes) -> dict:
    body = b"".join(line for line in pem.splitlines() if not line.startswith(b"-----"))
    return json.loads(base64.b64decode(body))


def _repem(pem_type: str, envelope: dict) -> bytes:
    return keys._pem(pem_type, json.dumps(envelope).encode())


def test_generated_keys_are_p256(key):
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"


def test_encrypted_key_round_trip_in_cosigns_envelope(key):
    pem = keys.encrypt_private_key(key, b"s3cret")
    lines = pem.decode().splitlines()
    assert lines[0] == "-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----"
    assert lines[-1] == "-----END ENCRYPTED COSIGN PRIVATE KEY-----"
    assert all(len(line) <= 64 for line in lines[1:-1])
    env = _envelope(pem)
    assert env["kdf"]["name"] == "scrypt" and env["kdf"]["params"] == {"N": 32768, "r": 8, "p": 1}
    assert len(base64.b64decode(env["kdf"]["salt"])) == 32
    assert env["cipher"]["name"] == "nacl/secretbox" and len(base64.b64decode(env["cipher"]["nonce"])) == 24
    back = keys.decrypt_private_key(pem, b"s3cret")
    assert back.private_numbers() == key.private_numbers()


def test_the_sigstore_pem_type_and_stronger_scrypt_are_read(key):
    pem = keys.encrypt_private_key(key, b"pw", pem_type=keys.SIGSTORE_PEM_TYPE)
    assert b"ENCRYPTED SIGSTORE PRIVATE KEY" in pem
    assert keys.decrypt_private_key(pem, b"pw").private_numbers() == key.private_numbers()


def test_wrong_password_is_refused_clearly(key):
    pem = keys.encrypt_private_key(key, b"right")
    with pytest.raises(WrongPassword) as e:
        keys.decrypt_private_key(pem, b"wrong", source="cosign.key")
    assert str(e.value) == "cosign.key: wrong password (the key does not decrypt with it)"
    assert isinstance(e.value, UserError)


def test_an_empty_password_works(key):
    assert keys.decrypt_private_key(keys.encrypt_private_key(key, b""), b"").private_numbers() == key.private_numbers()


def test_tampered_ciphertext_is_refused(key):
    env = _envelope(keys.encrypt_private_key(key, b"pw"))
    raw = bytearray(base64.b64decode(env["ciphertext"]))
    raw[-1] ^= 1
    env["ciphertext"] = base64.b64encode(bytes(raw)).decode()
    with pytest.raises(WrongPassword):
        keys.decrypt_private_key(_repem(keys.COSIGN_PEM_TYPE, env), b"pw")


@pytest.mark.parametrize("change, message", [
    (lambda env: env["kdf"]["params"].update(N=1 << 20), "unsupported scrypt parameters N=1048576"),
    (lambda env: env["kdf"].update(name="pbkdf2"), "unknown key derivation 'pbkdf2'"),
    (lambda env: env["cipher"].update(name="aes-gcm"), "unknown cipher 'aes-gcm'"),
    (lambda env: env["cipher"].update(nonce="AAAA"), "the nonce is 3 bytes"),
    (lambda env: env.pop("ciphertext"), "malformed encrypted key envelope"),
    (lambda env: env["kdf"].update(salt="!!"), "malformed encrypted key envelope"),
])
def test_malformed_envelopes_are_refused_before_deriving(key, change, message):
    env = _envelope(keys.encrypt_private_key(key, b"pw"))
    change(env)
    with pytest.raises(KeyInvalid) as e:
        keys.decrypt_private_key(_repem(keys.COSIGN_PEM_TYPE, env), b"pw", source="k")
    assert message in str(e.value) and not isinstance(e.value, WrongPassword)


@pytest.mark.parametrize("pem, message", [
    (b"hello", "not a PEM file"),
    (b"\xff\xfe", "binary"),
    (b"-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n", "PEM type 'EC PRIVATE KEY' is not"),
    (b"-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\nAAAA\n", "has no -----END"),
])
def test_files_that_are_not_cosign_keys(pem, message):
    with pytest.raises(KeyInvalid) as e:
        keys.decrypt_private_key(pem, b"pw", source="k")
    assert message in str(e.value)


def test_public_keys_as_pem(key):
    pem = keys.public_pem(key)
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert keys.load_public_key(pem).public_numbers() == key.public_key().public_numbers()
    assert keys.fingerprint(key) == keys.fingerprint(key.public_key())
    ed = ed25519.Ed25519PrivateKey.generate()
    assert isinstance(keys.load_public_key(keys.public_pem(ed)), ed25519.Ed25519PublicKey)


def test_bad_public_keys(key):
    with pytest.raises(KeyInvalid, match="this is a private key"):
        keys.load_public_key(keys.encrypt_private_key(key, b"pw"), source="k")
    with pytest.raises(KeyInvalid, match="k: not a PEM public key"):
        keys.load_public_key(b"garbage", source="k")


def test_write_key_pair(tmp_path, key):
    private, public = keys.write_key_pair(tmp_path / "cosign.key", b"pw", key=key)
    assert public == tmp_path / "cosign.pub"
    assert private.stat().st_mode & 0o777 == 0o600
    assert keys.read_private_key(private, b"pw").private_numbers() == key.private_numbers()
    assert keys.read_public_key(public).public_numbers() == key.public_key().public_numbers()
    with pytest.raises(KeyInvalid, match="already exists"):
        keys.write_key_pair(private, b"pw")
