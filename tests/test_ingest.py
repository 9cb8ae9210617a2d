"""The ingest contract: POST /v1/commands on the ingest listener, and `contacts produce`.

Every rejected request is checked to have appended nothing: a sentinel command is ingested
to the same workspace afterwards, /readyz is awaited, and the workspace must hold only the
sentinel's contact.
"""

import copy
import http.client
import itertools
import json
import os
import socket
import subprocess
import threading
import time

import pytest

from helpers import (BROKERS, MISSING, booking, booking_page_delete, contact_delete, http_request,
                     member_remove, member_upsert, ndjson, room_delete, room_join, run_cli,
                     token_for)

OWNER = 7
TOKEN = token_for(OWNER)
_ws_ids = itertools.count(100)


def new_ws():
    return next(_ws_ids)


@pytest.fixture(scope="module")
def srv(module_server_factory):
    return module_server_factory()


def sentinel_and_contents(server, ws):
    """Appends a sentinel to ws, waits until applied, returns the emails in ws."""
    server.ingest_ok([member_upsert(ws, OWNER, "owner"),
                      room_join(ws, "Sentinel", "sentinel@example.com")])
    r = server.get(f"/api/workspaces/{ws}/contacts?limit=100", TOKEN)
    assert r.status == 200, r
    return sorted(c["email"] for c in r.json["contacts"])


def assert_nothing_appended(server, ws):
    assert sentinel_and_contents(server, ws) == ["sentinel@example.com"]


def assert_invalid(r, lines):
    assert r.status == 400, r
    assert r.json is not None and r.json.get("error") == "Invalid commands", r
    errors = r.json["errors"]
    assert [e["line"] for e in errors] == lines, errors
    for e in errors:
        assert set(e) == {"line", "reason"}, e
        assert isinstance(e["reason"], str) and e["reason"].strip(), e


# =========================================================================== auth

@pytest.mark.parametrize("header", [None, "Bearer wrong-token", "Bearer ", "Basic abc",
                                    "bearer-less", "JWT"])
def test_ingest_without_the_token_is_401(srv, header):
    ws = new_ws()
    headers = {"Content-Type": "application/x-ndjson"}
    if header == "JWT":
        headers["Authorization"] = f"Bearer {TOKEN}"
    elif header is not None:
        headers["Authorization"] = header
    body = ndjson([member_upsert(ws, OWNER, "owner"),
                   room_join(ws, "Intruder", "intruder@example.com")])
    r = http_request(srv.ingest_port, "POST", "/v1/commands", body=body, headers=headers)
    assert (r.status, r.json) == (401, {"error": "Invalid ingest token"}), r
    assert_nothing_appended(srv, ws)


def test_ingest_token_is_not_accepted_on_the_api(srv):
    r = srv.get("/api/workspaces/2/contacts", srv.ingest_token)
    assert (r.status, r.json) == (401, {"error": "Invalid token"})


# =========================================================================== accepted bodies

def test_single_json_command(srv):
    ws = new_ws()
    srv.ingest_ok([member_upsert(ws, OWNER, "owner")])
    cmd = room_join(ws, "Single", "single@example.com")
    r = srv.ingest_raw(json.dumps(cmd).encode(), content_type="application/json")
    assert (r.status, r.json) == (202, {"accepted": 1}), r
    srv.wait_ready()
    assert srv.find_by_email(ws, "single@example.com", TOKEN)["event_count"] == 1


def test_single_pretty_printed_json_command(srv):
    ws = new_ws()
    srv.ingest_ok([member_upsert(ws, OWNER, "owner")])
    cmd = room_join(ws, "Pretty", "pretty@example.com")
    r = srv.ingest_raw(json.dumps(cmd, indent=2).encode(), content_type="application/json")
    assert (r.status, r.json) == (202, {"accepted": 1}), r
    srv.wait_ready()
    assert srv.find_by_email(ws, "pretty@example.com", TOKEN) is not None


def test_ndjson_batch_counts_every_command(srv):
    ws = new_ws()
    cmds = [member_upsert(ws, OWNER, "owner")] + [
        room_join(ws, f"P{i}", f"p{i}@example.com", occurred_at=1711000000 + i)
        for i in range(5)]
    r = srv.ingest(cmds)
    assert (r.status, r.json) == (202, {"accepted": 6})
    srv.wait_ready()
    assert len(srv.list_all(ws, TOKEN)) == 5


