"""``regsim serve``'s audit log: decisions as JSON lines with the client's address, the detection
rules' alerts on the same logger and in /metrics, the configuration of both."""

from __future__ import annotations

import io
import json
import logging

import urllib.error
import urllib.request

import httpx
import pytest

from regsim.registry.auth import ANONYMOUS, BasicCredentials
from regsim.registry.errors import ConfigError
from regsim.server import build_services, create_app, parse_config
from regsim.server.audit import AUDIT_LOGGER, audit_output, client_address

from .conftest import FAST_HASH, RS_ENCRYPTED, Client, running_server
from .test_auth import USERS, basic, bearer

TOKEN = {"mode": "token", "hash": FAST_HASH, "users": USERS}


def config(audit: dict | None = None, auth: dict | None = None, **extra) -> dict:
    return {"registry": RS_ENCRYPTED, "auth": auth or TOKEN, **({"audit": audit} if audit is not None else {}),
            **extra}


@pytest.fixture
def audit_lines(caplog):
    """The JSON lines the audit logger wrote so far (the caplog records, parsed)."""
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)

    def lines(kind: str = "all") -> list[dict]:
        docs = [(r, json.loads(r.getMessage())) for r in caplog.records if r.name == AUDIT_LOGGER]
        for record, doc in docs:
            doc["_level"] = record.levelno
        if kind == "alerts":
            return [d for _, d in docs if "alert" in d]
        if kind == "events":
            return [d for _, d in docs if "alert" not in d]
        return [d for _, d in docs]

    return lines


def client_from(app, portal, address: str) -> Client:
    """A client whose requests come from ``address`` (the ASGI scope's ``client``)."""
    client = Client.__new__(Client)
    client.portal = portal

    async def make():
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 40000)),
                                 base_url="http://registry.test")
    client.http = portal.call(make)
    return client


def token_for(client, scope: str, user: str = "alice", password: str = "wonderland", headers=None) -> str:
    r = client.get("/token", params={"service": "regsim", "scope": scope},
                   headers={**basic(user, password), **(headers or {})})
    assert r.status_code == 200, r.text
    return r.json()["token"]


def alert_metric(client, rule: str) -> float:
    text = client.get("/metrics").text
    line = next(x for x in text.splitlines() if x.startswith(f'registry_security_alerts_total{{rule="{rule}"}}'))
    return float(line.split()[-1])


# -- decisions as JSON lines ----------------------------------------------------------------------

def test_grants_and_denials_are_json_lines_with_the_remote_address(make_client, audit_lines):
    client, services = make_client(config())
    assert services.audit is not None  # on by default
    token = token_for(client, "repository:team/app:pull")
    assert client.get("/v2/team/app/tags/list", headers=bearer(token)).status_code == 404  # authorized, no repo
    assert client.post("/v2/team/app/blobs/uploads/", headers=bearer(token)).status_code == 403  # no push
    r = client.get("/token", params={"service": "regsim", "scope": "repository:team/app:pull"},
                   headers=basic("alice", "wrong"))
    assert r.status_code == 401
    events = audit_lines("events")
    assert [(e["source"], e["subject"], e["outcome"], e["scope"]) for e in events] == [
        ("token_service", "alice", "granted", "repository:team/app:pull"),
        ("jwt", "alice", "granted", "repository:team/app:pull"),
        ("jwt", "alice", "partial", "repository:team/app:pull,push"),
        ("token_service", "alice", "unauthorized", "repository:team/app:pull"),
    ]
    assert {e["remote"] for e in events} == {"127.0.0.1"}  # httpx's ASGI transport's client address
    assert [e["_level"] for e in events] == [logging.INFO] * 3 + [logging.WARNING]
    assert set(events[0]) == {"time", "source", "subject", "outcome", "reason", "scope", "granted", "remote", "_level"}
    assert events[2]["granted"] == "pull"
    assert audit_lines("alerts") == []


def test_the_client_address_is_the_asgi_peer_unless_forwarding_is_trusted(make_client, portal, audit_lines):
    client, services = make_client(config())
    peer = client_from(create_app(services), portal, "192.0.2.10")
    peer.get("/v2/", headers={"X-Forwarded-For": "198.51.100.1"})
    assert audit_lines("events")[-1]["remote"] == "192.0.2.10"  # the header is anyone's to write
    trusting, _ = make_client(config({"trust_forwarded_for": True}))
    trusting.get("/v2/", headers={"X-Forwarded-For": "203.0.113.9, 198.51.100.1"})
    assert audit_lines("events")[-1]["remote"] == "198.51.100.1"  # the last hop: what our proxy saw
    trusting.get("/v2/", headers={"X-Forwarded-For": "garbage"})
    assert audit_lines("events")[-1]["remote"] == "127.0.0.1"  # no address in it: the peer
    portal.call(peer.http.aclose)


