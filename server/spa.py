"""Serve the built single-page app from `webapp/dist` at `/`, so one port serves everything."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, abort, send_from_directory


def register_spa(app: Flask) -> None:
    dist = Path(app.config["WEBAPP_DIST"])

    @app.get("/", defaults={"path": ""})
    @app.get("/<path:path>")
    def spa(path: str):
        if path.startswith(("api/", "socket.io")):
            abort(404)
        if not (dist / "index.html").exists():
            return (
                "The web app is not built yet: run `make setup` (or `npm --prefix webapp run "
                "build`).",
                503,
                {"Content-Type": "text/plain; charset=utf-8"},
            )
        candidate = dist / path
        if path and candidate.is_file() and dist in candidate.resolve().parents:
            return send_from_directory(dist, path, max_age=31536000 if "assets/" in path else 0)
        return send_from_directory(dist, "index.html", max_age=0)