def test_ndjson_blank_lines_are_skipped(srv):
    ws = new_ws()
    lines = [b"", json.dumps(member_upsert(ws, OWNER, "owner")).encode(), b"", b"",
             json.dumps(room_join(ws, "Blank", "blank@example.com")).encode(), b""]
    r = srv.ingest_raw(b"\n".join(lines) + b"\n")
    assert (r.status, r.json) == (202, {"accepted": 2}), r
    srv.wait_ready()
    assert srv.find_by_email(ws, "blank@example.com", TOKEN) is not None


def test_ndjson_without_trailing_newline(srv):
    ws = new_ws()
    body = ndjson([member_upsert(ws, OWNER, "owner"),
                   room_join(ws, "NoNl", "nonl@example.com")]).rstrip(b"\n")
    r = srv.ingest_raw(body)
    assert (r.status, r.json) == (202, {"accepted": 2}), r


def test_duplicate_command_id_is_accepted_and_ignored(srv):
    ws = new_ws()
    first = room_join(ws, "Dup First", "dup@example.com", occurred_at=1711000000,
                      command_id="dup-1")
    again = room_join(ws, "Dup Second", "dup@example.com", occurred_at=1711000500,
                      command_id="dup-1")
    r = srv.ingest([member_upsert(ws, OWNER, "owner"), first, again])
    assert (r.status, r.json) == (202, {"accepted": 3})
    r = srv.ingest([first])
    assert (r.status, r.json) == (202, {"accepted": 1})
    srv.wait_ready()
    c = srv.find_by_email(ws, "dup@example.com", TOKEN)
    assert (c["name"], c["event_count"], c["last_seen_at"]) == ("Dup First", 1, 1711000000)


def test_missing_occurred_at_is_stamped_with_now(srv):
    ws = new_ws()
    srv.ingest_ok([member_upsert(ws, OWNER, "owner")])
    cmd = room_join(ws, "Now", "now@example.com", occurred_at=None)
    assert "occurred_at" not in cmd
    before = int(time.time())
    srv.ingest_ok([cmd])
    after = int(time.time())
    c = srv.find_by_email(ws, "now@example.com", TOKEN)
    assert before - 2 <= c["created_at"] <= after + 2, (before, c, after)
    assert c["last_seen_at"] == c["created_at"] == c["updated_at"]
    events = srv.timeline_all(ws, c["id"], TOKEN)
    assert events[0]["created_at"] == c["created_at"]


def test_large_body_under_the_default_limit_is_accepted(srv):
    ws = new_ws()
    cmds = [member_upsert(ws, OWNER, "owner")] + [
        room_join(ws, f"Bulk {i}", f"bulk{i % 50}@example.com", occurred_at=1711000000 + i,
                  metadata={"pad": "x" * 200, "i": i})
        for i in range(6000)]
    body = ndjson(cmds)
    assert len(body) > 1_500_000
    r = srv.ingest_raw(body)
    assert (r.status, r.json) == (202, {"accepted": 6001}), r
    srv.wait_ready(timeout=120)
    contacts = srv.list_all(ws, TOKEN)
    assert len(contacts) == 50
    assert sum(c["event_count"] for c in contacts) == 6000


def test_large_chunked_body_is_read_whole(srv):
    """A body without a length (chunked), sent in uneven pieces much larger and smaller than
    what the server reads at once, arrives whole: every line counted and applied."""
    ws = new_ws()
    cmds = [member_upsert(ws, OWNER, "owner")] + [
        room_join(ws, f"Chunked {i}", f"chunked{i % 40}@example.com", occurred_at=1711000000 + i)
        for i in range(3000)]
    body = ndjson(cmds)
    assert len(body) > 4 * 64 * 1024
    sizes = itertools.cycle([1, 70_000, 333, 131_072, 5])
    pieces, at = [], 0
    while at < len(body):
        n = next(sizes)
        pieces.append(body[at:at + n])
        at += n
    conn = http.client.HTTPConnection("127.0.0.1", srv.ingest_port, timeout=60)
    try:
        conn.request("POST", "/v1/commands", body=iter(pieces), encode_chunked=True,
                     headers={"Authorization": f"Bearer {srv.ingest_token}",
                              "Content-Type": "application/x-ndjson"})
        r = conn.getresponse()
        status, payload = r.status, json.loads(r.read())
    finally:
        conn.close()
    assert (status, payload) == (202, {"accepted": 3001})
    srv.wait_ready(timeout=120)
    contacts = srv.list_all(ws, TOKEN)
    assert len(contacts) == 40
    assert sum(c["event_count"] for c in contacts) == 3000


