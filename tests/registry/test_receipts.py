import pytest

from regsim.registry import receipts
from regsim.registry.receipts import Kind, Receipt, WorkItem


def test_nothing_is_recorded_without_a_collector():
    assert not receipts.recording()
    receipts.record(Kind.SHA256, 10)  # must not fail


def test_nested_collectors_both_see_inner_items():
    with receipts.collect() as outer:
        receipts.record(Kind.SHA256, 5)
        with receipts.collect() as inner:
            receipts.record(Kind.DISK_WRITE, 7, node="s1")
        receipts.record(Kind.TRANSFER, 3, node="fe", dst="s1")
    assert [i.kind for i in inner] == ["disk_write"]
    assert [i.kind for i in outer] == ["sha256", "disk_write", "transfer"]
    assert outer.by_kind() == {"sha256": 5, "disk_write": 7, "transfer": 3}
    assert outer.total(Kind.TRANSFER) == 3


def test_metered_records_amount_set_inside_and_cpu_time():
    with receipts.collect() as r:
        with receipts.metered(Kind.DISK_READ, node="s0") as m:
            sum(range(10000))
            m.amount = 42
    (item,) = r.items
    assert (item.kind, item.amount, item.node) == ("disk_read", 42, "s0")
    assert item.cpu_s >= 0 and item.wall_s >= 0


def test_failed_work_is_not_recorded():
    with receipts.collect() as r:
        with pytest.raises(ValueError):
            with receipts.metered(Kind.SHA256, 10):
                raise ValueError("boom")
    assert len(r) == 0


def test_units_and_summary():
    r = Receipt([WorkItem(Kind.SHA256, 1024), WorkItem(Kind.DB_QUERY, 2)])
    assert r.items[0].unit == "bytes" and r.items[1].unit == "ops"
    text = r.summary()
    assert "sha256" in text and "db_query" in text and "1,024" in text


def test_suspended_blocks_recording_even_when_nested():
    with receipts.collect() as outer:
        with receipts.suspended():
            receipts.record(Kind.SHA256, 5)
            assert not receipts.recording()
        receipts.record(Kind.SHA256, 1)
    assert outer.total(Kind.SHA256) == 1
