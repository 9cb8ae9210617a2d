"""View semantics (DESIGN.md section 4): what the fold makes of the commands.

One server for the module; every test works in a workspace of its own.
"""

import itertools
import json
import random

import pytest

from helpers import (booking, booking_page_delete, contact_delete, member_remove,
                     member_upsert, room_delete, room_join, token_for)

OWNER, ADMIN, MEMBER = 7, 8, 9
TOKEN = token_for(OWNER)
_ws_ids = itertools.count(1000)


@pytest.fixture(scope="module")
def srv(module_server_factory):
    return module_server_factory()


@pytest.fixture
def ws(srv):
    w = next(_ws_ids)
    srv.ingest_ok([member_upsert(w, OWNER, "owner")], wait=False)
    return w


def contacts(srv, ws):
    return srv.list_all(ws, TOKEN)


def by_email(srv, ws):
    out = {}
    for c in contacts(srv, ws):
        assert c["email"] not in out, f"two contacts with email {c['email']}"
        out[c["email"]] = c
    return out


def events(srv, ws, contact_id):
    return srv.timeline_all(ws, contact_id, TOKEN)


# =========================================================================== identity

def test_same_email_in_any_case_or_whitespace_is_one_contact(srv, ws):
    srv.ingest_ok([
        room_join(ws, "Alice", "Alice@Example.com", occurred_at=100),
        booking(ws, "Alice", "  alice@example.com  ", occurred_at=200),
        room_join(ws, "Alice", "ALICE@EXAMPLE.COM", occurred_at=300),
        room_join(ws, "Alice", "\talice@example.COM\n", occurred_at=400),
    ])
    cs = contacts(srv, ws)
    assert len(cs) == 1
    assert cs[0]["email"] == "alice@example.com"
    assert cs[0]["event_count"] == 4
    assert len(events(srv, ws, cs[0]["id"])) == 4


def test_email_is_unicode_lower_cased(srv, ws):
    srv.ingest_ok([
        room_join(ws, "Élodie", "ÉLODIE@Exemple.FR", occurred_at=100),
        room_join(ws, "Élodie", " élodie@exemple.fr ", occurred_at=200),
        room_join(ws, "Åsa", "ÅSA@EXAMPLE.SE", occurred_at=300),
    ])
    got = by_email(srv, ws)
    assert set(got) == {"élodie@exemple.fr", "åsa@example.se"}
    assert got["élodie@exemple.fr"]["event_count"] == 2
    r = srv.get(f"/api/workspaces/{ws}/contacts/{got['åsa@example.se']['id']}", TOKEN)
    assert r.json["contact"]["email"] == "åsa@example.se"


def test_participants_without_email_each_create_a_contact(srv, ws):
    srv.ingest_ok([
        room_join(ws, "Anon", None, occurred_at=100),
        room_join(ws, "Anon", None, occurred_at=100),
        room_join(ws, "Anon", occurred_at=100),        # email absent
        room_join(ws, "Anon", "", occurred_at=100),     # blank
        booking(ws, "Anon", "   ", occurred_at=100),    # blank after trim
    ])
    cs = contacts(srv, ws)
    assert len(cs) == 5
    assert len({c["id"] for c in cs}) == 5
    for c in cs:
        assert c["email"] is None
        assert c["event_count"] == 1
        assert c["name"] == "Anon"


def test_same_email_in_two_workspaces_is_two_contacts(srv, ws):
    other = next(_ws_ids)
    srv.ingest_ok([member_upsert(other, OWNER, "owner"),
                   room_join(ws, "Here", "both@example.com", occurred_at=100),
                   room_join(other, "There", "both@example.com", occurred_at=200)])
    a = by_email(srv, ws)["both@example.com"]
    b = by_email(srv, other)["both@example.com"]
    assert a["id"] != b["id"]
    assert (a["name"], a["event_count"]) == ("Here", 1)
    assert (b["name"], b["event_count"]) == ("There", 1)


