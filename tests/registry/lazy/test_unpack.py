"""unpack_layer decompresses and extracts real layers: every file's bytes and mode come back,
OCI whiteouts hide the layers below, unsafe entries are refused without writing outside the
destination, and the receipts count what was done. The lazy readers record their decompression."""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
from pathlib import Path

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regsim.registry import receipts
from regsim.registry.lazy.convert import convert_layer
from regsim.registry.lazy.errors import LazyFormatError
from regsim.registry.lazy.unpack import OCI_LAYER_TAR, OCI_LAYER_ZSTD, unpack_layer
from regsim.registry.receipts import Kind

from .layers import build_tar, mixed_spec

MTIME = 1_700_000_000


def tar_of(entries) -> bytes:
    """A tar from (name, kind, payload, mode): kind dir / reg (bytes) / symlink / hardlink (target)
    / fifo."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, kind, payload, mode in entries:
            info = tarfile.TarInfo(name)
            info.mtime, info.mode = MTIME, mode
            if kind == "reg":
                info.size = len(payload)
                tf.addfile(info, io.BytesIO(payload))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE,
                         "fifo": tarfile.FIFOTYPE}[kind]
            if kind in ("symlink", "hardlink"):
                info.linkname = payload
            tf.addfile(info)
    return buf.getvalue()


def compress(tar: bytes, how: str) -> bytes:
    if how == "gzip":
        return gzip.compress(tar, 6, mtime=0)
    if how == "zstd":
        return zstandard.ZstdCompressor(level=3).compress(tar)
    return tar


def tree(root: Path) -> dict[str, tuple]:
    """Every entry under ``root``: (type, mode, content or link target)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            st_ = p.lstat()
            rel = str(p.relative_to(root))
            if stat.S_ISLNK(st_.st_mode):
                out[rel] = ("symlink", None, os.readlink(p))
            elif stat.S_ISDIR(st_.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st_.st_mode), None)
            elif stat.S_ISFIFO(st_.st_mode):
                out[rel] = ("fifo", stat.S_IMODE(st_.st_mode), None)
            else:
                out[rel] = ("reg", stat.S_IMODE(st_.st_mode), p.read_bytes())
    return out


# -- round trips -------------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["gzip", "zstd", "none"])
def test_the_mixed_layer_comes_back_byte_for_byte(tmp_path, mixed, how):
    data = compress(mixed.tar, how)
    with receipts.collect() as r:
        result = unpack_layer(data, tmp_path / "root")
    root = tmp_path / "root"
    for name, payload in mixed.files.items():
        assert (root / name).read_bytes() == payload, name
        assert stat.S_IMODE((root / name).stat().st_mode) == 0o644
    for name, target in mixed.symlinks.items():
        assert os.readlink(root / name) == target
    for name, target in mixed.hardlinks.items():
        assert (root / name).stat().st_ino == (root / target).stat().st_ino
    assert result.compression == how and result.uncompressed_size == len(mixed.tar)
    assert result.files == len(mixed.files) and result.bytes_written == sum(map(len, mixed.files.values()))
    # receipts: the decompression in uncompressed bytes, the file data written, the entries made
    inflate = {"gzip": Kind.GZIP_INFLATE, "zstd": Kind.ZSTD_DECOMPRESS}.get(how)
    decompressed = [i for i in r if i.kind in (Kind.GZIP_INFLATE, Kind.ZSTD_DECOMPRESS)]
    if inflate is None:
        assert decompressed == []
    else:
        assert [(i.kind, i.amount) for i in decompressed] == [(inflate, len(mixed.tar))]
        assert decompressed[0].cpu_s > 0
    assert r.total(Kind.TAR_UNPACK) == result.bytes_written == sum(map(len, mixed.files.values()))
    entries = len(mixed.files) + len(mixed.dirs) + len(mixed.symlinks) + len(mixed.hardlinks)
    assert r.total(Kind.FILE_CREATE) == result.entries == entries
    assert len(r.of(Kind.TAR_UNPACK)) == len(r.of(Kind.FILE_CREATE)) == 1
    assert r.of(Kind.TAR_UNPACK)[0].cpu_s > 0 and r.of(Kind.FILE_CREATE)[0].cpu_s > 0


