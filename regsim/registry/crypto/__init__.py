"""Encryption at rest: versioned key-encryption keys and segmented envelope encryption of blobs.

    keyring = Keyring.generate()
    cipher = EnvelopeCipher(keyring, node="s1")
    stored = cipher.encrypt(layer, aad=digest.encode())
    cipher.decrypt(stored, aad=digest.encode()) == layer
    keyring.rotate(); stored = cipher.rewrap(stored)   # header only changes
"""

from .envelope import EnvelopeCipher
from .format import HEADER_SIZE, EnvelopeHeader, ciphertext_size, kek_version, parse_header, plaintext_size
from .keyring import Keyring, UnknownKeyVersion

__all__ = [
    "HEADER_SIZE",
    "EnvelopeCipher",
    "EnvelopeHeader",
    "Keyring",
    "UnknownKeyVersion",
    "ciphertext_size",
    "kek_version",
    "parse_header",
    "plaintext_size",
]
