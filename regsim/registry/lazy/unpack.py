"""Unpacking a plain layer onto a filesystem, as a snapshotter applies it, with receipts.

A runtime that pulls a whole layer (no lazy format, or a lazy layer it ends up reading fully)
still has to decompress it and extract its tar onto the layers below before a container starts.
That is CPU work on the node, and :func:`unpack_layer` does it for real -- zlib for ``tar+gzip``,
zstandard for ``tar+zstd``, nothing for ``tar`` -- so the simulator can price it like every other
piece of registry work. It records three receipt items:

- ``gzip_inflate`` or ``zstd_decompress``, amount = the uncompressed bytes produced, CPU time of
  the decompression call (none for an uncompressed tar);
- ``tar_unpack``, amount = the bytes of file data written, CPU time of the ``write`` calls;
- ``file_create``, amount = the filesystem entries made or replaced (files, directories, links,
  devices, whiteouts applied, and parent directories the tar does not list), CPU time of the
  rest of the extraction: parsing the headers, resolving paths, creating entries, setting modes
  and times, removing what a whiteout or a replacing entry hides.

The split follows the work, so a model can price a layer of ``U`` uncompressed bytes, ``D`` bytes
of file data and ``N`` entries as ``inflate(U) + tar_unpack(D) + N x file_create``. One ``write``
system call's fixed cost per file lands in ``tar_unpack`` (timing it apart would cost as much as
it is), so its per-byte price holds for layers whose mix of file sizes resembles the
calibration's. No ``disk_write`` is recorded: the bytes reaching a disk are the disk model's.

Whiteouts are applied the way containerd's naive applier (``archive.Apply``) does on a plain
directory: a ``.wh.NAME`` entry removes ``NAME`` from the layers below, a ``.wh..wh..opq`` entry
removes everything the layers below hold in its directory; neither is extracted. Whiteouts apply
only to the layers below (OCI image spec, ``layer.md``), so they are applied first, before any
entry of this layer is written, whatever their place in the tar. An entry replaces whatever is
at its path unless both are directories (then the directory is kept and its mode and times set).

Safety, for a layer from anywhere: a name that is absolute or holds a ``..`` component is
refused; parent directories are resolved inside ``dest`` (a symlink from a lower layer, such as
``lib -> usr/lib``, is followed with ``dest`` as its root, an absolute target starting again at
``dest`` and ``..`` stopping there -- containerd's ``fs.RootPath``), so nothing is ever written
outside ``dest``; a hard link must name an entry inside ``dest`` (not a directory); a symlink is
created as written (an absolute target is read from the container's root) unless its relative
target climbs out of ``dest``. Every refusal is a :class:`~.errors.LazyFormatError` naming the
entry. Ownership and extended attributes are not applied (an unprivileged unpack); a device node
that may not be created (no ``CAP_MKNOD``) is skipped and listed in the result; sparse files are
refused.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import stat
import tarfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from .. import receipts
from ..descriptors import DOCKER_LAYER, OCI_LAYER
from ..receipts import Kind
from .errors import LazyFormatError
from .tarlayer import compression_of

OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_LAYER_TAR = "application/vnd.docker.image.rootfs.diff.tar"
#: layer media types -> the compression their bytes must have (``None``: found by magic number)
MEDIA_TYPES = {
    OCI_LAYER_TAR: "none",
    OCI_LAYER: "gzip",
    OCI_LAYER_ZSTD: "zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar": "none",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": "gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd": "zstd",
    DOCKER_LAYER_TAR: "none",
    DOCKER_LAYER: "gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip": "gzip",
}
WHITEOUT_PREFIX = ".wh."
OPAQUE_WHITEOUT = ".wh..wh..opq"
#: symlinks followed while resolving one path before giving up (Linux's MAXSYMLINKS)
MAX_SYMLINKS = 40
#: the most one ``write`` call is handed
WRITE_CHUNK = 1 << 20


@dataclass
class UnpackResult:
    """What :func:`unpack_layer` did: the sizes its receipts count, and the entries by type."""

    compression: str
    compressed_size: int
    uncompressed_size: int       # the tar's bytes: the gzip_inflate / zstd_decompress amount
    bytes_written: int = 0       # file data written: the tar_unpack amount
    entries: int = 0             # the file_create amount
    files: int = 0
    dirs: int = 0                # listed in the tar or made as a missing parent
    symlinks: int = 0
    hardlinks: int = 0
    others: int = 0              # fifos and device nodes
    whiteouts: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (name, why)


# -- decompression -----------------------------------------------------------------------------

def inflate_gzip(data: bytes | bytearray | memoryview, *, node: str | None = None, detail: str = "layer") -> bytes:
    """The bytes of ``data`` (one or more gzip members), recorded as one ``gzip_inflate`` item."""
    with receipts.metered(Kind.GZIP_INFLATE, node=node, detail=detail) as m:
        try:
            out = gzip.decompress(bytes(data))
        except (OSError, EOFError, zlib.error) as exc:
            raise LazyFormatError(f"layer is not valid gzip: {exc}") from None
        m.amount = len(out)
    return out


def decompress_zstd(data: bytes | bytearray | memoryview, *, node: str | None = None, detail: str = "layer") -> bytes:
    """The bytes of ``data`` (one or more zstd frames), recorded as one ``zstd_decompress`` item."""
    import zstandard

    with receipts.metered(Kind.ZSTD_DECOMPRESS, node=node, detail=detail) as m:
        dctx, rest, parts = zstandard.ZstdDecompressor(), bytes(data), []
        while rest:  # frame after frame (a layer may be written as several)
            dobj = dctx.decompressobj()
            try:
                parts.append(dobj.decompress(rest))
            except zstandard.ZstdError as exc:
                raise LazyFormatError(f"layer is not valid zstd: {exc}") from None
            if not dobj.eof:
                raise LazyFormatError("layer is not valid zstd: its last frame is truncated")
            rest = dobj.unused_data
        out = b"".join(parts) if len(parts) != 1 else parts[0]
        m.amount = len(out)
    return out


def _compression(data: bytes | bytearray | memoryview, media_type: str | None) -> str:
    found = compression_of(data)
    if media_type is None:
        return found
    try:
        want = MEDIA_TYPES[media_type]
    except KeyError:
        raise LazyFormatError(f"cannot unpack media type {media_type!r}; known layer types: "
                              f"{', '.join(sorted(MEDIA_TYPES))}") from None
    if found != want:
        raise LazyFormatError(f"media type {media_type} means {want} bytes, but the layer's bytes are {found}")
    return want


# -- paths inside dest -------------------------------------------------------------------------

def _parts(name: str, what: str = "entry") -> list[str]:
    """The components of a tar name below the root; refuses absolute names and ``..``."""
    if name.startswith("/"):
        raise LazyFormatError(f"layer {what} {name!r} is an absolute path; layer paths are relative to its root")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise LazyFormatError(f"layer {what} {name!r} has a '..' component: it could reach outside the destination")
    return parts


def _remove(path: str, st: os.stat_result) -> None:
    """Remove what is at ``path`` (a directory with everything in it; a symlink itself)."""
    if stat.S_ISDIR(st.st_mode):
        def writable_then_retry(func, p, _exc):  # a read-only directory of a lower layer
            os.chmod(os.path.dirname(p), 0o700)
            func(p)
        shutil.rmtree(path, onerror=writable_then_retry)
    else:
        os.unlink(path)


class _Extractor:
    """One layer's extraction into ``root``; counts what it did into ``result``."""

    def __init__(self, root: str, tar: bytes, result: UnpackResult) -> None:
        self.root = root
        self.view = memoryview(tar)
        self.result = result
        self.dirs: dict[str, str] = {"": root}  # tar directory -> its resolved path (cleared on removals)
        self.dir_meta: dict[str, tuple[int, float]] = {}  # path -> (mode, mtime) of listed directories
        self.restore: dict[str, int] = {}  # lower directories made writable -> their mode
        self.write_cpu = 0.0
        self.write_wall = 0.0

    # -- resolution ----------------------------------------------------------------------

    def resolve(self, parts: list[str]) -> str:
        """The host path of ``parts`` with every symlink among them followed inside the root."""
        todo = list(reversed(parts))
        cur: list[str] = []
        links = 0
        while todo:
            comp = todo.pop()
            if comp in ("", "."):
                continue
            if comp == "..":
                if cur:
                    cur.pop()
                continue
            path = os.path.join(self.root, *cur, comp)
            try:
                st = os.lstat(path)
            except (FileNotFoundError, NotADirectoryError):
                cur.append(comp)
                continue
            if stat.S_ISLNK(st.st_mode):
                links += 1
                if links > MAX_SYMLINKS:
                    raise LazyFormatError(f"layer path {'/'.join(parts)!r}: too many levels of symbolic links")
                target = os.readlink(path)
                if target.startswith("/"):
                    cur = []
                todo.extend(reversed(target.split("/")))
                continue
            cur.append(comp)
        return os.path.join(self.root, *cur)

    def directory(self, parts: list[str]) -> str:
        """The resolved directory ``parts``, made (and counted) where missing, writable by us."""
        key = "/".join(parts)
        hit = self.dirs.get(key)
        if hit is not None:
            return hit
        path = self.resolve(parts)
        cur = self.root
        for comp in os.path.relpath(path, self.root).split(os.sep) if path != self.root else ():
            cur = os.path.join(cur, comp)
            try:
                st = os.lstat(cur)
            except FileNotFoundError:
                os.mkdir(cur, 0o755)
                self.result.entries += 1
                self.result.dirs += 1
                continue
            if not stat.S_ISDIR(st.st_mode):
                raise LazyFormatError(f"layer path {key!r}: {os.path.relpath(cur, self.root)!r} is not a directory")
            if cur == path:
                self.writable(cur, st)
        self.dirs[key] = path
        return path

    def writable(self, path: str, st: os.stat_result) -> None:
        """Let us add and remove entries in directory ``path`` (a lower layer's may be read-only
        to an unprivileged unpack); its mode comes back in :meth:`finish`."""
        if not os.access(path, os.W_OK | os.X_OK) and path not in self.restore:
            self.restore[path] = stat.S_IMODE(st.st_mode)
            os.chmod(path, stat.S_IMODE(st.st_mode) | 0o700)

    # -- the two passes ------------------------------------------------------------------

    def whiteout(self, info: tarfile.TarInfo, parts: list[str]) -> None:
        """Apply one whiteout to the layers below."""
        self.result.whiteouts += 1
        self.result.entries += 1
        parent = self.resolve(parts[:-1])
        try:
            pst = os.stat(parent)
        except (FileNotFoundError, NotADirectoryError):
            return  # nothing below to hide
        if not stat.S_ISDIR(pst.st_mode):
            return
        self.writable(parent, pst)
        base = parts[-1]
        if base == OPAQUE_WHITEOUT:
            victims = [e.path for e in os.scandir(parent)]
        else:
            name = base[len(WHITEOUT_PREFIX):]
            if not name or name in (".", ".."):
                raise LazyFormatError(f"layer whiteout {info.name!r} names no file")
            victims = [os.path.join(parent, name)]
        for victim in victims:
            try:
                st = os.lstat(victim)
            except FileNotFoundError:
                continue
            _remove(victim, st)
        self.dirs = {"": self.root}

    def entry(self, info: tarfile.TarInfo, parts: list[str]) -> None:
        """Create (or replace) one non-whiteout entry."""
        r = self.result
        parent = self.directory(parts[:-1])
        path = os.path.join(parent, parts[-1])
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            st = None
        if st is not None and not (info.isdir() and stat.S_ISDIR(st.st_mode)):
            _remove(path, st)
            if stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode):
                self.dirs = {"": self.root}
                gone = path + os.sep
                for table in (self.dir_meta, self.restore):  # nothing left there to set
                    for p in [p for p in table if p == path or p.startswith(gone)]:
                        del table[p]
            st = None
        mode = info.mode & 0o7777
        if info.isreg():
            if info.sparse is not None:
                raise LazyFormatError(f"layer entry {info.name!r} is a sparse file, which unpack_layer does not write")
            if info.offset_data + info.size > len(self.view):
                raise LazyFormatError(f"layer is truncated: entry {info.name!r} needs {info.size} bytes of data")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            try:
                self.write(fd, self.view[info.offset_data:info.offset_data + info.size])
                os.fchmod(fd, mode)
                os.utime(fd, (info.mtime, info.mtime))
            finally:
                os.close(fd)
            r.files += 1
            r.bytes_written += info.size
        elif info.isdir():
            if st is None:
                os.mkdir(path, 0o700)
            else:
                self.writable(path, st)
            self.dir_meta[path] = (mode, info.mtime)
            self.restore.pop(path, None)
            self.dirs["/".join(parts)] = path
            r.dirs += 1
        elif info.issym():
            target = info.linkname
            if not target.startswith("/"):
                depth = len(parts) - 1
                for comp in target.split("/"):
                    depth += -1 if comp == ".." else 0 if comp in ("", ".") else 1
                    if depth < 0:
                        raise LazyFormatError(
                            f"layer symlink {info.name!r} -> {target!r} points outside the destination")
            os.symlink(target, path)
            os.utime(path, (info.mtime, info.mtime), follow_symlinks=False)
            self.dirs = {"": self.root}
            r.symlinks += 1
        elif info.islnk():
            tparts = _parts(info.linkname, "hard link target")
            if not tparts:
                raise LazyFormatError(f"layer hard link {info.name!r} points at the root")
            target = os.path.join(self.resolve(tparts[:-1]), tparts[-1])
            try:
                tst = os.lstat(target)
            except (FileNotFoundError, NotADirectoryError):
                raise LazyFormatError(f"layer hard link {info.name!r} -> {info.linkname!r}: no such entry") from None
            if stat.S_ISDIR(tst.st_mode):
                raise LazyFormatError(f"layer hard link {info.name!r} -> {info.linkname!r} is a directory")
            os.link(target, path, follow_symlinks=False)
            r.hardlinks += 1
        elif info.isfifo():
            os.mkfifo(path, 0o600)
            os.chmod(path, mode)
            os.utime(path, (info.mtime, info.mtime))
            r.others += 1
        elif info.ischr() or info.isblk():
            kind = stat.S_IFCHR if info.ischr() else stat.S_IFBLK
            try:
                os.mknod(path, mode | kind, os.makedev(info.devmajor, info.devminor))
            except PermissionError:
                r.skipped.append((info.name, "device nodes need CAP_MKNOD"))
                return
            r.others += 1
        else:
            raise LazyFormatError(f"layer entry {info.name!r} has unsupported tar type {info.type!r}")
        r.entries += 1

    def write(self, fd: int, data: memoryview) -> None:
        """Write ``data`` to ``fd`` whole; its CPU and wall time are the tar_unpack item's."""
        cpu0, wall0 = time.thread_time(), time.perf_counter()
        pos, n = 0, len(data)
        while pos < n:
            pos += os.write(fd, data[pos:pos + WRITE_CHUNK])
        self.write_cpu += time.thread_time() - cpu0
        self.write_wall += time.perf_counter() - wall0

    def finish(self) -> None:
        """Directory modes and times last, deepest first (adding entries changed their times,
        and a read-only mode would have stopped the entries below it)."""
        for path in sorted(self.dir_meta, key=lambda p: p.count(os.sep), reverse=True):
            mode, mtime = self.dir_meta[path]
            os.chmod(path, mode)
            os.utime(path, (mtime, mtime))
        for path, mode in self.restore.items():
            os.chmod(path, mode)


