"""Webhook operations (issue "Operate it", item 7): pause and resume, secret rotation, a test
event and redelivery, each owner/admin only and in the audit log.

The real receiver (tests/webhook_receiver/receiver.js) verifies every delivery with the
`standardwebhooks` npm package against the secret registered for its path, and records the
webhook-signature header, whose signatures these tests also check one by one.
"""

import base64
import calendar
import hashlib
import hmac
import json
import re
import time

import pytest

from helpers import (AUDIT_FIELDS, BROKERS, DELIVERY_FIELDS, WEBHOOK_FIELDS, Receiver,
                     contact_delete, member_upsert, produce, qs, room_join, token_for, wait_for)
from test_webhooks import (ADMIN, ALL_EVENTS, ISO_MS, MEMBER, OWNER, SCHEDULE, WS, create,
                           deliveries, members, unique_email, wait_deliveries)

SECRET = re.compile(r"^whsec_[A-Za-z0-9+/]{43}=$")


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


def hook_path(hook_id, suffix=""):
    return f"/api/workspaces/{WS}/webhooks/{hook_id}{suffix}"


def patch(server, hook_id, body, user=OWNER):
    return server.request("PATCH", hook_path(hook_id), token=token_for(user), body=body)


def audit(server, action, target_id):
    entries = server.get(qs(f"/api/workspaces/{WS}/audit-log", limit=100),
                         token=token_for(OWNER)).json["entries"]
    return [e for e in entries if e["action"] == action and e["target_id"] == target_id]


def signatures_valid(got, secret):
    """Which of the space-separated v1 signatures of a received delivery `secret` made."""
    key = base64.b64decode(secret[len("whsec_"):])
    signed = f"{got['id']}.{got['timestamp']}.{got['body']}".encode()
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return [sig == expected for sig in got["signature"].split(" ")]


def contact_of(server, email):
    return [c for c in server.list_all(WS, token_for(OWNER)) if c["email"] == email][0]


# --------------------------------------------------------------------------- pause and resume

def test_a_paused_webhook_queues_its_deliveries_and_sends_them_in_order_on_resume(server, receiver):
    hook = create(server, receiver, "/paused", events=["contact.created"])
    r = patch(server, hook["id"], {"is_active": False})
    assert r.status == 200, r
    assert list(r.json) == ["webhook"] and set(r.json["webhook"]) == WEBHOOK_FIELDS
    assert r.json["webhook"]["is_active"] is False and r.json["webhook"]["id"] == hook["id"]
    listed = server.get(f"/api/workspaces/{WS}/webhooks", token=token_for(OWNER)).json["webhooks"]
    assert [h["is_active"] for h in listed if h["id"] == hook["id"]] == [False]

    emails = [unique_email(f"paused{i}") for i in range(3)]
    server.ingest_ok([room_join(WS, f"Paused {i}", e) for i, e in enumerate(emails)])
    page = wait_deliveries(server, hook["id"], lambda ds: len(ds) == 3)
    time.sleep(1.5)  # a retry (1 s) would have been attempted by now
    page = deliveries(server, hook["id"], limit=100)
    for d in page["deliveries"]:
        assert d["state"] == "pending" and d["attempts"] == 0, d
        assert d["next_attempt_at"] is None and d["last_attempt_at"] is None, d
    assert receiver.received("/paused") == []

    r = patch(server, hook["id"], {"is_active": True})
    assert r.status == 200 and r.json["webhook"]["is_active"] is True, r
    got = receiver.wait_for(lambda g: len(g) >= 3, path="/paused")
    assert [json.loads(g["body"])["data"]["email"] for g in got] == emails  # in order
    assert all(g["standard_ok"] and g["hmac_ok"] for g in got)
    wait_deliveries(server, hook["id"],
                    lambda ds: all(d["state"] == "succeeded" and d["attempts"] == 1 for d in ds))

    paused, resumed = audit(server, "webhook.pause", hook["id"]), audit(server, "webhook.resume", hook["id"])
    assert len(paused) == 1 and len(resumed) == 1
    assert set(paused[0]) == AUDIT_FIELDS and paused[0]["actor"] == {"user_id": OWNER}
    assert paused[0]["target_type"] == "webhook" and paused[0]["details"] == {"name": hook["name"]}


@pytest.mark.parametrize("body", [{}, {"is_active": "false"}, {"is_active": 0}, {"is_active": None},
                                  {"is_active": True, "name": "renamed"}, {"name": "renamed"},
                                  [True], "not json", ""])
