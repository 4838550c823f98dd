"""The IBM Docker-registry trace format of Anwar et al., FAST '18: read, validate, write.

The published traces are JSON files, each an array of records, one per HTTP request the
registry answered (the registry's access log, anonymised)::

    {"host": "dc118836", "http.request.duration": 0.879512, "http.request.method": "GET",
     "http.request.remoteaddr": "0ee76ffa", "http.request.uri": "v2/ca64a9a7/8b1c7f/blobs/sha256:...",
     "http.request.useragent": "docker/17.06.0-ce", "http.response.status": 200,
     "http.response.written": 1557, "id": "47f7cd1c28", "timestamp": "2017-06-20T02:41:18.000Z"}

Seven fields are required (``REQUIRED``); others (``host``, ``id``, ``useragent``) are kept out
of the parsed form. A record that breaks the format is refused with the file, the record's index
and the field: ``trace.json: record 17: http.response.written: expected a whole number of bytes
>= 0 (got "12a")``. The format, field by field: ``docs/traces.md``.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs

import pandas as pd

from ..errors import UserError

__all__ = ["KINDS", "METHODS", "REQUIRED", "Request", "Trace", "TraceError", "dumps_trace", "format_timestamp",
           "loads_trace", "parse_record", "parse_timestamp", "parse_uri", "read_trace", "to_record", "write_trace"]

#: fields every record must have, with what each must hold.
REQUIRED = {
    "timestamp": "an ISO-8601 UTC time such as '2017-06-20T02:41:18.000Z'",
    "http.request.method": "an HTTP method (GET, HEAD, PUT, POST, PATCH, DELETE)",
    "http.request.uri": "a registry API path such as 'v2/<user>/<repo>/blobs/<digest>'",
    "http.response.written": "a whole number of bytes >= 0",
    "http.request.duration": "a number of seconds >= 0",
    "http.request.remoteaddr": "a client address (a string, anonymised in the published traces)",
    "http.response.status": "an HTTP status code from 100 to 599",
}
METHODS = frozenset({"GET", "HEAD", "PUT", "POST", "PATCH", "DELETE"})
#: what a request is about, from its URI.
KINDS = ("manifest", "blob", "upload", "tags", "base", "other")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_URI = re.compile(r"^/?v2/(?P<repo>.+?)/(?P<what>manifests|blobs|tags)(?:/(?P<rest>.*))?$")


class TraceError(UserError, ValueError):
    """A trace that breaks the format: names the file, the record's index and the field."""

    def __init__(self, source: str, message: str, *, index: int | None = None, field: str | None = None) -> None:
        where = "".join([source, f": record {index}" if index is not None else "", f": {field}" if field else ""])
        super().__init__(f"{where}: {message}")
        self.source, self.index, self.field, self.reason = source, index, field, message


class Request(NamedTuple):
    """One request of a trace. ``time`` is seconds since the Unix epoch (UTC, microsecond-exact);
    ``kind`` is one of :data:`KINDS`; ``reference`` is a tag or digest for manifests, the digest for
    blobs and finished uploads, else ``""``; ``size`` is ``http.response.written`` (for a PUT,
    regsim writes the bytes uploaded there, which is where the study's replayer reads them)."""

    time: float
    method: str
    uri: str
    kind: str
    repository: str
    reference: str
    size: int
    duration_s: float
    client: str
    status: int