# =========================================================================== valid edge values

def _ok_case(ws):
    big = 2 ** 53 - 1
    return [
        ("command_id 128 chars", room_join(ws, "Cid128", "cid128@example.com",
                                           command_id="c" * 128)),
        ("command_id 1 char", room_join(ws, "Cid1", "cid1@example.com", command_id="z")),
        ("occurred_at 0", room_join(ws, "Zero", "zero@example.com", occurred_at=0)),
        ("name 200 chars", room_join(ws, "n" * 200, "n200@example.com")),
        ("name 200 non-ascii chars", room_join(ws, "é" * 200, "e200@example.com")),
        ("email 320 chars", room_join(ws, "Long Mail", "m" * 308 + "@example.com")),
        ("email null", room_join(ws, "Null Mail", None)),
        ("email absent", room_join(ws, "No Mail")),
        ("display_name null", room_join(ws, "Dn Null", "dnnull@example.com",
                                        display_name=None)),
        ("display_name absent", room_join(ws, "Dn Absent", "dnabsent@example.com")),
        ("room name 200", room_join(ws, "Rn", "rn@example.com", room_name="r" * 200)),
        ("room id max", room_join(ws, "Rmax", "rmax@example.com", room_id=big)),
        ("metadata null", room_join(ws, "Md0", "md0@example.com", metadata=None)),
        ("metadata array", room_join(ws, "Md1", "md1@example.com", metadata=[1, "a", None])),
        ("metadata number", room_join(ws, "Md2", "md2@example.com", metadata=42)),
        ("metadata string", room_join(ws, "Md3", "md3@example.com", metadata="hi")),
        ("metadata nested", room_join(ws, "Md4", "md4@example.com",
                                      metadata={"a": {"b": [1, 2, {"c": "ü"}]}})),
        ("booking 200s", booking(ws, "Bk", "bk@example.com", title="t" * 200, slug="s" * 200)),
        ("booking page id max", booking(ws, "Bkmax", "bkmax@example.com", page_id=big)),
        ("contact_delete no actor", contact_delete(ws, 123456)),
        ("contact_delete user actor", contact_delete(ws, 123457, actor={"user_id": 7})),
        ("contact_delete key actor", contact_delete(ws, 123458, actor={"api_key_id": 3})),
        ("member_upsert admin", member_upsert(ws, 8, "admin")),
        ("member_upsert member", member_upsert(ws, 9, "member")),
        ("member_remove", member_remove(ws, 9)),
        ("room_delete", room_delete(ws, 777)),
        ("booking_page_delete", booking_page_delete(ws, 778)),
        ("user_id max", member_upsert(ws, big, "member")),
    ]


def test_valid_edge_values_are_accepted_and_applied(srv):
    ws = new_ws()
    cases = _ok_case(ws)
    for label, cmd in cases:
        r = srv.ingest([cmd])
        assert (r.status, r.json) == (202, {"accepted": 1}), (label, r)
    srv.ingest_ok([member_upsert(ws, OWNER, "owner")])
    contacts = srv.list_all(ws, TOKEN)
    names = {c["name"] for c in contacts}
    assert {"n" * 200, "é" * 200, "Long Mail", "Null Mail", "No Mail", "Zero", "Cid128",
            "Cid1"} <= names
    by_name = {c["name"]: c for c in contacts}
    assert by_name["Zero"]["created_at"] == 0
    assert by_name["Long Mail"]["email"] == "m" * 308 + "@example.com"
    assert by_name["Null Mail"]["email"] is None and by_name["No Mail"]["email"] is None
    ev = srv.timeline_all(ws, by_name["Dn Null"]["id"], TOKEN)[0]
    assert ev["room_display_name"] is None
    ev = srv.timeline_all(ws, by_name["Rmax"]["id"], TOKEN)[0]
    assert ev["room_id"] == 2 ** 53 - 1


def test_largest_workspace_id_is_accepted_and_served(srv):
    ws = 2 ** 53 - 1
    srv.ingest_ok([member_upsert(ws, OWNER, "owner"),
                   room_join(ws, "Edge", "edge@example.com")])
    r = srv.get(f"/api/workspaces/{ws}/contacts", TOKEN)
    assert r.status == 200, r
    assert [(c["email"], c["workspace_id"]) for c in r.json["contacts"]] == [
        ("edge@example.com", ws)]


