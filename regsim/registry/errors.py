"""Registry errors, one class per failure a caller must tell apart.

Where the OCI distribution spec defines an error code, the class carries it in ``code`` so the
HTTP layer can answer with the spec's body and status without a lookup table of its own.
"""

from __future__ import annotations


class RegsimError(Exception):
    """The root of every error regsim raises on purpose (re-exported as :mod:`regsim.errors`).

    It lives here, in the lowest layer, so that every layer can subclass it while the registry
    still imports nothing else of regsim.
    """


class UserError(RegsimError):
    """Bad input from the person running regsim (a file, a key, a value, a path): the command line
    prints the message on one line and exits with 2, without a traceback."""


class RegistryError(RegsimError):
    """Base of every error the registry raises on purpose."""

    code = "UNKNOWN"
    status = 500

    def __init__(self, message: str, *, detail: object | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class NameInvalid(RegistryError):
    code, status = "NAME_INVALID", 400


class TagInvalid(RegistryError):
    code, status = "TAG_INVALID", 400


class NameUnknown(RegistryError):
    code, status = "NAME_UNKNOWN", 404


class DigestInvalid(RegistryError):
    """A digest string is malformed, or content does not hash to the digest it claims."""

    code, status = "DIGEST_INVALID", 400


class SizeInvalid(RegistryError):
    code, status = "SIZE_INVALID", 400


class BlobUnknown(RegistryError):
    code, status = "BLOB_UNKNOWN", 404


class BlobUploadUnknown(RegistryError):
    code, status = "BLOB_UPLOAD_UNKNOWN", 404


class BlobUploadInvalid(RegistryError):
    """A chunk arrived at the wrong offset, or an upload was finished in a bad state."""

    code, status = "BLOB_UPLOAD_INVALID", 416


class ManifestInvalid(RegistryError):
    code, status = "MANIFEST_INVALID", 400


class ManifestBlobUnknown(RegistryError):
    code, status = "MANIFEST_BLOB_UNKNOWN", 400


class ManifestUnknown(RegistryError):
    code, status = "MANIFEST_UNKNOWN", 404


class Unsupported(RegistryError):
    code, status = "UNSUPPORTED", 415


class Unauthorized(RegistryError):
    code, status = "UNAUTHORIZED", 401


class Denied(RegistryError):
    code, status = "DENIED", 403


class TooManyRequests(RegistryError):
    code, status = "TOOMANYREQUESTS", 429


class KeyNotFound(RegistryError):
    """A storage backend has no object under the requested key."""

    code, status = "BLOB_UNKNOWN", 404


class InvalidKey(RegistryError):
    """A storage key that could escape the backend's root or is otherwise malformed."""

    code, status = "NAME_INVALID", 400


class IntegrityError(RegistryError):
    """Stored data failed authentication or a checksum: tampering or corruption."""

    code, status = "BLOB_UNKNOWN", 500


class DataLoss(RegistryError):
    """More fragments are lost than the codec tolerates; names the blob and the lost nodes."""

    code, status = "BLOB_UNKNOWN", 503


class BlobLost(DataLoss):
    """A stored blob cannot be read back: one of its extents has more fragments lost than the codec
    tolerates. ``detail`` holds ``digest``, ``extent`` and the ``nodes`` its lost fragments were on.

    503 with the spec's ``BLOB_UNKNOWN``: clients know that code, and treat a 5xx as the server's
    trouble, worth retrying later (the nodes may come back), not as a blob that was never pushed."""


class StorageUnavailable(RegistryError):
    """Too few storage nodes are up to write with the configured redundancy; names which are down."""

    code, status = "UNKNOWN", 503


class ConfigError(RegistryError, UserError):
    """The registry was configured with values it cannot work with: the values come from the user
    (a server configuration, a ``--root``, a keyring file), so it is also a :class:`UserError`."""

    code, status = "UNSUPPORTED", 500
