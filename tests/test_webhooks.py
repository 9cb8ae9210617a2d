"""Webhooks (DESIGN.md section 7, issue "Webhooks from the change stream, and the audit log").

A real receiver (tests/webhook_receiver/receiver.js) verifies every delivery with the
`standardwebhooks` npm package and with its own HMAC check of X-Webhook-Signature. The module
server allows private targets (the receiver is on loopback) and retries after 1 s, 1 s, 1 s.
"""

import base64
import json
import re
import time

import pytest

from helpers import (AUDIT_FIELDS, DELIVERY_FIELDS, WEBHOOK_FIELDS, Receiver, contact_delete,
                     member_upsert, qs, room_join, run_cli, token_for)

WS = 21
WS_OTHER = 22
OWNER, ADMIN, MEMBER, OUTSIDER = 7, 8, 9, 10
ALL_EVENTS = ["contact.created", "contact.updated", "contact.deleted"]
SCHEDULE = ["--webhook-allow-private", "--webhook-retry-schedule", "1,1,1"]
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def members(ws=WS):
    return [member_upsert(ws, OWNER, "owner"), member_upsert(ws, ADMIN, "admin"),
            member_upsert(ws, MEMBER, "member"), member_upsert(WS_OTHER, OUTSIDER, "owner")]


@pytest.fixture(scope="module")
def receiver(tmp_path_factory):
    r = Receiver(tmp_path_factory.mktemp("receiver")).start()
    try:
        yield r
    finally:
        r.stop()


@pytest.fixture(scope="module")
def server(module_server_factory):
    s = module_server_factory(extra_args=SCHEDULE)
    s.ingest_ok(members())
    return s


def create(server, receiver, path, events=None, ws=WS, user=OWNER, name=None):
    r = server.post(f"/api/workspaces/{ws}/webhooks", token=token_for(user),
                    body={"name": name or f"hook {path}", "url": receiver.url(path),
                          "events": events or ALL_EVENTS})
    assert r.status == 201, r
    hook = r.json["webhook"]
    receiver.register(path, hook["secret"])
    return hook


def deliveries(server, hook_id, ws=WS, **params):
    r = server.get(qs(f"/api/workspaces/{ws}/webhooks/{hook_id}/deliveries", **params),
                   token=token_for(OWNER))
    assert r.status == 200, r
    return r.json