# =========================================================================== rejected lines

def _base_room_join(ws):
    return {"type": "room_join", "command_id": "base", "workspace_id": ws,
            "occurred_at": 1711500000,
            "participant": {"name": "Bad Line", "email": "bad@example.com"},
            "room": {"id": 5, "name": "r", "display_name": "R"}, "metadata": {"a": 1}}


def _base_booking(ws):
    return {"type": "booking", "command_id": "base", "workspace_id": ws,
            "occurred_at": 1711500000,
            "participant": {"name": "Bad Line", "email": "bad@example.com"},
            "booking_page": {"id": 3, "title": "T", "slug": "s"}}


def _mutate(base, path, value):
    cmd = copy.deepcopy(base)
    node = cmd
    for key in path[:-1]:
        node = node[key]
    if value is MISSING:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return json.dumps(cmd, ensure_ascii=False).encode("utf-8")


RJ, BK = "room_join", "booking"
BIG = 2 ** 53

# (label, base, path, value): the base command with path set to value (MISSING = removed)
MUTATIONS = [
    ("type missing", RJ, ["type"], MISSING),
    ("type unknown", RJ, ["type"], "room_leave"),
    ("type wrong case", RJ, ["type"], "ROOM_JOIN"),
    ("type number", RJ, ["type"], 5),
    ("command_id missing", RJ, ["command_id"], MISSING),
    ("command_id empty", RJ, ["command_id"], ""),
    ("command_id 129 chars", RJ, ["command_id"], "c" * 129),
    ("command_id number", RJ, ["command_id"], 5),
    ("command_id null", RJ, ["command_id"], None),
    ("workspace_id missing", RJ, ["workspace_id"], MISSING),
    ("workspace_id zero", RJ, ["workspace_id"], 0),
    ("workspace_id negative", RJ, ["workspace_id"], -1),
    ("workspace_id 2^53", RJ, ["workspace_id"], BIG),
    ("workspace_id huge", RJ, ["workspace_id"], 10 ** 30),
    ("workspace_id string", RJ, ["workspace_id"], "2"),
    ("workspace_id float", RJ, ["workspace_id"], 1.5),
    ("workspace_id bool", RJ, ["workspace_id"], True),
    ("workspace_id null", RJ, ["workspace_id"], None),
    ("occurred_at negative", RJ, ["occurred_at"], -1),
    ("occurred_at string", RJ, ["occurred_at"], "1711500000"),
    ("occurred_at float", RJ, ["occurred_at"], 1.5),
    ("occurred_at bool", RJ, ["occurred_at"], True),
    ("typo of a known top-level field", RJ, ["ocurred_at"], 1),
    ("typo of a known field, another case", RJ, ["Command_ID"], "c-1"),
    ("typo of a participant field", RJ, ["participant", "emial"], "a@example.com"),
    ("typo of a room field", RJ, ["room", "display-name"], "Standup"),
    ("version newer than this build", RJ, ["version"], 2),
    ("version zero", RJ, ["version"], 0),
    ("version string", RJ, ["version"], "1"),
    ("participant missing", RJ, ["participant"], MISSING),
    ("participant null", RJ, ["participant"], None),
    ("participant string", RJ, ["participant"], "Alice"),
    ("name missing", RJ, ["participant", "name"], MISSING),
    ("name empty", RJ, ["participant", "name"], ""),
    ("name blank", RJ, ["participant", "name"], "   "),
    ("name 201 chars", RJ, ["participant", "name"], "n" * 201),
    ("name 201 non-ascii chars", RJ, ["participant", "name"], "é" * 201),
    ("name number", RJ, ["participant", "name"], 5),
    ("name null", RJ, ["participant", "name"], None),
    ("email number", RJ, ["participant", "email"], 5),
    ("email 321 chars", RJ, ["participant", "email"], "m" * 309 + "@example.com"),
    ("room missing", RJ, ["room"], MISSING),
    ("room null", RJ, ["room"], None),
    ("room id missing", RJ, ["room", "id"], MISSING),
    ("room id zero", RJ, ["room", "id"], 0),
    ("room id negative", RJ, ["room", "id"], -5),
    ("room id string", RJ, ["room", "id"], "5"),
    ("room id 2^53", RJ, ["room", "id"], BIG),
    ("room name missing", RJ, ["room", "name"], MISSING),
    ("room name empty", RJ, ["room", "name"], ""),
    ("room name 201", RJ, ["room", "name"], "r" * 201),
    ("room name number", RJ, ["room", "name"], 7),
    ("room display_name number", RJ, ["room", "display_name"], 7),
    ("booking_page missing", BK, ["booking_page"], MISSING),
    ("booking_page id zero", BK, ["booking_page", "id"], 0),
    ("booking_page id string", BK, ["booking_page", "id"], "3"),
    ("booking_page id 2^53", BK, ["booking_page", "id"], BIG),
    ("booking_page title missing", BK, ["booking_page", "title"], MISSING),
    ("booking_page title empty", BK, ["booking_page", "title"], ""),
    ("booking_page title 201", BK, ["booking_page", "title"], "t" * 201),
    ("booking_page slug missing", BK, ["booking_page", "slug"], MISSING),
    ("booking_page slug empty", BK, ["booking_page", "slug"], ""),
    ("booking_page slug 201", BK, ["booking_page", "slug"], "s" * 201),
    ("booking participant missing", BK, ["participant"], MISSING),
]