def test_patch_takes_only_a_boolean_is_active(server, receiver, body):
    hook = create(server, receiver, "/patch-400")
    raw = body if isinstance(body, str) else json.dumps(body)
    r = server.request("PATCH", hook_path(hook["id"]), token=token_for(OWNER), body=raw.encode(),
                       headers={"Content-Type": "application/json"})
    assert r.status == 400 and set(r.json) == {"error"}, r
    assert audit(server, "webhook.pause", hook["id"]) == []


# --------------------------------------------------------------------------- secret rotation

def test_a_rotated_secret_signs_beside_the_old_one_for_the_overlap_and_alone_after(server, receiver):
    hook = create(server, receiver, "/rotated", events=["contact.deleted"])
    before = time.time()
    r = server.post(hook_path(hook["id"], "/rotate-secret"), body={"overlap_seconds": 3600},
                    token=token_for(ADMIN))
    assert r.status == 200, r
    assert list(r.json) == ["webhook", "previous_secret_expires_at"]
    rotated = r.json["webhook"]
    assert set(rotated) == WEBHOOK_FIELDS | {"secret"} and SECRET.match(rotated["secret"])
    assert rotated["secret"] != hook["secret"] and rotated["id"] == hook["id"]
    expires = r.json["previous_secret_expires_at"]
    assert ISO_MS.match(expires)
    expires_unix = calendar.timegm(time.strptime(expires[:19], "%Y-%m-%dT%H:%M:%S"))
    assert before + 3600 - 2 <= expires_unix <= time.time() + 3600 + 1
    listed = server.get(f"/api/workspaces/{WS}/webhooks", token=token_for(OWNER)).json["webhooks"]
    assert all("secret" not in h for h in listed)

    # A receiver still on the old secret verifies deliveries by their second signature.
    assert server.post(hook_path(hook["id"], "/test"), token=token_for(OWNER)).status == 202
    got = receiver.wait_for(lambda g: len(g) >= 1, path="/rotated")[0]
    assert got["standard_ok"] is True and got["hmac_ok"] is False  # X-Webhook-Signature: new
    assert signatures_valid(got, rotated["secret"]) == [True, False]
    assert signatures_valid(got, hook["secret"]) == [False, True]

    # With no overlap, the secret it replaces (the first rotation's) no longer signs.
    r = server.post(hook_path(hook["id"], "/rotate-secret"), body={"overlap_seconds": 0},
                    token=token_for(OWNER))
    assert r.status == 200, r
    third = r.json["webhook"]["secret"]
    receiver.register("/rotated", third)
    assert server.post(hook_path(hook["id"], "/test"), token=token_for(OWNER)).status == 202
    got = receiver.wait_for(lambda g: len(g) >= 2, path="/rotated")[1]
    assert got["standard_ok"] is True and got["hmac_ok"] is True
    assert signatures_valid(got, third) == [True]

    entries = audit(server, "webhook.rotate_secret", hook["id"])
    assert len(entries) == 2
    assert entries[1]["actor"] == {"user_id": ADMIN} and entries[0]["actor"] == {"user_id": OWNER}
    assert [e["details"]["overlap_seconds"] for e in entries] == [0, 3600]
    assert "whsec_" not in json.dumps(entries)


def test_rotation_without_a_body_keeps_the_old_secret_for_a_day(server, receiver):
    hook = create(server, receiver, "/rotate-default")
    r = server.post(hook_path(hook["id"], "/rotate-secret"), token=token_for(OWNER))
    assert r.status == 200, r
    expires = r.json["previous_secret_expires_at"]
    expires_unix = calendar.timegm(time.strptime(expires[:19], "%Y-%m-%dT%H:%M:%S"))
    assert abs(expires_unix - (time.time() + 86400)) < 5


@pytest.mark.parametrize("body", [{"overlap_seconds": -1}, {"overlap_seconds": 604801},
                                  {"overlap_seconds": "60"}, {"overlap_seconds": 1.5},
                                  {"overlap_seconds": True}, {"overlap_seconds": None},
                                  {"overlap": 60}, [], "not json"])
