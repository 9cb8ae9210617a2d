"""`contacts rebuild` (DESIGN.md section 5): views rebuilt from offset 0 are identical.

Commands including contact deletes (by the log and by the API), room and booking-page
deletes, member changes and API keys are fed; every endpoint's JSON is captured for every
contact; the server is stopped, `contacts rebuild --data DIR` runs, the server starts again
and everything is captured again: identical.
"""

import random

import pytest

from helpers import (booking, booking_page_delete, contact_delete, member_remove,
                     member_upsert, qs, room_delete, room_join, run_cli, token_for)

OWNER, ADMIN, MEMBER = 7, 8, 9
WORKSPACES = (2, 3)
SEARCHES = ("person", "PERSON 1", "example.org", "anon", "zz-no-match", "élo")


def _seed_commands():
    rnd = random.Random(99)
    cmds = []
    for ws in WORKSPACES:
        cmds += [member_upsert(ws, OWNER, "owner"), member_upsert(ws, ADMIN, "admin"),
                 member_upsert(ws, MEMBER, "member")]
    for i in range(300):
        ws = rnd.choice(WORKSPACES)
        n = rnd.randrange(40)
        email = None if n >= 37 else f"person{n}@example.{'org' if n % 3 else 'com'}"
        if n == 5:
            email = "ÉLODIE@EXAMPLE.ORG"
        at = 1711000000 + rnd.randrange(1_000_000)
        name = f"Person {n} {'Élodie' if n == 5 else ''}".strip()
        if rnd.random() < 0.6:
            room = rnd.randrange(1, 6)
            cmds.append(room_join(ws, name, email, occurred_at=at, room_id=room,
                                  room_name=f"room-{room}",
                                  display_name=f"Room {room}" if room % 2 else None,
                                  metadata={"i": i} if i % 4 == 0 else None))
        else:
            page = rnd.randrange(1, 4)
            cmds.append(booking(ws, name, email, occurred_at=at, page_id=page,
                                title=f"Page {page}", slug=f"page-{page}"))
    cmds.append(cmds[10])  # a duplicate
    return cmds


def capture(server, extra_ids=()):
    token = token_for(OWNER)
    out = {}
    for ws in WORKSPACES:
        base = f"/api/workspaces/{ws}"
        pages = []
        page = 1
        while True:
            r = server.get(qs(f"{base}/contacts", page=page, limit=7), token)
            assert r.status == 200, r
            pages.append(r.json)
            if not r.json["contacts"]:
                break
            page += 1
        out[(ws, "pages")] = pages
        full = server.get(qs(f"{base}/contacts", limit=100), token)
        out[(ws, "list")] = full.json
        for term in SEARCHES:
            out[(ws, "search", term)] = server.get(qs(f"{base}/contacts", search=term,
                                                      limit=100), token).json
        for c in full.json["contacts"]:
            out[(ws, c["id"])] = server.get(f"{base}/contacts/{c['id']}", token).json
            out[(ws, c["id"], "events")] = server.get(
                qs(f"{base}/contacts/{c['id']}/events", limit=100), token).json
            out[(ws, c["id"], "events", "p2")] = server.get(
                qs(f"{base}/contacts/{c['id']}/events", limit=2, page=2), token).json
        for cid in extra_ids:
            r = server.get(f"{base}/contacts/{cid}", token)
            out[(ws, cid, "gone")] = (r.status, r.json)
        out[(ws, "audit")] = server.get(qs(f"{base}/audit-log", limit=100), token).json
        out[(ws, "keys")] = server.get(f"{base}/api-keys", token).json
        for user in (OWNER, ADMIN, MEMBER, 10):
            out[(ws, "access", user)] = server.get(f"{base}/contacts?limit=1",
                                                   token_for(user)).status
    return out


def _applied_since_start(server):
    for line in server.get("/metrics").body.decode().splitlines():
        if line.startswith("contacts_applied_records_total "):
            return int(float(line.split()[1]))
    raise AssertionError("no contacts_applied_records_total in /metrics")