def _raw_cases(ws):
    good = _base_room_join(ws)
    good_json = json.dumps(good)
    cases = [
        ("malformed json", b'{"type":"room_join",'),
        ("not json", b"hello"),
        ("json array", b"[1,2,3]"),
        ("json string", b'"room_join"'),
        ("json number", b"42"),
        ("json null", b"null"),
        ("two objects on one line", (good_json + " " + good_json).encode()),
        ("trailing garbage", (good_json + " x").encode()),
        ("invalid utf-8 in name",
         good_json.replace("Bad Line", "Bad \udcff").encode("utf-8", "surrogateescape")),
        ("invalid utf-8 in command_id",
         good_json.replace('"base"', '"ba\udcc3"').encode("utf-8", "surrogateescape")),
        ("overlong utf-8", good_json.replace("Bad Line", "Bad \udcc0\udcaf").encode(
            "utf-8", "surrogateescape")),
        ("lone surrogate escape", good_json.replace("Bad Line", "Bad \\ud800 x").encode()),
    ]
    for label, base, path, value in MUTATIONS:
        b = _base_room_join(ws) if base == RJ else _base_booking(ws)
        cases.append((label, _mutate(b, path, value)))
    other = [
        ("contact_delete contact_id missing",
         {"type": "contact_delete", "command_id": "x", "workspace_id": ws}),
        ("contact_delete contact_id zero",
         {"type": "contact_delete", "command_id": "x", "workspace_id": ws, "contact_id": 0}),
        ("contact_delete contact_id string",
         {"type": "contact_delete", "command_id": "x", "workspace_id": ws, "contact_id": "1"}),
        ("contact_delete contact_id 2^53",
         {"type": "contact_delete", "command_id": "x", "workspace_id": ws, "contact_id": BIG}),
        ("contact_delete actor empty object",
         {"type": "contact_delete", "command_id": "x", "workspace_id": ws, "contact_id": 1,
          "actor": {}}),
        ("contact_delete actor not an object",
         {"type": "contact_delete", "command_id": "x", "workspace_id": ws, "contact_id": 1,
          "actor": 7}),
        ("member_upsert bad role",
         {"type": "member_upsert", "command_id": "x", "workspace_id": ws, "user_id": 7,
          "role": "superuser"}),
        ("member_upsert role missing",
         {"type": "member_upsert", "command_id": "x", "workspace_id": ws, "user_id": 7}),
        ("member_upsert user_id zero",
         {"type": "member_upsert", "command_id": "x", "workspace_id": ws, "user_id": 0,
          "role": "owner"}),
        ("member_upsert user_id string",
         {"type": "member_upsert", "command_id": "x", "workspace_id": ws, "user_id": "7",
          "role": "owner"}),
        ("member_upsert user_id missing",
         {"type": "member_upsert", "command_id": "x", "workspace_id": ws, "role": "owner"}),
        ("member_remove user_id missing",
         {"type": "member_remove", "command_id": "x", "workspace_id": ws}),
        ("member_remove user_id zero",
         {"type": "member_remove", "command_id": "x", "workspace_id": ws, "user_id": 0}),
        ("room_delete room_id missing",
         {"type": "room_delete", "command_id": "x", "workspace_id": ws}),
        ("room_delete room_id zero",
         {"type": "room_delete", "command_id": "x", "workspace_id": ws, "room_id": 0}),
        ("room_delete room_id string",
         {"type": "room_delete", "command_id": "x", "workspace_id": ws, "room_id": "5"}),
        ("booking_page_delete id missing",
         {"type": "booking_page_delete", "command_id": "x", "workspace_id": ws}),
        ("booking_page_delete id zero",
         {"type": "booking_page_delete", "command_id": "x", "workspace_id": ws,
          "booking_page_id": 0}),
    ]
    for label, cmd in other:
        cases.append((label, json.dumps(cmd).encode()))
    return cases


