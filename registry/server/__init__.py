"""The team server (issue 15): ``evidence serve``, a REST API under ``/api/v1`` over a
registry folder, for people with accounts and roles per case.

* ``app``: the FastAPI app (``create_app``), its error mapping, body-size and
  cross-origin checks, ``run`` (uvicorn);
* ``state``: what the routes share (``Server``) and ``current_user`` (bearer tokens,
  rate limit);
* ``reads`` / ``writes``: the endpoints, each calling the Python API function the
  command line calls, through the permission filter (``registry.accounts.Scope``);
* ``login``: a password for a one-day token (``POST /login``);
* ``uploads``: request bodies streamed to a locked spool folder inside the registry;
* ``accesslog``: the ``access.*`` entries, group-committed before answers leave;
* ``config``: ``ServerConfig`` and the per-thread registries; ``limits``: the rate limit.

FastAPI and uvicorn are imported only by ``evidence serve``, never by the rest of the
command line.
"""

from registry.server.app import API, create_app, run
from registry.server.config import ServerConfig, takes_catalog

__all__ = ["API", "ServerConfig", "create_app", "run", "takes_catalog"]
