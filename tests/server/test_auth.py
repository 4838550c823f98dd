"""Auth on the wire: Bearer challenges and the token endpoint, database auth, anonymous pull."""

import base64

import jwt
import pytest

from .conftest import FAST_HASH, RS_ENCRYPTED, error_codes

USERS = [
    {"name": "alice", "password": "wonderland", "access": {"team/*": "pull,push,delete", "public/*": "pull,push",
                                                           "registry:catalog": "*"}},
    {"name": "bob", "password": "builder", "access": {"team/*": "pull"}},
]


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def token_client(make_client):
    client, _ = make_client({"registry": RS_ENCRYPTED, "auth": {"mode": "token", "hash": FAST_HASH, "users": USERS,
                                                                 "anonymous_pull": ["public/*"]}})
    return client


@pytest.fixture
def db_client(make_client):
    client, _ = make_client({"registry": RS_ENCRYPTED, "auth": {"mode": "database", "hash": FAST_HASH,
                                                                 "users": USERS, "anonymous_pull": ["public/*"]}})
    return client


def get_token(client, scope: str | None, headers: dict | None = None) -> str:
    params = {"service": "regsim"} | ({"scope": scope} if scope else {})
    r = client.get("/token", params=params, headers=headers or {})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token"] == body["access_token"] and body["expires_in"] == 300
    return body["token"]


def push_image(client, repo: str, headers: dict) -> str:
    from .conftest import digest_of, image_manifest
    from regsim.registry.descriptors import OCI_MANIFEST
    config, layer = b"{}", b"layer"
    for blob in (config, layer):
        r = client.post(f"/v2/{repo}/blobs/uploads/?digest={digest_of(blob)}", content=blob, headers=headers)
        assert r.status_code == 201, r.text
    r = client.put(f"/v2/{repo}/manifests/v1", content=image_manifest(config, [layer]),
                   headers={"Content-Type": OCI_MANIFEST, **headers})
    assert r.status_code == 201, r.text
    return r.headers["Docker-Content-Digest"]


# -- token auth -----------------------------------------------------------------------------

def test_base_without_credentials_gets_a_bearer_challenge(token_client):
    r = token_client.get("/v2/")
    assert r.status_code == 401
    assert error_codes(r) == ["UNAUTHORIZED"]
    assert r.headers["WWW-Authenticate"] == 'Bearer realm="http://registry.test/token",service="regsim"'


def test_challenge_names_the_scope_the_request_needs(token_client):
    r = token_client.get("/v2/team/app/manifests/v1")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == ('Bearer realm="http://registry.test/token",service="regsim",'
                                             'scope="repository:team/app:pull"')
    r = token_client.post("/v2/team/app/blobs/uploads/")
    assert 'scope="repository:team/app:pull,push"' in r.headers["WWW-Authenticate"]


def test_token_endpoint_checks_basic_credentials_against_the_database(token_client):
    token = get_token(token_client, "repository:team/app:pull,push", basic("alice", "wonderland"))
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == "alice" and claims["aud"] == "regsim"
    assert claims["access"] == [{"type": "repository", "name": "team/app", "actions": ["pull", "push"]}]
    r = token_client.get("/token", params={"service": "regsim", "scope": "repository:team/app:pull"},
                         headers=basic("alice", "wrong"))
    assert r.status_code == 401 and error_codes(r) == ["UNAUTHORIZED"]
    assert r.headers["WWW-Authenticate"].startswith("Basic ")


def test_push_and_pull_with_a_token(token_client):
    token = get_token(token_client, "repository:team/app:pull,push", basic("alice", "wonderland"))
    digest = push_image(token_client, "team/app", bearer(token))
    r = token_client.get("/v2/team/app/manifests/v1", headers=bearer(token))
    assert r.status_code == 200 and r.headers["Docker-Content-Digest"] == digest


def test_pull_token_used_to_push_is_denied(token_client):
    token = get_token(token_client, "repository:team/app:pull,push", basic("bob", "builder"))
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["access"] == [{"type": "repository", "name": "team/app", "actions": ["pull"]}]
    r = token_client.post("/v2/team/app/blobs/uploads/", headers=bearer(token))
    assert r.status_code == 403
    assert error_codes(r) == ["DENIED"]
    challenge = r.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in challenge and 'scope="repository:team/app:pull,push"' in challenge


def test_token_for_one_repository_does_not_open_another(token_client):
    token = get_token(token_client, "repository:team/app:pull", basic("alice", "wonderland"))
    r = token_client.get("/v2/team/other/tags/list", headers=bearer(token))
    assert r.status_code == 403 and error_codes(r) == ["DENIED"]


def test_forged_or_garbled_tokens_are_unauthorized(token_client):
    token = get_token(token_client, "repository:team/app:pull", basic("alice", "wonderland"))
    head, payload, sig = token.split(".")
    for bad in (f"{head}.{payload}.{sig[:-4]}AAAA", "not-a-jwt"):
        r = token_client.get("/v2/team/app/tags/list", headers=bearer(bad))
        assert r.status_code == 401
        assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    r = token_client.get("/v2/", headers={"Authorization": "Basic !!!"})
    assert r.status_code == 401 and "WWW-Authenticate" in r.headers