def parse_timestamp(text: str) -> float:
    """Seconds since the epoch of an ISO-8601 time (``Z`` or an offset; no zone means UTC)."""
    stamp = datetime.fromisoformat(text)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return ((stamp - _EPOCH) // timedelta(microseconds=1)) / 1e6


def format_timestamp(time: float) -> str:
    """The trace's form of ``time``: milliseconds when they are exact, else microseconds."""
    stamp = _EPOCH + timedelta(microseconds=round(time * 1e6))
    text = stamp.strftime("%Y-%m-%dT%H:%M:%S.%f")
    return (text[:-3] if text.endswith("000") else text) + "Z"


def parse_uri(uri: str) -> tuple[str, str, str]:
    """``(kind, repository, reference)`` of a registry API path (query string included)."""
    path, _, query = uri.partition("?")
    if path.strip("/") == "v2":
        return "base", "", ""
    m = _URI.match(path)
    if not m:
        return "other", "", ""
    repo, what, rest = m.group("repo"), m.group("what"), m.group("rest") or ""
    if what == "manifests":
        return "manifest", repo, rest
    if what == "tags":
        return "tags", repo, ""
    if rest == "uploads" or rest.startswith("uploads/"):
        return "upload", repo, parse_qs(query).get("digest", [""])[0]
    return "blob", repo, rest


def _bad(source: str, index: int, name: str, value: Any) -> TraceError:
    shown = json.dumps(value) if not isinstance(value, (dict, list)) else type(value).__name__
    return TraceError(source, f"expected {REQUIRED[name]} (got {shown[:60]})", index=index, field=name)


def parse_record(record: Any, source: str = "<trace>", index: int = 0) -> Request:
    """One record as a :class:`Request`; a :class:`TraceError` naming the first bad field."""
    if not isinstance(record, dict):
        raise TraceError(source, f"expected a JSON object with the fields {', '.join(REQUIRED)} "
                                 f"(got {type(record).__name__})", index=index)
    missing = [name for name in REQUIRED if name not in record]
    if missing:
        raise TraceError(source, "missing field" + ("s " if len(missing) > 1 else " ") + ", ".join(missing),
                         index=index, field=missing[0])
    get = record.__getitem__
    stamp = get("timestamp")
    try:
        time = parse_timestamp(stamp) if isinstance(stamp, str) else None
    except ValueError:
        time = None
    if time is None:
        raise _bad(source, index, "timestamp", stamp)
    method = get("http.request.method")
    if method not in METHODS:
        raise _bad(source, index, "http.request.method", method)
    uri = get("http.request.uri")
    if not isinstance(uri, str) or not uri:
        raise _bad(source, index, "http.request.uri", uri)
    size = get("http.response.written")
    if type(size) is not int or size < 0:
        raise _bad(source, index, "http.response.written", size)
    duration = get("http.request.duration")
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not 0 <= duration < float("inf"):
        raise _bad(source, index, "http.request.duration", duration)
    client = get("http.request.remoteaddr")
    if not isinstance(client, str):
        raise _bad(source, index, "http.request.remoteaddr", client)
    status = get("http.response.status")
    if type(status) is not int or not 100 <= status <= 599:
        raise _bad(source, index, "http.response.status", status)
    kind, repository, reference = parse_uri(uri)
    return Request(time, method, uri, kind, repository, reference, size, float(duration), client, status)


@dataclass
class Trace:
    """Requests in the order recorded, and where they came from."""

    requests: list[Request]
    source: str = "<trace>"
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.requests)

    def __iter__(self) -> Iterator[Request]:
        return iter(self.requests)

    def sorted(self) -> Trace:
        """The same requests in time order (stable: ties keep the recorded order)."""
        return Trace(sorted(self.requests, key=lambda r: r.time), self.source, dict(self.meta))

    @property
    def start(self) -> float:
        return min((r.time for r in self.requests), default=0.0)

    @property
    def span_s(self) -> float:
        """Seconds from the first request to the last."""
        return max((r.time for r in self.requests), default=0.0) - self.start

    def frame(self) -> pd.DataFrame:
        """One row per request; ``time_s`` counts from the first request."""
        frame = pd.DataFrame(self.requests, columns=Request._fields)
        frame.insert(1, "time_s", frame["time"] - self.start)
        return frame


def loads_trace(text: str | bytes, source: str = "<trace>") -> Trace:
    """Parse the JSON text of one trace file."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TraceError(source, f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except UnicodeDecodeError as exc:
        raise TraceError(source, f"not UTF-8 text: {exc}") from None
    if not isinstance(data, list):
        raise TraceError(source, f"expected a JSON array of request records (got a {type(data).__name__})")
    return Trace([parse_record(record, source, i) for i, record in enumerate(data)], source)


def _read_file(path: Path) -> Trace:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise TraceError(str(path), f"cannot read the trace: {exc.strerror or exc}") from None
    return loads_trace(raw, str(path))


def read_trace(path: str | Path) -> Trace:
    """A trace file (``.json`` or ``.json.gz``), or a folder of them merged in time order."""
    path = Path(path)
    if not path.is_dir():
        return _read_file(path)
    files = sorted(p for p in path.iterdir() if p.name.endswith((".json", ".json.gz")))
    if not files:
        raise TraceError(str(path), "no .json or .json.gz trace files in this folder")
    requests = [r for f in files for r in _read_file(f)]
    return Trace(requests, str(path)).sorted()


def to_record(request: Request, index: int = 0, *, host: str = "registry-0") -> dict[str, Any]:
    """The trace record of ``request``, fields in the published traces' order."""
    return {
        "host": host,
        "http.request.duration": request.duration_s,
        "http.request.method": request.method,
        "http.request.remoteaddr": request.client,
        "http.request.uri": request.uri,
        "http.request.useragent": "docker/17.06.0-ce go/go1.8.3",
        "http.response.status": request.status,
        "http.response.written": request.size,
        "id": f"{index:010x}",
        "timestamp": format_timestamp(request.time),
    }


def dumps_trace(requests: Iterable[Request], *, host: str = "registry-0") -> str:
    """JSON text of a trace file: an array with one record per line (diffs stay readable)."""
    lines = [json.dumps(to_record(r, i, host=host), separators=(",", ":")) for i, r in enumerate(requests)]
    return "[\n" + ",\n".join(lines) + "\n]\n" if lines else "[]\n"


def write_trace(requests: Iterable[Request], path: str | Path, *, host: str = "registry-0") -> Path:
    """Write a trace file (gzip-compressed when the name ends in ``.gz``; folders created); returns its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = dumps_trace(requests, host=host).encode("utf-8")
    if path.suffix == ".gz":
        with gzip.GzipFile(path, "wb", mtime=0) as handle:
            handle.write(text)
    else:
        path.write_bytes(text)
    return path
