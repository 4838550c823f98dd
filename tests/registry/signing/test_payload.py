"""The simple-signing payload: the bytes cosign and containers/image write, and a parser as strict
as containers/image's (``signature/internal/sigstore_payload.go``)."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regsim.registry.digest import Digest
from regsim.registry.signing.errors import PayloadInvalid, SignatureInvalid
from regsim.registry.signing.payload import SIGNATURE_TYPE, SimpleSigningPayload, parse, repository_of

DIGEST = Digest.parse("sha256:" + "ab" * 32)


def test_bytes_are_cosigns_layout():
    """Sorted keys, compact, ``optional`` null when empty: what cosign writes."""
    data = SimpleSigningPayload("registry.test/team/app:v1", DIGEST).to_bytes()
    assert data == (b'{"critical":{"identity":{"docker-reference":"registry.test/team/app:v1"},'
                    b'"image":{"docker-manifest-digest":"sha256:' + b"ab" * 32 + b'"},'
                    b'"type":"cosign container image signature"},"optional":null}')


def test_round_trip_with_optional_fields():
    payload = SimpleSigningPayload("team/app:v1", DIGEST, {"timestamp": 1700000000, "creator": "regsim"})
    back = parse(payload.to_bytes())
    assert back == payload
    assert back.optional == {"creator": "regsim", "timestamp": 1700000000}
    assert back.repository == "team/app"


def test_a_payload_skopeo_writes_parses():
    """containers/image's NewUntrustedSigstorePayload: creator and a whole-number timestamp."""
    doc = {"critical": {"identity": {"docker-reference": "127.0.0.1:5000/team/app:v1"},
                        "image": {"docker-manifest-digest": str(DIGEST)}, "type": SIGNATURE_TYPE},
           "optional": {"creator": "containers/image 5.22.0", "timestamp": 1.7e9}}
    payload = parse(json.dumps(doc).encode())
    assert payload.manifest_digest == DIGEST and payload.repository == "127.0.0.1:5000/team/app"


@pytest.mark.parametrize("reference, repository", [
    ("team/app:v1", "team/app"), ("team/app", "team/app"), ("host:5000/team/app", "host:5000/team/app"),
    ("host:5000/team/app:v1", "host:5000/team/app"), ("team/app@sha256:" + "0" * 64, "team/app"),
    ("host:5000/app:v1@sha256:" + "0" * 64, "host:5000/app"),
])
def test_repository_of(reference, repository):
    assert repository_of(reference) == repository


def _doc(**critical_changes):
    critical = {"identity": {"docker-reference": "team/app:v1"},
                "image": {"docker-manifest-digest": str(DIGEST)}, "type": SIGNATURE_TYPE}
    critical.update(critical_changes)
    return {"critical": critical, "optional": None}


@pytest.mark.parametrize("data, message", [
    (b"not json", "not JSON"),
    (b"[]", "payload is [], expected an object"),
    (json.dumps({"optional": None}).encode(), "payload lacks critical"),
    (json.dumps(_doc(type="atomic container signature")).encode(), "critical.type is \"atomic container signature\""),
    (json.dumps(_doc(image={"docker-manifest-digest": "sha256:xyz"})).encode(), "docker-manifest-digest: malformed"),
    (json.dumps(_doc(image={"docker-manifest-digest": 5})).encode(), "expected a digest string"),
    (json.dumps(_doc(image={})).encode(), "critical.image lacks docker-manifest-digest"),
    (json.dumps(_doc(identity={"docker-reference": ""})).encode(), "expected a non-empty string"),
    (json.dumps(_doc(extra=1)).encode(), "critical has unknown field 'extra'"),
    (json.dumps({**_doc(), "more": 1}).encode(), "payload has unknown field 'more'"),
    (json.dumps({**_doc(), "optional": {"timestamp": 1.5}}).encode(), "optional.timestamp is 1.5"),
    (json.dumps({**_doc(), "optional": "x"}).encode(), "optional is \"x\""),
    (b'{"critical":{"identity":{"docker-reference":"a"},"image":{"docker-manifest-digest":"' + str(DIGEST).encode()
     + b'","docker-manifest-digest":"sha256:' + b"cd" * 32 + b'"},"type":"cosign container image signature"},'
     b'"optional":null}', "'docker-manifest-digest' appears twice"),
])
def test_malformed_payloads_are_refused_naming_the_field(data, message):
    with pytest.raises(PayloadInvalid) as e:
        parse(data)
    assert message in e.value.message
    assert isinstance(e.value, SignatureInvalid) and e.value.status == 403


_refs = st.from_regex(r"([a-z0-9]{1,12}(\.[a-z]{2,5})?(:[0-9]{2,5})?/)?[a-z0-9]+(/[a-z0-9._-]+){0,3}(:[A-Za-z0-9_][A-Za-z0-9._-]{0,20})?",
                      fullmatch=True)
_digests = st.binary(min_size=32, max_size=32).map(lambda b: Digest("sha256", b.hex()))
_optional = st.one_of(st.none(), st.fixed_dictionaries({}, optional={
    "creator": st.text(max_size=20), "timestamp": st.integers(0, 2**40), "note": st.text(max_size=10)}))


@settings(max_examples=150, deadline=None)
@given(reference=_refs, digest=_digests, optional=_optional)
def test_any_payload_round_trips(reference, digest, optional):
    payload = SimpleSigningPayload(reference, digest, optional or None)
    back = parse(payload.to_bytes())
    assert (back.docker_reference, back.manifest_digest) == (reference, digest)
    assert (back.optional or None) == (optional or None)
    assert parse(back.to_bytes()).to_bytes() == payload.to_bytes()


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                     max_leaves=10)


@settings(max_examples=200, deadline=None)
@given(data=st.one_of(st.binary(max_size=200), _json.map(lambda v: json.dumps(v).encode()),
                      st.builds(lambda r, d, t: json.dumps(_doc(identity=r, image=d, type=t)).encode(),
                                _json, _json, st.one_of(st.just(SIGNATURE_TYPE), st.text(max_size=10)))))
def test_parse_never_fails_other_than_payload_invalid(data):
    """Whatever the bytes, parsing either gives a payload or a PayloadInvalid, nothing else."""
    try:
        payload = parse(data)
    except PayloadInvalid as e:
        assert e.message.startswith("signature payload")
    else:
        assert isinstance(payload.manifest_digest, Digest) and payload.docker_reference