def wait_deliveries(server, hook_id, predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    page = None
    while time.monotonic() < deadline:
        page = deliveries(server, hook_id, limit=100)
        if predicate(page["deliveries"]):
            return page
        time.sleep(0.1)
    raise AssertionError(f"deliveries never matched: {page}")


def unique_email(tag):
    return f"{tag}-{time.monotonic_ns()}@example.com"


# --------------------------------------------------------------------------- subscriptions

def test_create_answers_201_with_the_secret_shown_only_then(server, receiver):
    r = server.post(f"/api/workspaces/{WS}/webhooks", token=token_for(OWNER),
                    body={"name": "  CRM sync ", "url": receiver.url("/crm"),
                          "events": ["contact.deleted", "contact.created"]})
    assert r.status == 201, r
    hook = r.json["webhook"]
    assert list(r.json) == ["webhook"]
    assert set(hook) == WEBHOOK_FIELDS | {"secret"}
    assert hook["name"] == "CRM sync"
    assert hook["url"] == receiver.url("/crm")
    assert hook["events"] == ["contact.created", "contact.deleted"]
    assert hook["is_active"] is True
    assert isinstance(hook["id"], int) and isinstance(hook["created_at"], int)
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", hook["secret"])
    assert len(base64.b64decode(hook["secret"][6:])) == 32

    listed = server.get(f"/api/workspaces/{WS}/webhooks", token=token_for(ADMIN)).json["webhooks"]
    mine = [h for h in listed if h["id"] == hook["id"]]
    assert mine == [{k: v for k, v in hook.items() if k != "secret"}]
    assert all("secret" not in h for h in listed)


def test_two_webhooks_get_different_secrets(server, receiver):
    a = create(server, receiver, "/secret-a")
    b = create(server, receiver, "/secret-b")
    assert a["secret"] != b["secret"] and a["id"] != b["id"]


@pytest.mark.parametrize("body,message", [
    ({"url": "http://127.0.0.1:9/x", "events": ALL_EVENTS}, "name is required"),
    ({"name": "  ", "url": "http://127.0.0.1:9/x", "events": ALL_EVENTS}, "name is required"),
    ({"name": "n" * 101, "url": "http://127.0.0.1:9/x", "events": ALL_EVENTS}, "at most 100"),
    ({"name": "x", "events": ALL_EVENTS}, "url is required"),
    ({"name": "x", "url": "ftp://127.0.0.1/x", "events": ALL_EVENTS}, "http:// or https://"),
    ({"name": "x", "url": "127.0.0.1:9/x", "events": ALL_EVENTS}, "http:// or https://"),
    ({"name": "x", "url": "http://", "events": ALL_EVENTS}, "host"),
    ({"name": "x", "url": "http://user:pw@127.0.0.1/", "events": ALL_EVENTS}, "user info"),
    ({"name": "x", "url": "http://127.0.0.1:70000/", "events": ALL_EVENTS}, "port"),
    ({"name": "x", "url": "http://127.0.0.1:9/x"}, "events"),
    ({"name": "x", "url": "http://127.0.0.1:9/x", "events": []}, "events"),
    ({"name": "x", "url": "http://127.0.0.1:9/x", "events": "contact.created"}, "events"),
    ({"name": "x", "url": "http://127.0.0.1:9/x", "events": ["contact.merged"]}, "unknown event name; known: contact.created"),
    ({"name": "x", "url": "http://127.0.0.1:9/x", "events": [1]}, "events"),
])
def test_create_refuses_bad_bodies_with_400(server, body, message):
    r = server.post(f"/api/workspaces/{WS}/webhooks", token=token_for(OWNER), body=body)
    assert r.status == 400, r
    assert set(r.json) == {"error"} and message in r.json["error"], r.json


def test_create_refuses_a_body_that_is_not_a_json_object(server):
    for raw in (b"not json", b"[]", b"", b"[" * 100000):
        r = server.post(f"/api/workspaces/{WS}/webhooks", token=token_for(OWNER), body=raw)
        assert r.status == 400 and r.json == {"error": "Body must be a JSON object"}, r


def test_private_targets_are_refused_unless_the_operator_allows_them(server_factory):
    s = server_factory()  # no --webhook-allow-private
    s.ingest_ok(members())
    for url in ("http://127.0.0.1:9/hook", "http://localhost/hook", "http://10.1.2.3/",
                "http://172.16.0.1/", "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data",
                "http://[::1]:8080/", "http://0.0.0.0/", "https://100.64.0.1/"):
        r = s.post(f"/api/workspaces/{WS}/webhooks", token=token_for(OWNER),
                   body={"name": "x", "url": url, "events": ALL_EVENTS})
        assert r.status == 400, (url, r)
        assert "private" in r.json["error"], (url, r.json)
    r = s.post(f"/api/workspaces/{WS}/webhooks", token=token_for(OWNER),
               body={"name": "x", "url": "http://no-such-host.invalid/", "events": ALL_EVENTS})
    assert r.status == 400 and "could not be resolved" in r.json["error"], r
    assert s.get(f"/api/workspaces/{WS}/webhooks", token=token_for(OWNER)).json == {"webhooks": []}


ENDPOINTS = [("GET", "/webhooks"), ("POST", "/webhooks"), ("DELETE", "/webhooks/{id}"),
             ("GET", "/webhooks/{id}/deliveries")]


@pytest.mark.parametrize("method,suffix", ENDPOINTS)
def test_every_webhook_endpoint_is_for_owners_and_admins(server, receiver, method, suffix):
    hook = create(server, receiver, "/authz")
    path = f"/api/workspaces/{WS}" + suffix.format(id=hook["id"])
    body = {"name": "x", "url": receiver.url("/authz2"), "events": ALL_EVENTS} if method == "POST" else None
    r = server.request(method, path, body=body)
    assert r.status == 401 and r.json == {"error": "Authentication required"}, r
    r = server.request(method, path, token="garbage", body=body)
    assert r.status == 401 and r.json == {"error": "Invalid token"}, r
    r = server.request(method, path, token=token_for(MEMBER), body=body)
    assert r.status == 403 and r.json == {"error": "Only owners and admins can manage webhooks"}, r
    r = server.request(method, path, token=token_for(OUTSIDER), body=body)  # owner elsewhere
    assert r.status == 403 and r.json == {"error": "Not a member of this workspace"}, r
    r = server.request(method, path, token=token_for(ADMIN), body=body)
    assert r.status in (200, 201), r


def test_a_workspace_sees_only_its_own_webhooks(server, receiver):
    hook = create(server, receiver, "/mine")
    r = server.post(f"/api/workspaces/{WS_OTHER}/webhooks", token=token_for(OUTSIDER),
                    body={"name": "theirs", "url": receiver.url("/theirs"), "events": ALL_EVENTS})
    assert r.status == 201
    theirs = r.json["webhook"]
    ours = server.get(f"/api/workspaces/{WS}/webhooks", token=token_for(OWNER)).json["webhooks"]
    assert hook["id"] in [h["id"] for h in ours] and theirs["id"] not in [h["id"] for h in ours]
    # Another workspace's webhook id is not found here.
    r = server.delete(f"/api/workspaces/{WS}/webhooks/{theirs['id']}", token=token_for(OWNER))
    assert r.status == 404 and r.json == {"error": "Webhook not found"}
    r = server.get(f"/api/workspaces/{WS}/webhooks/{theirs['id']}/deliveries", token=token_for(OWNER))
    assert r.status == 404 and r.json == {"error": "Webhook not found"}


def test_delete_removes_the_webhook_and_is_audited(server, receiver):
    hook = create(server, receiver, "/to-delete", events=["contact.deleted"], user=ADMIN, name="Doomed")
    r = server.delete(f"/api/workspaces/{WS}/webhooks/{hook['id']}", token=token_for(OWNER))
    assert r.status == 200 and r.json == {"ok": True}
    listed = server.get(f"/api/workspaces/{WS}/webhooks", token=token_for(OWNER)).json["webhooks"]
    assert hook["id"] not in [h["id"] for h in listed]
    for method, suffix in (("DELETE", ""), ("GET", "/deliveries")):
        r = server.request(method, f"/api/workspaces/{WS}/webhooks/{hook['id']}{suffix}", token=token_for(OWNER))
        assert r.status == 404 and r.json == {"error": "Webhook not found"}, r
    for bad in ("abc", "0", "-1", "99999999999"):
        r = server.delete(f"/api/workspaces/{WS}/webhooks/{bad}", token=token_for(OWNER))
        assert r.status == 404, (bad, r)

    entries = server.get(qs(f"/api/workspaces/{WS}/audit-log", limit=100), token=token_for(OWNER)).json["entries"]
    created = [e for e in entries if e["action"] == "webhook.create" and e["target_id"] == hook["id"]]
    deleted = [e for e in entries if e["action"] == "webhook.delete" and e["target_id"] == hook["id"]]
    assert len(created) == 1 and len(deleted) == 1
    c, d = created[0], deleted[0]
    assert set(c) == AUDIT_FIELDS and set(d) == AUDIT_FIELDS
    assert c["actor"] == {"user_id": ADMIN} and d["actor"] == {"user_id": OWNER}
    assert c["target_type"] == "webhook" and d["target_type"] == "webhook"
    assert c["details"] == {"name": "Doomed", "url": receiver.url("/to-delete"), "events": ["contact.deleted"]}
    assert d["details"] == {"name": "Doomed", "url": receiver.url("/to-delete")}
    assert c["id"] == hook["id"] and c["created_at"] == hook["created_at"]
    assert d["id"] > c["id"] and d["created_at"] >= c["created_at"]
    # Newest first.
    assert entries.index(d) < entries.index(c)


def test_ingest_refuses_webhook_commands(server):
    cmd = {"type": "webhook_create", "command_id": "wh-x", "workspace_id": WS, "name": "x",
           "url": "http://127.0.0.1:9/", "events": ALL_EVENTS, "secret": "whsec_" + "A" * 43 + "="}
    r = server.ingest([cmd])
    assert r.status == 400, r
    assert r.json["errors"] == [{"line": 1, "reason": "webhook commands come from the API, not from producers"}]


# --------------------------------------------------------------------------- deliveries

def test_created_updated_deleted_arrive_signed_in_the_documented_format(server, receiver):
    hook = create(server, receiver, "/all")
    email = unique_email("signed")
    server.ingest_ok([room_join(WS, "Alice Martin", email.upper(), occurred_at=1711500000)])
    server.ingest_ok([room_join(WS, "Alice M.", email, occurred_at=1711500100)])
    contact = [c for c in server.list_all(WS, token_for(OWNER)) if c["email"] == email][0]
    r = server.delete(f"/api/workspaces/{WS}/contacts/{contact['id']}", token=token_for(OWNER))
    assert r.status == 200

    got = receiver.wait_for(lambda g: len(g) >= 3, path="/all")
    assert len(got) == 3, got
    assert [g["event"] for g in got] == ALL_EVENTS or sorted(g["event"] for g in got) == sorted(ALL_EVENTS)
    by_event = {g["event"]: g for g in got}
    expected_data = {
        "contact.created": {"id": contact["id"], "name": "Alice Martin", "email": email},
        "contact.updated": {"id": contact["id"], "name": "Alice M.", "email": email},
        "contact.deleted": {"id": contact["id"], "name": "Alice M.", "email": email},
    }
    for event, g in by_event.items():
        assert g["standard_ok"] is True, g
        assert g["hmac_ok"] is True, g
        assert g["content_type"] == "application/json"
        assert g["x_event"] == event
        body = json.loads(g["body"])
        assert list(body) == ["event", "timestamp", "data"]
        assert list(body["data"]) == ["id", "name", "email"]
        assert body["event"] == event and body["data"] == expected_data[event]
        assert ISO_MS.match(body["timestamp"]) and g["x_timestamp"] == body["timestamp"]
        assert re.fullmatch(r"msg_\d+", g["id"])
    assert by_event["contact.created"]["x_timestamp"] == "2024-03-27T00:40:00.000Z"
    assert len({g["id"] for g in got}) == 3
    # The raw body is compact JSON, exactly as signed.
    assert by_event["contact.created"]["body"] == json.dumps(
        {"event": "contact.created", "timestamp": "2024-03-27T00:40:00.000Z",
         "data": expected_data["contact.created"]}, separators=(",", ":"))

    page = wait_deliveries(server, hook["id"], lambda ds: len(ds) == 3 and all(d["state"] == "succeeded" for d in ds))
    for d in page["deliveries"]:
        assert set(d) == DELIVERY_FIELDS
        assert d["attempts"] == 1 and d["last_status_code"] == 200 and d["last_error"] is None
        assert d["next_attempt_at"] is None and isinstance(d["last_attempt_at"], int)
    assert {d["message_id"] for d in page["deliveries"]} == {g["id"] for g in got}
    assert page["total"] == 3 and page["page"] == 1 and page["limit"] == 100


def test_a_subscription_gets_only_its_events(server, receiver):
    create(server, receiver, "/deleted-only", events=["contact.deleted"])
    create(server, receiver, "/created-only", events=["contact.created"])
    email = unique_email("filter")
    server.ingest_ok([room_join(WS, "Filter", email), room_join(WS, "Filter", email, occurred_at=1711500500)])
    contact = [c for c in server.list_all(WS, token_for(OWNER)) if c["email"] == email][0]
    server.ingest_ok([contact_delete(WS, contact["id"])])
    deleted = receiver.wait_for(lambda g: any(json.loads(x["body"])["data"]["email"] == email for x in g),
                                path="/deleted-only")
    created = receiver.wait_for(lambda g: any(json.loads(x["body"])["data"]["email"] == email for x in g),
                                path="/created-only")
    time.sleep(1.0)  # anything else would have arrived by now
    mine = lambda g: [x for x in g if json.loads(x["body"])["data"]["email"] == email]  # noqa: E731
    assert [x["event"] for x in mine(receiver.received("/deleted-only"))] == ["contact.deleted"]
    assert [x["event"] for x in mine(receiver.received("/created-only"))] == ["contact.created"]
    assert deleted and created


def test_a_delete_straight_through_the_log_fires_contact_deleted(server, receiver):
    create(server, receiver, "/log-delete", events=["contact.deleted"])
    email = unique_email("logdel")
    server.ingest_ok([room_join(WS, "Through Log", email)])
    contact = [c for c in server.list_all(WS, token_for(OWNER)) if c["email"] == email][0]
    server.ingest_ok([contact_delete(WS, contact["id"], actor={"user_id": OWNER})])
    got = receiver.wait_for(lambda g: len(g) >= 1, path="/log-delete")
    assert json.loads(got[0]["body"])["data"] == {"id": contact["id"], "name": "Through Log", "email": email}
    assert got[0]["standard_ok"] and got[0]["hmac_ok"]


def test_a_webhook_created_after_a_change_does_not_receive_it(server, receiver):
    email = unique_email("before")
    server.ingest_ok([room_join(WS, "Before Hook", email)])
    create(server, receiver, "/late")
    later = unique_email("after")
    server.ingest_ok([room_join(WS, "After Hook", later)])
    got = receiver.wait_for(lambda g: len(g) >= 1, path="/late")
    time.sleep(0.5)
    emails = [json.loads(x["body"])["data"]["email"] for x in receiver.received("/late")]
    assert later in emails and email not in emails


def test_retries_carry_the_same_id_until_a_2xx(server, receiver):
    receiver.configure(fail_first={"/flaky": 2})
    hook = create(server, receiver, "/flaky", events=["contact.created"])
    server.ingest_ok([room_join(WS, "Flaky", unique_email("flaky"))])
    got = receiver.wait_for(lambda g: len(g) >= 3, path="/flaky", timeout=30)
    assert [g["answered"] for g in got] == [500, 500, 200]
    assert len({g["id"] for g in got}) == 1 and len({g["body"] for g in got}) == 1
    assert all(g["standard_ok"] and g["hmac_ok"] for g in got)
    page = wait_deliveries(server, hook["id"], lambda ds: ds and ds[0]["state"] == "succeeded")
    d = page["deliveries"][0]
    assert d["attempts"] == 3 and d["last_status_code"] == 200 and d["message_id"] == got[0]["id"]
    time.sleep(1.5)
    assert len(receiver.received("/flaky")) == 3  # nothing after the success


def test_a_delivery_is_marked_failed_after_the_last_attempt(server, receiver):
    receiver.configure(fail_first={"/down": 1000})
    hook = create(server, receiver, "/down", events=["contact.created"])
    server.ingest_ok([room_join(WS, "Down", unique_email("down"))])
    # The first attempt, then one retry per entry of the schedule (1,1,1).
    page = wait_deliveries(server, hook["id"], lambda ds: ds and ds[0]["state"] != "pending", timeout=30)
    d = page["deliveries"][0]
    assert d["state"] == "failed" and d["attempts"] == 4
    assert d["last_status_code"] == 500 and d["last_error"] == "HTTP 500" and d["next_attempt_at"] is None
    assert len(receiver.received("/down")) == 4
    receiver.configure()


def test_a_pending_retry_shows_its_next_attempt(server_factory, receiver):
    s = server_factory(extra_args=["--webhook-allow-private", "--webhook-retry-schedule", "600"])
    s.ingest_ok(members())
    receiver.configure(fail_first={"/later": 1})
    hook = create(s, receiver, "/later", events=["contact.created"])
    s.ingest_ok([room_join(WS, "Later", unique_email("later"))])
    page = wait_deliveries(s, hook["id"], lambda ds: ds and ds[0]["attempts"] == 1)
    d = page["deliveries"][0]
    assert d["state"] == "pending" and d["last_status_code"] == 500
    assert 590 <= d["next_attempt_at"] - d["last_attempt_at"] <= 601
    receiver.configure()


def test_an_unreachable_endpoint_is_retried(server, receiver):
    r = server.post(f"/api/workspaces/{WS}/webhooks", token=token_for(OWNER),
                    body={"name": "nobody", "url": "http://127.0.0.1:1/", "events": ["contact.created"]})
    assert r.status == 201
    hook = r.json["webhook"]
    server.ingest_ok([room_join(WS, "Nobody Home", unique_email("nobody"))])
    page = wait_deliveries(server, hook["id"], lambda ds: ds and ds[0]["attempts"] >= 1)
    d = page["deliveries"][0]
    assert d["last_status_code"] is None and d["last_error"]  # connection refused
    server.delete(f"/api/workspaces/{WS}/webhooks/{hook['id']}", token=token_for(OWNER))


def test_one_slow_endpoint_does_not_delay_another(server, receiver):
    receiver.configure(delay_ms={"/slow": 8000})
    create(server, receiver, "/slow", events=["contact.created"])
    create(server, receiver, "/fast", events=["contact.created"])
    emails = [unique_email(f"speed{i}") for i in range(12)]
    start = time.monotonic()
    server.ingest_ok([room_join(WS, f"Speed {i}", e) for i, e in enumerate(emails)])
    fast = receiver.wait_for(
        lambda g: {json.loads(x["body"])["data"]["email"] for x in g} >= set(emails), path="/fast", timeout=20)
    assert fast
    # Every fast delivery arrived while the slow endpoint still held its first requests.
    assert time.monotonic() - start < 8.0
    assert receiver.received("/slow") == []
    receiver.configure()


def test_deliveries_are_paginated_newest_first(server, receiver):
    hook = create(server, receiver, "/paged", events=["contact.created"])
    server.ingest_ok([room_join(WS, f"Paged {i}", unique_email(f"paged{i}")) for i in range(7)])
    wait_deliveries(server, hook["id"], lambda ds: len(ds) == 7 and all(d["state"] == "succeeded" for d in ds))
    whole = deliveries(server, hook["id"], limit=100)["deliveries"]
    numbers = [int(d["message_id"][4:]) for d in whole]
    assert numbers == sorted(numbers, reverse=True)
    p1 = deliveries(server, hook["id"], page=1, limit=3)
    p3 = deliveries(server, hook["id"], page=3, limit=3)
    assert p1["total"] == 7 and p1["page"] == 1 and p1["limit"] == 3
    assert p1["deliveries"] == whole[:3] and p3["deliveries"] == whole[6:]
    assert deliveries(server, hook["id"], page=4, limit=3)["deliveries"] == []


# --------------------------------------------------------------------------- crashes, restarts, rebuilds

def _ids_answered(receiver, path, status):
    return {g["id"] for g in receiver.received(path) if g["answered"] == status}


@pytest.mark.slow
def test_nothing_is_lost_or_resent_across_kill9_and_rebuild(server_factory, receiver):
    s = server_factory(extra_args=["--webhook-allow-private", "--webhook-retry-schedule", "3,3"])
    s.ingest_ok(members())
    path = "/crash"
    receiver.configure(fail_first={path: 1})  # every first attempt fails
    hook = create(s, receiver, path, events=["contact.created", "contact.deleted"])
    n = 25
    s.ingest_ok([room_join(WS, f"Crash {i}", unique_email(f"crash{i}")) for i in range(n)])
    # All first attempts were answered 500; kill -9 before the retries (3 s later) run.
    receiver.wait_for(lambda g: len({x["id"] for x in g}) == n, path=path, timeout=20)
    s.kill9()
    first_ids = {g["id"] for g in receiver.received(path)}
    assert len(first_ids) == n

    s.start()
    got = receiver.wait_for(lambda g: _ids_answered(receiver, path, 200) == first_ids, path=path, timeout=30)
    for g in got:
        assert g["standard_ok"] and g["hmac_ok"], g
    per_id = {}
    for g in receiver.received(path):
        per_id.setdefault(g["id"], set()).add(g["body"])
    assert all(len(bodies) == 1 for bodies in per_id.values())  # retries send the same bytes
    wait_deliveries(s, hook["id"], lambda ds: len(ds) == n and all(d["state"] == "succeeded" for d in ds))

    # kill -9 once everything succeeded: the views fold again from their last flush and queue
    # the same changes; the dispatcher's records keep it from sending them again.
    before = len(receiver.received(path))
    s.kill9()
    s.start()
    s.wait_ready()
    time.sleep(2.0)
    assert len(receiver.received(path)) == before

    # A rebuild replays every position: no delivery again, the webhook is still there, and a
    # new change is still delivered.
    assert s.stop() == 0
    proc = run_cli("rebuild", "--data", s.data_dir, "--partitions", s.partitions, *s.log_args())
    assert proc.returncode == 0, proc.stderr
    s.start()
    s.wait_ready()
    time.sleep(2.0)
    assert len(receiver.received(path)) == before
    listed = s.get(f"/api/workspaces/{WS}/webhooks", token=token_for(OWNER)).json["webhooks"]
    assert [h["id"] for h in listed] == [hook["id"]]
    receiver.configure()
    email = unique_email("after-rebuild")
    s.ingest_ok([room_join(WS, "After Rebuild", email)])
    receiver.wait_for(lambda g: any(json.loads(x["body"])["data"]["email"] == email for x in g), path=path)
    assert len(receiver.received(path)) == before + 1


def test_deleting_a_webhook_stops_its_retries(server, receiver):
    receiver.configure(fail_first={"/cancel": 1000})
    hook = create(server, receiver, "/cancel", events=["contact.created"])
    server.ingest_ok([room_join(WS, "Cancel", unique_email("cancel"))])
    receiver.wait_for(lambda g: len(g) >= 1, path="/cancel")
    r = server.delete(f"/api/workspaces/{WS}/webhooks/{hook['id']}", token=token_for(OWNER))
    assert r.status == 200
    seen = len(receiver.received("/cancel"))
    time.sleep(2.5)  # past the 1 s retries
    assert len(receiver.received("/cancel")) == seen
    receiver.configure()


def test_metrics_count_webhook_attempts_and_outcomes(server):
    text = server.get("/metrics").body.decode()
    values = {}
    for line in text.splitlines():
        if line.startswith("contacts_webhook"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    assert values["contacts_webhook_attempts_total"] > 0
    assert values['contacts_webhook_deliveries_total{result="succeeded"}'] > 0
    assert values['contacts_webhook_deliveries_total{result="failed"}'] >= 1  # test of /down
    assert values["contacts_webhook_retries_scheduled_total"] > 0
    assert "contacts_webhook_in_flight" in values


class _TlsReceiver:
    """An HTTPS server on 127.0.0.1 with a certificate for 127.0.0.1 signed by `ca` (or
    self-signed when `ca` is None); counts the POSTs it gets."""

    def __init__(self, tmp_path, ca=None, san="IP:127.0.0.1"):
        import http.server
        import ssl
        import subprocess
        import threading

        tmp_path = tmp_path / san.replace(":", "-")
        tmp_path.mkdir(exist_ok=True)
        key, cert = tmp_path / "tls-key.pem", tmp_path / "tls-cert.pem"
        if ca is None:
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                            "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                            "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
        else:
            ca_key, ca_cert = ca
            csr, ext = tmp_path / "tls.csr", tmp_path / "tls.ext"
            ext.write_text(f"subjectAltName={san}\n")
            subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
                            "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
            subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
                            "-CAcreateserial", "-out", str(cert), "-days", "1", "-extfile", str(ext)],
                           check=True, capture_output=True)
        hits = self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                hits.append((self.path, self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


def _make_ca(tmp_path):
    import subprocess
    ca_key, ca_cert = tmp_path / "ca-key.pem", tmp_path / "ca-cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key),
                    "-out", str(ca_cert), "-days", "1", "-subj", "/CN=contacts test CA"],
                   check=True, capture_output=True)
    return ca_key, ca_cert