def test_modes_times_and_read_only_directories(tmp_path):
    tar = tar_of([
        ("bin", "dir", None, 0o555),  # read-only: its files must still be written, its mode set last
        ("bin/tool", "reg", b"#!/bin/sh\n", 0o4755),
        ("etc", "dir", None, 0o750),
        ("etc/secret", "reg", b"s3cret", 0o600),
        ("etc/ro", "reg", b"read only", 0o444),
        ("etc/pipe", "fifo", None, 0o640),
        ("usr/share/doc/readme", "reg", b"parents not listed", 0o644),
    ])
    with receipts.collect() as r:
        result = unpack_layer(compress(tar, "gzip"), tmp_path)
    got = tree(tmp_path)
    assert got["bin"] == ("dir", 0o555, None)
    assert got["bin/tool"] == ("reg", 0o4755, b"#!/bin/sh\n")
    assert got["etc"] == ("dir", 0o750, None)
    assert got["etc/secret"] == ("reg", 0o600, b"s3cret") and got["etc/ro"] == ("reg", 0o444, b"read only")
    assert got["etc/pipe"] == ("fifo", 0o640, None)
    assert got["usr/share/doc"][0] == "dir" and got["usr/share/doc/readme"][2] == b"parents not listed"
    assert (tmp_path / "bin").stat().st_mtime == MTIME and (tmp_path / "etc/secret").stat().st_mtime == MTIME
    # 7 entries in the tar and 3 parent directories it does not list (usr, usr/share, usr/share/doc)
    assert r.total(Kind.FILE_CREATE) == result.entries == 10
    assert r.total(Kind.TAR_UNPACK) == len(b"#!/bin/sh\n" + b"s3cret" + b"read only" + b"parents not listed")
    os.chmod(tmp_path / "bin", 0o755)  # so that tmp_path can be cleaned up by a non-root user


def test_a_later_entry_replaces_an_earlier_one_of_another_type(tmp_path):
    unpack_layer(tar_of([("a", "dir", None, 0o755), ("a/x", "reg", b"x", 0o644), ("b", "reg", b"b", 0o644)]),
                 tmp_path)
    unpack_layer(tar_of([("a", "reg", b"now a file", 0o644), ("b", "dir", None, 0o755),
                         ("b/y", "reg", b"y", 0o644)]), tmp_path, media_type=OCI_LAYER_TAR)
    assert (tmp_path / "a").read_bytes() == b"now a file"
    assert (tmp_path / "b" / "y").read_bytes() == b"y"
    # within one layer too, a directory listed and then replaced
    unpack_layer(tar_of([("c", "dir", None, 0o700), ("c/z", "reg", b"z", 0o644), ("c", "symlink", "b", 0o777)]),
                 tmp_path)
    assert os.readlink(tmp_path / "c") == "b"


def test_parents_are_followed_through_lower_symlinks_inside_dest(tmp_path):
    """usrmerge: a lower layer's ``lib -> usr/lib`` (and an absolute ``/usr/lib``) is followed
    with dest as the root, as containerd does."""
    unpack_layer(tar_of([("usr/lib", "dir", None, 0o755), ("lib", "symlink", "usr/lib", 0o777),
                         ("lib64", "symlink", "/usr/lib", 0o777)]), tmp_path)
    unpack_layer(tar_of([("lib/libc.so", "reg", b"libc", 0o755), ("lib64/ld.so", "reg", b"ld", 0o755)]), tmp_path)
    assert (tmp_path / "usr/lib/libc.so").read_bytes() == b"libc"
    assert (tmp_path / "usr/lib/ld.so").read_bytes() == b"ld"
    assert os.readlink(tmp_path / "lib") == "usr/lib"


# -- whiteouts ---------------------------------------------------------------------------------

def test_whiteouts_remove_files_and_directories_of_the_layers_below(tmp_path):
    unpack_layer(tar_of([
        ("etc", "dir", None, 0o755), ("etc/passwd", "reg", b"root", 0o644), ("etc/shadow", "reg", b"x", 0o600),
        ("var/cache/apt", "dir", None, 0o755), ("var/cache/apt/pkg.bin", "reg", b"p", 0o644),
        ("opt", "dir", None, 0o755), ("opt/old", "reg", b"old", 0o644), ("opt/sub", "dir", None, 0o755),
        ("opt/sub/deep", "reg", b"deep", 0o644),
    ]), tmp_path)
    with receipts.collect() as r:
        result = unpack_layer(compress(tar_of([
            ("etc/.wh.shadow", "reg", b"", 0o644),
            ("var/cache/.wh.apt", "reg", b"", 0o644),
            ("opt/new", "reg", b"new", 0o644),  # before the opaque marker in the tar: still kept
            ("opt/.wh..wh..opq", "reg", b"", 0o644),
            ("opt/sub", "dir", None, 0o755),    # listed again by this layer: the lower content is hidden
            ("opt/sub/fresh", "reg", b"fresh", 0o644),
            ("etc/.wh.missing", "reg", b"", 0o644),  # nothing below: nothing to do
        ]), "zstd"), tmp_path, media_type=OCI_LAYER_ZSTD)
    got = tree(tmp_path)
    assert "etc/shadow" not in got and got["etc/passwd"][2] == b"root"
    assert "var/cache/apt" not in got and "var/cache/apt/pkg.bin" not in got and "var/cache" in got
    assert {k for k in got if k.startswith("opt/")} == {"opt/new", "opt/sub", "opt/sub/fresh"}
    assert not any(".wh." in k for k in got)  # whiteout files are never extracted
    assert result.whiteouts == 4
    assert r.total(Kind.FILE_CREATE) == result.entries == 4 + 3


