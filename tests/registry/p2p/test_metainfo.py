"""Metainfo: real vs modelled, piece geometry, verification, JSON round trips and rejections."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regsim.registry import receipts
from regsim.registry.digest import compute
from regsim.registry.errors import IntegrityError
from regsim.registry.p2p import MetaInfo, MetaInfoInvalid, P2PError
from regsim.registry.receipts import Kind

PIECE = 1024


@pytest.fixture(scope="module")
def blob() -> bytes:
    return os.urandom(10 * PIECE + 300)


def test_real_metainfo_hashes_every_piece_and_the_blob(blob):
    with receipts.collect() as r:
        info = MetaInfo.from_bytes(blob, PIECE)
    assert info.real and info.digest == compute(blob)
    assert info.num_pieces == 11 and info.last_piece_size == 300
    assert info.piece_digests == tuple(hashlib.sha256(blob[o:o + PIECE]).digest() for o in range(0, len(blob), PIECE))
    # one pass for the blob digest, one for the pieces; all of it priced as sha256 work
    assert r.total(Kind.SHA256) == 2 * len(blob)
    assert len(r.of(Kind.SHA256)) == 1 + 11


def test_modelled_metainfo_has_the_geometry_but_no_digests(blob):
    real = MetaInfo.from_bytes(blob, PIECE)
    with receipts.collect() as r:
        model = MetaInfo.modelled(real.digest, len(blob), PIECE)
    assert not model.real and model.piece_digests is None and len(r) == 0
    assert (model.num_pieces, model.last_piece_size) == (real.num_pieces, real.last_piece_size)
    assert [model.piece_range(i) for i in range(11)] == [real.piece_range(i) for i in range(11)]
    with pytest.raises(P2PError, match="modelled"):
        model.verify_piece(0, blob[:PIECE])


@pytest.mark.parametrize(
    "size, pieces, last",
    [(0, 0, 0), (1, 1, 1), (PIECE - 1, 1, PIECE - 1), (PIECE, 1, PIECE), (PIECE + 1, 2, 1), (7 * PIECE, 7, PIECE)],
)
def test_piece_count_and_last_piece(size, pieces, last):
    info = MetaInfo.modelled(compute(b"x"), size, PIECE)
    assert (info.num_pieces, info.last_piece_size) == (pieces, last)
    lengths = info.piece_lengths()
    assert lengths.sum() == size and len(lengths) == pieces
    assert [info.piece_length(i) for i in range(pieces)] == lengths.tolist()
    with pytest.raises(P2PError, match="out of range"):
        info.piece_length(pieces)


def test_verify_accepts_the_right_bytes_and_records_piece_verify_work(blob):
    info = MetaInfo.from_bytes(blob, PIECE)
    with receipts.collect() as r:
        for i in range(info.num_pieces):
            off, n = info.piece_range(i)
            info.verify_piece(i, memoryview(blob)[off:off + n], node="peer-7")
    assert r.total(Kind.PIECE_VERIFY) == len(blob)
    assert {item.node for item in r} == {"peer-7"} and r.total(Kind.SHA256) == 0


@settings(max_examples=40, deadline=None)
@given(piece=st.integers(0, 10), position=st.integers(0, PIECE - 1), bit=st.integers(0, 7))
def test_verify_detects_any_flipped_bit(blob, piece, position, bit):
    info = MetaInfo.from_bytes(blob, PIECE)
    off, n = info.piece_range(piece)
    data = bytearray(blob[off:off + n])
    data[position % n] ^= 1 << bit
    with receipts.collect() as r, pytest.raises(IntegrityError, match=f"piece {piece} .* corrupt"):
        info.verify_piece(piece, data)
    assert r.total(Kind.PIECE_VERIFY) == n, "the hashing was done, so it is priced"


def test_verify_rejects_a_piece_of_the_wrong_length(blob):
    info = MetaInfo.from_bytes(blob, PIECE)
    with pytest.raises(IntegrityError, match="has 1023 bytes, expected 1024"):
        info.verify_piece(0, blob[:PIECE - 1])
    with pytest.raises(IntegrityError, match="expected 300"):
        info.verify_piece(10, blob[-301:])


def test_from_bytes_refuses_bytes_that_are_not_the_named_blob(blob):
    assert MetaInfo.from_bytes(blob, PIECE, digest=compute(blob)).digest == compute(blob)
    with pytest.raises(IntegrityError, match="refusing"):
        MetaInfo.from_bytes(blob, PIECE, digest=compute(b"other"))


@pytest.mark.parametrize("real", [True, False])
def test_json_round_trip(blob, real):
    info = MetaInfo.from_bytes(blob, PIECE) if real else MetaInfo.modelled(compute(blob), len(blob), PIECE)
    text = info.to_json()
    assert MetaInfo.from_json(text) == info
    assert MetaInfo.from_json(text.encode()) == info
    doc = json.loads(text)
    assert doc["digest"] == str(info.digest) and doc["piece_size"] == PIECE
    assert (doc["piece_digests"] is None) is (not real)


@settings(max_examples=30, deadline=None)
@given(data=st.binary(max_size=5000), piece_size=st.integers(1, 2048))
def test_any_blob_round_trips_and_verifies(data, piece_size):
    info = MetaInfo.from_bytes(data, piece_size)
    again = MetaInfo.from_json(info.to_json())
    assert again == info and sum(again.piece_lengths()) == len(data)
    for i in range(again.num_pieces):
        off, n = again.piece_range(i)
        again.verify_piece(i, data[off:off + n])


def _doc(blob, **changes):
    doc = json.loads(MetaInfo.from_bytes(blob, PIECE).to_json())
    doc.update(changes)
    return json.dumps(doc)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda b: "{not json", "not valid JSON"),
        (lambda b: "[1, 2]", "JSON object"),
        (lambda b: _doc(b, version=2), "version 2"),
        (lambda b: _doc(b, digest="sha256:abc"), "digest"),
        (lambda b: _doc(b, size=-1), "size must be"),
        (lambda b: _doc(b, piece_size=0), "piece_size must be"),
        (lambda b: _doc(b, size=20 * PIECE), "11 piece digests for 20 pieces"),
        (lambda b: _doc(b, piece_digests=["zz"] * 11), "64-character"),
        (lambda b: _doc(b, piece_algorithm="md5"), "piece_algorithm"),
        (lambda b: json.dumps({"version": 1, "size": 3}), "lacks digest, piece_size"),
    ],
)
def test_from_json_rejects_malformed_metainfo(blob, mutate, message):
    with pytest.raises(MetaInfoInvalid, match=message):
        MetaInfo.from_json(mutate(blob))