# =========================================================================== aggregates

def test_contact_aggregates_follow_occurred_at(srv, ws):
    srv.ingest_ok([
        room_join(ws, "Charlie Middle", "c@example.com", occurred_at=2000),
        booking(ws, "Charlie Last", "c@example.com", occurred_at=3000),
        room_join(ws, "Charlie First", "c@example.com", occurred_at=1000),
    ])
    c = by_email(srv, ws)["c@example.com"]
    assert {k: c[k] for k in ("name", "event_count", "created_at", "updated_at",
                              "last_seen_at")} == {
        "name": "Charlie Last", "event_count": 3, "created_at": 1000, "updated_at": 3000,
        "last_seen_at": 3000}
    r = srv.get(f"/api/workspaces/{ws}/contacts/{c['id']}", TOKEN)
    assert r.json["contact"]["name"] == "Charlie Last"
    assert (r.json["contact"]["created_at"], r.json["contact"]["updated_at"]) == (1000, 3000)


def test_older_event_arriving_late_does_not_rename_or_move_forward(srv, ws):
    srv.ingest_ok([room_join(ws, "New Name", "late@example.com", occurred_at=5000)])
    srv.ingest_ok([room_join(ws, "Old Name", "late@example.com", occurred_at=1000)])
    c = by_email(srv, ws)["late@example.com"]
    assert (c["name"], c["created_at"], c["updated_at"], c["last_seen_at"],
            c["event_count"]) == ("New Name", 1000, 5000, 5000, 2)
    assert [e["created_at"] for e in events(srv, ws, c["id"])] == [5000, 1000]


@pytest.mark.parametrize("separate_batches", [False, True])
def test_name_tie_goes_to_the_later_log_position(srv, ws, separate_batches):
    first = room_join(ws, "First Name", "tie@example.com", occurred_at=7000)
    second = booking(ws, "Second Name", "tie@example.com", occurred_at=7000)
    earlier = room_join(ws, "Earlier", "tie@example.com", occurred_at=6000)
    if separate_batches:
        srv.ingest_ok([first])
        srv.ingest_ok([second])
        srv.ingest_ok([earlier])
    else:
        srv.ingest_ok([first, second, earlier])
    c = by_email(srv, ws)["tie@example.com"]
    assert c["name"] == "Second Name"
    assert (c["event_count"], c["created_at"], c["last_seen_at"]) == (3, 6000, 7000)


def test_new_event_moves_contact_to_the_top(srv, ws):
    srv.ingest_ok([room_join(ws, f"P{i}", f"p{i}@example.com", occurred_at=1000 + i)
                   for i in range(5)])
    assert [c["email"] for c in contacts(srv, ws)][0] == "p4@example.com"
    srv.ingest_ok([booking(ws, "P0", "p0@example.com", occurred_at=9000)])
    order = [c["email"] for c in contacts(srv, ws)]
    assert order == ["p0@example.com", "p4@example.com", "p3@example.com", "p2@example.com",
                     "p1@example.com"]


def _normalized_view(srv, ws):
    """Everything the API shows of ws, minus ids (which depend on log positions)."""
    out = []
    for c in contacts(srv, ws):
        evs = [{k: v for k, v in e.items() if k not in ("id", "contact_id", "workspace_id")}
               for e in events(srv, ws, c["id"])]
        out.append(({k: v for k, v in c.items() if k not in ("id", "workspace_id")}, evs))
    out.sort(key=lambda item: json.dumps(item, sort_keys=True))
    return out


