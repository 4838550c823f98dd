"""The server's ``require-signature`` pull policy: the check a manifest GET makes before answering,
with the configuration's ``signatures.require`` rules (their keys read when it was loaded,
:meth:`.config.ServerConfig.signature_rules`).

``signatures: {require: [{prefix: "library/", keys: [cosign.pub]}]}`` makes every manifest of a
repository under ``library/`` -- fetched by tag or by digest -- be served only when a cosign
signature of that manifest digest verifies with one of the keys
(:class:`regsim.registry.signing.policy.SignaturePolicy`). Otherwise the GET is answered 403
``DENIED`` with the reason: ``no trusted signature for sha256:...`` and why each signature found
was refused. Not checked: the signature manifests themselves (the ``sha256-<hex>.sig`` tags, and
any manifest that is a cosign signature manifest, fetched by digest), HEAD (it tells the digest,
not the content; clients check before pushing) and blobs (content addressed: a client reaches
them through a manifest it was given).
"""

from __future__ import annotations

from starlette.requests import Request

from ..registry.repositories import StoredManifest
from ..registry.signing.errors import NoTrustedSignature
from ..registry.signing.policy import SignaturePolicy
from ..registry.signing.store import is_signature_manifest, is_signature_tag
from .auth import services_of
from .streams import in_thread


def policy_of(request: Request) -> SignaturePolicy | None:
    """The app's policy (built once, on the first manifest GET), None without rules."""
    state = request.app.state
    policy = getattr(state, "signature_policy", False)
    if policy is False:
        services = services_of(request)
        rules = services.config.signature_rules()  # read when the configuration was loaded
        policy = SignaturePolicy(services.registry, rules) if rules else None
        state.signature_policy = policy
    return policy


async def require_signature(request: Request, repo: str, reference: str, stored: StoredManifest) -> None:
    """Raise 403 ``DENIED`` unless the policy lets ``stored`` (fetched as ``repo:reference``) be served."""
    policy = policy_of(request)
    if policy is None or policy.rule_for(repo) is None or is_signature_tag(reference):
        return
    try:
        await in_thread(policy.check, repo, stored.digest)
    except NoTrustedSignature:
        if is_signature_manifest(stored.data):  # a signature manifest fetched by digest
            return
        raise
