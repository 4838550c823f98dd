"""The require-signature pull policy over a Registry."""

import pytest

from regsim.registry.signing.errors import NoTrustedSignature
from regsim.registry.signing.policy import Rule, SignaturePolicy
from regsim.registry.signing.signature import sign
from regsim.registry.signing.store import attach


@pytest.mark.parametrize("prefix, matched, unmatched", [
    ("library/", ["library/app", "library/a/b"], ["library", "libraryx/app", "team/app"]),
    ("team/app", ["team/app", "team/app/cache"], ["team/application", "team"]),
    ("*", ["a", "b/c"], []),
    ("", ["a"], []),
])
def test_prefixes(key, prefix, matched, unmatched):
    rule = Rule(prefix, (key.public_key(),))
    assert all(rule.matches(r) for r in matched)
    assert not any(rule.matches(r) for r in unmatched)


def test_the_most_specific_rule_applies(registry, key, other_key):
    policy = SignaturePolicy(registry, [Rule("*", (key.public_key(),)), Rule("team/", (other_key.public_key(),)),
                                        Rule("team/app", (key.public_key(),))])
    assert policy.rule_for("x").prefix == "*"
    assert policy.rule_for("team/web").prefix == "team/"
    assert policy.rule_for("team/app").prefix == "team/app"


def test_check_requires_a_trusted_signature(registry, image, key, other_key):
    policy = SignaturePolicy(registry, [Rule("team/", (key.public_key(),), ("cosign.pub",))])
    assert policy.check("other/app", image.manifest) == []  # no rule: nothing required
    with pytest.raises(NoTrustedSignature) as e:
        policy.check("team/app", image.manifest)
    assert e.value.message.startswith(f"no trusted signature for {image.manifest}: the image is not signed")
    assert "trusted keys cosign.pub" in e.value.message and e.value.status == 403

    attach(registry, "team/app", image.manifest, sign(other_key, image.manifest, "team/app:v1"))
    with pytest.raises(NoTrustedSignature, match="does not verify"):  # the cached verdict is not reused
        policy.check("team/app", image.manifest)

    attach(registry, "team/app", image.manifest, sign(key, image.manifest, "team/app:v1"))
    [verified] = policy.check("team/app", image.manifest)
    assert verified.payload.manifest_digest == image.manifest
    assert policy.check("team/app", image.manifest)[0].key == verified.key  # cached


def test_a_signature_copied_from_another_image_does_not_count(registry, image, key):
    other = registry.push_image("team/app", "v2", [b"other layer"])
    policy = SignaturePolicy(registry, [Rule("team/", (key.public_key(),))])
    attach(registry, "team/app", image.manifest, sign(key, other.manifest, "team/app:v2"))
    with pytest.raises(NoTrustedSignature, match=f"its payload signs manifest {other.manifest}, not {image.manifest}"):
        policy.check("team/app", image.manifest)


def test_a_rule_needs_keys(registry):
    with pytest.raises(ValueError, match="no trusted key"):
        SignaturePolicy(registry, [Rule("team/", ())])
