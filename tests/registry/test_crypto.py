"""Envelope encryption at rest: keyring, round trips, tampering, range reads, rotation, receipts."""

import array
import base64
import json
import os
import stat

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regsim.registry import receipts
from regsim.registry.crypto import (
    HEADER_SIZE,
    EnvelopeCipher,
    Keyring,
    UnknownKeyVersion,
    ciphertext_size,
    kek_version,
    parse_header,
    plaintext_size,
)
from regsim.registry.crypto import envelope as envelope_module
from regsim.registry.errors import ConfigError, IntegrityError
from regsim.registry.receipts import Kind

TAG = 16
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def keyring():
    return Keyring.generate()


@pytest.fixture
def cipher(keyring):
    return EnvelopeCipher(keyring, segment_size=16, node="s1")


def segments_of(blob, segment_size):
    body = blob[HEADER_SIZE:]
    step = segment_size + TAG
    return [body[i : i + step] for i in range(0, len(body), step)]


# -- keyring ------------------------------------------------------------------------------------


def test_generated_keyring_has_one_aes256_primary():
    k = Keyring.generate()
    assert (k.primary_version, k.versions, len(k.get(1))) == (1, (1,), 32)
    assert Keyring.generate().get(1) != k.get(1)


def test_rotate_adds_a_new_primary_and_keeps_old_keys(keyring):
    old = keyring.get(1)
    assert keyring.rotate() == 2
    assert (keyring.primary_version, keyring.versions, keyring.get(1)) == (2, (1, 2), old)
    assert keyring.get(2) != old and keyring.primary() == (2, keyring.get(2))


def test_retire_removes_a_key_and_its_number_is_never_reused(keyring):
    keyring.rotate()
    keyring.retire(1)
    keyring.retire(1)  # idempotent
    assert keyring.versions == (2,) and keyring.retired_versions == (1,) and 1 not in keyring
    with pytest.raises(UnknownKeyVersion, match="version 1 was retired"):
        keyring.get(1)
    assert keyring.rotate() == 3


def test_unknown_version_is_a_clear_integrity_error(keyring):
    with pytest.raises(IntegrityError, match=r"KEK version 7 is not in this keyring \(held: \[1\]\)"):
        keyring.get(7)


@pytest.mark.parametrize("version, message", [(1, "it is the primary; rotate first"), (5, "not in this keyring")])
def test_retire_refuses_the_primary_and_unknown_versions(keyring, version, message):
    with pytest.raises(ConfigError, match=message):
        keyring.retire(version)


def test_keyring_rejects_bad_keys_and_primaries():
    with pytest.raises(ConfigError, match="must be 32 bytes"):
        Keyring({1: b"short"}, 1)
    with pytest.raises(ConfigError, match="primary KEK version 2 is not among"):
        Keyring({1: bytes(32)}, 2)


def test_repr_shows_no_key_material(keyring):
    text = repr(keyring) + repr(EnvelopeCipher(keyring))
    key = keyring.get(1)
    assert key.hex() not in text and base64.b64encode(key).decode() not in text
    assert "primary=1" in text


def test_keyring_save_load_round_trip_with_mode_0600(tmp_path, keyring):
    keyring.rotate()
    keyring.rotate()
    keyring.retire(1)
    path = tmp_path / "keyring.json"
    path.write_text("old")
    path.chmod(0o644)
    keyring.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = Keyring.load(path)
    assert (loaded.primary_version, loaded.versions, loaded.retired_versions) == (3, (2, 3), (1,))
    assert all(loaded.get(v) == keyring.get(v) for v in (2, 3))
    assert sorted(os.listdir(tmp_path)) == ["keyring.json"]  # no temporary file left behind


def _doc(**changes):
    doc = {"format": "regsim.keyring/v1", "primary": 1, "retired": [],
           "keys": {"1": base64.b64encode(bytes(32)).decode()}}
    doc.update(changes)
    return json.dumps(doc)