def test_rotation_refuses_a_bad_overlap(server, receiver, body):
    hook = create(server, receiver, "/rotate-400")
    raw = body if isinstance(body, str) else json.dumps(body)
    r = server.post(hook_path(hook["id"], "/rotate-secret"), body=raw.encode(), token=token_for(OWNER),
                    headers={"Content-Type": "application/json"})
    assert r.status == 400 and set(r.json) == {"error"}, r
    assert audit(server, "webhook.rotate_secret", hook["id"]) == []


def test_the_longest_overlap_is_a_week(server, receiver):
    hook = create(server, receiver, "/rotate-week")
    r = server.post(hook_path(hook["id"], "/rotate-secret"), body={"overlap_seconds": 604800},
                    token=token_for(OWNER))
    assert r.status == 200, r


# --------------------------------------------------------------------------- test event

def test_a_test_event_goes_to_any_subscription_signed_and_is_listed(server, receiver):
    hook = create(server, receiver, "/test-event", events=["contact.deleted"])
    r = server.post(hook_path(hook["id"], "/test"), token=token_for(ADMIN))
    assert r.status == 202, r
    assert list(r.json) == ["delivery"]
    d = r.json["delivery"]
    assert set(d) == DELIVERY_FIELDS
    assert d["event"] == "webhook.test" and d["state"] == "pending" and d["attempts"] == 0
    assert re.fullmatch(r"msg_\d+", d["message_id"])

    got = receiver.wait_for(lambda g: len(g) >= 1, path="/test-event")
    assert len(got) == 1 and got[0]["id"] == d["message_id"]
    assert got[0]["standard_ok"] and got[0]["hmac_ok"] and got[0]["x_event"] == "webhook.test"
    body = json.loads(got[0]["body"])
    assert body == {"event": "webhook.test", "timestamp": body["timestamp"],
                    "data": {"webhook_id": hook["id"]}}
    assert ISO_MS.match(body["timestamp"])
    page = wait_deliveries(server, hook["id"], lambda ds: ds and ds[0]["state"] == "succeeded")
    assert page["deliveries"][0]["message_id"] == d["message_id"]
    assert {k: v for k, v in page["deliveries"][0].items() if k in ("event", "created_at")} == \
        {"event": "webhook.test", "created_at": d["created_at"]}

    entries = audit(server, "webhook.test", hook["id"])
    assert len(entries) == 1 and entries[0]["actor"] == {"user_id": ADMIN}
    assert entries[0]["details"] == {"message_id": d["message_id"]}


def test_a_test_event_to_a_paused_webhook_waits_for_the_resume(server, receiver):
    hook = create(server, receiver, "/test-paused")
    assert patch(server, hook["id"], {"is_active": False}).status == 200
    d = server.post(hook_path(hook["id"], "/test"), token=token_for(OWNER)).json["delivery"]
    time.sleep(1.0)
    assert receiver.received("/test-paused") == []
    assert deliveries(server, hook["id"])["deliveries"][0]["state"] == "pending"
    assert patch(server, hook["id"], {"is_active": True}).status == 200
    got = receiver.wait_for(lambda g: len(g) >= 1, path="/test-paused")
    assert got[0]["id"] == d["message_id"]


# --------------------------------------------------------------------------- redelivery

def test_a_redelivery_sends_the_same_body_with_the_same_webhook_id(server, receiver):
    receiver.configure(fail_first={"/redeliver": 4})  # the first delivery fails for good
    hook = create(server, receiver, "/redeliver", events=["contact.created"])
    email = unique_email("redeliver")
    server.ingest_ok([room_join(WS, "Again", email)])
    page = wait_deliveries(server, hook["id"], lambda ds: ds and ds[0]["state"] == "failed")
    failed = page["deliveries"][0]
    assert failed["attempts"] == 4

    r = server.post(hook_path(hook["id"], f"/deliveries/{failed['message_id']}/redeliver"),
                    token=token_for(OWNER))
    assert r.status == 202, r
    d = r.json["delivery"]
    assert set(d) == DELIVERY_FIELDS and d["message_id"] == failed["message_id"]
    assert d["state"] == "pending" and d["attempts"] == 0 and d["last_error"] is None
    got = receiver.wait_for(lambda g: len(g) >= 5, path="/redeliver")
    assert len({g["id"] for g in got}) == 1 and len({g["body"] for g in got}) == 1
    assert got[-1]["answered"] == 200 and got[-1]["standard_ok"] and got[-1]["hmac_ok"]
    page = wait_deliveries(server, hook["id"], lambda ds: ds[0]["state"] == "succeeded")
    assert page["total"] == 1 and page["deliveries"][0]["attempts"] == 1

    # A delivery that succeeded may be sent again too.
    r = server.post(hook_path(hook["id"], f"/deliveries/{failed['message_id']}/redeliver"),
                    token=token_for(ADMIN))
    assert r.status == 202, r
    got = receiver.wait_for(lambda g: len(g) >= 6, path="/redeliver")
    assert got[-1]["id"] == failed["message_id"] and got[-1]["body"] == got[0]["body"]

    entries = audit(server, "webhook.redeliver", hook["id"])
    assert [e["actor"] for e in entries] == [{"user_id": ADMIN}, {"user_id": OWNER}]
    assert all(e["details"] == {"message_id": failed["message_id"]} for e in entries)


