"""Recorded start-up traces read from files: overlaybd's trace-prefetch blob, and our text formats.

Two sources of a :class:`~.trace.StartupTrace` recorded from a real start-up:

**overlaybd trace-prefetch** (containerd/overlaybd ``src/prefetch.cpp`` and ``src/prefetch.h``;
containerd/accelerated-container-image ``docs/trace-prefetch.md``, ``ctr record-trace``). While a
container starts, overlaybd's ``PrefetchFile::pread`` records every read of a layer file as
``TraceFormat {TraceOp op; uint32_t layer_index; size_t count; off_t offset}`` and
``PrefetcherImpl::dump`` writes them after a ``TraceHeader {uint32_t magic; size_t data_size;
uint32_t checksum}``. Both are C structs written as they lie in memory (64-bit little-endian
Linux), so the file is:

====== ==== ==================================================================================
offset size field
====== ==== ==================================================================================
0      4    magic ``3270449184`` (``0xC2EF1820``; upstream: "CRC32 of `Container Image Trace
            Format`")
4      4    padding
8      8    data_size: bytes of records that follow (24 per record)
16     4    checksum: CRC-32C of the record bytes (padding included), seed 0, no final inversion
20     4    padding
24+24i 24   record i: op (1 byte, ``'R'`` read or ``'W'`` write), 3 bytes padding, layer_index
            (u32), count (u64), offset (i64)
====== ==== ==================================================================================

Records are in the order the reads happened; ``layer_index`` counts the image's layers from the
bottom; ``offset``/``count`` address the layer file overlaybd reads (its uncompressed content), so
each becomes a *raw* :class:`~.trace.Read`. The file carries no timing: ``cpu_before_s`` is 0
(or ``cpu_between`` if given). Write records are skipped, as overlaybd's replay skips them. In an
image the trace travels as the top layer, a tar holding one file named ``trace``:
:func:`load_recorded` accepts that tar too. (The layout above is the one of the current
``src/prefetch.cpp``; an older overlaybd serialised the same fields with its RPC serializer,
which this parser does not read.)

**Our text formats**, for traces recorded with other tools (``strace``, ``blktrace``, fanotify):

- CSV, one read a line: ``layer,offset,length[,cpu_s]``, or ``layer,path,offset,length[,cpu_s]``
  for file reads; ``layer`` is an index or a digest; blank lines and ``#`` comments are ignored, and
  a first line naming the columns (``layer,offset,length,cpu_s``) is a header;
- JSON lines: one object a line, ``{"layer": 0, "path": "bin/sh", "offset": 0, "length": 4096,
  "cpu_s": 0.001}`` (``path`` and ``cpu_s`` optional).

Every error names the file, the line (or the record and its byte offset) and what was expected.
"""

from __future__ import annotations

import csv
import io
import json
import struct
import tarfile
from pathlib import Path

from .trace import Read, StartupTrace, TraceError, read_from_json

#: overlaybd's TRACE_MAGIC (src/prefetch.cpp)
OVERLAYBD_MAGIC = 3270449184
OVERLAYBD_HEADER = struct.Struct("<I4xQI4x")      # magic, data_size, checksum
OVERLAYBD_RECORD = struct.Struct("<c3xIQq")       # op, layer_index, count, offset
#: the file name of the trace inside overlaybd's acceleration (trace) layer
OVERLAYBD_TRACE_NAME = "trace"
FORMATS = ("auto", "overlaybd", "csv", "jsonl")


def _crc32c_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def crc32c_raw(data: bytes, crc: int = 0) -> int:
    """CRC-32C (Castagnoli) as overlaybd's ``crc32c_extend`` computes it: the register is seeded
    with ``crc`` (0) and neither inverted on entry nor on exit."""
    table = _CRC32C
    for b in data:
        crc = (crc >> 8) ^ table[(crc ^ b) & 0xFF]
    return crc