@pytest.mark.parametrize(
    "text, reason",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "top level must be a JSON object"),
        (_doc(format="other"), "format is 'other'"),
        (_doc(keys={}), "'keys' must be a non-empty object"),
        (_doc(keys={"1": "@@@"}), "not valid base64"),
        (_doc(keys={"1": base64.b64encode(b"x" * 16).decode()}), "must be 32 bytes"),
        (_doc(keys={"one": base64.b64encode(bytes(32)).decode()}), "'one' is not a positive integer"),
        (_doc(primary=2), "primary KEK version 2 is not among"),
        (_doc(primary="1"), "KEK version must be an int"),
        (_doc(retired=[1]), "both retired and present"),
        (_doc(retired="1"), "'retired' must be a list"),
    ],
)
def test_malformed_keyring_file_is_a_clear_config_error(tmp_path, text, reason):
    path = tmp_path / "keyring.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match=reason) as info:
        Keyring.load(path)
    assert "malformed keyring file" in str(info.value) and str(path) in str(info.value)


def test_missing_keyring_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read keyring file"):
        Keyring.load(tmp_path / "absent.json")


# -- round trips --------------------------------------------------------------------------------


@FAST
@given(data=st.binary(max_size=3000), segment_size=st.integers(1, 400), aad=st.binary(max_size=24))
def test_round_trip_of_arbitrary_bytes_and_segment_sizes(keyring, data, segment_size, aad):
    c = EnvelopeCipher(keyring, segment_size=segment_size)
    blob = c.encrypt(data, aad=aad)
    assert isinstance(blob, bytes)
    assert len(blob) == c.ciphertext_size(len(data)) == ciphertext_size(len(data), segment_size)
    assert plaintext_size(blob) == len(data) and plaintext_size(blob[:HEADER_SIZE]) == len(data)
    assert c.decrypt(blob, aad=aad) == data
    assert EnvelopeCipher(keyring, segment_size=7).decrypt(blob, aad=aad) == data  # size comes from the header


def test_multi_segment_blob_with_default_segment_size(keyring):
    c = EnvelopeCipher(keyring)
    data = os.urandom(3 * (1 << 20) + 5)
    blob = c.encrypt(memoryview(data), aad=b"sha256:abc")
    header = parse_header(blob)
    assert (header.segment_size, header.segment_count, header.plaintext_size) == (1 << 20, 4, len(data))
    assert c.decrypt(bytearray(blob), aad=b"sha256:abc") == data


def test_empty_plaintext_has_one_authenticated_segment(cipher):
    blob = cipher.encrypt(b"", aad=b"a")
    assert len(blob) == HEADER_SIZE + TAG
    assert cipher.decrypt(blob, aad=b"a") == b""
    with pytest.raises(IntegrityError):
        cipher.decrypt(blob, aad=b"b")


def test_same_plaintext_encrypts_differently_each_time(cipher):
    assert cipher.encrypt(b"x" * 40) != cipher.encrypt(b"x" * 40)


def test_non_byte_buffers_are_read_as_their_bytes(cipher):
    words = array.array("I", range(20))
    assert cipher.decrypt(cipher.encrypt(words)) == words.tobytes()


def test_into_variants_use_a_caller_buffer(cipher):
    data = os.urandom(100)
    out = bytearray(cipher.ciphertext_size(100) + 50)
    n = cipher.encrypt_into(data, out, aad=b"a")
    assert n == cipher.ciphertext_size(100)
    plain = bytearray(120)
    assert cipher.decrypt_into(memoryview(out)[:n], plain, aad=b"a") == 100
    assert plain[:100] == data


def test_into_variants_reject_small_or_read_only_buffers(cipher):
    with pytest.raises(ValueError, match="at least 117 bytes, got 116 bytes"):
        cipher.encrypt_into(b"x" * 10, bytearray(116))
    blob = cipher.encrypt(b"x" * 10)
    with pytest.raises(ValueError, match="read-only"):
        cipher.decrypt_into(blob, bytes(10))