def test_a_whiteout_does_not_hide_an_entry_of_its_own_layer(tmp_path):
    unpack_layer(tar_of([("a", "reg", b"lower", 0o644)]), tmp_path)
    unpack_layer(tar_of([("a", "reg", b"upper", 0o644), (".wh.a", "reg", b"", 0o644)]), tmp_path)
    assert (tmp_path / "a").read_bytes() == b"upper"


# -- refusals ----------------------------------------------------------------------------------

@pytest.mark.parametrize("entries, message", [
    ([("../evil", "reg", b"x", 0o644)], r"'\.\.' component"),
    ([("a/../../evil", "reg", b"x", 0o644)], r"'\.\.' component"),
    ([("/etc/evil", "reg", b"x", 0o644)], "absolute path"),
    ([("link", "symlink", "../../outside", 0o777)], "points outside the destination"),
    ([("d/link", "symlink", "../../outside", 0o777)], "points outside the destination"),
    ([("x", "reg", b"x", 0o644), ("hard", "hardlink", "../x", 0o644)], r"'\.\.' component"),
    ([("hard", "hardlink", "/etc/passwd", 0o644)], "absolute path"),
    ([("hard", "hardlink", "nothing/here", 0o644)], "no such entry"),
    ([("d", "dir", None, 0o755), ("hard", "hardlink", "d", 0o644)], "is a directory"),
    ([("f", "reg", b"x", 0o644), ("f/g", "reg", b"y", 0o644)], "is not a directory"),
])
def test_unsafe_entries_are_refused(tmp_path, entries, message):
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "a" / "b" / "dest"
    with receipts.collect() as r, pytest.raises(LazyFormatError, match=message):
        unpack_layer(compress(tar_of(entries), "gzip"), dest)
    assert list(outside.iterdir()) == [] and not (tmp_path / "evil").exists() and not (tmp_path / "a/evil").exists()
    assert r.of(Kind.TAR_UNPACK) == [] and r.of(Kind.FILE_CREATE) == []  # failed work is not priced