CASE_LABELS = [c[0] for c in _raw_cases(1)]


@pytest.mark.parametrize("label", CASE_LABELS)
def test_bad_line_is_rejected_and_nothing_is_appended(srv, label):
    ws = new_ws()
    bad = dict(_raw_cases(ws))[label]
    good1 = json.dumps(member_upsert(ws, OWNER, "owner")).encode()
    good2 = json.dumps(room_join(ws, "Good", "good@example.com")).encode()
    r = srv.ingest_raw(b"\n".join([good1, bad, good2]) + b"\n")
    assert_invalid(r, [2])
    # The same line alone, as a single JSON body.
    r = srv.ingest_raw(bad, content_type="application/json")
    assert_invalid(r, [1])
    assert srv.get("/healthz").status == 200
    assert_nothing_appended(srv, ws)


def test_every_bad_line_is_named_with_physical_line_numbers(srv):
    ws = new_ws()
    good = [json.dumps(room_join(ws, f"G{i}", f"g{i}@example.com")).encode() for i in range(4)]
    lines = [
        json.dumps(member_upsert(ws, OWNER, "owner")).encode(),  # 1
        good[0],                                                  # 2
        b"",                                                      # 3 blank
        b"{not json",                                             # 4 bad
        good[1],                                                  # 5
        b"",                                                      # 6 blank
        json.dumps({"type": "nope", "command_id": "x", "workspace_id": ws}).encode(),  # 7
        good[2],                                                  # 8
        _mutate(_base_room_join(ws), ["participant", "name"], ""),  # 9 bad
        good[3],                                                  # 10
        _mutate(_base_room_join(ws), ["workspace_id"], 0),        # 11 bad
    ]
    r = srv.ingest_raw(b"\n".join(lines) + b"\n")
    assert_invalid(r, [4, 7, 9, 11])
    assert_nothing_appended(srv, ws)


def test_fields_of_a_newer_producer_are_accepted_and_ignored(srv):
    """The evolution policy: fields this version does not know are accepted, kept in the log
    and ignored by the fold; a near miss of a known field is a typo and a 400 that names it."""
    ws = new_ws()
    srv.ingest_ok([member_upsert(ws, OWNER, "owner")])
    newer = room_join(ws, "Newer", "newer@example.com", occurred_at=None) | {
        "version": 1, "source": "mobile-app", "trace": {"id": "t-1"}}
    newer["participant"]["avatar_url"] = "https://example.com/a.png"
    newer["room"]["capacity"] = 12
    older = room_join(ws, "Older", "older@example.com", occurred_at=1711000000)
    assert srv.ingest_raw(ndjson([newer, older])).status == 202
    srv.wait_ready()
    c = srv.find_by_email(ws, "newer@example.com", TOKEN)
    assert (c["name"], c["event_count"]) == ("Newer", 1)
    assert srv.find_by_email(ws, "older@example.com", TOKEN)["event_count"] == 1

    typo = room_join(ws, "Typo", "typo@example.com") | {"metadta": {"x": 1}}
    r = srv.ingest_raw(ndjson([typo]))
    assert_invalid(r, [1])
    assert r.json["errors"][0]["reason"] == 'unknown field "metadta" (did you mean "metadata"?)'
    r = srv.ingest_raw(ndjson([room_join(ws, "V2", "v2@example.com") | {"version": 2}]))
    assert_invalid(r, [1])
    assert "version 2 of \"room_join\" is newer than this build knows (1)" in \
        r.json["errors"][0]["reason"]


def test_empty_single_body_is_400(srv):
    r = srv.ingest_raw(b"", content_type="application/json")
    assert r.status == 400, r


# =========================================================================== limits, robustness

