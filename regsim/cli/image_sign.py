"""``regsim image keygen|sign|verify``: cosign-compatible image signatures, in a running registry or a local store.

- ``keygen`` writes an ECDSA P-256 key pair in cosign's format: ``cosign.key`` (encrypted with a
  password; skopeo's ``--sign-by-sigstore-private-key`` and cosign read it) and ``cosign.pub``.
- ``sign REF --key cosign.key`` signs the manifest REF (``repo:tag`` or ``repo@sha256:...``)
  resolves to and stores the signature as cosign does (tag ``sha256-<hex>.sig``, and as a
  referrer of the manifest).
- ``verify REF --key cosign.pub [--key ...]`` prints the signatures that verify with one of the
  keys and sign that very manifest; exit 1 with the reason of each refusal when none does.

The registry is either a running one, ``--registry http://127.0.0.1:5000`` (``--tls-verify
false`` for a self-signed certificate, or plain http with a bare ``HOST:PORT``; ``--creds
USER:PASS`` for token or Basic auth), or a local store: ``--config FILE`` (a server
configuration with the filesystem backend) or ``--root DIR`` (a plain filesystem store), as
``regsim image import`` takes them.

The password of the private key comes from the environment variable ``--password-env`` names,
else from ``COSIGN_PASSWORD`` (cosign's), else from a prompt on a terminal.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from ..errors import UserError

_BOOLS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _bool(text: str) -> bool:
    try:
        return _BOOLS[text.strip().lower()]
    except KeyError:
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}") from None


def _where(p: argparse.ArgumentParser) -> None:
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--registry", metavar="URL",
                       help="a running registry: http://HOST:PORT, https://HOST:PORT, or HOST:PORT")
    where.add_argument("--config", type=Path, metavar="FILE",
                       help="a server configuration whose (filesystem) store holds the image")
    where.add_argument("--root", type=Path, metavar="DIR",
                       help="a filesystem registry store (replicate(1), no encryption)")
    p.add_argument("--tls-verify", type=_bool, default=True, metavar="BOOL",
                   help="check the registry's TLS certificate; false also makes a bare HOST:PORT plain http "
                        "(default: true)")
    p.add_argument("--creds", metavar="USER:PASS", help="credentials for a registry with auth")


def register_sign(verbs: argparse._SubParsersAction) -> None:
    """Add the ``keygen``, ``sign`` and ``verify`` verbs to ``regsim image``."""
    keygen = verbs.add_parser("keygen", help="write a cosign-format key pair (cosign.key, cosign.pub)",
                              description="Write an ECDSA P-256 key pair: the private key encrypted with a password "
                                          "in cosign's format (skopeo --sign-by-sigstore-private-key reads it) and the "
                                          "public key as PEM beside it (.pub).")
    keygen.add_argument("--out", type=Path, default=Path("cosign.key"), metavar="FILE",
                        help="the private key file; the public key goes to FILE with suffix .pub "
                             "(default: %(default)s)")
    keygen.add_argument("--password-env", metavar="VAR", help="environment variable holding the password")
    keygen.set_defaults(func=run_keygen)

    sign = verbs.add_parser("sign", help="sign an image's manifest the cosign way",
                            description="Sign the manifest REF resolves to and store the signature as cosign does: "
                                        "a layer of the manifest tagged sha256-<hex>.sig, also listed by the "
                                        "referrers API. See docs/server.md, 'Signed images'.")
    sign.add_argument("reference", metavar="REF", help="repo:tag or repo@sha256:<hex> (no tag: latest)")
    sign.add_argument("--key", type=Path, required=True, metavar="FILE", help="cosign-format encrypted private key")
    sign.add_argument("--password-env", metavar="VAR", help="environment variable holding the key's password")
    sign.add_argument("--identity", metavar="REF",
                      help="the docker reference written in the signature (default: HOST:PORT/repo:tag with "
                           "--registry, repo:tag otherwise)")
    _where(sign)
    sign.set_defaults(func=run_sign)

    verify = verbs.add_parser("verify", help="verify an image's cosign signatures against public keys",
                              description="Print the signatures of the manifest REF resolves to that verify with one "
                                          "of the public keys and sign that manifest; exit 1 with the reasons when "
                                          "none does.")
    verify.add_argument("reference", metavar="REF", help="repo:tag or repo@sha256:<hex> (no tag: latest)")
    verify.add_argument("--key", type=Path, action="append", required=True, metavar="FILE",
                        help="a trusted public key (PEM); repeat for several")
    verify.add_argument("--match-repository", action="store_true",
                        help="also require the signed identity to name this repository")
    _where(verify)
    verify.set_defaults(func=run_verify)


# -- helpers -------------------------------------------------------------------------------

def _password(args: argparse.Namespace, *, confirm: bool = False) -> bytes:
    if args.password_env:
        value = os.environ.get(args.password_env)
        if value is None:
            raise UserError(f"--password-env {args.password_env}: that environment variable is not set")
        return value.encode()
    if "COSIGN_PASSWORD" in os.environ:
        return os.environ["COSIGN_PASSWORD"].encode()
    if not sys.stdin.isatty():
        raise UserError("no password: give --password-env VAR, set COSIGN_PASSWORD, or run on a terminal")
    first = getpass.getpass("Password for the private key: ")
    if confirm and getpass.getpass("Again: ") != first:
        raise UserError("the two passwords differ")
    return first.encode()


def _split(reference: str) -> tuple[str, str]:
    """``(repository, tag or digest)`` of ``repo:tag``, ``repo@digest`` or ``repo``."""
    if "@" in reference:
        repo, _, ref = reference.partition("@")
        return repo, ref
    slash, colon = reference.rfind("/"), reference.rfind(":")
    if colon > slash:
        return reference[:colon], reference[colon + 1:]
    return reference, "latest"


def _store(args: argparse.Namespace):
    """The registry the flags name (a RemoteRegistry or a local Registry)."""
    if args.registry is not None:
        from ..registry.signing.remote import RemoteRegistry

        user = password = None
        if args.creds:
            user, sep, password = args.creds.partition(":")
            if not sep or not user:
                raise UserError(f"--creds: expected USER:PASS, got {args.creds!r}")
        return RemoteRegistry(args.registry, tls_verify=args.tls_verify, username=user, password=password)
    from ..registry.config import RegistryConfig
    from ..registry.registry import Registry

    if args.config is not None:
        from ..server import load_config

        config = load_config(args.config)
        if config.registry.backend == "memory":
            raise UserError(f"{args.config}: registry.backend is 'memory'; there is nothing stored to sign. Use "
                            "--registry with the running server")
        return Registry(config.registry_config())
    if not args.root.is_dir():
        raise UserError(f"no such folder: {args.root}")
    return Registry(RegistryConfig(backend="filesystem", root=args.root))


def _resolve(store, repo: str, ref: str):
    """The digest ``ref`` names (a HEAD: a registry enforcing signatures answers it unsigned too)."""
    from ..registry.signing.store import manifest_info

    return manifest_info(store, repo, ref)[0]


# -- verbs ---------------------------------------------------------------------------------

def run_keygen(args: argparse.Namespace) -> int:
    from ..registry.signing.keys import fingerprint, read_public_key, write_key_pair

    password = _password(args, confirm=True)
    private, public = write_key_pair(args.out, password)
    print(f"wrote {private} (encrypted private key) and {public} (public key {fingerprint(read_public_key(public))})")
    return 0


def run_sign(args: argparse.Namespace) -> int:
    from ..registry.errors import RegistryError
    from ..registry.signing.keys import fingerprint, read_private_key
    from ..registry.signing.signature import sign
    from ..registry.signing.store import attach, signature_tag
    from .common import as_user_error

    repo, ref = _split(args.reference)
    with as_user_error(RegistryError):
        key = read_private_key(args.key, _password(args))
        store = _store(args)
        digest = _resolve(store, repo, ref)
        identity = args.identity
        if identity is None:
            sep = "@" if ref.startswith(("sha256:", "sha512:")) else ":"
            identity = f"{repo}{sep}{ref}"
            if args.registry is not None:
                identity = f"{store.host}/{identity}"
        signature = sign(key, digest, identity)
        written = attach(store, repo, digest, signature)
    print(f"signed {repo}@{digest} as {identity!r} with key {fingerprint(key)}: {repo}:{signature_tag(digest)} "
          f"({written})")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from ..registry.errors import RegistryError
    from ..registry.signing.errors import SignatureError
    from ..registry.signing.keys import read_public_keys
    from ..registry.signing.signature import verify
    from ..registry.signing.store import find
    from .common import as_user_error

    repo, ref = _split(args.reference)
    with as_user_error(RegistryError):
        keys = read_public_keys(args.key)
        store = _store(args)
        digest = _resolve(store, repo, ref)
        found = find(store, repo, digest)
    match = None
    if args.match_repository:
        match = f"{store.host}/{repo}" if args.registry is not None else repo
    try:
        accepted = verify(found.signatures, digest, keys, repository=match, problems=found.problems)
    except SignatureError as e:
        print(f"regsim image verify: {args.reference}: {e.message}", file=sys.stderr)
        return 1
    for v in accepted:
        print(f"verified {repo}@{digest}: signed as {v.payload.docker_reference!r} by key {v.key} "
              f"({v.signature.source})")
    return 0