def test_out_of_order_commands_give_the_same_view(srv, ws):
    other = next(_ws_ids)
    srv.ingest_ok([member_upsert(other, OWNER, "owner")])
    rnd = random.Random(1234)
    emails = [f"person{i}@example.com" for i in range(8)]
    base_cmds = []
    t = 1_700_000_000
    for i in range(80):
        t += rnd.randint(1, 500)
        email = rnd.choice(emails + [None])
        name = f"Name {rnd.randint(0, 1000)}"
        shown = email if email is None or rnd.random() < 0.5 else "  " + email.upper() + " "
        if rnd.random() < 0.5:
            base_cmds.append(lambda w, n=name, e=shown, ts=t, r=rnd.randint(1, 4), k=i:
                             room_join(w, n, e, occurred_at=ts, room_id=r, room_name=f"room{r}",
                                       display_name=f"Room {r}", metadata={"k": k},
                                       command_id=f"ooo-{k}"))
        else:
            base_cmds.append(lambda w, n=name, e=shown, ts=t, p=rnd.randint(1, 4), k=i:
                             booking(w, n, e, occurred_at=ts, page_id=p, title=f"T{p}",
                                     slug=f"s{p}", metadata=None, command_id=f"ooo-{k}"))
    in_order = [f(ws) for f in base_cmds]
    shuffled = [f(other) for f in base_cmds]
    rnd.shuffle(shuffled)
    srv.ingest_ok(in_order[:40])
    srv.ingest_ok(in_order[40:])
    # The shuffled copy arrives in several batches.
    for start in range(0, 80, 13):
        srv.ingest_ok(shuffled[start:start + 13])
    a = _normalized_view(srv, ws)
    b = _normalized_view(srv, other)
    assert len(a) == len(b) > 8
    assert a == b


# =========================================================================== duplicates

def test_duplicate_command_id_in_the_same_workspace_changes_nothing(srv, ws):
    other = next(_ws_ids)
    original = room_join(ws, "Original", "dupe@example.com", occurred_at=100,
                         command_id="same-id")
    srv.ingest_ok([member_upsert(other, OWNER, "owner"), original])
    before_contacts = contacts(srv, ws)
    c = before_contacts[0]
    before_events = events(srv, ws, c["id"])
    srv.ingest_ok([
        room_join(ws, "Replay", "dupe@example.com", occurred_at=900, command_id="same-id"),
        booking(ws, "Other Person", "someone@example.com", occurred_at=901,
                command_id="same-id"),
        contact_delete(ws, c["id"], command_id="same-id"),
        member_remove(ws, OWNER, command_id="same-id"),
        original,
    ])
    assert contacts(srv, ws) == before_contacts
    assert events(srv, ws, c["id"]) == before_events
    # The same command_id in another workspace is a different command.
    srv.ingest_ok([room_join(other, "Elsewhere", "dupe@example.com", occurred_at=100,
                             command_id="same-id")])
    assert [x["name"] for x in contacts(srv, other)] == ["Elsewhere"]


def test_duplicate_within_one_batch_is_applied_once(srv, ws):
    cmd = booking(ws, "Once", "once@example.com", occurred_at=100, command_id="batch-dup")
    srv.ingest_ok([cmd, cmd, cmd])
    c = by_email(srv, ws)["once@example.com"]
    assert c["event_count"] == 1
    assert len(events(srv, ws, c["id"])) == 1


# =========================================================================== deletes

def test_contact_delete_command_cascades_and_writes_audit(srv, ws):
    srv.ingest_ok([
        room_join(ws, "Gone Soon", "gone@example.com", occurred_at=100),
        booking(ws, "Gone Soon", "gone@example.com", occurred_at=200),
        room_join(ws, "Stays", "stays@example.com", occurred_at=300),
    ])
    got = by_email(srv, ws)
    gone, stays = got["gone@example.com"], got["stays@example.com"]
    srv.ingest_ok([contact_delete(ws, gone["id"], actor={"user_id": OWNER},
                                  occurred_at=1711600000)])
    base = f"/api/workspaces/{ws}/contacts/{gone['id']}"
    assert srv.get(base, TOKEN).json == {"error": "Contact not found"}
    assert srv.get(base + "/events", TOKEN).status == 404
    assert [c["email"] for c in contacts(srv, ws)] == ["stays@example.com"]
    assert by_email(srv, ws)["stays@example.com"] == stays
    entries = srv.get(f"/api/workspaces/{ws}/audit-log", TOKEN).json["entries"]
    assert [(e["action"], e["actor"], e["target_type"], e["target_id"], e["details"],
             e["created_at"]) for e in entries] == [
        ("contact.delete", {"user_id": OWNER}, "contact", gone["id"], {}, 1711600000)]