def test_client_address_reads_the_scope():
    scope = {"client": ("10.0.0.1", 5),
             "headers": [(b"x-forwarded-for", b"1.2.3.4"), (b"X-Forwarded-For", b"[2001:db8::7]")]}
    assert client_address(scope) == "10.0.0.1"
    assert client_address(scope, trust_forwarded_for=True) == "2001:db8::7"
    assert client_address({"client": None, "headers": []}, trust_forwarded_for=True) is None


def test_database_auth_decisions_carry_the_address_too(make_client, audit_lines):
    client, _ = make_client(config(auth={"mode": "database", "hash": FAST_HASH, "users": USERS}))
    assert client.get("/v2/team/app/tags/list", headers=basic("bob", "builder")).status_code == 404
    assert client.get("/v2/team/app/tags/list", headers=basic("bob", "nope")).status_code == 401
    assert [(e["source"], e["outcome"], e["remote"]) for e in audit_lines("events")] == [
        ("database", "granted", "127.0.0.1"), ("database", "unauthorized", "127.0.0.1")]


def test_the_audit_file_gets_every_line(tmp_path, audit_lines):
    doc = config({"file": "audit.jsonl", "denied_burst": {"count": 1, "window": 60}})
    services = build_services(parse_config(doc, base_dir=tmp_path))
    try:
        assert services.audit.path == tmp_path / "audit.jsonl"
        for repo in ("secret/x", "secret/y"):
            services.tokens.request(BasicCredentials("bob", "builder"), f"repository:{repo}:pull", remote="10.9.9.9")
    finally:
        services.close()
    written = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [d.get("outcome", d.get("alert")) for d in written] == ["denied", "denied", "denied-scope-burst"]
    assert written == [{k: v for k, v in d.items() if k != "_level"} for d in audit_lines()]
    assert (tmp_path / "audit.jsonl").stat().st_mode & 0o077 == 0  # users and addresses: owner only


def test_audit_disabled(make_client, audit_lines):
    client, services = make_client(config({"enabled": False}))
    assert services.audit is None
    token_for(client, "repository:team/app:pull")
    assert audit_lines() == []
    assert "registry_security_alerts_total" not in client.get("/metrics").text


# -- alerts -----------------------------------------------------------------------------------------

def test_a_burst_of_denied_scopes_raises_one_alert_and_counts_it(make_client, audit_lines):
    client, _ = make_client(config({"denied_burst": {"count": 5, "window": 60}}))
    assert alert_metric(client, "denied-scope-burst") == 0
    token = token_for(client, "repository:secret/app:pull", "bob", "builder")  # refusal 1: nothing granted
    for _ in range(8):  # refusals 2..9; the 6th overall fires
        assert client.get("/v2/secret/app/manifests/latest", headers=bearer(token)).status_code == 403
    alerts = audit_lines("alerts")
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert["alert"] == "denied-scope-burst" and alert["level"] == "critical" and alert["subject"] == "bob"
    assert alert["_level"] == logging.CRITICAL
    assert set(alert) == {"alert", "level", "subject", "message", "time", "_level"}
    assert "bob" in alert["message"] and "more than 5 in 60 s" in alert["message"]
    assert alert_metric(client, "denied-scope-burst") == 1
    assert alert_metric(client, "concurrent-credential-use") == 0


def test_one_credential_from_two_addresses_via_forwarded_for(make_client, audit_lines):
    client, _ = make_client(config({"trust_forwarded_for": True}))
    token = token_for(client, "repository:team/app:pull", headers={"X-Forwarded-For": "10.1.0.5"})
    for address in ("10.1.0.5", "10.1.0.77", "10.2.0.7", "10.2.0.7"):  # 10.1.0.77: the same /24
        client.get("/v2/team/app/tags/list", headers={**bearer(token), "X-Forwarded-For": address})
    alerts = audit_lines("alerts")
    assert [(a["alert"], a["subject"]) for a in alerts] == [("concurrent-credential-use", "alice")]
    assert "10.1.0.0/24" in alerts[0]["message"] and "10.2.0.0/24" in alerts[0]["message"]
    assert alert_metric(client, "concurrent-credential-use") == 1


def test_one_credential_from_two_asgi_peers(make_client, portal, audit_lines):
    _, services = make_client(config({"concurrent_use_window": 60}))
    app = create_app(services)
    here, there = client_from(app, portal, "192.0.2.10"), client_from(app, portal, "2001:db8:9::1")
    token = token_for(here, "repository:team/app:pull")
    assert there.get("/v2/team/app/tags/list", headers=bearer(token)).status_code == 404  # a stolen token works...
    alerts = audit_lines("alerts")
    assert [a["alert"] for a in alerts] == ["concurrent-credential-use"]  # ...and is noticed
    assert "192.0.2.0/24" in alerts[0]["message"] and "2001:db8:9::/64" in alerts[0]["message"]
    assert services.audit.alert_counts()["concurrent-credential-use"] == 1
    for c in (here, there):
        portal.call(c.http.aclose)


