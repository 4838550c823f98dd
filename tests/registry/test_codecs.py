"""Codecs: replication and Reed-Solomon round trips, losses, parsing, and the metered wrapper."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regsim.registry import receipts
from regsim.registry.codecs import MeteredCodec, ReedSolomon, Replicate, chunk_size, needs_decode, parse_codec
from regsim.registry.codecs.metered import decode_work, decoded_chunks, encode_work, reconstruct_work
from regsim.registry.errors import ConfigError, DataLoss, IntegrityError
from regsim.registry.receipts import Kind

SPECS = ["replicate(1)", "replicate(3)", "rs(4,2)", "rs(6,3)", "rs(10,4)"]


def survivors(fragments, lost):
    return {i: f for i, f in enumerate(fragments) if i not in lost}


@st.composite
def blob_and_losses(draw, spec):
    codec = parse_codec(spec)
    data = draw(st.binary(max_size=3000))
    lost = draw(st.sets(st.integers(0, codec.n - 1), max_size=codec.m))
    return codec, data, lost


@pytest.mark.parametrize("spec", SPECS)
@settings(max_examples=40, deadline=None)
@given(st.data())
def test_any_bytes_round_trip_with_any_m_fragments_lost(spec, data):
    codec, blob, lost = data.draw(blob_and_losses(spec))
    fragments = codec.encode(blob)
    assert len(fragments) == codec.n
    assert len({len(f) for f in fragments}) == 1, "all fragments of a stripe have one length"
    assert codec.decode(survivors(fragments, lost), len(blob)) == blob


@pytest.mark.parametrize("spec", SPECS)
@settings(max_examples=30, deadline=None)
@given(st.data())
def test_reconstruct_rebuilds_exactly_the_lost_fragments(spec, data):
    codec, blob, lost = data.draw(blob_and_losses(spec))
    fragments = codec.encode(blob)
    rebuilt = codec.reconstruct(survivors(fragments, lost), sorted(lost), len(blob))
    assert set(rebuilt) == lost
    for i in lost:
        assert bytes(rebuilt[i]) == bytes(fragments[i])


@pytest.mark.parametrize("spec", ["replicate(3)", "rs(4,2)", "rs(6,3)"])
def test_more_than_m_losses_raise_data_loss(spec):
    codec = parse_codec(spec)
    blob = bytes(range(256)) * 7
    fragments = codec.encode(blob)
    for lost in itertools.combinations(range(codec.n), codec.m + 1):
        with pytest.raises(DataLoss, match=codec.name.replace("(", r"\(").replace(")", r"\)")):
            codec.decode(survivors(fragments, set(lost)), len(blob))


def test_replicate_shares_one_view_of_the_data():
    data = b"layer bytes" * 100
    fragments = Replicate(3).encode(data)
    assert fragments[0] is fragments[1] is fragments[2]
    assert isinstance(fragments[0], memoryview) and fragments[0].obj is data
    assert fragments[0].readonly


def test_rs_is_systematic_and_data_fragments_are_views():
    data = bytes(range(256)) * 64  # divisible by k: no padded chunk
    codec = ReedSolomon(4, 2)
    fragments = codec.encode(data)
    assert all(isinstance(f, memoryview) and f.obj is data for f in fragments[:4])
    assert b"".join(fragments[:4]) == data


def test_rs_pads_the_last_chunk_with_zeros():
    data = b"abcdefghij"  # 10 bytes over k=4: chunks of 3, the last holds 1 byte + 2 zeros
    fragments = ReedSolomon(4, 2).encode(data)
    assert [bytes(f) for f in fragments[:4]] == [b"abc", b"def", b"ghi", b"j\0\0"]


def test_rs_blob_smaller_than_k_leaves_whole_zero_chunks():
    fragments = ReedSolomon(10, 4).encode(b"xy")
    assert [bytes(f) for f in fragments[:3]] == [b"x", b"y", b"\0"]
    assert ReedSolomon(10, 4).decode(survivors(fragments, {0, 1, 5, 7}), 2) == b"xy"


def test_rs_decode_does_not_depend_on_earlier_calls():
    # zfec reorders the sequences handed to its decoder in place; the codec must shield callers.
    codec = ReedSolomon(4, 2)
    data = bytes(range(200)) * 41
    have = survivors(codec.encode(data), {0, 2})
    assert codec.decode(have, len(data)) == data
    assert codec.decode(have, len(data)) == data
    assert codec.reconstruct(have, [0, 2], len(data)) == codec.reconstruct(have, [0, 2], len(data))


def test_decode_rejects_fragments_of_the_wrong_length():
    codec = ReedSolomon(4, 2)
    fragments = codec.encode(b"q" * 400)
    have = survivors(fragments, {1})
    have[5] = bytes(have[5])[:-1]
    with pytest.raises(IntegrityError, match="fragment 5 is 99 bytes"):
        codec.decode(have, 400)
    with pytest.raises(IntegrityError, match="copy 0"):
        Replicate(2).decode({0: b"short"}, 6)


def test_reconstruct_rejects_bad_requests():
    codec = ReedSolomon(4, 2)
    fragments = codec.encode(b"z" * 40)
    with pytest.raises(ValueError, match="both given and asked"):
        codec.reconstruct(survivors(fragments, {1}), [0], 40)
    with pytest.raises(ValueError, match="outside 0..5"):
        codec.reconstruct(survivors(fragments, {1}), [6], 40)
    assert codec.reconstruct(survivors(fragments, set()), [], 40) == {}


def test_zero_parity_and_k_equal_one():
    assert ReedSolomon(3, 0).decode(dict(enumerate(ReedSolomon(3, 0).encode(b"hello"))), 5) == b"hello"
    single = ReedSolomon(1, 2)
    assert single.decode({2: single.encode(b"hello")[2]}, 5) == b"hello"


# -- parsing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec, name, k, n",
    [
        ("replicate(3)", "replicate(3)", 1, 3),
        ("replicate(1)", "replicate(1)", 1, 1),
        ("rs(4,2)", "rs(4,2)", 4, 6),
        ("rs(10,4)", "rs(10,4)", 10, 14),
        (" RS( 10 , 4 ) ", "rs(10,4)", 10, 14),
        ("rs(4,0)", "rs(4,0)", 4, 4),
        ("rs(128,128)", "rs(128,128)", 128, 256),
    ],
)
def test_parse_codec(spec, name, k, n):
    codec = parse_codec(spec)
    assert (codec.name, codec.k, codec.n, codec.m) == (name, k, n, n - k)
    assert codec.overhead == pytest.approx(n / k)
    assert parse_codec(codec.name).name == name


@pytest.mark.parametrize(
    "spec, message",
    [
        ("rs(0,2)", "k .* at least 1"),
        ("rs(4,-1)", "m .* not be negative"),
        ("rs(200,57)", "257 fragments exceeds"),
        ("replicate(0)", "between 1 and 256"),
        ("replicate(257)", "between 1 and 256"),
        ("rs(4)", "two arguments"),
        ("replicate(2,1)", "one argument"),
        ("rs(a,2)", "'a' is not an integer"),
        ("lrc(4,2)", "unknown codec 'lrc'"),
        ("rs(4,2", "unrecognised"),
        ("", "unrecognised"),
        ("garbage", "unrecognised"),
        (42, "must be a string"),
    ],
)
def test_parse_codec_errors_say_what_is_wrong(spec, message):
    with pytest.raises(ConfigError, match=message):
        parse_codec(spec)


# -- metering ------------------------------------------------------------------------------------


def test_metered_rs_records_encode_decode_and_reconstruct_in_bytes_multiplied():
    codec = MeteredCodec(ReedSolomon(4, 2), node="fe")
    data = bytes(range(256)) * 39 + b"tail"
    chunk = chunk_size(len(data), 4)  # 2,497: the data is padded to 4 equal chunks
    with receipts.collect() as r:
        fragments = codec.encode(data)
    # encode: each of m = 2 parity fragments combines k = 4 chunks: chunk x k x m
    assert [(i.kind, i.amount, i.node, i.detail) for i in r] == [(Kind.EC_ENCODE, chunk * 4 * 2, "fe", "rs(4,2)")]

    with receipts.collect() as r:
        assert codec.decode(survivors(fragments, {4, 5}), len(data)) == data
    assert len(r) == 0, "all data fragments present: a concatenation, not a decode"

    with receipts.collect() as r:
        assert codec.decode(survivors(fragments, {1, 3}), len(data)) == data
    # decode: j = 2 data chunks computed, each from k = 4 fragments: j x chunk x k
    assert [(i.kind, i.amount) for i in r] == [(Kind.EC_DECODE, 2 * chunk * 4)]

    with receipts.collect() as r:
        rebuilt = codec.reconstruct(survivors(fragments, {0, 5}), [0, 5], len(data))
    # reconstruct: data chunk 0 decoded plus parity 5 re-encoded, each from k = 4: (1 + 1) x chunk x k
    assert [(i.kind, i.amount) for i in r] == [(Kind.EC_RECONSTRUCT, (1 + 1) * chunk * 4)]
    assert sum(map(len, rebuilt.values())) == 2 * chunk


def test_metered_replication_records_replicate_and_never_decodes():
    codec = MeteredCodec(Replicate(3))
    data = b"r" * 1000
    with receipts.collect() as r:
        fragments = codec.encode(data)
        assert codec.decode({2: fragments[2]}, len(data)) == data
        codec.reconstruct({1: fragments[1]}, [0, 2], len(data))
    assert r.by_kind() == {Kind.REPLICATE: len(data) * 3}
    assert [i.amount for i in r] == [1000, 2000]


def test_rs_10_4_encode_records_twice_the_work_per_data_byte_of_rs_4_2():
    data = bytes(range(200)) * 200  # 40,000 bytes: no padding for k = 4 or k = 10
    work = {}
    for k, m in ((4, 2), (10, 4)):
        with receipts.collect() as r:
            MeteredCodec(ReedSolomon(k, m)).encode(data)
        work[k] = r.total(Kind.EC_ENCODE)
        assert work[k] == len(data) * m  # chunk x k x m, with chunk x k = the data
    assert work[10] / work[4] == 2


def test_decode_with_one_lost_data_fragment_records_half_the_work_of_two():
    codec = MeteredCodec(ReedSolomon(10, 4))
    data = bytes(range(256)) * 97
    fragments = codec.encode(data)
    amounts = {}
    for lost in ({3}, {3, 7}):
        with receipts.collect() as r:
            assert codec.decode(survivors(fragments, lost), len(data)) == data
        amounts[len(lost)] = r.total(Kind.EC_DECODE)
    assert amounts[1] == chunk_size(len(data), 10) * 10  # j = 1: one chunk, from k = 10 fragments
    assert amounts[2] == 2 * amounts[1]


def test_decode_of_a_window_counts_the_window_not_the_blob():
    codec = MeteredCodec(ReedSolomon(4, 2))
    fragments = codec.encode(bytes(range(256)) * 40)
    windows = {i: memoryview(f)[100:200] for i, f in enumerate(fragments) if i != 1}
    with receipts.collect() as r:
        codec.decode(windows, 4 * 100)
    assert r.total(Kind.EC_DECODE) == 1 * 100 * 4  # one lost data chunk x the 100-byte window x k


def test_reconstruct_counts_data_chunks_decoded_on_the_way_to_a_parity():
    codec = MeteredCodec(ReedSolomon(4, 2))
    data = bytes(range(256)) * 40
    fragments = codec.encode(data)
    chunk = len(fragments[0])
    with receipts.collect() as r:
        codec.reconstruct(survivors(fragments, {0, 4}), [4], len(data))
    assert r.total(Kind.EC_RECONSTRUCT) == (1 + 1) * chunk * 4, "chunk 0 is decoded to compute parity 4"
    with receipts.collect() as r:
        codec.reconstruct(survivors(fragments, {4}), [4], len(data))
    assert r.total(Kind.EC_RECONSTRUCT) == 1 * chunk * 4, "every data chunk at hand: parity only"
    with receipts.collect() as r:
        assert codec.reconstruct(survivors(fragments, {4}), [], len(data)) == {}
    assert r.total(Kind.EC_RECONSTRUCT) == 0


def test_work_of_a_codec_that_cannot_say_what_it_holds_verbatim_assumes_every_chunk_computed():
    class Opaque:  # the Codec protocol without verbatim_source
        def __init__(self):
            self.inner = ReedSolomon(4, 2)
            self.k, self.n, self.m, self.name = 4, 6, 2, "opaque"

    opaque = Opaque()
    assert decoded_chunks(opaque, range(6)) == 4 and needs_decode(opaque, range(6))
    assert decode_work(opaque, range(6), 10) == 4 * 10 * 4
    assert reconstruct_work(opaque, range(5), [5], 10) == (4 + 1) * 10 * 4
    assert encode_work(opaque, 10) == 10 * 4 * 2


@settings(max_examples=60, deadline=None)
@given(k=st.integers(1, 12), m=st.integers(0, 6), size=st.integers(0, 5000))
def test_encode_work_is_padded_data_times_m(k, m, size):
    codec = MeteredCodec(ReedSolomon(k, m))
    with receipts.collect() as r:
        fragments = codec.encode(bytes(size))
    [item] = r
    assert item.kind == Kind.EC_ENCODE and item.detail == f"rs({k},{m})"
    assert item.amount == chunk_size(size, k) * k * m == len(fragments[0]) * k * m
    assert size * m <= item.amount <= (size + k - 1) * m  # padding adds fewer than k bytes per parity


def test_metered_codec_records_nothing_for_failed_work():
    codec = MeteredCodec(ReedSolomon(4, 2))
    fragments = codec.encode(b"x" * 100)
    with receipts.collect() as r:
        with pytest.raises(DataLoss):
            codec.decode(survivors(fragments, {0, 1, 2}), 100)
    assert len(r) == 0


def test_metered_codec_forwards_the_codec_description():
    codec = MeteredCodec(parse_codec("rs(6,3)"))
    assert (codec.name, codec.k, codec.n, codec.m, codec.overhead, codec.bytewise) == ("rs(6,3)", 6, 9, 3, 1.5, True)
    assert needs_decode(codec, {0, 1, 2, 3, 4, 5}) is False
    assert needs_decode(codec, {0, 1, 2, 3, 4, 6}) is True
    with pytest.raises(TypeError, match="already metered"):
        MeteredCodec(codec)
