"""The OCI distribution API over HTTP, for real clients (docker, skopeo, podman, oras, crane).

``regsim serve`` runs it on uvicorn over the same :class:`~regsim.registry.registry.Registry` the
simulator drives; the storage backend, codec, encryption and authentication come from a YAML
configuration (:mod:`.config`). Tests and notebooks build the ASGI app directly::

    from regsim.server import build_services, create_app, parse_config
    app = create_app(build_services(parse_config({"registry": {"codec": "rs(4,2)", "nodes": 6}})))

See ``docs/server.md``.
"""

from .app import create_app
from .config import ServerConfig, load_config, parse_config
from .services import Services, build_services
from .serve import Listen, serve

__all__ = ["Listen", "ServerConfig", "Services", "build_services", "create_app", "load_config", "parse_config",
           "serve"]