def test_failed_decrypt_into_leaves_no_plaintext_behind(cipher):
    data = b"secret!!" * 8  # 4 segments of 16
    blob = bytearray(cipher.encrypt(data))
    blob[-1] ^= 1  # the last segment fails after three good ones were written
    out = bytearray(len(data))
    with pytest.raises(IntegrityError, match="segment 3 of 4"):
        cipher.decrypt_into(blob, out)
    assert out == bytes(len(data))


def test_bad_arguments(keyring, cipher):
    with pytest.raises(ValueError, match="segment size"):
        EnvelopeCipher(keyring, segment_size=0)
    with pytest.raises(TypeError, match="aad must be bytes-like"):
        cipher.encrypt(b"x", aad="text")
    with pytest.raises(IntegrityError, match="not an envelope-encrypted blob"):
        cipher.decrypt(os.urandom(200))
    with pytest.raises(IntegrityError, match="header truncated"):
        cipher.decrypt(b"RSEV")


# -- tampering ----------------------------------------------------------------------------------

DATA = bytes(range(70))  # 5 segments of 16 bytes: 4 full and a short last one


@FAST
@given(st.data())
def test_any_changed_byte_is_detected(cipher, data):
    blob = bytearray(cipher.encrypt(DATA, aad=b"ctx"))
    pos = data.draw(st.integers(0, len(blob) - 1), label="position")
    blob[pos] ^= data.draw(st.integers(1, 255), label="xor")
    with pytest.raises(IntegrityError):
        cipher.decrypt(blob, aad=b"ctx")


@FAST
@given(st.data())
def test_any_truncation_or_extension_is_detected(cipher, data):
    blob = cipher.encrypt(DATA)
    cut = data.draw(st.integers(0, len(blob) - 1), label="cut")
    with pytest.raises(IntegrityError):
        cipher.decrypt(blob[:cut])
    extra = data.draw(st.binary(min_size=1, max_size=40), label="extra")
    with pytest.raises(IntegrityError):
        cipher.decrypt(blob + extra)


@pytest.mark.parametrize(
    "rearrange",
    [
        pytest.param(lambda s: s[:2] + s[3:], id="drop-middle"),
        pytest.param(lambda s: s[:-1], id="drop-last"),
        pytest.param(lambda s: s[:2] + [s[1]] + s[2:-1], id="duplicate-keep-length"),
        pytest.param(lambda s: s + [s[-1]], id="duplicate-last"),
        pytest.param(lambda s: [s[1], s[0]] + s[2:], id="swap-first-two"),
        pytest.param(lambda s: s[:3] + [s[4], s[3]], id="swap-last-two"),
    ],
)
def test_dropped_duplicated_or_reordered_segments_are_detected(cipher, rearrange):
    blob = cipher.encrypt(DATA)
    segs = segments_of(blob, 16)
    assert len(segs) == 5
    with pytest.raises(IntegrityError):
        cipher.decrypt(blob[:HEADER_SIZE] + b"".join(rearrange(segs)))


def test_truncation_with_a_fixed_up_size_field_is_detected(cipher):
    blob = cipher.encrypt(DATA)
    header = bytearray(blob[:HEADER_SIZE])
    header[12:20] = (64).to_bytes(8, "big")  # claim 4 full segments, drop the last
    with pytest.raises(IntegrityError, match="cannot unwrap"):
        cipher.decrypt(bytes(header) + blob[HEADER_SIZE : HEADER_SIZE + 4 * 32])


def test_headers_and_segments_of_different_blobs_do_not_mix(cipher):
    a, b = cipher.encrypt(DATA), cipher.encrypt(DATA)
    with pytest.raises(IntegrityError):
        cipher.decrypt(a[:HEADER_SIZE] + b[HEADER_SIZE:])


@pytest.mark.parametrize("aad, other", [(b"ctx", b"ctx2"), (b"ctx", b""), (b"", b"x")])
def test_wrong_aad_is_detected(cipher, aad, other):
    with pytest.raises(IntegrityError, match="associated data"):
        cipher.decrypt(cipher.encrypt(DATA, aad=aad), aad=other)


