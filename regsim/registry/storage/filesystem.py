"""A blob backend on a local filesystem: one file per object, written atomically and durably.

On-disk layout (object paths are walked by :meth:`FilesystemBackend._open_dirs`, temp files
made by :meth:`FilesystemBackend.writer`)::

    <root>/
    ├── data/                        committed objects, one regular file per key
    │   └── <key>                    e.g. data/blobs/sha256/ab/ab12.../data
    └── _tmp/                        in-progress writes; never listed
        └── <pid>-<random>.part      one per open writer, renamed into data/ on commit

A writer fills a temp file under ``_tmp/``, fsyncs it, renames it over ``data/<key>`` with
``os.replace`` (atomic on POSIX) and fsyncs the destination directory, so a crash at any moment
leaves either the previous object or the new one, never a partial one. Both trees sit under one
root so the rename never crosses a filesystem. Temp files of a process that died are removed by
:meth:`FilesystemBackend.sweep_temp`.

Directories a commit has to create on the way (a new blob's ``<hex>/<extent>/`` levels) are
fsynced together with the destination directory, after the rename and concurrently, not each
right after its ``mkdir``: the commit still returns only once every directory that gained an
entry is fsynced, but the syncs share one wait for the disk instead of queueing one after the
other. That wait (a journal commit, or a cache flush for a directory whose change is already
committed) is ~4 ms on this project's VM whatever it carries: a new blob made three of them per
fragment, which was most of what a push lost to its stage bound
(``tests/registry/test_pipeline_bench.py``). A crash before the commit returns may lose the new
object (it was never acknowledged), never the previous one.

Paths are never resolved as strings: each operation opens ``data/`` and then each directory of the
key in turn (``O_NOFOLLOW``), so a key cannot leave ``data/`` through ``..`` or a symbolic link,
even one created there by someone else, and a concurrent rename cannot redirect it half-way.

A key is a path, so one key cannot be both an object and a "directory" of other keys (``a`` and
``a/b``); such a write raises :class:`InvalidKey`. Registry keys never collide that way.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import BlobUploadInvalid, InvalidKey, KeyNotFound
from .base import CommitOnExit, check_key

_TEMP_SUFFIX = ".part"
_ATTEMPTS = 10  # walks of a key's directories to try while concurrent deletes prune them
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW
#: errors that mean "no regular file at this path" once the key itself is known to be valid
_MISSING = (FileNotFoundError, NotADirectoryError, IsADirectoryError)


def _discard(fd: int, temp: str, open_temps: set[str]) -> None:
    """Close and remove an unfinished temp file (cancel, failure, or an abandoned writer)."""
    try:
        os.close(fd)
    except OSError:
        pass
    _unlink_quietly(temp)
    open_temps.discard(temp)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _fsync_all(fds: list[int]) -> None:
    """fsync every descriptor in ``fds`` at once (the first in this thread), raising the first error.

    Each fsync waits for the disk; issued together they share that wait (jbd2 commits them in one
    transaction, the block layer merges their cache flushes), where one after another each pays it.
    Plain short-lived threads, not a pool: nothing to go stale in a forked worker process.
    """
    errors: list[BaseException] = []

    def sync(fd: int) -> None:
        try:
            os.fsync(fd)
        except BaseException as exc:  # re-raised in the calling thread below
            errors.append(exc)

    helpers = [threading.Thread(target=sync, args=(fd,), name="regsim-fsync", daemon=True) for fd in fds[1:]]
    for t in helpers:
        t.start()
    sync(fds[0])
    for t in helpers:
        t.join()
    if errors:
        raise errors[0]


def _copy_file(src: int, dst: int) -> int:
    """Copy all of ``src`` into ``dst`` (in the kernel where it can) and leave ``dst`` at its end."""
    size, offset = os.fstat(src).st_size, 0
    copy_range = getattr(os, "copy_file_range", None)  # Linux only
    while offset < size:
        n = -1
        if copy_range is not None:
            try:
                n = copy_range(src, dst, size - offset, offset, offset)
            except OSError as e:  # refused across filesystems or by some file kinds
                if e.errno not in (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL, errno.EPERM):
                    raise
                copy_range = None
        if n < 0:
            n = os.pwrite(dst, os.pread(src, min(size - offset, 1 << 20), offset), offset)
        if n == 0:
            break  # the source shrank under us
        offset += n
    os.lseek(dst, offset, os.SEEK_SET)
    return offset


class FilesystemWriter(CommitOnExit):
    """Streams into a private temp file; :meth:`commit` renames it over the key."""

    def __init__(self, backend: FilesystemBackend, key: str, fd: int, temp: str, initial: int) -> None:
        self.key = key
        self._backend = backend
        self._fd = fd
        self._temp = temp
        self._size = initial
        self._done = False
        # An abandoned writer must not leak its descriptor or its temp file.
        self._finalizer = weakref.finalize(self, _discard, fd, temp, backend._open_temps)

    @property
    def size(self) -> int:
        return self._size

    def _check_open(self, action: str) -> None:
        if self._done:
            raise BlobUploadInvalid(f"{action} of {self.key!r} after commit or cancel")

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Append ``data`` straight from its buffer. A failed write cancels the writer, since
        how much of it reached the temp file is then unknown."""
        self._check_open("write")
        view = memoryview(data)
        if view.format != "B" or view.ndim != 1:
            view = view.cast("B")
        total, done = view.nbytes, 0
        try:
            while done < total:
                done += os.write(self._fd, view[done:])
        except BaseException:
            self.cancel()
            raise
        self._size += total
        return total

    def commit(self) -> None:
        self._check_open("commit")
        self._done = True
        self._finalizer.detach()
        try:
            try:
                if self._backend.fsync:
                    os.fsync(self._fd)
            finally:
                os.close(self._fd)
            self._backend._publish(self._temp, self.key)
        except BaseException:
            _unlink_quietly(self._temp)
            raise
        finally:
            self._backend._open_temps.discard(self._temp)

    def cancel(self) -> None:
        self._done = True
        self._finalizer()



