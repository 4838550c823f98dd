"""A registry reached over the OCI distribution API, with just what signing and verifying need.

:class:`RemoteRegistry` offers the :class:`~.store.ImageStore` methods -- get a manifest, get a
blob, push a blob, push a manifest, list referrers -- over HTTP, so ``regsim image sign|verify
--registry URL`` stores and finds signatures in any registry (``regsim serve``, CNCF
distribution, ...) exactly as :mod:`.store` does in a local :class:`Registry`. It uses the
standard library's ``urllib`` only, so the command line needs no HTTP client package.

Authentication: a 401 with a ``Bearer`` challenge is answered the Docker token way (GET the
realm with ``service`` and ``scope``, with Basic credentials when given; the token is kept per
scope), a ``Basic`` challenge with the credentials. A registry without the referrers API (404)
has no referrers. Errors in the spec's JSON body become the registry's own error classes
(``MANIFEST_UNKNOWN`` -> :class:`ManifestUnknown`, ...), with the server's message.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from ..descriptors import DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST
from ..digest import Digest, compute
from ..errors import (BlobUnknown, Denied, DigestInvalid, ManifestInvalid, ManifestUnknown, NameUnknown,
                      RegistryError, Unauthorized)
from ..repositories import StoredManifest

MANIFEST_ACCEPT = ", ".join((OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST))
_CODES = {"MANIFEST_UNKNOWN": ManifestUnknown, "NAME_UNKNOWN": NameUnknown, "BLOB_UNKNOWN": BlobUnknown,
          "UNAUTHORIZED": Unauthorized, "DENIED": Denied, "MANIFEST_INVALID": ManifestInvalid,
          "DIGEST_INVALID": DigestInvalid}
_PARAM = re.compile(r'(\w+)="([^"]*)"')


class RemoteError(RegistryError):
    """The registry could not be reached, or answered something this client cannot use."""

    code, status = "UNKNOWN", 502


@dataclass
class _Reply:
    status: int
    headers: dict[str, str]
    body: bytes


class RemoteRegistry:
    """A registry at ``url`` (``http://host:port`` or ``https://...``; a bare ``host:port`` is
    https, or http with ``tls_verify=False``)."""

    def __init__(self, url: str, *, tls_verify: bool = True, username: str | None = None,
                 password: str | None = None, timeout: float = 60.0) -> None:
        if "://" not in url:
            url = ("https://" if tls_verify else "http://") + url
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise RemoteError(f"registry URL {url!r}: expected http://HOST[:PORT] or https://HOST[:PORT]")
        self.base = f"{parts.scheme}://{parts.netloc}"
        self.host = parts.netloc
        self.timeout = timeout
        self.credentials = (username, password or "") if username else None
        context = ssl.create_default_context()
        if not tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        self._opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))
        self._tokens: dict[str, str] = {}

    # -- the ImageStore methods --------------------------------------------------------------

    def get_manifest(self, repo: str, reference: str) -> StoredManifest:
        r = self._request("GET", f"/v2/{repo}/manifests/{reference}", repo, "pull", headers={"Accept": MANIFEST_ACCEPT})
        media_type = r.headers.get("content-type", "").split(";", 1)[0].strip()
        digest = r.headers.get("docker-content-digest")
        actual = compute(r.body)
        if digest and Digest.parse(digest).algorithm == "sha256" and Digest.parse(digest) != actual:
            raise DigestInvalid(f"{self.host}/{repo}:{reference}: the manifest served does not hash to its "
                                f"Docker-Content-Digest {digest}")
        if reference.startswith("sha256:") and Digest.parse(reference) != actual:
            raise DigestInvalid(f"{self.host}/{repo}@{reference}: the manifest served hashes to {actual}")
        return StoredManifest(Digest.parse(digest) if digest else actual, media_type, r.body)

    def manifest_info(self, repo: str, reference: str) -> tuple[Digest, str, int]:
        """Digest, media type and size from a HEAD: what signing needs, and what a registry
        enforcing signatures still answers for an unsigned image."""
        r = self._request("HEAD", f"/v2/{repo}/manifests/{reference}", repo, "pull",
                          headers={"Accept": MANIFEST_ACCEPT})
        digest = r.headers.get("docker-content-digest")
        if not digest:
            raise RemoteError(f"{self.host}: HEAD of {repo}:{reference} gave no Docker-Content-Digest")
        media_type = r.headers.get("content-type", "").split(";", 1)[0].strip()
        return Digest.parse(digest), media_type, int(r.headers.get("content-length") or 0)

    def get_blob(self, repo: str, digest: str | Digest) -> bytes:
        return self._request("GET", f"/v2/{repo}/blobs/{digest}", repo, "pull").body

    def put_blob(self, repo: str, data: bytes) -> Digest:
        d = compute(data)
        if self._request("HEAD", f"/v2/{repo}/blobs/{d}", repo, "pull,push", ok=(200, 404)).status == 200:
            return d
        start = self._request("POST", f"/v2/{repo}/blobs/uploads/", repo, "pull,push", ok=(202,))
        location = start.headers.get("location")
        if not location:
            raise RemoteError(f"{self.host}: starting an upload to {repo} gave no Location")
        target = urllib.parse.urljoin(self.base + "/", location)
        sep = "&" if "?" in target else "?"
        self._request("PUT", f"{target}{sep}digest={d}", repo, "pull,push", body=data, ok=(201,),
                      headers={"Content-Type": "application/octet-stream"})
        return d

    def put_manifest(self, repo: str, reference: str, data: bytes, media_type: str | None = None) -> Digest:
        r = self._request("PUT", f"/v2/{repo}/manifests/{reference}", repo, "pull,push", body=data, ok=(201,),
                          headers={"Content-Type": media_type or OCI_MANIFEST})
        digest = r.headers.get("docker-content-digest")
        return Digest.parse(digest) if digest else compute(data)

    def referrers(self, repo: str, digest: str | Digest, artifact_type: str | None = None) -> dict:
        query = f"?artifactType={urllib.parse.quote(artifact_type)}" if artifact_type else ""
        r = self._request("GET", f"/v2/{repo}/referrers/{digest}{query}", repo, "pull", ok=(200, 404))
        if r.status == 404:
            return {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
        try:
            doc = json.loads(r.body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise RemoteError(f"{self.host}: the referrers of {repo}@{digest} are not JSON") from None
        return doc if isinstance(doc, dict) else {"manifests": []}

    # -- HTTP --------------------------------------------------------------------------------

    def _request(self, method: str, path: str, repo: str, actions: str, *, body: bytes | None = None,
                 headers: dict[str, str] | None = None, ok: tuple[int, ...] = (200,)) -> _Reply:
        url = path if "://" in path else self.base + path
        scope = f"repository:{repo}:{actions}"
        reply = self._send(method, url, body, headers or {}, scope)
        if reply.status == 401:
            if self._authenticate(reply.headers.get("www-authenticate", ""), scope):
                reply = self._send(method, url, body, headers or {}, scope)
        if reply.status not in ok:
            raise self._error(method, url, reply)
        return reply

    def _send(self, method: str, url: str, body: bytes | None, headers: dict[str, str], scope: str) -> _Reply:
        hdrs = dict(headers)
        token = self._tokens.get(scope)
        if token == "basic" and self.credentials:
            hdrs["Authorization"] = "Basic " + _basic(*self.credentials)
        elif token:
            hdrs["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(url, data=body, method=method, headers=hdrs)
        try:
            with self._opener.open(request, timeout=self.timeout) as resp:
                return _Reply(resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read())
        except urllib.error.HTTPError as e:
            with e:
                return _Reply(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise RemoteError(f"cannot reach the registry at {self.base}: {reason}") from None

    def _authenticate(self, challenge: str, scope: str) -> bool:
        """Answer a 401's challenge; False when there is nothing to answer it with."""
        scheme = challenge.split(" ", 1)[0].lower()
        params = dict(_PARAM.findall(challenge))
        if scheme == "basic":
            if not self.credentials:
                return False
            self._tokens[scope] = "basic"
            return True
        if scheme != "bearer" or "realm" not in params:
            return False
        query = {"scope": scope}  # what this client will do next, not only what the refused request needed
        if "service" in params:
            query["service"] = params["service"]
        url = urllib.parse.urljoin(self.base + "/", params["realm"]) + "?" + urllib.parse.urlencode(query)
        hdrs = {"Authorization": "Basic " + _basic(*self.credentials)} if self.credentials else {}
        reply = self._send("GET", url, None, hdrs, scope="")
        if reply.status != 200:
            raise Unauthorized(f"{self.host}: the token service refused ({reply.status}): {_message(reply)}")
        try:
            doc = json.loads(reply.body)
            token = doc.get("token") or doc.get("access_token")
        except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            token = None
        if not token:
            raise Unauthorized(f"{self.host}: the token service answered without a token")
        self._tokens[scope] = token
        return True

    def _error(self, method: str, url: str, reply: _Reply) -> RegistryError:
        what = f"{method} {urllib.parse.urlsplit(url).path}"
        code, message = _code(reply)
        cls = _CODES.get(code or "", RemoteError)
        if method == "HEAD" and reply.status == 404 and "/manifests/" in url:  # a HEAD has no body to name it
            cls, message = ManifestUnknown, "manifest unknown"
        if reply.status == 401 and cls is RemoteError:
            cls = Unauthorized
        err = cls(f"{self.host}: {what}: {reply.status} {code or ''} {message}".replace("  ", " ").strip())
        return err


def _basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _code(reply: _Reply) -> tuple[str | None, str]:
    try:
        errors = json.loads(reply.body)["errors"]
        first = errors[0]
        return str(first.get("code")), str(first.get("message", ""))
    except (UnicodeDecodeError, ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None, reply.body[:200].decode("utf-8", "replace").strip()


def _message(reply: _Reply) -> str:
    return _code(reply)[1]
