"""The served OpenAPI document describes every /api route with its role and body schema."""

from __future__ import annotations


def test_openapi_lists_every_api_route(app, client):
    """Each /api rule and method in the URL map appears in /api/openapi.json."""
    doc = client.get("/api/openapi.json").json
    assert doc["openapi"].startswith("3.")
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api"):
            continue
        path = rule.rule.replace("<int:", "<").replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in doc["paths"][path], (method, path)


def test_openapi_states_roles_and_request_schemas(client):
    """Guarded routes carry their role; bodies reference marshmallow-derived schemas."""
    doc = client.get("/api/openapi.json").json
    create = doc["paths"]["/api/accounts"]["post"]
    assert create["x-required-role"] == "trader"
    ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(schema["required"]) >= {"exchange", "api_key", "api_secret"}
    assert "x-required-role" not in doc["paths"]["/api/webhook/{user_id}"]["post"]
    assert doc["paths"]["/api/admin/users"]["get"]["x-required-role"] == "admin"


def test_docs_page_is_self_contained(client):
    """/api/docs renders without external assets (the engine runs offline)."""
    page = client.get("/api/docs").get_data(as_text=True)
    assert "/api/auth/login" in page
    assert "https://" not in page
