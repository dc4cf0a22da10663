"""The `webhook_ingest` floor: a bare Flask app that only parses the JSON body and answers 202,
served by gunicorn with the web process's own settings (gevent worker, one process). Whatever
the engine's webhook costs above this is the engine's own machinery."""

from __future__ import annotations

import json

from flask import Flask, request

app = Flask(__name__)


@app.post("/webhook/<token>")
def webhook(token: str):
    doc = json.loads(request.get_data())
    return {"accepted": bool(doc)}, 202