def overlaybd_bytes(records: list[tuple[str, int, int, int]]) -> bytes:
    """An overlaybd trace file holding ``records`` = ``(op, layer_index, count, offset)`` (what the
    tests write, and a way to hand a trace to overlaybd)."""
    body = b"".join(OVERLAYBD_RECORD.pack(op.encode("ascii"), layer, count, offset)
                    for op, layer, count, offset in records)
    return OVERLAYBD_HEADER.pack(OVERLAYBD_MAGIC, len(body), crc32c_raw(body)) + body


def parse_overlaybd(data: bytes, name: str = "trace", *, verify_checksum: bool = True,
                    cpu_between: float = 0.0) -> StartupTrace:
    """The reads of an overlaybd trace-prefetch file (see the module)."""
    where = f"{name}"
    if len(data) < OVERLAYBD_HEADER.size:
        raise TraceError(f"{where}: {len(data)} bytes is too short for an overlaybd trace "
                         f"(expected a {OVERLAYBD_HEADER.size}-byte header)")
    magic, data_size, checksum = OVERLAYBD_HEADER.unpack_from(data)
    if magic != OVERLAYBD_MAGIC:
        raise TraceError(f"{where}: byte 0: magic {magic:#010x} is not overlaybd's trace magic {OVERLAYBD_MAGIC:#010x}")
    body = data[OVERLAYBD_HEADER.size:]
    if data_size != len(body):
        raise TraceError(f"{where}: byte 8: header says {data_size} bytes of records, the file has {len(body)}")
    if data_size % OVERLAYBD_RECORD.size:
        raise TraceError(f"{where}: byte 8: {data_size} bytes of records is not a multiple of "
                         f"{OVERLAYBD_RECORD.size} (one record)")
    if verify_checksum and crc32c_raw(body) != checksum:
        raise TraceError(f"{where}: byte 16: checksum {checksum:#010x} does not match the records "
                         f"({crc32c_raw(body):#010x}): the file is corrupt")
    reads = []
    writes = 0
    for i in range(data_size // OVERLAYBD_RECORD.size):
        at = OVERLAYBD_HEADER.size + i * OVERLAYBD_RECORD.size
        op, layer, count, offset = OVERLAYBD_RECORD.unpack_from(data, at)
        if op == b"W":
            writes += 1
            continue
        if op != b"R":
            raise TraceError(f"{where}: record {i} (byte {at}): op {op!r} is neither 'R' (read) nor 'W' (write)")
        if offset < 0:
            raise TraceError(f"{where}: record {i} (byte {at + 16}): offset {offset} is negative")
        if count == 0:
            continue  # a read of nothing
        reads.append(Read(layer, None, offset, count, cpu_between))
    return StartupTrace(tuple(reads), f"overlaybd trace {Path(name).name}",
                        meta={"recorded": "overlaybd", "records": data_size // OVERLAYBD_RECORD.size,
                              "writes_skipped": writes})


def _int(text: str, what: str, where: str) -> int:
    try:
        v = int(text.strip())
    except ValueError:
        raise TraceError(f"{where}: {what} must be an integer, got {text.strip()!r}") from None
    if v < 0:
        raise TraceError(f"{where}: {what} must be >= 0, got {v}")
    return v


def _layer(text: str, where: str) -> int | str:
    t = text.strip()
    if t.isdigit():
        return int(t)
    if ":" in t:
        return t
    raise TraceError(f"{where}: layer must be an index or a digest like sha256:<hex>, got {t!r}")


def parse_csv(text: str, name: str = "trace.csv") -> StartupTrace:
    """Reads from CSV lines ``layer,offset,length[,cpu_s]`` or ``layer,path,offset,length[,cpu_s]``."""
    reads = []
    for lineno, line in enumerate(text.splitlines(), 1):
        where = f"{name}:{lineno}"
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        fields = next(csv.reader([stripped]))
        if not reads and fields and fields[0].strip().lower() == "layer":
            continue  # a header line
        if len(fields) in (3, 4) and not _looks_like_path(fields[1]):
            layer, path, rest = fields[0], None, fields[1:]
        elif len(fields) in (4, 5):
            layer, path, rest = fields[0], fields[1].strip(), fields[2:]
        else:
            raise TraceError(f"{where}: expected layer,offset,length[,cpu_s] or layer,path,offset,length[,cpu_s], "
                             f"got {len(fields)} field(s): {stripped!r}")
        offset, length = _int(rest[0], "offset", where), _int(rest[1], "length", where)
        cpu = 0.0
        if len(rest) > 2:
            try:
                cpu = float(rest[2])
            except ValueError:
                raise TraceError(f"{where}: cpu_s must be a number of seconds, got {rest[2].strip()!r}") from None
        r = Read(_layer(layer, where), path or None, offset, length, cpu)
        why = r.problem()
        if why:
            raise TraceError(f"{where}: {why}")
        reads.append(r)
    return StartupTrace(tuple(reads), f"csv {Path(name).name}", meta={"recorded": "csv"})


def _looks_like_path(text: str) -> bool:
    t = text.strip()
    try:
        int(t)
        return False
    except ValueError:
        return True


def parse_jsonl(text: str, name: str = "trace.jsonl") -> StartupTrace:
    """Reads from JSON lines, one ``{"layer", "path"?, "offset", "length", "cpu_s"?}`` a line."""
    reads = []
    for lineno, line in enumerate(text.splitlines(), 1):
        where = f"{name}:{lineno}"
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            doc = json.loads(stripped)
        except ValueError as e:
            raise TraceError(f"{where}: expected a JSON object, got invalid JSON ({e.msg})") from None
        reads.append(read_from_json(doc, where))
    return StartupTrace(tuple(reads), f"jsonl {Path(name).name}", meta={"recorded": "jsonl"})


def detect(data: bytes) -> str:
    """``overlaybd``, ``overlaybd-layer`` (a tar holding ``trace``), ``jsonl`` or ``csv``, by content."""
    if len(data) >= 4 and struct.unpack_from("<I", data)[0] == OVERLAYBD_MAGIC:
        return "overlaybd"
    if len(data) >= 512 and data[257:262] == b"ustar":
        return "overlaybd-layer"
    head = data.lstrip()[:1]
    return "jsonl" if head == b"{" else "csv"


def _from_layer_tar(data: bytes, name: str) -> bytes:
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tf:
            for info in tf:
                if info.isfile() and info.name.lstrip("./") == OVERLAYBD_TRACE_NAME:
                    f = tf.extractfile(info)
                    return f.read() if f else b""
    except tarfile.TarError as e:
        raise TraceError(f"{name}: not a tar archive: {e}") from None
    raise TraceError(f"{name}: a tar without a file named {OVERLAYBD_TRACE_NAME!r} (expected overlaybd's "
                     "acceleration layer)")


def parse_recorded(data: bytes, name: str = "trace", fmt: str = "auto", **options) -> StartupTrace:
    """A recorded trace from bytes in format ``fmt`` (``auto`` detects it)."""
    if fmt not in FORMATS:
        raise TraceError(f"unknown recorded trace format {fmt!r}; choose one of {', '.join(FORMATS)}")
    kind = detect(data) if fmt == "auto" else fmt
    if kind == "overlaybd-layer":
        return parse_overlaybd(_from_layer_tar(data, name), f"{name}!{OVERLAYBD_TRACE_NAME}", **options)
    if kind == "overlaybd":
        return parse_overlaybd(data, name, **options)
    if options:
        raise TraceError(f"{', '.join(options)} apply only to overlaybd traces")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise TraceError(f"{name}: byte {e.start}: not UTF-8 text (expected {kind} lines)") from None
    return parse_jsonl(text, name) if kind == "jsonl" else parse_csv(text, name)


def load_recorded(path: str | Path, fmt: str = "auto", **options) -> StartupTrace:
    """A recorded trace from a file: an overlaybd trace (or its layer tar), CSV or JSON lines."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise TraceError(f"cannot read {path}: {e.strerror}") from None
    return parse_recorded(data, str(path), fmt, **options)
