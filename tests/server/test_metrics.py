"""``/metrics``: distribution's HTTP metrics and regsim's receipt-derived ones move with requests."""

from prometheus_client.parser import text_string_to_metric_families

from .conftest import FAST_HASH, RS_ENCRYPTED, digest_of


def scrape(client) -> dict[tuple[str, tuple], float]:
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_http_counters_move_per_handler_code_and_method(client):
    before = scrape(client)
    d = client.push_blob("team/app", b"x" * 10_000)
    client.get(f"/v2/team/app/blobs/{d}")
    client.get(f"/v2/team/app/blobs/{digest_of(b'missing')}")
    after = scrape(client)
    for labels, delta in [({"handler": "blob_upload", "code": "201", "method": "POST"}, 1),
                          ({"handler": "blob", "code": "200", "method": "GET"}, 1),
                          ({"handler": "blob", "code": "404", "method": "GET"}, 1)]:
        assert value(after, "registry_http_requests_total", **labels) - \
            value(before, "registry_http_requests_total", **labels) == delta
    assert value(after, "registry_http_request_duration_seconds_count", handler="blob", method="GET") == 2
    assert value(after, "registry_http_response_size_bytes_sum", handler="blob") >= 10_000
    assert value(after, "registry_http_request_size_bytes_sum", handler="blob_upload") == 10_000


def test_work_on_receipts_reaches_the_metrics(client):
    data = b"y" * 50_000
    d = client.push_blob("team/app", data)
    client.get(f"/v2/team/app/blobs/{d}")  # streamed: its work is counted after the body went out
    s = scrape(client)
    assert value(s, "regsim_codec_bytes_total", operation="encode") >= len(data)
    assert value(s, "regsim_encryption_bytes_total", operation="encrypt") == len(data)
    assert value(s, "regsim_encryption_bytes_total", operation="decrypt") == len(data)
    assert value(s, "regsim_work_amount_total", kind="sha256", unit="bytes") >= len(data)
    assert value(s, "registry_storage_action_seconds_count", driver="memory", action="PutContent") > 0
    assert value(s, "registry_storage_action_seconds_count", driver="memory", action="GetContent") > 0


def test_auth_cache_hits_are_counted(make_client):
    client, _ = make_client({"registry": RS_ENCRYPTED, "auth": {
        "mode": "token", "hash": FAST_HASH,
        "users": [{"name": "alice", "password": "pw", "access": {"team/*": "pull"}}]}})
    import base64
    basic = {"Authorization": "Basic " + base64.b64encode(b"alice:pw").decode()}
    token = client.get("/token", params={"service": "regsim", "scope": "repository:team/app:pull"},
                       headers=basic).json()["token"]
    for _ in range(3):
        client.get("/v2/", headers={"Authorization": f"Bearer {token}"})
    s = scrape(client)
    assert value(s, "regsim_auth_checks_total", method="jwt_verify") == 1
    assert value(s, "regsim_auth_checks_total", method="jwt_cache_hit") == 2
    assert value(s, "regsim_auth_token_cache_hits_total") == 2
    assert value(s, "regsim_auth_token_cache_entries") == 1
    assert value(s, "regsim_auth_checks_total", method="password_hash") >= 1
    assert value(s, "registry_http_requests_total", handler="token", code="200", method="GET") == 1


def test_unknown_paths_are_counted_as_not_found(client):
    client.get("/nothing/here")
    assert value(scrape(client), "registry_http_requests_total", handler="not_found", code="404", method="GET") == 1


def test_metrics_can_be_switched_off(make_client):
    client, _ = make_client({"http": {"metrics": False}})
    assert client.get("/metrics").status_code == 404