def test_https_targets_must_present_a_certificate_we_trust(server, tmp_path):
    tls = _TlsReceiver(tmp_path)  # self-signed: no CA we trust signed it
    try:
        r = server.post(f"/api/workspaces/{WS}/webhooks", token=token_for(OWNER),
                        body={"name": "self-signed", "url": f"https://127.0.0.1:{tls.port}/tls",
                              "events": ["contact.created"]})
        assert r.status == 201, r
        hook = r.json["webhook"]
        server.ingest_ok([room_join(WS, "TLS", unique_email("tls"))])
        page = wait_deliveries(server, hook["id"], lambda ds: ds and ds[0]["attempts"] >= 1)
        d = page["deliveries"][0]
        assert d["state"] == "pending" and d["last_status_code"] is None
        assert "certificate" in d["last_error"], d
        assert tls.hits == []  # the request itself was never sent
        server.delete(f"/api/workspaces/{WS}/webhooks/{hook['id']}", token=token_for(OWNER))
    finally:
        tls.close()


def test_https_delivery_to_a_certificate_signed_by_a_trusted_ca(server_factory, tmp_path):
    ca = _make_ca(tmp_path)
    tls = _TlsReceiver(tmp_path, ca=ca)
    # OpenSSL's default verify paths honour SSL_CERT_FILE: the server trusts our test CA only.
    s = server_factory(extra_args=SCHEDULE, env={"SSL_CERT_FILE": str(ca[1])})
    try:
        s.ingest_ok(members())
        r = s.post(f"/api/workspaces/{WS}/webhooks", token=token_for(OWNER),
                   body={"name": "tls", "url": f"https://127.0.0.1:{tls.port}/ok", "events": ["contact.created"]})
        assert r.status == 201, r
        hook = r.json["webhook"]
        s.ingest_ok([room_join(WS, "Over TLS", "tls-ok@example.com")])
        page = wait_deliveries(s, hook["id"], lambda ds: ds and ds[0]["state"] == "succeeded")
        assert page["deliveries"][0]["last_status_code"] == 204
        assert len(tls.hits) == 1 and tls.hits[0][0] == "/ok"
        assert json.loads(tls.hits[0][1])["data"]["email"] == "tls-ok@example.com"

        # Signed by the trusted CA, but for another address: the host name check refuses it.
        other = _TlsReceiver(tmp_path, ca=ca, san="IP:127.0.0.2")
        try:
            r = s.post(f"/api/workspaces/{WS}/webhooks", token=token_for(OWNER),
                       body={"name": "wrong name", "url": f"https://127.0.0.1:{other.port}/no",
                             "events": ["contact.created"]})
            assert r.status == 201, r
            wrong = r.json["webhook"]
            s.ingest_ok([room_join(WS, "Wrong Name", "tls-wrong@example.com")])
            page = wait_deliveries(s, wrong["id"], lambda ds: ds and ds[0]["attempts"] >= 1)
            d = page["deliveries"][0]
            assert d["state"] == "pending" and "certificate" in d["last_error"], d
            assert other.hits == []
        finally:
            other.close()
    finally:
        tls.close()