def unpack_layer(data: bytes | bytearray | memoryview, dest: str | os.PathLike, *, media_type: str | None = None,
                 node: str | None = None) -> UnpackResult:
    """Decompress a plain layer and apply it onto ``dest`` (made if missing; it may hold the
    layers below), recording ``gzip_inflate`` / ``zstd_decompress``, ``tar_unpack`` and
    ``file_create`` items (on ``node``) into the active receipt collectors.

    ``media_type`` (one of :data:`MEDIA_TYPES`) must agree with the bytes' magic number; without
    it the compression is found by magic number. Raises :class:`~.errors.LazyFormatError` for
    bytes that do not decompress or are not a tar, and for an entry that is unsafe (see the
    module's docstring); entries applied before the refusal stay.
    """
    compression = _compression(data, media_type)
    if compression == "gzip":
        tar = inflate_gzip(data, node=node)
    elif compression == "zstd":
        tar = decompress_zstd(data, node=node)
    else:
        tar = bytes(data)
    result = UnpackResult(compression, len(data), len(tar))
    root = Path(dest)
    if root.exists() and not root.is_dir():
        raise LazyFormatError(f"cannot unpack into {str(root)!r}: it is not a directory")
    root.mkdir(parents=True, exist_ok=True)
    ex = _Extractor(os.path.realpath(root), tar, result)
    cpu0, wall0 = time.thread_time(), time.perf_counter()
    try:
        with tarfile.open(fileobj=io.BytesIO(tar), mode="r:") as tf:
            members = tf.getmembers()
    except tarfile.TarError as exc:
        raise LazyFormatError(f"layer is not a tar archive: {exc}") from None
    if not members and tar.strip(b"\0"):
        raise LazyFormatError("layer is not a tar archive: no entry could be read")
    named = [(info, _parts(info.name)) for info in members]
    # whiteouts hide only what the layers below hold: apply them first, then the entries (the
    # root entry itself, "./", is not applied: dest is the caller's)
    whiteouts = [(i, p) for i, p in named if p and p[-1].startswith(WHITEOUT_PREFIX)]
    entries = [(i, p) for i, p in named if p and not p[-1].startswith(WHITEOUT_PREFIX)]
    for apply, todo in ((ex.whiteout, whiteouts), (ex.entry, entries)):
        for info, parts in todo:
            try:
                apply(info, parts)
            except OSError as exc:
                raise LazyFormatError(f"layer entry {info.name!r} cannot be applied: {exc.strerror or exc}") from None
    try:
        ex.finish()
    except OSError as exc:
        raise LazyFormatError(f"cannot set the directories' modes and times: {exc}") from None
    cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
    receipts.record(Kind.TAR_UNPACK, result.bytes_written, node=node, cpu_s=ex.write_cpu, wall_s=ex.write_wall)
    receipts.record(Kind.FILE_CREATE, result.entries, node=node, cpu_s=max(cpu - ex.write_cpu, 0.0),
                    wall_s=max(wall - ex.write_wall, 0.0))
    return result


__all__ = ["unpack_layer", "UnpackResult", "inflate_gzip", "decompress_zstd", "MEDIA_TYPES", "OCI_LAYER_TAR",
           "OCI_LAYER_ZSTD", "DOCKER_LAYER_TAR", "WHITEOUT_PREFIX", "OPAQUE_WHITEOUT"]
