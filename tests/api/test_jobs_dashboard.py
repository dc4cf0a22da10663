"""The job dashboard (SPEC §8 "admin … job dashboard"): rq-dashboard 0.9 mounted at `/jobs/`
working against the pinned rq 3 and this app's Redis, open to admins only, through a
short-lived HttpOnly, SameSite=Strict pass scoped to `/jobs`."""

from __future__ import annotations

import uuid

from rq import Queue

from server import runtime
from server.jobs_dashboard import COOKIE
from server.persistence.models import User


def _pass(client, headers) -> str:
    r = client.post("/api/jobs/session", headers=headers)
    assert r.status_code == 200, r.json
    assert r.json["url"] == "/jobs/"
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/jobs" in cookie
    assert "Max-Age=1800" in cookie
    return client.get_cookie(COOKIE, path="/jobs").value


def test_admin_sees_queues_and_jobs(app, client, make_user):
    """With the pass: the page renders and its JSON shows a job enqueued on this app's Redis
    (queue list, job list of the queue, job detail) — rq-dashboard reads rq 3's registries."""
    _, h = make_user("admin")
    _pass(client, h)
    name = f"console-test-{uuid.uuid4().hex[:6]}"
    with app.app_context():
        job = Queue(name, connection=runtime.redis_client()).enqueue("builtins.print", "hello")
    try:
        page = client.get("/jobs/")
        assert page.status_code == 200 and b"RQ" in page.data
        queues = client.get("/jobs/0/data/queues.json")
        assert queues.status_code == 200
        listed = {q["name"]: q["count"] for q in queues.json["queues"]}
        assert listed[name] == 1
        jobs = client.get(f"/jobs/0/data/jobs/{name}/queued/10/asc/1.json")
        assert jobs.status_code == 200
        assert [j["id"] for j in jobs.json["jobs"]] == [job.id]
        detail = client.get(f"/jobs/0/data/job/{job.id}.json")
        assert detail.status_code == 200 and detail.json["id"] == job.id
        assert client.get("/jobs/0/data/workers.json").status_code == 200
    finally:
        job.delete()


def test_everyone_else_is_kept_out(app, client, make_user):
    """No pass, a forged pass, a trader asking for one, and an admin demoted after getting one:
    all refused in the error shape; the SPA still serves other paths."""
    assert client.get("/jobs/").status_code == 401
    assert client.get("/jobs/0/data/queues.json").json["error"]["code"] == "unauthenticated"

    _, trader = make_user("trader")
    assert client.post("/api/jobs/session", headers=trader).status_code == 403

    client.set_cookie(COOKIE, "forged.value.here", path="/jobs")
    assert client.get("/jobs/").status_code == 401

    admin, h = make_user("admin")
    _pass(client, h)
    assert client.get("/jobs/0/data/queues.json").status_code == 200
    with app.app_context():
        User.update(role="trader").where(User.id == admin.id).execute()
    assert client.get("/jobs/0/data/queues.json").status_code == 401
    assert client.post("/jobs/job/x/delete").status_code == 401
