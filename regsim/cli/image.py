"""``regsim image import DIR``: bring an OCI image layout into a registry store or a scenario;
``regsim image convert DIR --format F``: convert its images to a lazy-pulling format."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from ..errors import UserError
from .image_sign import register_sign
from .image_trace import register_trace

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
    _register_convert(verbs)
    register_sign(verbs)
    register_trace(verbs)
    p.set_defaults(func=run)


FORMATS = ("estargz", "soci", "nydus", "block")


def _register_convert(verbs: argparse._SubParsersAction) -> None:
    conv = verbs.add_parser("convert", help="convert an OCI image layout to a lazy-pulling format "
                                            "(eStargz, SOCI, Nydus-style chunks, block image)",
                            description="Convert the images of an OCI image layout to a lazy-pulling format and "
                                        "print each layer's size before and after and the time taken. estargz, "
                                        "nydus and block write a new layout (--out); soci adds a SOCI index "
                                        "artifact (zTOCs, subject: the image manifest) to the layout, or to a "
                                        "copy of it in --out. See docs/lazy-pulling.md.")
    conv.add_argument("layout", type=Path, metavar="DIR", help="OCI image layout folder (skopeo/umoci output)")
    conv.add_argument("--format", required=True, choices=FORMATS, help="the lazy-pulling format")
    conv.add_argument("--out", type=Path, metavar="DIR",
                      help="folder for the converted layout (must not exist or be empty); required except for soci")
    conv.add_argument("--ref", help="convert only this image of the layout (its ref name); default: every image")
    conv.add_argument("--chunk-size", metavar="SIZE",
                      help="estargz: gzip member per chunk of a large file (default 4MiB); nydus: chunk size "
                           "(default 1MiB)")
    conv.add_argument("--prioritize", action="append", default=[], metavar="FILE",
                      help="estargz: put this file first, before .prefetch.landmark (repeatable)")
    conv.add_argument("--span-size", metavar="SIZE", help="soci: uncompressed bytes between checkpoints (default 4MiB)")
    conv.add_argument("--min-layer-size", metavar="SIZE",
                      help="soci: layers smaller than this get no zTOC (default 10MiB)")
    conv.add_argument("--block-size", metavar="SIZE", help="block: filesystem block size (default 4KiB)")
    conv.add_argument("--segment-size", metavar="SIZE",
                      help="block: bytes per compressed segment (default 64KiB)")
    conv.add_argument("--no-compress", action="store_true", help="block: store the segments raw")


_SIZE_OPTIONS = {"estargz": ("chunk_size",), "soci": ("span_size", "min_layer_size"), "nydus": ("chunk_size",),
                 "block": ("block_size", "segment_size")}


def run(args: argparse.Namespace) -> int:
    from ..registry.errors import RegistryError
    from .common import as_user_error

    if not args.layout.is_dir():
        raise UserError(f"no such folder: {args.layout}")
    # what the registry refuses here (a digest that does not match, a bad --repository or --tag, a
    # manifest it cannot parse, a layer that is not a tar) is about the layout or names the user
    # gave: bad input, exit 2
    with as_user_error(RegistryError):
        return _convert(args) if args.image_verb == "convert" else _import(args)


def _convert_options(args: argparse.Namespace) -> dict:
    """The converter options the flags give, each flag refused for a format it does not apply to."""
    from ..units import parse_size

    options: dict = {}
    given = {name: getattr(args, name) for name in ("chunk_size", "span_size", "min_layer_size", "block_size",
                                                    "segment_size") if getattr(args, name) is not None}
    for name, text in given.items():
        if name not in _SIZE_OPTIONS[args.format]:
            raise UserError(f"--{name.replace('_', '-')} does not apply to --format {args.format}")
        options[name] = parse_size(text)
        if options[name] <= 0 and name != "min_layer_size":
            raise UserError(f"--{name.replace('_', '-')} must be positive, got {text!r}")
    if args.prioritize:
        if args.format != "estargz":
            raise UserError(f"--prioritize does not apply to --format {args.format}")
        options["prioritized"] = list(args.prioritize)
    if args.no_compress:
        if args.format != "block":
            raise UserError(f"--no-compress does not apply to --format {args.format}")
        options["compression"] = "none"
    return options


def _convert(args: argparse.Namespace) -> int:
    """Convert the layout; print per layer the sizes before and after and the time taken."""
    from ..registry.lazy.layout import convert_layout

    options = _convert_options(args)
    if args.out is None and args.format != "soci":
        raise UserError(f"--format {args.format} writes a new layout: give --out DIR")
    report = convert_layout(args.layout, args.out, args.format, ref=args.ref, **options)
    print(f"{'image':<19} {'layer':>5} {'digest':<19} {'before':>14} {'after':>14} {'change':>8} {'seconds':>8}  note")
    for r in report.layers:
        change = f"{(r.after - r.before) / r.before:+.1%}" if r.before else "n/a"
        print(f"{r.image[:19]:<19} {r.index:>5} {r.digest[:19]:<19} {r.before:>14,} {r.after:>14,} {change:>8} "
              f"{r.seconds:>8.3f}  {r.note}")
    total = f"{(report.after - report.before) / report.before:+.1%}" if report.before else "n/a"
    print(f"{args.format}: {len(report.layers)} layers, {report.before:,} -> {report.after:,} bytes ({total}) "
          f"in {report.seconds:.2f} s")
    if report.dedup is not None:
        d = report.dedup
        print(f"chunk dictionary: {d.chunks_referenced} chunks referenced, {d.chunks_stored} stored; "
              f"dedup ratio {d.ratio:.3f} ({d.saved_fraction:.1%} of the data not stored again)")
    for source, written in report.images:
        print(f"{source}: {written}" if not written.startswith("sha256:") else
              f"{source} -> {written}" + (" (SOCI index)" if args.format == "soci" else ""))
    print(f"wrote {report.out}")
    return 0


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
