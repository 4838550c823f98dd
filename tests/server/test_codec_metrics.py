"""Codec metrics: bytes through the codec stay bytes while receipts count coding work in bytes multiplied."""

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from regsim.registry import receipts
from regsim.registry.codecs import MeteredCodec, ReedSolomon, Replicate, chunk_size
from regsim.registry.receipts import Kind, WorkItem
from regsim.server.metrics import Metrics, codec_bytes

from .test_metrics import scrape, value


def samples(metrics: Metrics) -> dict:
    out = {}
    for family in text_string_to_metric_families(generate_latest(metrics.registry).decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_codec_bytes_and_work_are_counted_apart():
    data = bytes(range(256)) * 157  # 40,192 bytes: padded to 10 chunks of 4,020
    codec = MeteredCodec(ReedSolomon(10, 4))
    chunk = chunk_size(len(data), 10)
    with receipts.collect() as r:
        fragments = codec.encode(data)
        codec.decode({i: f for i, f in enumerate(fragments) if i not in (2, 5)}, len(data))
        codec.reconstruct({i: f for i, f in enumerate(fragments) if i not in (2, 11)}, [2, 11], len(data))
    metrics = Metrics("memory")
    metrics.observe_receipt(r)
    s = samples(metrics)
    # bytes through the codec: the padded data encoded, the 2 chunks decoded, the 2 fragments rebuilt
    assert value(s, "regsim_codec_bytes_total", operation="encode") == 10 * chunk
    assert value(s, "regsim_codec_bytes_total", operation="decode") == 2 * chunk
    assert value(s, "regsim_codec_bytes_total", operation="reconstruct") == 2 * chunk
    # the work: chunk x k x m, j x chunk x k, (j + p) x chunk x k
    assert value(s, "regsim_codec_work_bytes_total", operation="encode") == chunk * 10 * 4
    assert value(s, "regsim_codec_work_bytes_total", operation="decode") == 2 * chunk * 10
    assert value(s, "regsim_codec_work_bytes_total", operation="reconstruct") == (1 + 1) * chunk * 10
    assert value(s, "regsim_work_amount_total", kind="ec_encode", unit="bytes") == chunk * 10 * 4


def test_replication_counts_bytes_and_no_coding_work():
    with receipts.collect() as r:
        codec = MeteredCodec(Replicate(3))
        fragments = codec.encode(b"r" * 1000)
        codec.reconstruct({0: fragments[0]}, [1, 2], 1000)
    metrics = Metrics("memory")
    metrics.observe_receipt(r)
    s = samples(metrics)
    assert value(s, "regsim_codec_bytes_total", operation="replicate") == 3000
    assert not any(name == "regsim_codec_work_bytes_total" for name, _ in s)


def test_codec_bytes_of_items_whose_codec_cannot_be_told_are_their_amount():
    assert codec_bytes(WorkItem(Kind.EC_DECODE, 1234, detail=None)) == 1234
    assert codec_bytes(WorkItem(Kind.EC_DECODE, 1234, detail="not a codec")) == 1234
    assert codec_bytes(WorkItem(Kind.EC_ENCODE, 0, detail="rs(4,0)")) == 0


def test_pushes_through_the_server_count_both(client):
    data = b"y" * 50_000
    client.push_blob("team/app", data)
    s = scrape(client)
    encoded = value(s, "regsim_codec_bytes_total", operation="encode")
    assert encoded >= len(data)  # the encrypted blob, padded to k = 4 chunks
    assert value(s, "regsim_codec_work_bytes_total", operation="encode") == 2 * encoded  # x m = 2