class FilesystemBackend:
    """Objects are files under ``<root>/data``; they survive the process (see the module layout).

    ``fsync=False`` trades durability for speed (tests, scratch stores); atomicity is kept.
    The backend holds one descriptor on ``data/`` (:meth:`close` releases it early).
    """

    def __init__(self, root: str | Path, *, name: str = "filesystem", fsync: bool = True) -> None:
        self.name = name
        self.fsync = fsync
        self.root = Path(root)
        os.makedirs(self.root / "data", exist_ok=True)
        os.makedirs(self.root / "_tmp", exist_ok=True)
        self._tmp = os.path.realpath(self.root / "_tmp")
        self._data_fd = os.open(self.root / "data", os.O_RDONLY | os.O_DIRECTORY)
        self._close_data = weakref.finalize(self, os.close, self._data_fd)
        self._open_temps: set[str] = set()

    def __repr__(self) -> str:
        return f"FilesystemBackend({str(self.root)!r}, name={self.name!r}, fsync={self.fsync})"

    def close(self) -> None:
        """Release the descriptor on ``data/``; the backend is unusable afterwards."""
        self._close_data()

    # -- paths: data/<key> is reached one directory at a time from the data/ descriptor --------

    def _split(self, key: str) -> list[str]:
        """The key's path components. Refuses, by itself and not only through check_key, any
        component that could step out of ``data/`` (absolute, empty, '.', '..', NUL)."""
        parts = key.split("/") if isinstance(key, str) else [""]
        if any(part in ("", ".", "..") or "\x00" in part for part in parts):
            raise InvalidKey(f"{self.name}: storage key {key!r} could resolve outside {self.root / 'data'}")
        return parts

    def _open_dirs(self, key: str, names: list[str], *, grown: list[int] | None = None) -> list[int]:
        """Open ``data/names[0]/names[1]/...`` one level at a time without following symbolic
        links, so no key leads outside ``data/``, even through a link planted inside it. Returns
        the descriptors, outermost first, for the caller to close.

        With ``grown`` (a list), missing levels are made, and a descriptor of every directory
        that gained an entry (a duplicate of the parent of each level made) is appended to it:
        the caller owns those, fsyncs them before it reports the write durable and closes them
        (:meth:`_publish`), so levels made by an attempt that is then retried are synced too."""
        fds: list[int] = []
        try:
            for name in names:
                fds.append(self._open_dir(key, fds[-1] if fds else self._data_fd, name, grown))
        except BaseException:
            for fd in fds:
                os.close(fd)
            raise
        return fds

    def _open_dir(self, key: str, parent: int, name: str, grown: list[int] | None) -> int:
        create = grown is not None
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=parent)
        except FileNotFoundError:
            if not create:
                raise
        except NotADirectoryError:
            self._refuse_link(key, parent, name)
            if create:
                raise InvalidKey(f"{self.name}: key {key!r} lies under an existing object {name!r}") from None
            raise
        try:
            os.mkdir(name, dir_fd=parent)
            grown.append(os.dup(parent))  # its new entry is made durable by the caller, with the rest
        except FileExistsError:
            pass  # made by a concurrent writer
        return os.open(name, _DIR_FLAGS, dir_fd=parent)

    def _refuse_link(self, key: str, parent: int, name: str) -> None:
        try:
            mode = os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
        except FileNotFoundError:
            return
        if stat.S_ISLNK(mode):
            raise InvalidKey(f"{self.name}: storage key {key!r} passes through the symbolic link {name!r}")

    @contextmanager
    def _located(self, key: str, *, grown: list[int] | None = None) -> Iterator[tuple[list[int], str]]:
        """The open directories from ``data/`` down to the key's (first element ``data/``) and
        the object's file name in the last one; missing directories mean KeyNotFound, or with
        ``grown`` are made (see :meth:`_open_dirs`)."""
        parts = self._split(key)
        try:
            fds = self._open_dirs(key, parts[:-1], grown=grown)
        except _MISSING:
            if grown is not None:
                raise
            raise KeyNotFound(f"{self.name}: no object {key!r}") from None
        try:
            yield [self._data_fd, *fds], parts[-1]
        finally:
            for fd in fds:
                os.close(fd)

    def _lstat(self, key: str, parent: int, name: str) -> os.stat_result:
        try:
            st = os.stat(name, dir_fd=parent, follow_symlinks=False)
        except _MISSING:
            raise KeyNotFound(f"{self.name}: no object {key!r}") from None
        if stat.S_ISLNK(st.st_mode):
            raise InvalidKey(f"{self.name}: storage key {key!r} is a symbolic link")
        if not stat.S_ISREG(st.st_mode):
            raise KeyNotFound(f"{self.name}: no object {key!r}")
        return st

    def _open_object(self, key: str) -> int:
        """A read descriptor on the object's regular file."""
        with self._located(check_key(key)) as (dirs, name):
            try:
                fd = os.open(name, _FILE_FLAGS, dir_fd=dirs[-1])
            except _MISSING:
                raise KeyNotFound(f"{self.name}: no object {key!r}") from None
            except OSError as e:
                if e.errno == errno.ELOOP:
                    self._refuse_link(key, dirs[-1], name)
                raise
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise KeyNotFound(f"{self.name}: no object {key!r}")
        return fd

    def _publish(self, temp: str, key: str) -> None:
        """Rename a finished temp file over the key's path and make the rename durable, with
        every directory level made for it (fsynced together: module docstring)."""
        grown: list[int] = []  # directories that gained a level, over every attempt
        try:
            for attempt in range(_ATTEMPTS):
                try:
                    with self._located(key, grown=grown) as (dirs, name):
                        try:
                            os.replace(temp, name, dst_dir_fd=dirs[-1])
                        except IsADirectoryError:
                            raise InvalidKey(f"{self.name}: key {key!r} is a directory of other keys") from None
                        if self.fsync:
                            _fsync_all([dirs[-1], *grown])
                        return
                except FileNotFoundError:
                    # A concurrent delete pruned a directory on the way while it was empty: walk again.
                    if attempt == _ATTEMPTS - 1 or not os.path.exists(temp):
                        raise
        finally:
            for fd in grown:
                os.close(fd)

    # -- the BlobBackend protocol --------------------------------------------------------------

    def put(self, key: str, data: bytes | bytearray | memoryview) -> None:
        with self.writer(key) as w:
            w.write(data)

    def get(self, key: str) -> bytes:
        with open(self._open_object(key), "rb", buffering=0) as f:
            return f.readall()

    def read_at(self, key: str, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0:
            raise ValueError("offset and length must be non-negative")
        fd = self._open_object(key)
        try:
            # Clamp first: pread allocates its whole request up front.
            want = max(0, min(length, os.fstat(fd).st_size - offset))
            parts, got = [], 0
            while got < want:
                more = os.pread(fd, want - got, offset + got)
                if not more:
                    break
                parts.append(more)
                got += len(more)
            return parts[0] if len(parts) == 1 else b"".join(parts)
        finally:
            os.close(fd)

    def stat(self, key: str) -> int:
        with self._located(check_key(key)) as (dirs, name):
            return self._lstat(key, dirs[-1], name).st_size

    def modified(self, key: str) -> float:
        """When the object was last written (its file's mtime, on the wall clock); KeyNotFound."""
        with self._located(check_key(key)) as (dirs, name):
            return self._lstat(key, dirs[-1], name).st_mtime

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except KeyNotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        with self._located(check_key(key)) as (dirs, name):
            self._lstat(key, dirs[-1], name)
            try:
                os.unlink(name, dir_fd=dirs[-1])
            except _MISSING:
                raise KeyNotFound(f"{self.name}: no object {key!r}") from None
            if self.fsync:
                os.fsync(dirs[-1])
            # Prune the directories this emptied, innermost first; rmdir refuses non-empty ones.
            names = key.split("/")
            for level in range(len(dirs) - 1, 0, -1):
                try:
                    os.rmdir(names[level - 1], dir_fd=dirs[level - 1])
                except OSError:
                    break

    def list(self, prefix: str = "") -> Iterator[str]:
        keys: list[str] = []
        if not prefix:
            self._scan(os.dup(self._data_fd), "", keys)
        else:
            base = check_key(prefix.rstrip("/"))
            try:
                fds = self._open_dirs(base, self._split(base))
            except _MISSING:
                return iter(keys)  # no such prefix, or it names an object
            for fd in fds[:-1]:
                os.close(fd)
            self._scan(fds[-1], base + "/", keys)
        keys.sort()
        return iter(keys)

    def _scan(self, dir_fd: int, rel: str, keys: list[str]) -> None:
        """Collect the regular files below ``dir_fd`` (closed here), never following links."""
        stack = [(dir_fd, rel)]
        while stack:
            fd, rel = stack.pop()
            try:
                with os.scandir(fd) as entries:
                    for entry in entries:
                        if entry.is_file(follow_symlinks=False):
                            keys.append(rel + entry.name)
                        elif entry.is_dir(follow_symlinks=False):
                            try:
                                child = os.open(entry.name, _DIR_FLAGS, dir_fd=fd)
                            except _MISSING:
                                continue  # pruned meanwhile, or swapped for a link
                            stack.append((child, rel + entry.name + "/"))
            finally:
                os.close(fd)

    def writer(self, key: str, *, append: bool = False) -> FilesystemWriter:
        self._split(check_key(key))
        src = None
        if append:
            try:
                src = self._open_object(key)
            except KeyNotFound:
                pass
        try:
            fd, temp = tempfile.mkstemp(dir=self._tmp, prefix=f"{os.getpid()}-", suffix=_TEMP_SUFFIX)
            try:
                initial = _copy_file(src, fd) if src is not None else 0
            except BaseException:
                _discard(fd, temp, self._open_temps)
                raise
        finally:
            if src is not None:
                os.close(src)
        self._open_temps.add(temp)
        return FilesystemWriter(self, key, fd, temp, initial)

    # -- maintenance ---------------------------------------------------------------------------

    def sweep_temp(self, older_than_s: float) -> int:
        """Remove temp files untouched for ``older_than_s`` seconds (left by crashed writers) and
        return how many. Writers open in this process are spared; other processes' look alike, so
        pick an age longer than any upload may stay idle."""
        return len(self.stale_temps(older_than_s, remove=True))

    def stale_temps(self, older_than_s: float, *, remove: bool = False) -> list[tuple[str, int]]:
        """``(file name, bytes)`` of every temp file untouched for ``older_than_s`` seconds and not
        open in this process (see :meth:`sweep_temp`); with ``remove`` they are deleted too (a
        file a writer deleted meanwhile is left out)."""
        if older_than_s < 0:
            raise ValueError(f"older_than_s must be non-negative, got {older_than_s}")
        cutoff, found = time.time() - older_than_s, []
        with os.scandir(self._tmp) as entries:
            for entry in entries:
                if entry.path in self._open_temps or not entry.name.endswith(_TEMP_SUFFIX):
                    continue
                try:
                    if not entry.is_file(follow_symlinks=False):
                        continue
                    st = entry.stat(follow_symlinks=False)
                    if st.st_mtime > cutoff:
                        continue
                    if remove:
                        os.unlink(entry.path)
                except FileNotFoundError:
                    continue
                found.append((entry.name, st.st_size))
        return found
