import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regsim.registry import receipts
from regsim.registry.digest import Digest, Digester, compute, verify
from regsim.registry.errors import DigestInvalid

HEX64 = "a" * 64


def test_parse_round_trip():
    d = Digest.parse(f"sha256:{HEX64}")
    assert (d.algorithm, d.hex, str(d)) == ("sha256", HEX64, f"sha256:{HEX64}")
    assert Digest.parse(d) is d


@pytest.mark.parametrize(
    "text",
    [
        "",
        "sha256",
        f"sha256:{HEX64[:-1]}",
        f"sha256:{HEX64}0",
        f"sha256:{HEX64.upper()}",
        f"md5:{'a' * 32}",
        f"sha512:{HEX64}",
        f"SHA256:{HEX64}",
        f"sha256:{'g' * 64}",
        f" sha256:{HEX64}",
        f"sha256:{HEX64}/../x",
    ],
)
def test_malformed_digests_are_rejected(text):
    with pytest.raises(DigestInvalid):
        Digest.parse(text)


def test_non_string_rejected():
    with pytest.raises(DigestInvalid):
        Digest.parse(None)  # type: ignore[arg-type]


def test_sha512_accepted():
    data = b"hello"
    d = compute(data, "sha512")
    assert str(d) == "sha512:" + hashlib.sha512(data).hexdigest()
    assert Digest.parse(str(d)) == d


def test_verify_detects_mismatch():
    d = compute(b"abc")
    assert verify(b"abc", str(d)) == d
    with pytest.raises(DigestInvalid, match="does not match"):
        verify(b"abd", d)


@settings(max_examples=60)
@given(st.binary(max_size=4096), st.lists(st.integers(min_value=0, max_value=4096), max_size=8))
def test_streamed_and_one_shot_digests_agree(data, cuts):
    h = Digester()
    points = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    view = memoryview(data)
    for a, b in zip(points, points[1:]):
        h.update(view[a:b])
    assert h.digest() == compute(data)
    assert h.digest().hex == hashlib.sha256(data).hexdigest()
    assert h.nbytes == len(data)


def test_hashing_is_recorded_on_the_receipt():
    with receipts.collect() as r:
        compute(b"x" * 1000, node="fe")
    (item,) = r.of("sha256")
    assert (item.amount, item.node, item.unit) == (1000, "fe", "bytes")
    assert item.cpu_s >= 0.0
