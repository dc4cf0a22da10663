"""Small helpers shared by API tests."""

from __future__ import annotations

GOOD_PASSWORD = "Passw0rd-ok"


def register(client, name: str, password: str = GOOD_PASSWORD):
    return client.post(
        "/api/auth/register",
        json={"email": f"{name}@example.com", "username": name, "password": password},
    )


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}
