"""The ``s3`` calibration workload prices the S3 backend's requests from real boto3 calls against
a local moto server, and says what to install when moto is missing."""

import json
import sys

import pytest

from regsim.cli import main
from regsim.registry import receipts
from regsim.registry.receipts import Kind
from regsim.sim import calibrate as cal
from regsim.sim.calibration_s3 import S3_LISTS, S3_SIZES, S3_SMALL_OPS, s3_workload
from regsim.sim.profile import ProfileError, load_profile

S3_KINDS = ("s3_put_request", "s3_get_request", "s3_head_request", "s3_list_request", "s3_delete_request")


@pytest.fixture
def workloads_restored(monkeypatch):
    """``regsim calibrate`` registers its workloads for the whole process: take ``s3`` out again."""
    monkeypatch.setitem(cal.WORKLOADS, "s3", None)


def test_calibrate_only_s3_prices_every_s3_request(tmp_path, capsys, workloads_restored):
    pytest.importorskip("moto.server")
    out = tmp_path / "s3.json"
    assert main(["calibrate", "--repeats", "1", "--only", "s3", "--out", str(out)]) == 0
    prices = json.loads(out.read_text())["prices"]
    for kind in ("s3_put_request", "s3_get_request"):  # bytes: a per-request overhead and a per-byte cost
        assert prices[kind]["throughput_Bps"] > 0, kind
        assert prices[kind]["overhead_s"] > 0, kind
    for kind in ("s3_head_request", "s3_list_request", "s3_delete_request"):
        assert prices[kind]["per_op_s"] > 0, kind
    assert "s3_put_request" in capsys.readouterr().out
    assert load_profile(out).prices["s3_get_request"].samples == 1


def test_the_workload_times_one_request_per_item():
    pytest.importorskip("moto.server")
    run = s3_workload()
    with receipts.collect() as r:
        run()
    puts = sum(n for _, n in S3_SIZES)
    assert len(r.of(Kind.S3_PUT_REQUEST)) == len(r.of(Kind.S3_GET_REQUEST)) == puts
    assert {i.amount for i in r.of(Kind.S3_GET_REQUEST)} == {size for size, _ in S3_SIZES}
    assert len(r.of(Kind.S3_HEAD_REQUEST)) == len(r.of(Kind.S3_DELETE_REQUEST)) == S3_SMALL_OPS
    assert len(r.of(Kind.S3_LIST_REQUEST)) == S3_LISTS
    assert all(i.cpu_s > 0 for kind in S3_KINDS for i in r.of(kind))
    assert {i.kind for i in r} == set(S3_KINDS)  # nothing else: the backend itself records no receipts


def test_without_moto_the_workload_says_what_to_install(monkeypatch, tmp_path, capsys, workloads_restored):
    monkeypatch.setitem(sys.modules, "moto.server", None)  # import moto.server fails
    with pytest.raises(ProfileError, match=r"pip install 'moto\[server\]'"):
        s3_workload()()
    assert main(["calibrate", "--repeats", "1", "--only", "s3", "--out", str(tmp_path / "p.json")]) == 2
    assert "moto" in capsys.readouterr().err


def test_the_reference_profile_prices_s3_requests():
    ref = load_profile("reference")
    for kind in S3_KINDS:
        price = ref.prices[kind]
        assert (price.per_op_s or price.overhead_s) > 0, kind
    # a 1 MiB GET costs its client more than a HEAD, and a PUT more than a GET of the same size
    get = ref.seconds("s3_get_request", 1 << 20)
    assert get > ref.seconds("s3_head_request", 1) and ref.seconds("s3_put_request", 1 << 20) > get