@pytest.mark.timeout(180)
def test_rebuild_reproduces_every_endpoint(server_factory):
    server = server_factory()
    token = token_for(OWNER)
    server.ingest_ok(_seed_commands())

    # Deletes by the log and by the API; room and booking-page deletes; member changes.
    listing = server.list_all(2, token)
    emailed = [c for c in listing if c["email"]]
    by_log, by_api = emailed[0], emailed[1]
    server.ingest_ok([contact_delete(2, by_log["id"], actor={"user_id": OWNER}),
                      room_join(2, "Late", by_log["email"], occurred_at=1712500000),
                      room_delete(2, 1), room_delete(3, 3),
                      booking_page_delete(2, 2),
                      member_remove(3, MEMBER)])
    r = server.delete(f"/api/workspaces/2/contacts/{by_api['id']}", token_for(ADMIN))
    assert (r.status, r.json) == (200, {"ok": True})

    # API keys: one kept, one revoked; a delete by key.
    r = server.post("/api/workspaces/3/api-keys", {"name": "kept", "role": "admin"}, token)
    assert r.status == 201, r
    kept = r.json["api_key"]
    r = server.post("/api/workspaces/3/api-keys", {"name": "revoked", "role": "member"}, token)
    assert r.status == 201, r
    revoked = r.json["api_key"]
    assert server.delete(f"/api/workspaces/3/api-keys/{revoked['id']}", token).status == 200
    victim = [c for c in server.list_all(3, token) if c["email"]][0]
    r = server.delete(f"/api/workspaces/3/contacts/{victim['id']}", kept["full_key"])
    assert (r.status, r.json) == (200, {"ok": True})
    server.wait_ready()

    gone = [by_log["id"], by_api["id"], victim["id"]]
    before = capture(server, gone)
    # Sanity: the interesting states are in the capture.
    assert before[(2, by_log["id"], "gone")][0] == 404
    assert before[(3, "access", MEMBER)] == 403
    assert before[(3, "access", 10)] == 403
    assert before[(3, "audit")]["total"] >= 3
    room1 = [e for k, v in before.items() if len(k) == 3 and k[0] == 2 and k[2] == "events"
             for e in v["events"] if e["room_name"] == "room-1"]
    assert room1 and all(e["room_id"] is None for e in room1)

    assert server.stop() == 0
    proc = run_cli("rebuild", "--data", server.data_dir, *server.log_args(), timeout=120)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)

    server.start()
    server.wait_ready()
    assert _applied_since_start(server) == 0, "the rebuild left records for the server to fold"
    after = capture(server, gone)
    assert after.keys() == before.keys()
    for key in before:
        assert after[key] == before[key], f"{key} differs after rebuild"

    # Keys are commands too: the kept key still works, the revoked one still does not.
    assert server.get("/api/workspaces/3/contacts", kept["full_key"]).status == 200
    r = server.get("/api/workspaces/3/contacts", revoked["full_key"])
    assert (r.status, r.json) == (401, {"error": "Invalid token"})

    # The rebuilt views keep folding: new commands land, ids do not collide.
    server.ingest_ok([room_join(2, "After Rebuild", "after@example.net", occurred_at=1713000000),
                      room_join(2, "Person 3", "person3@example.org", occurred_at=1713000001)])
    contacts = server.list_all(2, token)
    assert len({c["id"] for c in contacts}) == len(contacts)
    assert contacts[0]["email"] == "person3@example.org"
    assert contacts[1]["email"] == "after@example.net"
    old_ids = {c["id"] for c in before[(2, "list")]["contacts"]}
    assert contacts[1]["id"] not in old_ids | set(gone)


def test_rebuild_twice_is_stable(server_factory):
    server = server_factory()
    token = token_for(OWNER)
    server.ingest_ok(_seed_commands()[:120])
    before = capture(server)
    assert server.stop() == 0
    for _ in range(2):
        proc = run_cli("rebuild", "--data", server.data_dir, *server.log_args(), timeout=120)
        assert proc.returncode == 0, (proc.stdout, proc.stderr)
    server.start()
    server.wait_ready()
    assert _applied_since_start(server) == 0, "the rebuild left records for the server to fold"
    assert capture(server) == before
    assert server.get("/api/workspaces/2/contacts", token).status == 200


@pytest.mark.parametrize("flag, value", [("--cache-mb", "lots"), ("--key-filter-mb", "0"), ("--key-filter-mb", "2048")])
def test_rebuild_refuses_a_bad_memory_size_and_leaves_the_views_alone(tmp_path, flag, value):
    proc = run_cli("rebuild", "--data", str(tmp_path / "data"), flag, value, timeout=60)
    assert proc.returncode != 0
    assert f"{flag} must be an integer between" in proc.stderr
    assert not (tmp_path / "data" / "views").exists()