def test_anonymous_pull_of_public_repositories(token_client):
    admin = get_token(token_client, "repository:public/tool:pull,push", basic("alice", "wonderland"))
    digest = push_image(token_client, "public/tool", bearer(admin))
    anonymous = get_token(token_client, "repository:public/tool:pull")
    r = token_client.get("/v2/public/tool/manifests/v1", headers=bearer(anonymous))
    assert r.status_code == 200 and r.headers["Docker-Content-Digest"] == digest
    # an anonymous token carries nothing outside public/*, so authenticating would help: 401
    nothing = get_token(token_client, "repository:team/app:pull")
    assert jwt.decode(nothing, options={"verify_signature": False})["access"] == []
    r = token_client.get("/v2/team/app/manifests/v1", headers=bearer(nothing))
    assert r.status_code == 401


def test_oauth2_password_grant(token_client):
    r = token_client.post("/token", data={"grant_type": "password", "username": "alice", "password": "wonderland",
                                          "service": "regsim", "scope": "repository:team/app:pull",
                                          "client_id": "containerd"})
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "repository:team/app:pull"
    assert token_client.get("/v2/", headers=bearer(r.json()["access_token"])).status_code == 200
    r = token_client.post("/token", data={"grant_type": "refresh_token", "refresh_token": "x"})
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"
    r = token_client.post("/token", data={"grant_type": "password", "username": "alice", "password": "no"})
    assert r.status_code == 401


def test_catalog_needs_the_catalog_scope(token_client):
    bob = get_token(token_client, "registry:catalog:*", basic("bob", "builder"))
    r = token_client.get("/v2/_catalog", headers=bearer(bob))
    assert r.status_code == 403 and 'scope="registry:catalog:*"' in r.headers["WWW-Authenticate"]
    alice = get_token(token_client, "registry:catalog:*", basic("alice", "wonderland"))
    r = token_client.get("/v2/_catalog", headers=bearer(alice))
    assert r.status_code == 200 and r.json() == {"repositories": []}


def test_token_for_another_service_is_refused(token_client):
    r = token_client.get("/token", params={"service": "elsewhere", "scope": "repository:team/app:pull"},
                         headers=basic("alice", "wonderland"))
    assert r.status_code == 403 and error_codes(r) == ["DENIED"]


# -- database auth ----------------------------------------------------------------------------

def test_database_mode_challenges_with_basic(db_client):
    r = db_client.get("/v2/team/app/tags/list")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == 'Basic realm="regsim"'


def test_database_mode_checks_each_request(db_client):
    push_image(db_client, "team/app", basic("alice", "wonderland"))
    assert db_client.get("/v2/team/app/manifests/v1", headers=basic("bob", "builder")).status_code == 200
    r = db_client.post("/v2/team/app/blobs/uploads/", headers=basic("bob", "builder"))
    assert r.status_code == 403 and error_codes(r) == ["DENIED"]
    r = db_client.get("/v2/team/app/manifests/v1", headers=basic("bob", "wrong"))
    assert r.status_code == 401 and error_codes(r) == ["UNAUTHORIZED"]


def test_database_mode_anonymous_pull(db_client):
    push_image(db_client, "public/tool", basic("alice", "wonderland"))
    assert db_client.get("/v2/public/tool/manifests/v1").status_code == 200
    # /v2/ still challenges: it is where clients learn to send credentials (skopeo pushes with
    # them only after a 401 there)
    r = db_client.get("/v2/")
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Basic realm="regsim"'
    assert db_client.get("/v2/", headers=basic("alice", "wonderland")).status_code == 200
    r = db_client.post("/v2/public/tool/blobs/uploads/")
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Basic realm="regsim"'
    assert db_client.get("/token").status_code == 404


def test_database_mode_says_when_no_credentials_were_given(db_client):
    for headers in ({}, basic("", "")):  # skopeo sends 'Basic Og==' when it has no credentials
        r = db_client.get("/v2/team/app/tags/list", headers=headers)
        assert r.status_code == 401 and error_codes(r) == ["UNAUTHORIZED"]
        assert r.json()["errors"][0]["message"].startswith("no credentials were given")
        assert r.headers["WWW-Authenticate"] == 'Basic realm="regsim"'
    r = db_client.get("/v2/team/app/tags/list", headers=basic("mallory", "guess"))
    assert "unknown user or wrong password for 'mallory'" in r.json()["errors"][0]["message"]


def test_empty_basic_credentials_are_anonymous(db_client, token_client):
    push_image(db_client, "public/tool", basic("alice", "wonderland"))
    assert db_client.get("/v2/public/tool/manifests/v1", headers=basic("", "")).status_code == 200
    r = token_client.get("/token", params={"service": "regsim", "scope": "repository:public/tool:pull"},
                         headers=basic("", ""))
    assert r.status_code == 200  # an anonymous token, as if no Authorization had been sent
    assert jwt.decode(r.json()["token"], options={"verify_signature": False})["sub"] == ""


def test_open_registry_needs_no_credentials(client):
    assert client.get("/v2/").status_code == 200
    assert client.post("/v2/any/repo/blobs/uploads/").status_code == 202


def test_head_needs_the_same_access_as_get(token_client):
    alice = get_token(token_client, "repository:team/app:pull,push", basic("alice", "wonderland"))
    upload = token_client.post("/v2/team/app/blobs/uploads/", headers=bearer(alice)).headers["Location"]
    bob = get_token(token_client, "repository:team/app:pull", basic("bob", "builder"))
    assert token_client.head(upload, headers=bearer(bob)).status_code == 403
    assert token_client.get(upload, headers=bearer(alice)).status_code == 204
    assert token_client.head("/v2/team/app/tags/list").status_code == 401
