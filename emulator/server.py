"""App factories and the lifecycle of one emulator instance (two loopback listeners in background threads).

``start()`` generates the throwaway CA and server certificate, the app certificate, binds
``https://127.0.0.1:<port>`` (Entra ID + Graph + oproxy + admin API) and ``http://127.0.0.1:<imds_port>``
(managed identity), writes ``ca.pem``, ``app_cert.pem``, ``app_key.pem`` and ``emulator.json`` into the state dir and
returns an ``Emulator`` handle.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import socket
import ssl
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from . import (  # noqa: F401
    admin,
    graph,
    graph_apps,
    graph_auth_methods,
    graph_batch,
    graph_delta,
    graph_relations,
    graph_users,
    imds,
    login,
    oproxy,
)
from .errors import OAuthError, graph_error_body, new_guid
from .faults import MALFORMED_JSON, FaultRule, graph_code
from .state import EmulatorState, current_state
from .tenant import Tenant
from .tls import generate_app_certificate, generate_ca, issue_server_certificate, server_ssl_context, write_private

logger = logging.getLogger("emulator")
DEFAULT_SEED = 20240601
LOOPBACK = "127.0.0.1"


# -- apps -------------------------------------------------------------------------------------------------------


def create_https_app() -> Flask:
    """Entra ID, Graph, oproxy and the admin API (state attached later as ``app.extensions["emulator"]``)."""
    app = Flask("emulator.https")
    app.config["EMULATOR_SERVER"] = "https"
    for blueprint in (admin.blueprint, login.blueprint, oproxy.blueprint, graph.blueprint):
        app.register_blueprint(blueprint)
    _install_hooks(app)
    return app


def create_imds_app() -> Flask:
    app = Flask("emulator.imds")
    app.config["EMULATOR_SERVER"] = "imds"
    app.register_blueprint(imds.blueprint)
    _install_hooks(app)
    return app


def _install_hooks(app: Flask) -> None:
    app.before_request(_before_request)
    app.after_request(_after_request)
    app.register_error_handler(Exception, _unhandled)


def _area(server: str, path: str) -> str:
    if server == "imds":
        return "imds"
    if path.startswith(("/v1.0/", "/beta/")):
        return "graph"
    if path == "/obtain-token":
        return "oproxy"
    return "login"


def _before_request() -> Response | None:
    state = current_state()
    g.request_id = new_guid()
    if request.path.startswith("/_emulator/"):
        return None
    server = str(current_app.config["EMULATOR_SERVER"])
    area = _area(server, request.path)
    if area == "graph":
        body: Any = request.get_json(silent=True)
    elif request.mimetype == "application/x-www-form-urlencoded":
        body = request.form.to_dict()
    else:
        body = request.get_json(silent=True)
    query = request.query_string.decode("latin-1")
    entry = state.log.add(server=server, via="http", method=request.method, path=request.path, query=query,
                          headers=dict(request.headers), body=body, request_id=g.request_id)
    g.log_entry = entry
    rule = state.faults.pick(server, request.method, request.path, query)
    if rule is None:
        return None
    entry["fault"] = rule.id
    return _apply_fault(state, rule, area)


def _after_request(response: Response) -> Response:
    entry = g.get("log_entry")
    if entry is not None:
        entry["status"] = response.status_code
    return response


def _apply_fault(state: EmulatorState, rule: FaultRule, area: str) -> Response | None:
    if rule.kind == "latency":
        time.sleep(rule.latency_ms / 1000)
        return None
    if rule.kind in ("expire_tokens", "revoke"):
        state.apply_side_effect(rule)
        return None
    if rule.kind == "drop":
        _drop_connection()
        return Response(status=500)
    if rule.kind == "malformed":
        response = Response(MALFORMED_JSON, status=200, content_type=graph.JSON_CONTENT_TYPE)
        if area == "graph":  # Graph names every answer, a broken one too
            response.headers["request-id"] = g.request_id
        return response
    return _fault_status_response(rule, area)


def _fault_status_response(rule: FaultRule, area: str) -> Response:
    headers: dict[str, str] = {}
    if (retry_after := rule.retry_after_header()) is not None:
        headers["Retry-After"] = retry_after
    client_request_id = request.headers.get("client-request-id") or g.request_id
    body: dict[str, Any]
    if area == "graph":
        code, message = graph_code(rule)
        body = graph_error_body(code, message, g.request_id, client_request_id)
        headers.update({"request-id": g.request_id, "client-request-id": client_request_id})
    elif area == "oproxy":
        body = {"title": rule.code or "Service Unavailable", "detail": rule.message or "The broker is busy.",
                "status": rule.status}
        headers["Function-Execution-Id"] = new_guid()
    elif area == "imds":
        body = {"error": rule.code or "temporarily_unavailable",
                "error_description": rule.message or "The managed identity endpoint is busy; retry later."}
    else:
        error = OAuthError(rule.status, rule.code or "temporarily_unavailable", 90033,
                           rule.message or "A transient error has occurred. Please try again.")
        body = error.body(request.headers.get("client-request-id"), current_state().base_url)
    response = Response(json.dumps(body), status=rule.status,
                        content_type=graph.JSON_CONTENT_TYPE if area == "graph" else "application/json")
    for name, value in headers.items():
        response.headers[name] = value
    return response


def _drop_connection() -> None:
    """Close the TCP connection without an answer (the client sees a connection error)."""
    sock = request.environ.get("werkzeug.socket")
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _unhandled(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        body = {"error": {"code": error.name.replace(" ", ""), "message": error.description or error.name}}
        return Response(json.dumps(body), status=error.code or 500, content_type="application/json")
    logger.exception("emulator error on %s %s", request.method, request.path)
    body = graph_error_body("generalException", f"Emulator error: {error!r}", g.get("request_id", new_guid()),
                            request.headers.get("client-request-id") or g.get("request_id", ""))
    return Response(json.dumps(body), status=500, content_type="application/json")


# -- servers ----------------------------------------------------------------------------------------------------


class _RequestHandler(WSGIRequestHandler):
    """Werkzeug's handler, logging through ``logging`` (debug) instead of printing every request.

    TCP_NODELAY: werkzeug writes headers and body separately; with Nagle's algorithm the body would wait for the
    client's delayed ACK, adding milliseconds to every response."""

    disable_nagle_algorithm = True

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002 - werkzeug's signature
        logger.debug("%s %s", self.address_string(), message % args)


