"""Socket.IO connection handling: token check (incl. revocation) and private rooms only.

`decode_token` does not consult the blocklist, so the connect handler checks it itself.
Managers and admins may also join another user's room with a `watch` message.
"""

from __future__ import annotations

from flask import request
from flask_jwt_extended import decode_token
from flask_socketio import SocketIO, join_room
from jwt import PyJWTError

from server import runtime
from server.api.guard import load_active_user
from server.domain.enums import Role
from server.events import user_room
from server.persistence.db import db
from server.state.token_blocklist import is_revoked

_sessions: dict[str, str] = {}  # socket sid -> user id


def _user_from_auth(auth):
    token = (auth or {}).get("token") if isinstance(auth, dict) else None
    if not token:
        return None
    try:
        claims = decode_token(token)
    except PyJWTError:
        return None
    if claims.get("type") != "access" or is_revoked(runtime.redis_client(), claims["jti"]):
        return None
    with db.connection_context():
        return load_active_user(claims.get("sub"))


def register_socket_handlers(socketio: SocketIO) -> None:
    @socketio.on("connect")
    def _connect(auth=None):
        user = _user_from_auth(auth)
        if user is None:
            return False  # refuses the connection
        _sessions[request.sid] = str(user.id)
        join_room(user_room(user.id))
        return True

    @socketio.on("disconnect")
    def _disconnect(*_args):
        _sessions.pop(request.sid, None)

    @socketio.on("watch")
    def _watch(data):
        """Managers and admins follow another user's room: {"user_id": "<uuid>"}."""
        with db.connection_context():
            viewer = load_active_user(_sessions.get(request.sid))
        target = (data or {}).get("user_id") if isinstance(data, dict) else None
        if viewer is None or not target or not Role(viewer.role).at_least(Role.MANAGER):
            return {"ok": False, "error": "only managers and admins may watch other users"}
        join_room(user_room(target))
        return {"ok": True}