def test_contact_delete_with_api_key_actor_is_audited_as_key(srv, ws):
    srv.ingest_ok([room_join(ws, "Keyed", "keyed@example.com", occurred_at=100)])
    c = by_email(srv, ws)["keyed@example.com"]
    srv.ingest_ok([contact_delete(ws, c["id"], actor={"api_key_id": 77}, occurred_at=500)])
    entries = srv.get(f"/api/workspaces/{ws}/audit-log", TOKEN).json["entries"]
    assert [(e["actor"], e["target_id"], e["created_at"]) for e in entries] == [
        ({"api_key_id": 77}, c["id"], 500)]


def test_deleting_a_missing_contact_is_a_no_op(srv, ws):
    srv.ingest_ok([room_join(ws, "Here", "here@example.com", occurred_at=100)])
    before = contacts(srv, ws)
    unknown = before[0]["id"] + 7_777_777
    srv.ingest_ok([contact_delete(ws, unknown), contact_delete(ws, unknown)])
    assert contacts(srv, ws) == before
    # The fold goes on after the no-op.
    srv.ingest_ok([room_join(ws, "After", "after@example.com", occurred_at=200)])
    assert len(contacts(srv, ws)) == 2


def test_contact_delete_is_scoped_to_its_workspace(srv, ws):
    other = next(_ws_ids)
    srv.ingest_ok([member_upsert(other, OWNER, "owner"),
                   room_join(other, "Safe", "safe@example.com", occurred_at=100)])
    safe = by_email(srv, other)["safe@example.com"]
    srv.ingest_ok([contact_delete(ws, safe["id"])])
    assert by_email(srv, other)["safe@example.com"] == safe


def test_same_email_after_delete_creates_a_new_contact(srv, ws):
    srv.ingest_ok([room_join(ws, "Old", "again@example.com", occurred_at=100),
                   room_join(ws, "Old", "again@example.com", occurred_at=200)])
    old = by_email(srv, ws)["again@example.com"]
    srv.ingest_ok([contact_delete(ws, old["id"], occurred_at=300)])
    srv.ingest_ok([booking(ws, "New", "Again@Example.com", occurred_at=400)])
    new = by_email(srv, ws)["again@example.com"]
    assert new["id"] != old["id"]
    assert (new["name"], new["event_count"], new["created_at"], new["last_seen_at"]) == (
        "New", 1, 400, 400)
    assert srv.get(f"/api/workspaces/{ws}/contacts/{old['id']}", TOKEN).status == 404
    assert len(events(srv, ws, new["id"])) == 1


