"""The converters and the common reader: every format behind one ``LazyLayer`` interface, and
``regsim image convert`` on OCI image layouts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from regsim.cli import main
from regsim.registry.config import RegistryConfig
from regsim.registry.digest import Digest
from regsim.registry.lazy import estargz, nydus, soci
from regsim.registry.lazy.convert import FORMATS, WholeLayer, convert_layer
from regsim.registry.lazy.errors import LazyFormatError
from regsim.registry.lazy.layout import convert_layout
from regsim.registry.lazy.ranges import ByteRange, RangeSource, coalesce
from regsim.registry.manifests import parse_manifest
from regsim.registry.oci_layout import OciLayout, import_image
from regsim.registry.registry import Registry

from .layers import Layer, MiB, build_tar, mixed_spec, write_layout

SOCI_SMALL = {"min_layer_size": 0, "span_size": 1 * MiB}


@pytest.fixture(scope="module", params=FORMATS)
def converted(request, mixed):
    options = SOCI_SMALL if request.param == "soci" else {}
    return convert_layer(mixed.gz, request.param, **options)


def test_every_format_reads_every_file_through_the_common_interface(mixed, converted):
    reader = converted.open()
    assert reader.format == converted.format
    assert sorted(reader.files()) == sorted(mixed.files)
    kinds = {e.name: e.type for e in reader.entries()}
    assert kinds["usr/bin"] == "symlink" and kinds["usr/lib"] == "dir" and kinds["usr/lib/hard.link"] == "hardlink"
    sizes = {b.digest: b.size for b in (*converted.layers, *converted.artifacts)}
    for name, data in mixed.files.items():
        reader.reset_counters()
        ranges = reader.byte_ranges(name)
        assert reader.read_file(name) == data
        assert reader.bytes_fetched == sum(r.length for r in ranges)
        assert ranges == coalesce(ranges)
        for r in ranges:
            assert 0 <= r.offset and r.end <= sizes[next(d for d in sizes if str(d) == r.blob)]
    assert converted.size_before == len(mixed.gz) and converted.size_after > 0 and converted.seconds > 0


def test_a_read_costs_a_small_part_of_the_layer(mixed, converted):
    reader = converted.open()
    reader.reset_counters()
    reader.read_file("etc/file001.bin")
    assert reader.bytes_fetched < len(mixed.gz) / 5


def test_the_ranges_can_come_from_any_source(mixed, converted):
    """What a model or an HTTP client passes: sources keyed by blob digest."""
    fetched = []

    def source(blob):
        def fetch(off, n):
            fetched.append((str(blob.digest), off, n))
            return blob.data[off:off + n]
        return RangeSource(fetch, blob.size, str(blob.digest))

    reader = converted.open({str(b.digest): source(b) for b in converted.layers})
    name = "usr/lib/big-random.so"
    assert reader.read_file(name) == mixed.files[name]
    assert {(b, o, n) for b, o, n in fetched} >= {(r.blob, r.offset, r.length) for r in reader.byte_ranges(name)}


def test_a_soci_layer_under_the_minimum_is_pulled_whole(mixed):
    c = convert_layer(mixed.gz, "soci")
    assert c.result is None and c.artifacts == () and "not indexed" in c.note
    reader = c.open()
    assert isinstance(reader, WholeLayer)
    assert reader.read_file("etc/file001.bin") == mixed.files["etc/file001.bin"]
    assert reader.bytes_fetched == len(mixed.gz) and reader.requests == 1
    assert reader.read_file("usr/lib/file000.bin") == mixed.files["usr/lib/file000.bin"]
    assert reader.requests == 1


def test_the_diff_ids_name_the_converted_content(mixed):
    import gzip
    import hashlib
    es = convert_layer(mixed.gz, "estargz", level=1)
    assert es.diff_ids == ("sha256:" + hashlib.sha256(gzip.decompress(es.layers[0].data)).hexdigest(),)
    ny = convert_layer(mixed.gz, "nydus")
    assert [b.role for b in ny.layers] == ["blob", "bootstrap"] and len(ny.diff_ids) == 2
    assert ny.layers[0].annotations == {nydus.BLOB_ANNOTATION: "true"}


def test_unknown_formats_and_options_are_refused(mixed):
    with pytest.raises(LazyFormatError, match="unknown lazy format"):
        convert_layer(mixed.gz, "squashfs")
    with pytest.raises(LazyFormatError, match="no option span_size"):
        convert_layer(mixed.gz, "estargz", span_size=1)
    with pytest.raises(LazyFormatError, match="no file"):
        convert_layer(mixed.gz, "nydus").open().read_file("nope")
    with pytest.raises(LazyFormatError, match="not a regular file"):
        convert_layer(mixed.gz, "nydus").open().read_file("usr/lib")


def test_coalesce_merges_touching_ranges_of_a_blob():
    got = coalesce([ByteRange("b", 10, 5), ByteRange("a", 0, 4), ByteRange("b", 0, 10), ByteRange("b", 30, 1),
                    ByteRange("a", 4, 0)])
    assert got == [ByteRange("a", 0, 4), ByteRange("b", 0, 15), ByteRange("b", 30, 1)]


# -- layouts and the command line ---------------------------------------------------------------

@pytest.fixture(scope="module")
def layout(tmp_path_factory) -> tuple[Path, list]:
    layers = [build_tar(mixed_spec(21, files=40, big=False)), build_tar(mixed_spec(22, files=40, big=False))]
    root = write_layout(tmp_path_factory.mktemp("layout") / "img", layers)
    return root, layers


@pytest.mark.parametrize("fmt", ["estargz", "nydus", "block"])
def test_a_converted_layout_imports_and_reads_lazily(tmp_path, layout, fmt):
    root, layers = layout
    report = convert_layout(root, tmp_path / "out", fmt)
    assert [r.index for r in report.layers] == [0, 1] and report.before == sum(len(x.gz) for x in layers)
    out = OciLayout(tmp_path / "out")
    assert out.refs() == ["v1"]
    manifest = parse_manifest(out.read(out.select("v1")))
    config = json.loads(out.read(manifest.config))
    assert len(config["rootfs"]["diff_ids"]) == len(manifest.layers) and config["config"] == {"Cmd": ["/bin/sh"]}
    if fmt == "estargz":
        import gzip
        import hashlib
        assert config["rootfs"]["diff_ids"] == [
            "sha256:" + hashlib.sha256(gzip.decompress(out.blob_path(d.digest).read_bytes())).hexdigest()
            for d in manifest.layers]
    reg = Registry(RegistryConfig())
    imported = import_image(reg, out, "team/app", "v1")
    stored = parse_manifest(reg.get_manifest("team/app", "v1").data)
    assert imported.manifest == out.select("v1").digest

    def src(desc):
        return RangeSource(lambda o, n: reg.read_blob("team/app", desc.digest, o, n), desc.size, str(desc.digest))

    if fmt == "estargz":
        readers = [estargz.EStargzReader(src(d), toc_digest=d.annotations[estargz.TOC_DIGEST_ANNOTATION])
                   for d in stored.layers]
    elif fmt == "nydus":
        sources = {str(d.digest): src(d) for d in stored.layers if d.media_type == nydus.BLOB_MEDIA_TYPE}
        readers = [nydus.NydusReader.open(src(d), sources) for d in stored.layers
                   if d.media_type == nydus.BOOTSTRAP_MEDIA_TYPE]
        assert report.dedup is not None and report.dedup.chunks_stored > 0
    else:
        from regsim.registry.lazy import blockimage
        readers = [blockimage.BlockReader(src(d)) for d in stored.layers]
    for reader, layer in zip(readers, layers, strict=True):
        for name, data in list(layer.files.items())[::7]:
            assert reader.read_file(name) == data


def test_soci_adds_an_index_artifact_to_the_layout(tmp_path, layout):
    root, layers = layout
    report = convert_layout(root, tmp_path / "copy", "soci", min_layer_size=0, span_size=1 * MiB)
    index = json.loads((tmp_path / "copy" / "index.json").read_text())
    image, artifact = index["manifests"]
    assert artifact["artifactType"] == soci.SOCI_INDEX_ARTIFACT_TYPE
    out = OciLayout(tmp_path / "copy")
    doc = json.loads((tmp_path / "copy" / "blobs" / "sha256" / artifact["digest"].split(":")[1]).read_bytes())
    assert doc["subject"]["digest"] == image["digest"]
    assert len(doc["layers"]) == 2 and report.images == [(image["digest"], artifact["digest"])]
    for desc in doc["layers"]:
        ztoc = soci.Ztoc.from_bytes(out.blob_path(Digest.parse(desc["digest"])).read_bytes())
        layer_digest = Digest.parse(desc["annotations"][soci.LAYER_DIGEST_ANNOTATION])
        assert ztoc.compressed_size == out.blob_path(layer_digest).stat().st_size
    again = convert_layout(tmp_path / "copy", None, "soci", min_layer_size=0, span_size=1 * MiB)
    assert len(json.loads((tmp_path / "copy" / "index.json").read_text())["manifests"]) == 2
    assert again.out == tmp_path / "copy"
    # the source layout was not touched
    assert len(json.loads((root / "index.json").read_text())["manifests"]) == 1


def test_soci_with_only_small_layers_writes_no_index(tmp_path, layout):
    root, _ = layout
    report = convert_layout(root, tmp_path / "copy", "soci")
    assert report.images[0][1].startswith("no SOCI index")
    assert len(json.loads((tmp_path / "copy" / "index.json").read_text())["manifests"]) == 1


def test_the_cli_prints_sizes_before_and_after(tmp_path, layout, capsys):
    root, layers = layout
    assert main(["image", "convert", str(root), "--format", "estargz", "--out", str(tmp_path / "es"),
                 "--chunk-size", "64KiB", "--prioritize", "etc/file001.bin"]) == 0
    out = capsys.readouterr().out
    assert f"{len(layers[0].gz):,}" in out and "estargz: 2 layers" in out and f"wrote {tmp_path / 'es'}" in out
    assert main(["image", "convert", str(root), "--format", "nydus", "--out", str(tmp_path / "ny")]) == 0
    assert "dedup ratio" in capsys.readouterr().out
    assert main(["image", "convert", str(root), "--format", "block", "--out", str(tmp_path / "bl"),
                 "--no-compress", "--block-size", "4KiB"]) == 0
    assert main(["image", "convert", str(root), "--format", "soci", "--out", str(tmp_path / "so"),
                 "--min-layer-size", "0", "--span-size", "1MiB"]) == 0
    assert "(SOCI index)" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--format", "estargz"], "give --out DIR"),
    (["--format", "soci", "--chunk-size", "1MiB"], "--chunk-size does not apply to --format soci"),
    (["--format", "nydus", "--out", "{tmp}/x", "--prioritize", "a"], "--prioritize does not apply"),
    (["--format", "estargz", "--out", "{tmp}/x", "--chunk-size", "0"], "must be positive"),
    (["--format", "estargz", "--out", "{tmp}/x", "--chunk-size", "1Mb"], "in bits"),
    (["--format", "estargz", "--out", "{tmp}/x", "--prioritize", "nope"], "prioritized file 'nope'"),
    (["--format", "block", "--out", "{tmp}/x", "--block-size", "1000"], "power of two"),
    (["--format", "estargz", "--out", "{tmp}/full"], "exists and is not empty"),
    (["--format", "estargz", "--out", "{tmp}/x", "--ref", "v9"], "no image named 'v9'"),
])
def test_the_cli_refuses_bad_input_on_one_line(tmp_path, layout, capsys, args, message):
    root, _ = layout
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "something").write_text("x")
    assert main(["image", "convert", str(root), *[a.format(tmp=tmp_path) for a in args]]) == 2
    err = capsys.readouterr().err
    assert err.startswith("regsim image: ") and message in err and err.count("\n") == 1


def test_the_cli_refuses_a_folder_that_is_not_a_layout_or_a_layer_that_is_not_a_tar(tmp_path, capsys):
    assert main(["image", "convert", str(tmp_path / "none"), "--format", "soci"]) == 2
    assert "no such folder" in capsys.readouterr().err
    bad = write_layout(tmp_path / "bad", [Layer(b"", b"\x1f\x8b not really gzip", {})])
    assert main(["image", "convert", str(bad), "--format", "estargz", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "layer 0" in err and "not valid gzip" in err


def test_a_multi_platform_image_converts_every_platform(tmp_path):
    from regsim.registry.descriptors import OCI_INDEX
    from regsim.registry.oci_layout import REF_NAME

    amd, arm = build_tar(mixed_spec(41, files=15, big=False)), build_tar(mixed_spec(42, files=15, big=False))
    root = write_layout(tmp_path / "amd", [amd])
    arm_root = write_layout(tmp_path / "arm", [arm])
    for blob in (arm_root / "blobs" / "sha256").iterdir():
        (root / "blobs" / "sha256" / blob.name).write_bytes(blob.read_bytes())
    amd_entry = json.loads((root / "index.json").read_text())["manifests"][0]
    arm_entry = json.loads((arm_root / "index.json").read_text())["manifests"][0]
    children = [{**{k: e[k] for k in ("mediaType", "digest", "size")}, "platform": {"os": "linux", "architecture": a}}
                for e, a in ((amd_entry, "amd64"), (arm_entry, "arm64"))]
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children}).encode()
    digest = Digest("sha256", __import__("hashlib").sha256(index).hexdigest())
    (root / "blobs" / "sha256" / digest.hex).write_bytes(index)
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": OCI_INDEX, "digest": str(digest), "size": len(index), "annotations": {REF_NAME: "v1"}}]}))

    report = convert_layout(root, tmp_path / "out", "block")
    assert len(report.layers) == 2 and len(report.images) == 2
    out = OciLayout(tmp_path / "out")
    top = out.select("v1")
    assert top.media_type == OCI_INDEX
    converted = parse_manifest(out.read(top))
    assert [c.platform["architecture"] for c in converted.manifests] == ["amd64", "arm64"]
    reg = Registry(RegistryConfig())
    assert import_image(reg, out, "team/app", "v1").manifest == top.digest


def test_the_cli_offers_every_format():
    from regsim.cli.image import FORMATS as CLI_FORMATS
    assert CLI_FORMATS == FORMATS
