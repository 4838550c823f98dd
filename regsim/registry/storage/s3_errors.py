"""How the S3 backend's failures reach the registry: as registry errors, without credentials.

botocore raises ``ClientError`` (the service answered with an error) and transport errors; the
registry's callers tell failures apart by class (:mod:`regsim.registry.errors`), so each is
translated once, here:

- no such key (404, ``NoSuchKey``) -> :class:`KeyNotFound`; no such multipart upload (aborted
  meanwhile) -> :class:`BlobUploadInvalid`;
- no such bucket, refused credentials, none found -> :class:`ConfigError` (the operator's to fix);
- throttling or server errors still failing after every attempt -> :class:`S3Unavailable` (503);
- anything else the service refused -> :class:`S3RequestFailed` (500).

Messages name the backend, the request, the key and the bucket, the S3 error code and the HTTP
status. They never carry credentials: the service's own message is scrubbed of the access key
id, the secret and the session token (a ``SignatureDoesNotMatch`` answer, for one, quotes the
request's ``Credential=AKIA...`` scope), and the backend raises the translation outside its
``except`` block, so the botocore error (its arguments hold the whole response) is not attached
to it, not even as the suppressed ``__context__``.
"""

from __future__ import annotations

from collections.abc import Iterable

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError

from ..errors import BlobUploadInvalid, ConfigError, KeyNotFound, RegistryError, StorageUnavailable
from .s3_retry import error_code, is_retryable

#: codes that mean "this key holds no object"
MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
#: codes that mean the configuration is wrong: bucket, credentials, permissions
CONFIG_CODES = frozenset({"NoSuchBucket", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch",
                          "InvalidToken", "ExpiredToken", "AllAccessDisabled", "AuthorizationHeaderMalformed"})


class S3RequestFailed(RegistryError):
    """The S3 service refused a request for a reason the registry cannot act on."""

    code, status = "UNKNOWN", 500


class S3Unavailable(StorageUnavailable):
    """S3 kept throttling or failing a request until every attempt was spent."""


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every credential in ``secrets`` replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def translate(exc: BaseException, *, backend: str, bucket: str, op: str, key: str | None,
              attempts: int, secrets: Iterable[str | None] = ()) -> RegistryError:
    """The registry error that stands for ``exc`` (a botocore error) raised by ``op`` on ``key``."""
    secrets = tuple(secrets)
    where = f"{op} of {key!r}" if key is not None else op
    code, status = error_code(exc)
    if isinstance(exc, ClientError):
        if code in MISSING_CODES or (status == 404 and code not in ("NoSuchBucket", "NoSuchUpload")):
            return KeyNotFound(f"{backend}: no object {key!r}")
        message = str((exc.response or {}).get("Error", {}).get("Message", "")) or "no message"
        said = scrub(f"{code or 'error'} (HTTP {status}): {message}", secrets)
        if code == "NoSuchUpload":
            return BlobUploadInvalid(f"{backend}: the multipart upload of {key!r} is gone ({where}): aborted, "
                                     "by a sweep of stale uploads perhaps, or already completed")
        if code == "NoSuchBucket":
            return ConfigError(f"s3 backend {backend!r}: bucket {bucket!r} does not exist ({where})")
        if code in CONFIG_CODES:
            return ConfigError(f"s3 backend {backend!r}: {where} in bucket {bucket!r} was refused: {said}; "
                               "check the bucket's permissions and the credentials (environment, "
                               "~/.aws/credentials or the backend's options)")
        if is_retryable(exc):
            return S3Unavailable(f"s3 backend {backend!r}: {where} in bucket {bucket!r} still failed after "
                                 f"{attempts} attempts: {said}", detail={"code": code, "attempts": attempts})
        return S3RequestFailed(f"s3 backend {backend!r}: {where} in bucket {bucket!r} failed: {said}",
                               detail={"code": code})
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return ConfigError(f"s3 backend {backend!r}: no usable S3 credentials found ({type(exc).__name__}); "
                           "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile in ~/.aws/credentials, "
                           "or the backend's access_key_id and secret_access_key")
    said = scrub(str(exc), secrets) if isinstance(exc, BotoCoreError) else type(exc).__name__
    if is_retryable(exc):
        return S3Unavailable(f"s3 backend {backend!r}: {where} in bucket {bucket!r} still failed after "
                             f"{attempts} attempts: {said}", detail={"code": type(exc).__name__, "attempts": attempts})
    return S3RequestFailed(f"s3 backend {backend!r}: {where} in bucket {bucket!r} failed: {said}")