def test_room_delete_nulls_room_id_on_that_rooms_events_only(srv, ws):
    other = next(_ws_ids)
    srv.ingest_ok([
        member_upsert(other, OWNER, "owner"),
        room_join(ws, "R", "r@example.com", occurred_at=100, room_id=5, room_name="five",
                  display_name="Five"),
        room_join(ws, "R", "r@example.com", occurred_at=200, room_id=6, room_name="six",
                  display_name="Six"),
        room_join(ws, "S", "s@example.com", occurred_at=300, room_id=5, room_name="five",
                  display_name=None),
        booking(ws, "S", "s@example.com", occurred_at=400, page_id=5),
        room_join(other, "O", "o@example.com", occurred_at=100, room_id=5, room_name="five"),
    ])
    before = {e: events(srv, ws, c["id"]) for e, c in by_email(srv, ws).items()}
    srv.ingest_ok([room_delete(ws, 5)])
    got = by_email(srv, ws)
    r_events = events(srv, ws, got["r@example.com"]["id"])
    s_events = events(srv, ws, got["s@example.com"]["id"])
    assert [(e["room_id"], e["room_name"], e["room_display_name"]) for e in r_events] == [
        (6, "six", "Six"), (None, "five", "Five")]
    assert [(e["event_type"], e["room_id"], e["room_name"], e["booking_page_id"])
            for e in s_events] == [("booking", None, None, 5), ("room_join", None, "five", None)]
    # Apart from room_id, the events are unchanged (ids included).
    for email, evs in (("r@example.com", r_events), ("s@example.com", s_events)):
        old = before[email]
        assert [dict(e, room_id=None) for e in evs] == [dict(e, room_id=None) for e in old]
    # Contacts themselves are untouched; another workspace's room 5 is untouched.
    assert got["r@example.com"]["event_count"] == 2
    o = by_email(srv, other)["o@example.com"]
    assert events(srv, other, o["id"])[0]["room_id"] == 5


def test_booking_page_delete_nulls_booking_page_id_only(srv, ws):
    srv.ingest_ok([
        booking(ws, "B", "b@example.com", occurred_at=100, page_id=3, title="Intro",
                slug="intro"),
        booking(ws, "B", "b@example.com", occurred_at=200, page_id=4, title="Demo",
                slug="demo"),
        room_join(ws, "B", "b@example.com", occurred_at=300, room_id=3, room_name="three"),
    ])
    srv.ingest_ok([booking_page_delete(ws, 3)])
    c = by_email(srv, ws)["b@example.com"]
    evs = events(srv, ws, c["id"])
    assert [(e["event_type"], e["room_id"], e["booking_page_id"], e["booking_page_title"],
             e["booking_page_slug"]) for e in evs] == [
        ("room_join", 3, None, None, None),
        ("booking", None, 4, "Demo", "demo"),
        ("booking", None, None, "Intro", "intro")]
    assert c["event_count"] == 3


# =========================================================================== members

def test_member_remove_revokes_access_and_upsert_restores_it(srv, ws):
    srv.ingest_ok([member_upsert(ws, MEMBER, "member", occurred_at=100),
                   room_join(ws, "X", "x@example.com")])
    member = token_for(MEMBER)
    path = f"/api/workspaces/{ws}/contacts"
    assert srv.get(path, member).status == 200
    srv.ingest_ok([member_remove(ws, MEMBER, occurred_at=200)])
    r = srv.get(path, member)
    assert (r.status, r.json) == (403, {"error": "Not a member of this workspace"})
    srv.ingest_ok([member_upsert(ws, MEMBER, "member", occurred_at=300)])
    assert srv.get(path, member).status == 200


def test_member_remove_in_one_workspace_keeps_the_others(srv, ws):
    other = next(_ws_ids)
    srv.ingest_ok([member_upsert(other, OWNER, "owner"),
                   member_upsert(ws, MEMBER, "member"), member_upsert(other, MEMBER, "member")])
    srv.ingest_ok([member_remove(ws, MEMBER)])
    member = token_for(MEMBER)
    assert srv.get(f"/api/workspaces/{ws}/contacts", member).status == 403
    assert srv.get(f"/api/workspaces/{other}/contacts", member).status == 200


def test_role_comes_from_the_latest_member_upsert(srv, ws):
    srv.ingest_ok([member_upsert(ws, ADMIN, "admin", occurred_at=100),
                   room_join(ws, "A", "a1@example.com", occurred_at=100),
                   room_join(ws, "A", "a2@example.com", occurred_at=100)])
    admin = token_for(ADMIN)
    got = by_email(srv, ws)
    path = f"/api/workspaces/{ws}/contacts"
    assert srv.delete(f"{path}/{got['a1@example.com']['id']}", admin).status == 200
    srv.ingest_ok([member_upsert(ws, ADMIN, "member", occurred_at=200)])
    r = srv.delete(f"{path}/{got['a2@example.com']['id']}", admin)
    assert (r.status, r.json) == (403, {"error": "Only owners and admins can delete contacts"})


