"""The registry-level calibration workloads price every CPU kind a push, a pull and auth emit."""

import json

from regsim.cli import main
from regsim.registry import receipts
from regsim.registry.codecs import parse_codec
from regsim.registry.receipts import Kind
from regsim.sim.calibrate import calibrate
from regsim.sim.calibration_workloads import CODEC_SHAPES, _jwt_workload, registry_push_pull


def test_registry_workload_prices_the_storage_pipeline():
    profile = calibrate([registry_push_pull], repeats=1, warmup=0)
    for kind in ("sha256", "aes_gcm_encrypt", "aes_gcm_decrypt", "ec_encode", "ec_decode", "ec_reconstruct",
                 "key_wrap", "key_unwrap", "manifest_parse"):
        price = profile.prices[kind]
        assert price.throughput or price.per_op_s, kind
    assert "disk_write" not in profile.prices  # priced by the disk model, not the CPU table


def test_registry_workload_codes_in_more_than_one_shape():
    with receipts.collect() as r:
        registry_push_pull()
    for kind in (Kind.EC_ENCODE, Kind.EC_DECODE, Kind.EC_RECONSTRUCT):
        assert {i.detail for i in r.of(kind)} == {codec for codec, _, _ in CODEC_SHAPES}, kind
    for item in r.of(Kind.EC_ENCODE):  # bytes multiplied: chunk x k x m
        k, m = parse_codec(item.detail).k, parse_codec(item.detail).m
        assert item.amount > 0 and item.amount % (k * m) == 0
    for item in r.of(Kind.EC_DECODE) + r.of(Kind.EC_RECONSTRUCT):  # chunks computed x chunk x k
        assert item.amount > 0 and item.amount % parse_codec(item.detail).k == 0


def test_jwt_workload_prices_sign_verify_and_cache_hits():
    profile = calibrate([_jwt_workload("HS256")], repeats=1, warmup=0)
    verify, hit = profile.prices["jwt_verify"].per_op_s, profile.prices["jwt_cache_hit"].per_op_s
    assert profile.prices["jwt_sign"].per_op_s > 0
    assert 0 < hit < verify  # a cache hit must be cheaper than running PyJWT


def test_calibrate_cli_writes_a_loadable_profile(tmp_path, capsys):
    out = tmp_path / "p.json"
    assert main(["calibrate", "--repeats", "1", "--only", "sha256", "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["prices"]["sha256"]["throughput_Bps"] > 0
    assert "profile written" in capsys.readouterr().out
    assert main(["calibrate", "--only", "nope"]) == 2
