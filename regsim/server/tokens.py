"""``/token``: the token endpoint of the Docker registry token authentication spec.

Served when ``auth.mode`` is ``jwt`` (alias ``token``). A client refused with a Bearer challenge comes here with
the challenge's ``service`` and ``scope`` and, to be more than anonymous, Basic credentials that
the token service checks against the auth database:

- ``GET /token?service=..&scope=..[&scope=..]`` -> ``{"token", "access_token", "expires_in",
  "issued_at"}`` (what Docker, skopeo/containers-image and oras send);
- ``POST /token`` with a form ``grant_type=password&username=..&password=..&service=..&scope=..``
  (the OAuth2 flavour containerd tries first) -> the same plus ``"scope"``. Refresh tokens are
  not issued, so ``grant_type=refresh_token`` is ``unsupported_grant_type`` (400).

A token grants what the policy allows of what was asked (possibly nothing); only failed
authentication is an error (401 ``UNAUTHORIZED``). Both outcomes are audited with the client's
address (:func:`.auth.remote_address`).
"""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response

from ..registry.auth import BasicCredentials, Challenge
from ..registry.errors import Unauthorized
from .auth import credentials_of, remote_address, services_of
from .errors import RouteUnknown
from .replies import json_reply
from .streams import in_thread, read_limited

MAX_FORM_BYTES = 64 * 1024


def _basic_challenge(err: Unauthorized, service: str) -> Unauthorized:
    err.detail = Challenge(service, service, (), None, None, "Basic")
    return err


async def token(request: Request) -> Response:
    request.scope["regsim.handler"] = "token"
    services = services_of(request)
    if services.tokens is None:
        raise RouteUnknown("this registry does not run a token service (auth.mode is not 'jwt')")
    service_name = services.config.auth.service
    if request.method == "POST":
        return await _oauth2(request, services, service_name)
    query = request.query_params
    try:
        credentials = credentials_of(request)
        issued = await in_thread(services.tokens.request, credentials, query.getlist("scope"),
                                 service=query.get("service") or None, remote=remote_address(request))
    except Unauthorized as err:
        raise _basic_challenge(err, service_name) from None
    return json_reply(issued.to_json(), headers={"Cache-Control": "no-store"})


async def _oauth2(request: Request, services, service_name: str) -> Response:
    form = parse_qs((await read_limited(request, MAX_FORM_BYTES)).decode("utf-8", "replace"))
    grant = (form.get("grant_type") or [""])[0]
    if grant != "password":
        return json_reply({"error": "unsupported_grant_type",
                           "error_description": f"grant_type {grant!r}: only 'password' is supported"}, status=400)
    username, password = (form.get("username") or [""])[0], (form.get("password") or [""])[0]
    scopes = [s for value in form.get("scope", []) for s in value.split(" ") if s]
    try:
        issued = await in_thread(services.tokens.request, BasicCredentials(username, password), scopes,
                                 service=(form.get("service") or [None])[0], remote=remote_address(request))
    except Unauthorized as err:
        raise _basic_challenge(err, service_name) from None
    body = issued.to_json()
    body["scope"] = " ".join(str(s) for s in issued.access)
    return json_reply(body, headers={"Cache-Control": "no-store"})
