"""Serve a WSGI stand-in over HTTPS with a throw-away CA.

The CA lives in ``{tls_dir}/ca.pem`` (certificate) and ``{tls_dir}/ca.key``
(its private key), so a restarted stand-in reuses it and clients that already
trust ``ca.pem`` keep working.
"""

from __future__ import annotations

import logging
import os
import ssl
import tempfile
import threading
from pathlib import Path
from typing import Any

import trustme
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

HOST = "127.0.0.1"


def ca_ensure(*, tls_dir: str | os.PathLike[str]) -> trustme.CA:
    """Load the CA stored in ``tls_dir``, or create and store a new one."""
    directory = Path(tls_dir)
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "ca.pem", directory / "ca.key"
    if cert_path.exists() and key_path.exists():
        return trustme.CA.from_pem(cert_path.read_bytes(), key_path.read_bytes())
    ca = trustme.CA()
    # Write to temporary names, then rename: two stand-ins starting together
    # with the same directory must not read a half-written file.
    for path, data in ((key_path, ca.private_key_pem.bytes()), (cert_path, ca.cert_pem.bytes())):
        fd, tmp = tempfile.mkstemp(dir=directory)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o600 if path == key_path else 0o644)
        os.replace(tmp, path)
    if not key_path.exists() or not cert_path.exists():  # pragma: no cover - defensive
        raise RuntimeError(f"could not write the CA into {directory}")
    # Re-read: if another process won the race, use its pair, not ours.
    return trustme.CA.from_pem(cert_path.read_bytes(), key_path.read_bytes())


def ssl_context_build(*, tls_dir: str | os.PathLike[str]) -> ssl.SSLContext:
    """A server TLS context with a certificate for 127.0.0.1 and localhost."""
    ca = ca_ensure(tls_dir=tls_dir)
    server_cert = ca.issue_cert(HOST, "localhost", "::1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(context)
    return context


class _QuietHandler(WSGIRequestHandler):
    """Request handler that logs through ``logging`` at DEBUG, not to stderr."""

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002
        logging.getLogger("sandbox.http").debug(message, *args)


def server_make(app: Any, *, port: int, tls_dir: str | os.PathLike[str]) -> BaseWSGIServer:
    """A threaded HTTPS WSGI server bound to 127.0.0.1:port (0 picks a free port)."""
    return make_server(
        HOST,
        port,
        app,
        threaded=True,
        request_handler=_QuietHandler,
        ssl_context=ssl_context_build(tls_dir=tls_dir),
    )


def serve_forever(app: Any, *, port: int, tls_dir: str | os.PathLike[str]) -> None:
    """Serve until interrupted, after printing the ``ready`` line of the contract."""
    server = server_make(app, port=port, tls_dir=tls_dir)
    print(f"ready https://{HOST}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


class ServerThread:
    """A stand-in served from a background thread (pytest fixtures, benchmarks)."""

    def __init__(self, app: Any, *, tls_dir: str | os.PathLike[str], port: int = 0) -> None:
        self.app = app
        self.tls_dir = Path(tls_dir)
        self._server = server_make(app, port=port, tls_dir=tls_dir)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_port

    @property
    def url(self) -> str:
        return f"https://{HOST}:{self.port}"

    @property
    def ca_path(self) -> str:
        return str(self.tls_dir / "ca.pem")

    def start(self) -> ServerThread:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
