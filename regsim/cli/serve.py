"""``regsim serve``: the registry over HTTP (OCI distribution API) for real clients."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve the registry over HTTP(S) to docker, skopeo, podman, oras, ...")
    p.add_argument("--config", type=Path, metavar="FILE",
                   help="server configuration (YAML: registry storage, auth, http); default: an open "
                        "in-memory registry")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=int, default=5000, help="port to listen on; 0 picks a free one (default: %(default)s)")
    p.add_argument("--tls-cert", type=Path, metavar="F", help="serve HTTPS with this certificate chain (PEM)")
    p.add_argument("--tls-key", type=Path, metavar="F", help="the certificate's private key (PEM)")
    p.add_argument("--self-signed", action="store_true",
                   help="serve HTTPS with a fresh self-signed certificate (its path is printed)")
    p.add_argument("--tls-dir", type=Path, metavar="DIR",
                   help="where --self-signed writes cert.pem and key.pem (default: a temporary folder, removed when the server stops)")
    p.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"],
                   help="server log level (default: %(default)s)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..registry.errors import RegistryError
    from ..server import Listen, load_config, serve
    from ..server.serve import self_signed_listen
    from .common import as_user_error

    if args.self_signed and (args.tls_cert or args.tls_key):
        raise UserError("give --tls-cert and --tls-key, or --self-signed, not both")
    if bool(args.tls_cert) != bool(args.tls_key):
        raise UserError("--tls-cert and --tls-key go together")
    for path in (args.tls_cert, args.tls_key):
        if path is not None and not path.is_file():
            raise UserError(f"no such file: {path}")
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port must be 0-65535, got {args.port}")
    config = load_config(args.config)
    listen = Listen(args.host, args.port, args.tls_cert, args.tls_key)
    if args.self_signed:
        listen = self_signed_listen(listen, args.tls_dir)  # no folder: a temporary one, removed at exit
    try:
        with as_user_error(RegistryError):  # a store the configuration names that cannot be opened
            serve(config, listen, log_level=args.log_level)
    except KeyboardInterrupt:
        pass
    return 0
