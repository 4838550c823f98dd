"""The errors of image signing, one class per failure a caller must tell apart.

A signature that does not hold is the registry refusing to serve, so the verification errors
derive from :class:`~regsim.registry.errors.Denied` (``DENIED``, 403): a server whose pull policy
finds no trusted signature answers with the spec's error body and the message, which names the
manifest digest and what failed. Key files are the user's input, so their errors derive from
:class:`~regsim.registry.errors.ConfigError` (a :class:`UserError`: one line, exit 2).
"""

from __future__ import annotations

from ..errors import ConfigError, Denied


class SignatureError(Denied):
    """Base of every verification failure: the image is not to be trusted."""


class SignatureInvalid(SignatureError):
    """One signature does not hold: its base64 is malformed, it is missing from the layer's
    annotations, or it does not verify over the payload with any trusted key (a tampered payload
    or a key that is not trusted)."""


class PayloadInvalid(SignatureInvalid):
    """The signed payload is not a simple-signing payload of a cosign signature: not JSON, a
    field missing, unknown or duplicated, or ``critical.type`` is not cosign's."""


class PayloadMismatch(SignatureError):
    """A signature that verifies, but for something else: its payload names another manifest
    digest (a signature copied from another image) or another identity than required."""


class NoTrustedSignature(SignatureError):
    """No signature of a manifest verifies with the trusted keys (or it has none at all).
    ``detail`` holds ``digest`` and, per signature found, why it was not accepted."""


class KeyInvalid(ConfigError):
    """A key file cannot be used: not PEM, a PEM type or key algorithm that is not supported, an
    encrypted key whose envelope is malformed or uses parameters cosign does not write."""


class WrongPassword(KeyInvalid):
    """An encrypted private key that does not open with the password given."""