def test_wrong_kek_under_the_same_version_is_detected(cipher):
    blob = cipher.encrypt(DATA)
    with pytest.raises(IntegrityError, match="different key under that version"):
        EnvelopeCipher(Keyring.generate()).decrypt(blob)


def test_unknown_kek_version_is_detected(cipher):
    blob = cipher.encrypt(DATA)
    cipher.keyring.rotate()
    newer = cipher.encrypt(DATA)
    with pytest.raises(UnknownKeyVersion, match="KEK version 2 is not in this keyring"):
        EnvelopeCipher(Keyring({1: cipher.keyring.get(1)}, 1)).decrypt(newer)
    assert EnvelopeCipher(Keyring({1: cipher.keyring.get(1)}, 1)).decrypt(blob) == DATA


# -- range reads --------------------------------------------------------------------------------


def guarded_reader(blob, segment_size, offset, length, plain_size):
    """A read_at that serves only the header and the segments covering the plaintext range."""
    end = min(offset + length, plain_size)
    covering = [i for i in range(max(1, -(-plain_size // segment_size)))
                if i * segment_size < end and (i + 1) * segment_size > offset]
    step = segment_size + TAG
    allowed = [(0, HEADER_SIZE)] + [(HEADER_SIZE + i * step, HEADER_SIZE + i * step + step) for i in covering]
    reads = []

    def read_at(pos, n):
        assert any(lo <= pos and pos + n <= hi for lo, hi in _merge(allowed)), f"read {pos}+{n} outside {allowed}"
        reads.append((pos, n))
        return blob[pos : pos + n]

    return read_at, reads


def _merge(spans):
    merged = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return merged


@FAST
@given(data=st.binary(max_size=600), segment_size=st.integers(1, 100), offset=st.integers(0, 650),
       length=st.integers(0, 650))
def test_range_decrypt_equals_the_slice_and_reads_only_what_it_needs(keyring, data, segment_size, offset, length):
    c = EnvelopeCipher(keyring, segment_size=segment_size)
    blob = c.encrypt(data, aad=b"r")
    read_at, _ = guarded_reader(blob, segment_size, offset, length, len(data))
    assert c.decrypt_range(read_at, offset, length, aad=b"r") == data[offset : offset + length]


def test_a_range_decrypts_alone_while_other_segments_are_corrupt(cipher):
    blob = bytearray(cipher.encrypt(DATA))
    for seg in (0, 3, 4):  # the range 20..40 lies in segments 1 and 2
        blob[HEADER_SIZE + seg * 32] ^= 0xFF
    assert cipher.decrypt_range(lambda p, n: blob[p : p + n], 20, 20) == DATA[20:40]
    with pytest.raises(IntegrityError, match="segment 3 of 5"):
        cipher.decrypt_range(lambda p, n: blob[p : p + n], 40, 20)


def test_range_decrypt_detects_short_reads_wrong_aad_and_bad_arguments(cipher):
    blob = cipher.encrypt(DATA, aad=b"a")
    with pytest.raises(IntegrityError, match="truncated"):
        cipher.decrypt_range(lambda p, n: blob[p : p + n - 1], 0, 10, aad=b"a")
    with pytest.raises(IntegrityError, match="associated data"):
        cipher.decrypt_range(lambda p, n: blob[p : p + n], 0, 10, aad=b"b")
    with pytest.raises(ValueError, match="non-negative"):
        cipher.decrypt_range(lambda p, n: blob[p : p + n], -1, 10)


def test_empty_range_still_authenticates_the_header(cipher):
    blob = bytearray(cipher.encrypt(DATA))
    assert cipher.decrypt_range(lambda p, n: blob[p : p + n], 70, 5) == b""
    blob[HEADER_SIZE - 1] ^= 1
    with pytest.raises(IntegrityError, match="cannot unwrap"):
        cipher.decrypt_range(lambda p, n: blob[p : p + n], 10, 0)


# -- rotation -----------------------------------------------------------------------------------


def test_rotate_and_rewrap_changes_only_the_header_then_old_key_can_go(cipher):
    keyring = cipher.keyring
    blob = cipher.encrypt(DATA, aad=b"a")
    assert kek_version(blob) == 1
    assert keyring.rotate() == 2
    assert cipher.decrypt(blob, aad=b"a") == DATA  # old blobs still readable before rewrap
    new = cipher.rewrap(blob)
    assert len(new) == len(blob) and new[HEADER_SIZE:] == blob[HEADER_SIZE:]
    assert new[:27] == blob[:27] and kek_version(new) == 2
    keyring.retire(1)
    assert cipher.decrypt(new, aad=b"a") == DATA
    with pytest.raises(IntegrityError, match="aad|associated data"):
        cipher.decrypt(new, aad=b"other")
    with pytest.raises(UnknownKeyVersion, match="version 1 was retired and its key removed"):
        cipher.decrypt(blob, aad=b"a")


def test_rewrap_of_a_header_alone_can_be_written_in_place(cipher):
    blob = cipher.encrypt(DATA)
    cipher.keyring.rotate()
    header = cipher.rewrap(blob[:HEADER_SIZE])
    assert len(header) == HEADER_SIZE and kek_version(header) == 2
    assert cipher.decrypt(header + blob[HEADER_SIZE:]) == DATA


def test_rewrap_refuses_a_tampered_header_or_a_foreign_keyring(cipher):
    blob = bytearray(cipher.encrypt(DATA))
    with pytest.raises(IntegrityError):
        EnvelopeCipher(Keyring.generate()).rewrap(blob)
    blob[40] ^= 1
    with pytest.raises(IntegrityError, match="cannot unwrap"):
        cipher.rewrap(blob)


def test_a_saved_and_reloaded_keyring_decrypts(tmp_path, cipher):
    blob = cipher.encrypt(DATA)
    cipher.keyring.save(tmp_path / "k.json")
    assert EnvelopeCipher(Keyring.load(tmp_path / "k.json")).decrypt(blob) == DATA


# -- receipts -----------------------------------------------------------------------------------


def test_receipts_record_bytes_sealed_and_keys_wrapped(cipher):
    with receipts.collect() as r:
        blob = cipher.encrypt(DATA)
    assert r.by_kind() == {Kind.KEY_WRAP: 1, Kind.AES_GCM_ENCRYPT: 70}
    assert {i.node for i in r} == {"s1"}
    with receipts.collect() as r:
        cipher.decrypt(blob)
        cipher.decrypt_range(lambda p, n: blob[p : p + n], 20, 5)  # one 16-byte segment
    assert r.by_kind() == {Kind.KEY_UNWRAP: 2, Kind.AES_GCM_DECRYPT: 70 + 16}
    with receipts.collect() as r:
        cipher.rewrap(blob)
    assert r.by_kind() == {Kind.KEY_UNWRAP: 1, Kind.KEY_WRAP: 1}


def test_failed_decryption_records_no_decryption_work(cipher):
    blob = bytearray(cipher.encrypt(DATA))
    blob[-1] ^= 1
    with receipts.collect() as r, pytest.raises(IntegrityError):
        cipher.decrypt(blob)
    assert r.total(Kind.AES_GCM_DECRYPT) == 0 and r.total(Kind.KEY_UNWRAP) == 1


# -- the copying fallback for cryptography releases without encrypt_into ------------------------


def test_copying_fallback_is_interchangeable_with_the_direct_path(monkeypatch, cipher):
    direct = cipher.encrypt(DATA, aad=b"a")
    monkeypatch.setattr(envelope_module, "_seal", envelope_module._seal_copy)
    monkeypatch.setattr(envelope_module, "_open", envelope_module._open_copy)
    copied = cipher.encrypt(DATA, aad=b"a")
    assert cipher.decrypt(direct, aad=b"a") == cipher.decrypt(copied, aad=b"a") == DATA
    tampered = bytearray(direct)
    tampered[-20] ^= 1
    out = bytearray(70)
    with pytest.raises(IntegrityError):
        cipher.decrypt_into(tampered, out, aad=b"a")
    assert out == bytes(70)
    monkeypatch.undo()
    assert cipher.decrypt(copied, aad=b"a") == DATA