def test_symlinks_never_lead_a_write_outside_dest(tmp_path):
    """An absolute symlink is kept (the container reads it from its root), but a later entry
    through it lands inside dest, never where the host would follow it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    unpack_layer(tar_of([("escape", "symlink", str(outside), 0o777), ("root", "symlink", "/", 0o777)]), dest)
    unpack_layer(tar_of([("escape/planted", "reg", b"x", 0o644), ("root/etc/passwd", "reg", b"y", 0o644)]), dest)
    assert list(outside.iterdir()) == []
    assert os.readlink(dest / "escape") == str(outside)
    assert (dest / str(outside).lstrip("/") / "planted").read_bytes() == b"x"
    assert (dest / "etc/passwd").read_bytes() == b"y"


def test_symlink_loops_are_refused(tmp_path):
    unpack_layer(tar_of([("a", "symlink", "b", 0o777), ("b", "symlink", "a", 0o777)]), tmp_path)
    with pytest.raises(LazyFormatError, match="too many levels of symbolic links"):
        unpack_layer(tar_of([("a/file", "reg", b"x", 0o644)]), tmp_path)


def test_bad_bytes_and_mismatched_media_types(tmp_path, mixed):
    with pytest.raises(LazyFormatError, match="means zstd bytes, but the layer's bytes are gzip"):
        unpack_layer(mixed.gz, tmp_path, media_type=OCI_LAYER_ZSTD)
    with pytest.raises(LazyFormatError, match="cannot unpack media type"):
        unpack_layer(mixed.gz, tmp_path, media_type="application/x-nope")
    with pytest.raises(LazyFormatError, match="not valid gzip"):
        unpack_layer(mixed.gz[: len(mixed.gz) // 2], tmp_path)
    with pytest.raises(LazyFormatError, match="not valid zstd"):
        unpack_layer(compress(mixed.tar[:100_000], "zstd")[:-7], tmp_path)
    with pytest.raises(LazyFormatError, match="not a tar archive"):
        unpack_layer(gzip.compress(b"hello, not a tar" * 100), tmp_path)
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(LazyFormatError, match="not a directory"):
        unpack_layer(mixed.tar, tmp_path / "file")


def test_multi_frame_zstd_and_multi_member_gzip(tmp_path, mixed):
    half = len(mixed.tar) // 2
    zc = zstandard.ZstdCompressor(level=1)
    with receipts.collect() as r:
        unpack_layer(zc.compress(mixed.tar[:half]) + zc.compress(mixed.tar[half:]), tmp_path / "z")
        unpack_layer(gzip.compress(mixed.tar[:half]) + gzip.compress(mixed.tar[half:]), tmp_path / "g")
    assert r.total(Kind.ZSTD_DECOMPRESS) == r.total(Kind.GZIP_INFLATE) == len(mixed.tar)
    name, payload = next(iter(mixed.files.items()))
    assert (tmp_path / "z" / name).read_bytes() == (tmp_path / "g" / name).read_bytes() == payload


# -- a property over random trees ----------------------------------------------------------------

_names = st.text(alphabet="abcdefgh-_.0123", min_size=1, max_size=8).filter(lambda s: s not in (".", "..")
                                                                           and not s.startswith(".wh."))
_trees = st.dictionaries(
    st.lists(_names, min_size=1, max_size=3).map(tuple),
    st.tuples(st.binary(max_size=3000), st.sampled_from([0o644, 0o600, 0o755, 0o444, 0o700])),
    min_size=1, max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(files=_trees, how=st.sampled_from(["gzip", "zstd", "none"]))
def test_random_trees_round_trip(tmp_path_factory, files, how):
    # keep only paths none of which is a prefix of another (a name is a file or a directory)
    paths = sorted(files)
    files = {p: v for p, v in files.items() if not any(q[:len(p)] == p and q != p for q in paths)}
    dirs = sorted({p[:i] for p in files for i in range(1, len(p))})
    entries = [("/".join(d), "dir", None, 0o755) for d in dirs]
    entries += [("/".join(p), "reg", data, mode) for p, (data, mode) in files.items()]
    dest = tmp_path_factory.mktemp("tree")
    with receipts.collect() as r:
        unpack_layer(compress(tar_of(entries), how), dest)
    expected = {"/".join(d): ("dir", 0o755, None) for d in dirs}
    expected.update({"/".join(p): ("reg", mode, data) for p, (data, mode) in files.items()})
    assert tree(dest) == expected
    assert r.total(Kind.TAR_UNPACK) == sum(len(data) for data, _ in files.values())
    assert r.total(Kind.FILE_CREATE) == len(entries)


# -- the lazy readers record their decompression ---------------------------------------------------

@pytest.fixture(scope="module")
def small_layer():
    return build_tar(mixed_spec(seed=3, files=40, big=False))


@pytest.mark.parametrize("fmt, kind", [("estargz", Kind.GZIP_INFLATE), ("nydus", Kind.ZSTD_DECOMPRESS),
                                       ("block", Kind.ZSTD_DECOMPRESS)])
def test_lazy_reads_record_what_they_decompress(small_layer, fmt, kind):
    reader = convert_layer(small_layer.gz, fmt).open()
    name = max(small_layer.files, key=lambda n: len(small_layer.files[n]))
    with receipts.collect() as r:
        assert reader.read_file(name) == small_layer.files[name]
    assert {i.kind for i in r} == {kind} and all(i.detail == fmt for i in r)
    if fmt == "block":  # whole segments: at least the file
        assert r.total(kind) >= len(small_layer.files[name])
    else:  # the file's members or chunks exactly
        assert r.total(kind) == len(small_layer.files[name])


def test_soci_reads_count_the_bytes_inflated_from_the_checkpoint(big):
    reader = convert_layer(big.gz, "soci", span_size=1 << 20).open()
    ztoc = reader.ztoc
    name = "data/text.log"
    with receipts.collect() as r:
        assert reader.read_file(name) == big.files[name]
    f = ztoc.file(name)
    checkpoint = ztoc.checkpoints[ztoc.span_of(f.offset)].uncompressed
    assert [(i.kind, i.detail, i.amount) for i in r] == [(Kind.GZIP_INFLATE, "soci", f.offset + f.size - checkpoint)]