def test_deleted_by_owner_via_api_while_commands_stream(srv, ws):
    srv.ingest_ok([room_join(ws, "Stream", "stream@example.com", occurred_at=100)])
    c = by_email(srv, ws)["stream@example.com"]
    # More commands for other contacts, not waited for, then the delete.
    srv.ingest_ok([room_join(ws, f"Q{i}", f"q{i}@example.com", occurred_at=200 + i)
                   for i in range(200)], wait=False)
    r = srv.delete(f"/api/workspaces/{ws}/contacts/{c['id']}", TOKEN)
    assert (r.status, r.json) == (200, {"ok": True})
    assert srv.get(f"/api/workspaces/{ws}/contacts/{c['id']}", TOKEN).status == 404


# =========================================================================== event payloads

@pytest.mark.parametrize("metadata,expected", [
    ({"device": "web"}, '{"device":"web"}'),
    ([1, "a", None], '[1,"a",null]'),
    (42, "42"),
    ("hello", '"hello"'),
    (True, "true"),
    ({}, "{}"),
    (None, None),
])
def test_metadata_is_served_as_its_compact_json_string(srv, ws, metadata, expected):
    srv.ingest_ok([room_join(ws, "M", "m@example.com", metadata=metadata)])
    c = by_email(srv, ws)["m@example.com"]
    (e,) = events(srv, ws, c["id"])
    assert e["metadata"] == expected


def test_absent_metadata_is_null(srv, ws):
    srv.ingest_ok([booking(ws, "M", "m@example.com")])
    (e,) = events(srv, ws, by_email(srv, ws)["m@example.com"]["id"])
    assert e["metadata"] is None


def test_nested_metadata_round_trips(srv, ws):
    md = {"utm": {"source": "news", "tags": ["a", "b"]}, "n": 1.5, "ü": "ö", "z": None}
    srv.ingest_ok([room_join(ws, "M", "m@example.com", metadata=md)])
    (e,) = events(srv, ws, by_email(srv, ws)["m@example.com"]["id"])
    assert isinstance(e["metadata"], str)
    assert json.loads(e["metadata"]) == md
    assert ", " not in e["metadata"] and ": " not in e["metadata"]


def test_event_copies_room_and_booking_fields(srv, ws):
    srv.ingest_ok([
        room_join(ws, "E", "e@example.com", occurred_at=100, room_id=11, room_name="r-11",
                  display_name="Room Eleven"),
        room_join(ws, "E", "e@example.com", occurred_at=200, room_id=12, room_name="r-12",
                  display_name=None),
        room_join(ws, "E", "e@example.com", occurred_at=300, room_id=13, room_name="r-13"),
        booking(ws, "E", "e@example.com", occurred_at=400, page_id=21, title="Call",
                slug="call"),
    ])
    c = by_email(srv, ws)["e@example.com"]
    evs = events(srv, ws, c["id"])
    assert [(e["event_type"], e["room_id"], e["room_name"], e["room_display_name"],
             e["booking_page_id"], e["booking_page_title"], e["booking_page_slug"],
             e["created_at"], e["contact_id"], e["workspace_id"]) for e in evs] == [
        ("booking", None, None, None, 21, "Call", "call", 400, c["id"], ws),
        ("room_join", 13, "r-13", None, None, None, None, 300, c["id"], ws),
        ("room_join", 12, "r-12", None, None, None, None, 200, c["id"], ws),
        ("room_join", 11, "r-11", "Room Eleven", None, None, None, 100, c["id"], ws),
    ]
    assert len({e["id"] for e in evs}) == 4
