"""The served OpenAPI document (`GET /api/openapi.json`) and a readable index (`/api/docs`).

Built from the routes themselves: paths and methods from Flask's URL map, summaries from the
view docstrings, the required role from `require_role`, request bodies from the marshmallow
schemas named with `@accepts`. A route added anywhere is documented without a second list.
"""

from __future__ import annotations

import html
import inspect
import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, current_app, jsonify

bp = Blueprint("openapi", __name__, url_prefix="/api")

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
            },
        }
    },
}


def accepts(body=None, query=None):
    """Name the marshmallow schema of a route's JSON body and/or query string (for the docs)."""

    def decorator(view):
        view.request_schema = body
        view.query_schema = query
        return view

    return decorator


def _path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def _operation(spec: APISpec, view, rule, method: str) -> dict:
    doc = inspect.getdoc(view) or ""
    summary, _, description = doc.partition("\n")
    role = getattr(view, "required_role", None)
    op: dict = {
        "summary": summary or view.__name__.replace("_", " "),
        "tags": [rule.rule.split("/")[2]],
        "responses": {
            "default": {
                "description": "error",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
            "200": {"description": "success"},
        },
    }
    if description.strip():
        op["description"] = description.strip()
    if role is not None:
        op["security"] = [{"bearer": []}]
        op["x-required-role"] = role.value
    params = [
        {"name": arg, "in": "path", "required": True, "schema": {"type": "string"}}
        for arg in rule.arguments
    ]
    query = getattr(view, "query_schema", None)
    if query is not None:
        params.append({"in": "query", "schema": query})
    if params:
        op["parameters"] = params
    body = getattr(view, "request_schema", None)
    if body is not None and method in ("post", "put", "patch"):
        name = body.__name__.removesuffix("Schema")
        if name not in spec.components.schemas:
            spec.components.schema(name, schema=body)
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
        }
    return op


def build_spec(app: Flask) -> dict:
    spec = APISpec(
        title="DCA execution engine",
        version="0.1.0",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": "HTTP contract of API.md; money as decimal strings."},
    )
    spec.components.schema("Error", ERROR_SCHEMA)
    spec.components.security_scheme(
        "bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    paths: dict[str, dict] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith("/api"):
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            paths.setdefault(_path(rule.rule), {})[method.lower()] = _operation(
                spec, view, rule, method.lower()
            )
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


@bp.get("/openapi.json")
def openapi_json():
    """The OpenAPI 3 document describing every endpoint."""
    cached = current_app.extensions.get("engine.openapi")
    if cached is None:
        cached = current_app.extensions["engine.openapi"] = build_spec(current_app)
    return jsonify(cached)


@bp.get("/docs")
def docs():
    """A readable index of the API (no external assets: the engine runs offline)."""
    spec = build_spec(current_app)
    rows = []
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            rows.append(
                f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}"
                f"</code></td><td>{html.escape(op.get('x-required-role', 'public'))}</td>"
                f"<td>{html.escape(op['summary'])}</td></tr>"
            )
    page = (
        "<!doctype html><meta charset=utf-8><title>Engine API</title>"
        "<style>body{font:14px system-ui;margin:2em}td{padding:4px 10px;"
        "border-bottom:1px solid #ddd}</style><h1>Engine API</h1>"
        "<p>Machine-readable: <a href=/api/openapi.json>/api/openapi.json</a></p>"
        "<table><tr><th>method</th><th>path</th><th>role</th><th>what</th></tr>"
        + "".join(rows)
        + "</table>"
    )
    return page, 200, {"Content-Type": "text/html; charset=utf-8"}