def test_body_over_the_limit_is_413_and_nothing_is_appended(server_factory):
    server = server_factory(extra_args=["--ingest-max-body", "4096"])
    ws = 42
    cmds = [member_upsert(ws, OWNER, "owner")] + [
        room_join(ws, f"Big {i}", f"big{i}@example.com") for i in range(40)]
    body = ndjson(cmds)
    assert len(body) > 4096
    r = server.ingest_raw(body)
    assert (r.status, r.json) == (413, {"error": "Request body too large"}), r
    small = ndjson([member_upsert(ws, OWNER, "owner"),
                    room_join(ws, "Sentinel", "sentinel@example.com")])
    assert len(small) < 4096
    r = server.ingest_raw(small)
    assert (r.status, r.json) == (202, {"accepted": 2}), r
    server.wait_ready()
    emails = [c["email"] for c in server.list_all(ws, TOKEN)]
    assert emails == ["sentinel@example.com"]


@pytest.mark.parametrize("shape", ["array", "object"])
@pytest.mark.parametrize("content_type", ["application/json", "application/x-ndjson"])
def test_deeply_nested_json_is_rejected_and_the_server_keeps_serving(server_factory, shape,
                                                                      content_type):
    # Hostile input on its own server, so a crash does not take other tests down with it.
    server = server_factory()
    depth = 100_000
    nested = (b"[" * depth + b"]" * depth) if shape == "array" else (
        b'{"a":' * depth + b"1" + b"}" * depth)
    line = (b'{"type":"room_join","command_id":"deep","workspace_id":2,'
            b'"participant":{"name":"Deep","email":"deep@example.com"},'
            b'"room":{"id":1,"name":"r"},"metadata":' + nested + b"}")
    try:
        r = server.ingest_raw(line + b"\n", content_type=content_type)
    except OSError as e:
        pytest.fail(f"no answer to a {len(line)}-byte nested body ({e}); server exit code "
                    f"{server.proc.poll()}")
    assert r.status == 400, r
    assert r.json.get("error") == "Invalid commands"
    assert [e["line"] for e in r.json["errors"]] == [1]
    assert server.running(), f"server died: exit code {server.proc.poll()}"
    assert server.get("/healthz").status == 200
    assert sentinel_and_contents(server, 2) == ["sentinel@example.com"]


def test_garbage_on_the_sockets_does_not_stop_the_server(srv):
    for port in (srv.port, srv.ingest_port):
        for junk in (b"GARBAGE\r\n\r\n", b"\x00\xff\x13\x37" * 64, b"POST /v1/commands HTTP/1.1\r\n"
                     b"Content-Length: 100\r\n\r\nshort"):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                try:
                    s.sendall(junk)
                    s.shutdown(socket.SHUT_WR)
                    s.settimeout(5)
                    while s.recv(4096):
                        pass
                except OSError:
                    pass
    assert srv.get("/healthz").status == 200
    ws = new_ws()
    assert sentinel_and_contents(srv, ws) == ["sentinel@example.com"]


def test_concurrent_ingest_and_reads_lose_nothing(srv):
    ws = new_ws()
    srv.ingest_ok([member_upsert(ws, OWNER, "owner")])
    failures = []

    def worker(i):
        for j in range(25):
            try:
                r = srv.ingest([room_join(ws, f"W{i}", f"w{i}@example.com",
                                          occurred_at=1711000000 + j),
                                booking(ws, "Shared", "shared@example.com",
                                        occurred_at=1711000000 + i * 100 + j)])
                if r.status != 202:
                    failures.append(r)
                r = srv.get(f"/api/workspaces/{ws}/contacts?search=example", TOKEN)
                if r.status != 200:
                    failures.append(r)
            except OSError as e:
                failures.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    srv.wait_ready()
    counts = {c["email"]: c["event_count"] for c in srv.list_all(ws, TOKEN)}
    assert counts == {**{f"w{i}@example.com": 25 for i in range(8)},
                      "shared@example.com": 200}


def test_wrong_method_or_path_on_ingest_is_not_a_server_error(srv):
    for method, path in (("GET", "/v1/commands"), ("POST", "/v1/other")):
        r = http_request(srv.ingest_port, method, path,
                         headers={"Authorization": f"Bearer {srv.ingest_token}"})
        assert 400 <= r.status < 500, (method, path, r)


# =========================================================================== produce CLI

def _contents(server, ws):
    return sorted(c["email"] for c in server.list_all(ws, TOKEN))


