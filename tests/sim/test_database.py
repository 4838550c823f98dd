"""DatabaseServer: pooled connections, per-query latency, CPU limits, outages, counters."""

import pytest
import simpy

from regsim.sim.database import DatabaseDown, DatabaseServer


def server(env, **kw):
    args = {"pool_size": 2, "query_s": 0.002, "network_latency_s": 0.001, **kw}
    return DatabaseServer(env, **args)


def record(env, gen, log, tag):
    try:
        elapsed = yield from gen
        log.append((tag, env.now, elapsed))
    except DatabaseDown as exc:
        log.append((tag, env.now, str(exc)))


def test_a_query_costs_a_round_trip_plus_service_time():
    env = simpy.Environment()
    db = server(env)
    one = env.process(db.query())
    env.run()
    assert one.value == pytest.approx(0.003)
    three = env.process(db.query(n=3))
    env.run()
    assert three.value == pytest.approx(0.009) and db.queries == 4


def test_callers_wait_for_a_free_connection():
    env = simpy.Environment()
    db = server(env, pool_size=1)
    log = []
    for tag in "abc":
        env.process(record(env, db.query(), log, tag))
    env.run(until=0.0001)
    assert db.queue_length == 2
    env.run()
    assert [round(t, 6) for _, t, _ in log] == [0.003, 0.006, 0.009]
    assert [round(e, 6) for *_, e in log] == [0.003, 0.006, 0.009]  # elapsed includes the wait
    assert db.utilisation() == pytest.approx(1.0)
    assert db.mean_queue() == pytest.approx((2 * 0.003 + 1 * 0.003) / 0.009)


def test_server_cores_limit_throughput_beyond_the_pool():
    env = simpy.Environment()
    db = server(env, pool_size=4, cores=1)
    log = []
    for tag in "abcd":
        env.process(record(env, db.query(), log, tag))
    env.run()
    # all four round trips overlap; the single core then serves one query at a time
    assert [round(t, 6) for _, t, _ in log] == [0.003, 0.005, 0.007, 0.009]


def test_down_refuses_and_aborts_until_up():
    env = simpy.Environment()
    db = server(env, pool_size=1)
    log = []
    env.process(record(env, db.query(n=10), log, "in-flight"))
    env.process(record(env, db.query(), log, "queued"))

    def outage():
        yield env.timeout(0.0045)
        assert db.down() == 1
        try:
            yield from db.query()
        except DatabaseDown as exc:
            log.append(("new", env.now, str(exc)))
        yield env.timeout(1.0)
        db.up()
        yield from record(env, db.query(), log, "after")

    env.process(outage())
    env.run()
    by_tag = {tag: (t, what) for tag, t, what in log}
    assert by_tag["in-flight"][0] == 0.0045 and "went down at t=0.0045 during a query" in by_tag["in-flight"][1]
    assert by_tag["queued"][0] == 0.0045 and "is down" in by_tag["queued"][1]
    assert by_tag["new"][0] == 0.0045 and "query refused" in by_tag["new"][1]
    assert by_tag["after"] == (pytest.approx(1.0075), pytest.approx(0.003))
    assert db.queries == 2 and db.aborted == 1 and db.refused == 2
    assert db.pool.count == 0 and db.in_use.level == 0


@pytest.mark.parametrize("kw, message", [
    ({"pool_size": 0}, "pool_size"),
    ({"query_s": -1}, "non-negative"),
    ({"cores": 0}, "cores"),
])
def test_invalid_parameters(kw, message):
    with pytest.raises(ValueError, match=message):
        server(simpy.Environment(), **kw)


def test_query_count_must_be_positive():
    with pytest.raises(ValueError, match="positive number of queries"):
        next(server(simpy.Environment()).query(n=0))
