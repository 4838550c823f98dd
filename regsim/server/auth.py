"""Who may call an endpoint: scopes per request, the authorizer's decision, the challenge.

Every API route is wrapped by :func:`guarded`, which, before the handler runs:

1. validates the repository name of the path (``NAME_INVALID`` before anything else, so a
   path-traversal name never reaches an authorizer or a storage key);
2. works out the scopes the request needs -- ``repository:<name>:pull`` to read,
   ``pull,push`` to upload, ``delete`` to delete, ``registry:catalog:*`` for the catalog, none
   for ``/v2/`` (which only asks "are these credentials good?");
3. asks the configured :class:`~regsim.registry.auth.Authorizer` -- in the thread pool for
   database auth (SQLite and password hashes block), inline otherwise (a JWT check or a policy
   look-up costs less than the hop) -- trying the anonymous policy first for a request without
   credentials (or with an empty Basic user name) when anonymous pull is on, except on ``/v2/``,
   which always challenges a request without credentials.

Every decision is audited (``audit.enabled``) with the client's address, :func:`remote_address`,
passed to the authorizer explicitly (``remote=``).

A refusal is the registry's :class:`Unauthorized` (401) or :class:`Denied` (403) carrying a
challenge; the error handler renders it as ``WWW-Authenticate``. With token auth the challenge's
realm is this server's ``/token`` as the client reached it (scheme and Host of the request),
unless the configuration names another realm.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response

from ..registry.auth import (ANONYMOUS, Anonymous, BasicCredentials, Challenge, Credentials, Grant, Scope,
                             parse_authorization)
from ..registry.errors import Denied, Unauthorized
from ..registry.names import validate_name
from .audit import client_address
from .services import Services
from .streams import in_thread

PULL, PUSH, DELETE = ("pull",), ("pull", "push"), ("delete",)
Handler = Callable[[Request], Awaitable[Response]]


def services_of(request: Request) -> Services:
    return request.app.state.services


def token_realm(request: Request, services: Services) -> str | None:
    """The realm to put in a Bearer challenge: the configured one, or this server's /token."""
    if services.mode != "jwt":
        return None
    if services.config.auth.realm:
        return services.config.auth.realm
    host = request.headers.get("host") or f"{request.url.hostname}:{request.url.port}"
    return f"{request.url.scheme}://{host}/token"


def credentials_of(request: Request) -> Credentials:
    """The request's credentials; Basic ones with an empty user name count as none.

    containers/image (skopeo, podman, buildah) answers a Basic challenge with ``Basic Og==``
    (empty user name and password) when it has no credentials: that is an anonymous request,
    which anonymous pull may let through, not a failed log-in by a user named ''.
    """
    credentials = parse_authorization(request.headers.get("authorization"))
    if isinstance(credentials, BasicCredentials) and not credentials.username:
        return ANONYMOUS
    return credentials


def remote_address(request: Request) -> str | None:
    """The client's address for the audit log (:func:`.audit.client_address`): None when the
    server keeps no audit log, which spares the work."""
    audit = services_of(request).audit
    if audit is None:
        return None
    return client_address(request.scope, trust_forwarded_for=audit.trust_forwarded_for)


def _scheme(services: Services) -> str:
    return "Basic" if services.mode == "db" else "Bearer"


async def authorize(request: Request, scopes: list[Scope]) -> Grant:
    """The grant for ``scopes`` or a raised Unauthorized/Denied with a challenge."""
    services = services_of(request)
    request.state.realm = token_realm(request, services)
    auth = services.config.auth
    remote = remote_address(request)
    try:
        credentials = credentials_of(request)
    except Unauthorized as e:
        e.detail = Challenge(auth.realm or auth.service, auth.service, tuple(scopes), "invalid_request",
                             e.message, _scheme(services))
        raise
    # ``/v2/`` (no scopes) asks whether the credentials are good: without any it gets the
    # challenge, as from Docker's registry, even when anonymous pull is on. A client learns there
    # that it must log in; answered 200, skopeo never sends its credentials and its push fails.
    if isinstance(credentials, Anonymous) and services.anonymous is not None and scopes:
        try:
            return services.anonymous.authorize(ANONYMOUS, scopes, remote=remote)  # a policy look-up: inline
        except Unauthorized:
            pass  # not enough for anonymous: fall through to the real authorizer's challenge
    if services.mode == "db":  # SQLite and password hashes block: off the event loop
        try:
            return await in_thread(services.authorizer.authorize, credentials, scopes, remote=remote)
        except Unauthorized as e:
            if not isinstance(credentials, Anonymous):
                raise
            raise Unauthorized("no credentials were given: this registry (auth.mode: db) needs a user "
                               "name and password (HTTP Basic) or a session token", detail=e.detail) from None
    # an open registry's policy check or a JWT check (a cache hit, else one signature) costs
    # less than a hop to the thread pool and back
    return services.authorizer.authorize(credentials, scopes, remote=remote)


async def allows(request: Request, scope: Scope) -> bool:
    """True if the request's credentials have ``scope`` (no error: for optional extras like a
    cross-repository mount, where a refusal falls back to a plain upload)."""
    try:
        await authorize(request, [scope])
        return True
    except (Unauthorized, Denied):
        return False


def guarded(handler: Handler, name: str, actions: Mapping[str, tuple[str, ...]] | None = None,
            *, catalog: bool = False) -> Handler:
    """``handler`` behind name validation and authorization; ``actions`` maps an HTTP method to
    the repository actions it needs (HEAD as GET unless listed; a method not listed needs pull,
    never nothing). ``name`` labels the route in metrics and logs."""
    needs = dict(actions or {})

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        request.scope["regsim.handler"] = name
        scopes: list[Scope] = []
        repo = request.path_params.get("name")
        if repo is not None:
            validate_name(repo)
            method = "GET" if request.method == "HEAD" and "HEAD" not in needs else request.method
            scopes.append(Scope.repository(repo, *needs.get(method, PULL)))
        if catalog:
            scopes.append(Scope.parse("registry:catalog:*"))
        request.state.grant = await authorize(request, scopes)
        return await handler(request)

    return endpoint