def _serve(server: BaseWSGIServer, name: str) -> threading.Thread:
    server.handle_error = lambda request, address: logger.debug("connection error from %s", address)  # type: ignore
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True)
    thread.start()
    return thread


def _tls_server(app: Flask, port: int, context: ssl.SSLContext) -> BaseWSGIServer:
    """Werkzeug's threaded server with TLS. The handshake is left to the request thread
    (``do_handshake_on_connect=False``) so one slow or broken client cannot stall ``accept()``."""
    server = make_server(LOOPBACK, port, app, threaded=True, request_handler=_RequestHandler)
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    server.ssl_context = context
    return server


class Emulator:
    """A running emulator: URLs, registrations, and direct access to faults, the request log and the tenant."""

    def __init__(self, state: EmulatorState, servers: list[BaseWSGIServer], owns_state_dir: bool,
                 startup_seconds: float) -> None:
        self._state = state
        self._servers = servers
        self._owns_state_dir = owns_state_dir
        self.startup_seconds = startup_seconds
        self.base_url = state.base_url
        self.graph_url = state.base_url
        self.imds_url = state.imds_url
        self.ca_bundle = state.ca_bundle
        self.state_dir = state.state_dir
        self.admin_token = state.admin_token
        self.tenant_id = state.tenant_id

    # -- facts ----------------------------------------------------------------------------------------------

    @property
    def registrations(self) -> dict[str, Any]:
        return self._state.registrations()

    @property
    def info(self) -> dict[str, Any]:
        return self._state.info(os.getpid())

    @property
    def admin_headers(self) -> dict[str, str]:
        return {admin.ADMIN_HEADER: self.admin_token}

    def token_url(self, version: str = "v2.0") -> str:
        suffix = "oauth2/v2.0/token" if version == "v2.0" else "oauth2/token"
        return f"{self.base_url}/{self.tenant_id}/{suffix}"

    # -- knobs ----------------------------------------------------------------------------------------------

    def requests(self, since: int = 0, *, include_batch: bool = False) -> list[dict[str, Any]]:
        """Logged requests (method, path, query, headers without secret values, masked body, status, fault)."""
        return self._state.log.entries(since=since, include_batch=include_batch)

    def clear_requests(self) -> None:
        self._state.log.clear()

    def add_fault(self, kind: str = "status", **fields: Any) -> dict[str, Any]:
        """Add a fault rule (see README "Fault knobs"); returns it with its ``id``."""
        return self._state.faults.add(FaultRule.from_json({"kind": kind, **fields})).to_json()

    def faults(self) -> list[dict[str, Any]]:
        return self._state.faults.rules()

    def clear_faults(self) -> None:
        self._state.faults.clear()

    def reset(self) -> None:
        self._state.reset()

    def configure(self, **settings: Any) -> dict[str, Any]:
        with self._state.lock:
            self._state.settings.update(settings)
            self._state.tokens.lifetime = self._state.settings.token_lifetime
            return self._state.settings.to_json()

    def expire_tokens(self) -> None:
        self._state.expire_tokens()

    def revoke_refresh_tokens(self) -> None:
        self._state.revoke_refresh_tokens()

    def expire_delta_tokens(self) -> None:
        with self._state.lock:
            self._state.delta_rounds.clear()

    def mint_auth_code(self, app: str = "default", user: str | None = None,
                       redirect_uri: str = "https://localhost/myapp") -> str:
        state = self._state
        with state.lock:
            registration = state.registry.app_by_key(app)
            person = state.tenant.find_user(user) if user else state.delegated_user()
            if person is None:
                raise KeyError(user)
            grant = state.grants.issue_code(registration.client_id, redirect_uri, person["id"],
                                            list(registration.scopes) + ["openid", "profile", "offline_access"])
            return grant.code

    # -- tenant ---------------------------------------------------------------------------------------------

    def user(self, key: str) -> dict[str, Any] | None:
        """A copy of the stored user (live or soft-deleted), internal fields included."""
        with self._state.lock:
            user = self._state.tenant.find_user(key) or self._state.tenant.deleted.get(key)
            return dict(user) if user else None

    def update_user(self, key: str, **properties: Any) -> None:
        """Change a user out of band (shows up in the next delta round)."""
        with self._state.lock:
            user = self._state.tenant.find_user(key)
            if user is None:
                raise KeyError(key)
            self._state.tenant.update_user(user, properties)

    def delete_user(self, key: str, *, permanent: bool = False) -> None:
        with self._state.lock:
            user = self._state.tenant.find_user(key)
            if user is None:
                if permanent and self._state.tenant.purge_deleted(key):
                    return
                raise KeyError(key)
            self._state.tenant.delete_user(user, permanent=permanent)

    @property
    def tenant(self) -> Tenant:
        """The live ``Tenant`` (hold ``lock`` while touching it from another thread)."""
        return self._state.tenant

    @property
    def lock(self) -> threading.RLock:
        return self._state.lock

    # -- lifecycle ------------------------------------------------------------------------------------------

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers = []
        if self._owns_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(users: int = 200, seed: int = DEFAULT_SEED, state_dir: str | os.PathLike[str] | None = None,
          port: int = 0, imds_port: int = 0) -> Emulator:
    """Start an emulator on loopback and return its handle (``.stop()`` it, or use it as a context manager).

    ``port`` / ``imds_port`` 0 pick free ports. Without ``state_dir`` a temporary one is created and removed on stop.
    """
    began = time.perf_counter()
    owns_state_dir = state_dir is None
    directory = Path(tempfile.mkdtemp(prefix="entra-emulator-")) if state_dir is None else Path(state_dir)
    directory.mkdir(parents=True, exist_ok=True)
    ca = generate_ca()
    ca_path = directory / "ca.pem"
    ca_path.write_bytes(ca.cert_pem)
    context = server_ssl_context(issue_server_certificate(ca), directory)
    app_certificate = generate_app_certificate("Entra ID Users emulator app")
    (directory / "app_cert.pem").write_bytes(app_certificate.cert_pem)
    write_private(directory / "app_key.pem", app_certificate.key_pem)

    https_app = create_https_app()
    imds_app = create_imds_app()
    https_server = _tls_server(https_app, port, context)
    imds_server = make_server(LOOPBACK, imds_port, imds_app, threaded=True, request_handler=_RequestHandler)
    state = EmulatorState(
        seed=seed, users=users, base_url=f"https://{LOOPBACK}:{https_server.server_port}",
        imds_url=f"http://{LOOPBACK}:{imds_server.server_port}", state_dir=str(directory),
        app_certificate=app_certificate, admin_token=secrets.token_urlsafe(24), ca_bundle=str(ca_path))
    https_app.extensions["emulator"] = state
    imds_app.extensions["emulator"] = state
    _serve(https_server, "emulator-https")
    _serve(imds_server, "emulator-imds")
    emulator = Emulator(state, [https_server, imds_server], owns_state_dir, time.perf_counter() - began)
    write_private(directory / "emulator.json", json.dumps(emulator.info, indent=2).encode())
    logger.info("emulator listening on %s (IMDS %s), %d users", state.base_url, state.imds_url, users)
    return emulator