def test_sigterm_lets_an_attempt_in_flight_finish_and_records_it(server_factory, receiver):
    s = server_factory(extra_args=SCHEDULE)
    s.ingest_ok(members())
    receiver.configure(delay_ms={"/term": 2500})
    hook = create(s, receiver, "/term", events=["contact.created"])
    s.ingest_ok([room_join(WS, "Term", unique_email("term"))])
    deadline = time.monotonic() + 10
    while "contacts_webhook_in_flight 1" not in s.get("/metrics").body.decode():
        assert time.monotonic() < deadline, "the attempt never started"
        time.sleep(0.05)
    assert s.stop() == 0
    got = receiver.received("/term")
    assert len(got) == 1 and got[0]["answered"] == 200
    receiver.configure()
    s.start()
    page = wait_deliveries(s, hook["id"], lambda ds: len(ds) == 1)
    assert page["deliveries"][0]["state"] == "succeeded" and page["deliveries"][0]["attempts"] == 1
    time.sleep(1.5)
    assert len(receiver.received("/term")) == 1


@pytest.mark.slow
def test_an_answer_slower_than_10_seconds_is_a_failed_attempt(server, receiver):
    receiver.configure(delay_ms={"/sleepy": 12000})
    hook = create(server, receiver, "/sleepy", events=["contact.created"])
    server.ingest_ok([room_join(WS, "Sleepy", unique_email("sleepy"))])
    started = time.monotonic()
    page = wait_deliveries(server, hook["id"], lambda ds: ds and ds[0]["attempts"] >= 1, timeout=20)
    elapsed = time.monotonic() - started
    d = page["deliveries"][0]
    assert d["state"] == "pending" and d["last_error"] == "timed out" and d["last_status_code"] is None
    assert 9.0 <= elapsed <= 16.0, elapsed  # the 10 s timeout, not earlier
    receiver.configure()  # the retry, a second later, is answered at once
    page = wait_deliveries(server, hook["id"], lambda ds: ds and ds[0]["state"] == "succeeded", timeout=20)
    assert page["deliveries"][0]["attempts"] == 2
    server.delete(f"/api/workspaces/{WS}/webhooks/{hook['id']}", token=token_for(OWNER))