def test_a_delivery_about_a_deleted_contact_is_not_sent_again(server, receiver):
    hook = create(server, receiver, "/redeliver-gone")
    email = unique_email("gone")
    server.ingest_ok([room_join(WS, "Gone Soon", email)])
    contact = contact_of(server, email)
    server.ingest_ok([contact_delete(WS, contact["id"])])
    page = wait_deliveries(server, hook["id"],
                           lambda ds: len(ds) == 2 and all(d["state"] == "succeeded" for d in ds))
    for d in page["deliveries"]:
        r = server.post(hook_path(hook["id"], f"/deliveries/{d['message_id']}/redeliver"),
                        token=token_for(OWNER))
        assert r.status == 409, r
        assert r.json == {"error": "The delivery's body is no longer kept and its contact no longer exists"}
    assert audit(server, "webhook.redeliver", hook["id"]) == []
    time.sleep(0.5)
    assert len(receiver.received("/redeliver-gone")) == 2


def test_redelivery_of_an_unknown_delivery_is_404(server, receiver):
    hook = create(server, receiver, "/redeliver-404")
    other = create(server, receiver, "/redeliver-other")
    d = server.post(hook_path(other["id"], "/test"), token=token_for(OWNER)).json["delivery"]
    for bad in ("msg_999999999", "msg_0", "msg_", "abc", "999", d["message_id"]):
        r = server.post(hook_path(hook["id"], f"/deliveries/{bad}/redeliver"), token=token_for(OWNER))
        assert r.status == 404 and r.json == {"error": "Delivery not found"}, (bad, r)


# --------------------------------------------------------------------------- who and what

OPERATIONS = [("PATCH", "", {"is_active": True}), ("POST", "/rotate-secret", None),
              ("POST", "/test", None), ("POST", "/deliveries/{msg}/redeliver", None)]


@pytest.mark.parametrize("method,suffix,body", OPERATIONS)
def test_every_operation_is_for_owners_and_admins(server, receiver, method, suffix, body):
    hook = create(server, receiver, "/ops-authz")
    msg = server.post(hook_path(hook["id"], "/test"), token=token_for(OWNER)).json["delivery"]["message_id"]
    path = hook_path(hook["id"], suffix.format(msg=msg))
    r = server.request(method, path, body=body)
    assert r.status == 401, r
    r = server.request(method, path, token=token_for(MEMBER), body=body)
    assert r.status == 403 and r.json == {"error": "Only owners and admins can manage webhooks"}, r
    r = server.request(method, path, token=token_for(ADMIN), body=body)
    assert r.status in (200, 202), r


@pytest.mark.parametrize("method,suffix,body", OPERATIONS)
def test_every_operation_on_an_unknown_webhook_is_404(server, receiver, method, suffix, body):
    hook = create(server, receiver, "/ops-404")
    assert server.delete(hook_path(hook["id"]), token=token_for(OWNER)).status == 200
    for hook_id in (hook["id"], "abc", "0", "99999999999"):
        r = server.request(method, hook_path(hook_id, suffix.format(msg="msg_1")),
                           token=token_for(OWNER), body=body)
        assert r.status == 404 and r.json == {"error": "Webhook not found"}, (hook_id, r)


def test_other_methods_on_the_operations_are_405(server, receiver):
    hook = create(server, receiver, "/ops-405")
    for method, suffix, allow in (("GET", "/rotate-secret", "POST"), ("PUT", "/test", "POST"),
                                  ("GET", "/test", "POST"), ("PUT", "", "PATCH, DELETE"),
                                  ("GET", "/deliveries/msg_1/redeliver", "POST")):
        r = server.request(method, hook_path(hook["id"], suffix), token=token_for(OWNER))
        assert r.status == 405 and r.headers["allow"] == allow, (method, suffix, r)


