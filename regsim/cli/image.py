"""``regsim image import DIR``: bring an OCI image layout into a registry store or a scenario."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from ..errors import UserError

_TAG = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("image", help="work with real images (OCI image layouts)")
    verbs = p.add_subparsers(dest="image_verb", required=True, metavar="ACTION")
    imp = verbs.add_parser("import", help="load an OCI image layout into a registry store, or its layer sizes "
                                          "into a scenario")
    imp.add_argument("layout", type=Path, metavar="DIR", help="OCI image layout folder (skopeo/umoci output)")
    imp.add_argument("--ref", help="which image of the layout (its ref name); needed when it holds several")
    where = imp.add_mutually_exclusive_group(required=True)
    where.add_argument("--config", type=Path, metavar="FILE",
                       help="server configuration whose registry storage receives the image (filesystem backend)")
    where.add_argument("--root", type=Path, metavar="DIR",
                       help="filesystem registry store to load into (replicate(1), no encryption)")
    where.add_argument("--scenario", type=Path, metavar="FILE",
                       help="write the image's layer sizes into this scenario's image section")
    imp.add_argument("--repository", help="repository to push to (default: the scenario's, or library/app)")
    imp.add_argument("--tag", help="tag to push as (default: the layout's ref name, or 'latest')")
    imp.add_argument("--platform", default="linux/amd64",
                     help="platform whose layers a multi-platform image contributes to a scenario (default: %(default)s)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..registry.errors import RegistryError
    from .common import as_user_error

    if not args.layout.is_dir():
        raise UserError(f"no such folder: {args.layout}")
    # what the registry refuses here (a digest that does not match, a bad --repository or --tag, a
    # manifest it cannot parse) is about the layout or names the user gave: bad input, exit 2
    with as_user_error(RegistryError):
        return _import(args)


def _import(args: argparse.Namespace) -> int:
    """Load the layout into a registry store, or its layer sizes into a scenario; print what was done."""
    from ..registry.config import RegistryConfig
    from ..registry.oci_layout import OciLayout, import_image, layer_sizes
    from ..registry.registry import Registry
    from ..scenario.image_file import write_scenario_image

    layout = OciLayout(args.layout)
    refs = layout.refs()
    ref = args.ref or (refs[0] if len(layout.entries) == 1 and refs else None)
    if args.scenario is not None:
        sizes = layer_sizes(layout, args.ref, platform=args.platform)
        image = write_scenario_image(args.scenario, sizes, repository=args.repository, tag=args.tag)
        print(f"{args.scenario}: image.layers = {len(sizes)} layers, {sum(sizes):,} bytes "
              f"({', '.join(f'{s:,}' for s in sizes)}); repository {image.get('repository', 'library/app')}")
        return 0
    if args.config is not None:
        from ..server import load_config
        config = load_config(args.config)
        if config.registry.backend != "filesystem":
            raise UserError(f"{args.config}: registry.backend is {config.registry.backend!r}; importing into a "
                            "memory store would be lost at exit; use the filesystem backend")
        registry = Registry(config.registry_config())
    else:
        registry = Registry(RegistryConfig(backend="filesystem", root=args.root))
    tag = args.tag or (ref if ref and _TAG.fullmatch(ref) else "latest")
    repository = args.repository or "library/app"
    report = import_image(registry, layout, repository, tag, args.ref)
    print(f"imported {report.repository}:{report.tag} ({report.manifest}): {report.blobs} blobs, "
          f"{report.bytes:,} bytes stored, {report.skipped} already present")
    return 0