def test_produce_appends_a_file(server_factory, tmp_path):
    server = server_factory(start=False)
    path = tmp_path / "cmds.ndjson"
    path.write_bytes(ndjson([member_upsert(2, OWNER, "owner"),
                             room_join(2, "A", "a@example.com"),
                             room_join(2, "B", "b@example.com")]))
    proc = run_cli("produce", "--data", server.data_dir, "--partitions", "4", str(path), *server.log_args())
    assert proc.returncode == 0, proc.stderr
    assert "appended 3 commands" in proc.stdout
    server.start()
    server.wait_ready()
    assert _contents(server, 2) == ["a@example.com", "b@example.com"]


def test_produce_reads_stdin(server_factory):
    server = server_factory(start=False)
    body = ndjson([member_upsert(2, OWNER, "owner"), room_join(2, "S", "s@example.com")])
    proc = run_cli("produce", "--data", server.data_dir, "--partitions", "4", *server.log_args(),
                   input=body.decode())
    assert proc.returncode == 0, proc.stderr
    assert "appended 2 commands" in proc.stdout
    server.start()
    server.wait_ready()
    assert _contents(server, 2) == ["s@example.com"]


@pytest.mark.skipif(BROKERS is not None, reason="the embedded log's dead letters")
def test_dlq_is_listed_beside_a_running_server_and_replay_says_the_log_is_held(srv):
    """The embedded log's dead letters are read beside the server that holds the log; replaying
    needs the log itself, so it refuses while the server runs, saying why."""
    listed = run_cli("dlq", "list", "--data", srv.data_dir)
    assert (listed.returncode, listed.stdout) == (0, ""), listed.stderr
    replay = run_cli("dlq", "replay", "--all", "--data", srv.data_dir)
    assert replay.returncode == 1
    assert "in use by another process" in replay.stderr
    usage = run_cli("dlq", "replay", "--data", srv.data_dir)
    assert usage.returncode == 2 and "usage: contacts dlq" in usage.stderr


def test_produce_with_bad_lines_appends_nothing(server_factory, tmp_path):
    server = server_factory(start=False)
    data = server.data_dir
    proc = run_cli("produce", "--data", data, "--partitions", "4", *server.log_args(),
                   input=ndjson([member_upsert(2, OWNER, "owner"),
                                 room_join(2, "First", "first@example.com")]).decode())
    assert proc.returncode == 0, proc.stderr
    bad_file = tmp_path / "bad.ndjson"
    bad_file.write_bytes(b"\n".join([
        json.dumps(room_join(2, "Later", "later@example.com")).encode(),
        b"{broken",
        json.dumps(room_join(2, "Later2", "later2@example.com")).encode(),
        json.dumps({"type": "room_join", "command_id": "q", "workspace_id": 0}).encode(),
    ]) + b"\n")
    proc = run_cli("produce", "--data", data, "--partitions", "4", str(bad_file), *server.log_args())
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "line 2:" in proc.stderr and "line 4:" in proc.stderr, proc.stderr
    assert "line 1:" not in proc.stderr and "line 3:" not in proc.stderr, proc.stderr
    assert "appended" not in proc.stdout or "appended 0" in proc.stdout
    server.start()
    server.wait_ready()
    assert _contents(server, 2) == ["first@example.com"]


@pytest.mark.skipif(BROKERS is not None, reason="the embedded log is one process's; Kafka takes producers while the server runs")
def test_produce_refuses_a_directory_held_by_a_server(server_factory):
    server = server_factory()
    try:
        proc = run_cli("produce", "--data", server.data_dir, "--partitions", "4",
                       input=ndjson([member_upsert(2, OWNER, "owner")]).decode(), timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("produce blocked on a directory held by a running server")
    assert proc.returncode != 0, proc.stdout
    assert server.get("/healthz").status == 200
    assert os.path.isdir(server.data_dir)


def test_split_processes_need_kafka_and_api_needs_replica(tmp_path):
    proc = run_cli("api", "--replica", "--data", str(tmp_path / "d"), timeout=30)
    assert proc.returncode == 2 and "--brokers is required" in proc.stderr, proc.stderr
    proc = run_cli("ingest", "--data", str(tmp_path / "d"), timeout=30)
    assert proc.returncode == 2 and "--brokers is required" in proc.stderr, proc.stderr
    proc = run_cli("api", "--brokers", "127.0.0.1:1", "--data", str(tmp_path / "d"), timeout=30)
    assert proc.returncode == 2 and "--replica is required" in proc.stderr, proc.stderr