def test_ingest_refuses_the_operations_commands(server):
    cmds = [{"type": "webhook_update", "command_id": "wu-x", "workspace_id": WS, "webhook_id": 1,
             "is_active": False},
            {"type": "webhook_test", "command_id": "wt-x", "workspace_id": WS, "webhook_id": 1}]
    r = server.ingest(cmds)
    assert r.status == 400, r
    assert [e["line"] for e in r.json["errors"]] == [1, 2]


# --------------------------------------------------------------------------- split deployment

@pytest.mark.skipif(BROKERS is None, reason="needs CONTACTS_TEST_BROKERS (a Kafka broker)")
def test_in_a_split_deployment_the_webhooks_process_operates_its_deliveries(server_factory, tmp_path):
    receiver = Receiver(tmp_path).start()
    try:
        writer = server_factory(command="project")
        hooks = server_factory(command="webhooks", topic_prefix=writer.topic_prefix,
                               extra_args=["--webhook-allow-private", "--webhook-retry-schedule", "1"])
        replica = server_factory(command="api", topic_prefix=writer.topic_prefix)
        ws, token = 2, token_for(OWNER)
        assert produce(writer.data_dir, [member_upsert(ws, OWNER, "owner")],
                       log_args=writer.log_args()).returncode == 0
        for node in (writer, hooks, replica):
            node.wait_ready(timeout=60)
        r = hooks.post(f"/api/workspaces/{ws}/webhooks", token=token,
                       body={"name": "crm", "url": receiver.url("/split-ops"), "events": ["contact.created"]})
        assert r.status == 201, r
        hook = r.json["webhook"]
        receiver.register("/split-ops", hook["secret"])
        path = f"/api/workspaces/{ws}/webhooks/{hook['id']}"
        wait_for(lambda: any(h["id"] == hook["id"] for h in
                             replica.get(f"/api/workspaces/{ws}/webhooks", token=token).json["webhooks"]),
                 timeout=30, what="the replica to fold the webhook")

        # Paused through a replica: the dispatcher's views fold it before the change after it.
        r = replica.request("PATCH", path, token=token, body={"is_active": False})
        assert r.status == 200 and r.json["webhook"]["is_active"] is False, r
        assert produce(writer.data_dir, [room_join(ws, "Split", "split@example.com")],
                       log_args=writer.log_args()).returncode == 0
        wait_for(lambda: hooks.get(path + "/deliveries", token=token).json["total"] == 1, timeout=60,
                 what="the dispatcher to record the delivery")
        time.sleep(1.5)
        d = hooks.get(path + "/deliveries", token=token).json["deliveries"][0]
        assert d["state"] == "pending" and d["attempts"] == 0, d
        assert receiver.received("/split-ops") == []
        r = replica.request("PATCH", path, token=token, body={"is_active": True})
        assert r.status == 200, r
        got = receiver.wait_for(lambda g: len(g) >= 1, path="/split-ops", timeout=60)
        assert got[0]["id"] == d["message_id"] and got[0]["standard_ok"]

        # Test events and redeliveries answer where the deliveries are kept.
        r = replica.post(path + "/test", token=token)
        assert r.status == 404 and r.json == {"error": "Deliveries are kept by the webhooks process"}, r
        r = hooks.post(path + "/test", token=token)
        assert r.status == 202, r
        test_id = r.json["delivery"]["message_id"]
        r = hooks.post(path + f"/deliveries/{d['message_id']}/redeliver", token=token)
        assert r.status == 202, r
        got = receiver.wait_for(lambda g: len(g) >= 3, path="/split-ops", timeout=60)
        assert sorted(g["id"] for g in got) == sorted([d["message_id"], d["message_id"], test_id])
        assert all(g["standard_ok"] and g["hmac_ok"] for g in got)

        def actions():
            entries = writer.get(qs(f"/api/workspaces/{ws}/audit-log", limit=100), token=token).json["entries"]
            return [e["action"] for e in entries if e["target_id"] == hook["id"]]
        wait_for(lambda: len(actions()) == 5, timeout=30, what="the writer to fold every audit entry")
        assert actions() == ["webhook.redeliver", "webhook.test", "webhook.resume", "webhook.pause",
                             "webhook.create"]
    finally:
        receiver.stop()
