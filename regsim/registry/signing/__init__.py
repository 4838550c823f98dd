"""Image signatures compatible with sigstore/cosign and skopeo: sign, store, find, verify, enforce.

=============  ===========================================================================
module         what it holds
=============  ===========================================================================
``payload``    the "simple signing" payload a signature signs (build, strict parse)
``keys``       ECDSA P-256 key pairs; cosign's encrypted private key files; PEM public keys
``signature``  :func:`~.signature.sign` a manifest digest; :func:`~.signature.verify`
               signatures against a set of trusted public keys
``store``      signatures in a registry as cosign keeps them (the ``sha256-<hex>.sig``
               tag) and as referrers of the signed manifest; :func:`~.store.find` both
``policy``     :class:`~.policy.SignaturePolicy`, the ``require-signature`` pull policy
``remote``     :class:`~.remote.RemoteRegistry`, a registry over HTTP with the methods
               ``store`` needs (for ``regsim image sign|verify --registry``)
``errors``     ``SignatureInvalid``, ``PayloadInvalid``, ``PayloadMismatch``,
               ``NoTrustedSignature`` (403 ``DENIED``); ``KeyInvalid``, ``WrongPassword``
=============  ===========================================================================

Like the rest of :mod:`regsim.registry` this imports nothing of the simulator. docs/server.md
("Signed images") describes the formats, the server's policy and the command line.
"""
