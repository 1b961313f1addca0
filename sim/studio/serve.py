"""The studio's web server: loopback only, on the port asked for or one the system picks."""

from __future__ import annotations

import logging
import socket

from dash import Dash
from werkzeug.serving import BaseWSGIServer
from werkzeug.serving import make_server as _werkzeug_server

HOST = "127.0.0.1"
DEFAULT_PORT = 8050


def make_server(app: Dash, *, host: str = HOST, port: int = DEFAULT_PORT) -> BaseWSGIServer:
    """A threaded server for ``app`` on ``port``, or on a free one if that is taken.

    Call ``serve_forever()`` on it; ``shutdown()`` (from another thread) and
    ``server_close()`` stop it. ``port=0`` always takes a free port.
    """
    # one log line per click would bury the address the teacher reads in the terminal
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    chosen = port if port and _free(host, port) else 0
    return _werkzeug_server(host, chosen, app.server, threaded=True)


def _free(host: str, port: int) -> bool:
    """Whether nothing listens on ``port`` (probed as the server binds: address reuse on)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True