def test_a_new_source_network_after_the_learning_period(make_client, portal, audit_lines):
    _, services = make_client(config({"new_network_min_history": 3}))
    app = create_app(services)
    home, away = client_from(app, portal, "192.0.2.10"), client_from(app, portal, "198.51.100.20")
    token = token_for(home, "repository:team/app:pull")  # granted 1
    for _ in range(2):  # granted 2, 3
        home.get("/v2/team/app/tags/list", headers=bearer(token))
    assert audit_lines("alerts") == []
    away.get("/v2/team/app/tags/list", headers=bearer(token))  # also concurrent use: within 300 s
    alerts = [a for a in audit_lines("alerts") if a["alert"] == "new-source-network"]
    assert [(a["alert"], a["level"], a["_level"]) for a in alerts] == [("new-source-network", "warning",
                                                                        logging.WARNING)]
    assert "198.51.100.0/24" in alerts[0]["message"]
    for c in (home, away):
        portal.call(c.http.aclose)


# -- configuration ------------------------------------------------------------------------------------

@pytest.mark.parametrize("audit, message", [
    ({"denied_burst": {"count": 0}}, "s.yaml: audit.denied_burst.count: expected at least 1 (got 0)"),
    ({"denied_burst": {"window": -1}}, "audit.denied_burst.window: expected more than 0 (got -1)"),
    ({"concurrent_use_window": float("inf")}, "audit.concurrent_use_window: expected a finite number"),
    ({"new_network_min_history": 0}, "audit.new_network_min_history: expected at least 1"),
    ({"trust_forwarded_for": "yes please"}, "audit.trust_forwarded_for: expected true or false"),
    ({"enabeld": False}, "audit.enabeld: unknown key (did you mean 'enabled'?)"),
    ({"denied_burst": {"cuont": 3}}, "audit.denied_burst.cuont: unknown key (did you mean 'count'?)"),
])
def test_configuration_mistakes_are_named(audit, message):
    with pytest.raises(ConfigError) as e:
        parse_config({"audit": audit}, source="s.yaml")
    assert message in str(e.value)


def test_an_audit_file_that_cannot_be_opened(tmp_path):
    cfg = parse_config({"audit": {"file": "missing/folder/audit.jsonl"}}, base_dir=tmp_path, source="s.yaml")
    with pytest.raises(ConfigError) as e:
        build_services(cfg)
    assert str(e.value).startswith("s.yaml: audit.file: cannot open ") and "No such file or directory" in str(e.value)


def test_defaults():
    audit = parse_config({}).audit
    assert (audit.enabled, audit.file, audit.trust_forwarded_for, audit.new_network_min_history,
            audit.denied_burst.count, audit.denied_burst.window, audit.concurrent_use_window) == \
        (True, None, False, 10, 20, 60.0, 300.0)


# -- where the lines go when serving ------------------------------------------------------------------

def test_serving_writes_the_lines_to_stderr_unless_configured(make_client):
    _, services = make_client(config())
    logger = logging.getLogger(AUDIT_LOGGER)
    logger.propagate = False  # as if no logging were configured (pytest's capture sits on the root)
    try:
        out, verbose = io.StringIO(), io.StringIO()
        alice = BasicCredentials("alice", "wonderland")
        with audit_output(services.audit, out):  # refusals and alerts only, by default
            services.tokens.request(ANONYMOUS, "repository:team/app:pull", remote="10.0.0.1")
            services.tokens.request(alice, "repository:team/app:pull", remote="10.0.0.1")
        services.tokens.request(ANONYMOUS, "repository:team/app:pull", remote="10.0.0.1")  # not served any more
        lines = [json.loads(x) for x in out.getvalue().splitlines()]
        assert [(d["outcome"], d["remote"]) for d in lines] == [("denied", "10.0.0.1")]
        assert logger.handlers == []
        with audit_output(services.audit, verbose, level=logging.INFO):  # --log-level info: every decision
            services.tokens.request(alice, "repository:team/app:pull", remote="10.0.0.1")
        assert [json.loads(x)["outcome"] for x in verbose.getvalue().splitlines()] == ["granted"]
    finally:
        logger.propagate = True


def test_regsim_serve_writes_the_audit_log(tmp_path):
    with running_server(tmp_path, config({"file": "audit.jsonl"})) as server:
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"{server.url}/v2/", timeout=10)
    written = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [(d["source"], d["outcome"], d["remote"]) for d in written] == [("jwt", "unauthorized", "127.0.0.1")]
    stderr = (tmp_path / "server.log").read_text()
    assert '"outcome": "unauthorized"' in stderr  # refusals reach stderr too (grants only at --log-level info)
