"""Flask extensions, created unbound and attached in `create_app` (app-factory pattern)."""

from __future__ import annotations

from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_socketio import SocketIO

from server.api.client_address import client_ip

jwt = JWTManager()
limiter = Limiter(key_func=client_ip, default_limits=[], headers_enabled=True)
socketio = SocketIO()
