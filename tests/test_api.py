"""The HTTP API against shared/seed/contacts-api.md and DESIGN.md section 6.

One server for the module. Workspace 2 holds a read-only data set; workspace 4 is where
delete tests create (and remove) their own contacts; workspace 5 is for API keys.
"""

import base64
import json
import re
import time

import pytest

from helpers import (API_KEY_FIELDS, AUDIT_FIELDS, CONTACT_FIELDS, EVENT_FIELDS,
                     SINGLE_CONTACT_FIELDS, booking, member_remove, member_upsert, mint_jwt,
                     qs, room_join, run_cli, token_for)

WS = 2          # read-only data set
WS_OTHER = 3    # another workspace with an overlapping email
WS_DEL = 4      # delete / audit playground
WS_KEYS = 5     # API keys playground

OWNER, ADMIN, MEMBER, OUTSIDER, REMOVED, PROMOTED, ONLY_OTHER = 7, 8, 9, 10, 11, 12, 13

FILLERS = 12
TIMELINE_EMAIL = "timeline@example.com"


def _dataset():
    cmds = []
    for ws in (WS, WS_OTHER, WS_DEL, WS_KEYS):
        cmds.append(member_upsert(ws, OWNER, "owner"))
    for ws in (WS, WS_DEL, WS_KEYS):
        cmds.append(member_upsert(ws, ADMIN, "admin"))
        cmds.append(member_upsert(ws, MEMBER, "member"))
    cmds.append(member_upsert(WS, REMOVED, "member", occurred_at=1700000000))
    cmds.append(member_remove(WS, REMOVED, occurred_at=1700000005))
    cmds.append(member_upsert(WS_DEL, PROMOTED, "member", occurred_at=1700000000))
    cmds.append(member_upsert(WS_DEL, PROMOTED, "admin", occurred_at=1700000010))
    cmds.append(member_upsert(WS_OTHER, ONLY_OTHER, "member"))

    # The two commands of the API document's example contact.
    cmds.append({"type": "room_join", "command_id": "rj-81", "workspace_id": WS,
                 "occurred_at": 1711500000,
                 "participant": {"name": "Alice Martin", "email": "alice@example.com"},
                 "room": {"id": 5, "name": "team-standup-1234", "display_name": "Team Standup"},
                 "metadata": {"device": "web"}})
    cmds.append({"type": "booking", "command_id": "bk-12", "workspace_id": WS,
                 "occurred_at": 1711000000,
                 "participant": {"name": "Alice Martin", "email": "alice@example.com"},
                 "booking_page": {"id": 3, "title": "30-min Intro Call", "slug": "intro-call"},
                 "metadata": None})
    for t in (1711100000, 1711200000, 1711300000):
        cmds.append(room_join(WS, "Bob Stone", "bob@example.com", occurred_at=t, room_id=6,
                              room_name="bob-room"))
    cmds.append(room_join(WS, "Élodie Durand", "elodie@exemple.fr", occurred_at=1711400000))
    cmds.append(booking(WS, "ZOË ÅNGSTRÖM", "zoe@example.org", occurred_at=1711450000))
    cmds.append(room_join(WS, "100% Real", "percent@example.com", occurred_at=1711050000))
    cmds.append(room_join(WS, "under_score", "us@example.com", occurred_at=1711060000))
    cmds.append(room_join(WS, "Walk In", None, occurred_at=1711070000))
    cmds.append(room_join(WS, "Walk In"))  # email absent
    cmds[-1]["occurred_at"] = 1711070000
    for i in (1, 2, 3):
        cmds.append(booking(WS, f"Tie {i}", f"tie{i}@example.com", occurred_at=1711250000))
    for i in range(FILLERS):
        cmds.append(room_join(WS, f"Filler {i:02d}", f"filler{i:02d}@example.net",
                              occurred_at=1710000000 + i * 1000))
    # A contact with 7 events, two of them at the same second.
    times = [1709000000, 1709000100, 1709000200, 1709000200, 1709000300, 1709000400,
             1709000500]
    for i, t in enumerate(times):
        if i % 2:
            cmds.append(booking(WS, "Tim Line", TIMELINE_EMAIL, occurred_at=t, page_id=30 + i,
                                title=f"Page {i}", slug=f"page-{i}", metadata={"i": i}))
        else:
            cmds.append(room_join(WS, "Tim Line", TIMELINE_EMAIL, occurred_at=t,
                                  room_id=40 + i, room_name=f"room-{i}",
                                  display_name=f"Room {i}", metadata={"i": i}))
    # Workspace 3: same email as Alice, a different contact.
    cmds.append(room_join(WS_OTHER, "Alice Elsewhere", "alice@example.com",
                          occurred_at=1711900000))
    cmds.append(room_join(WS_OTHER, "Carol", "carol@example.com", occurred_at=1711800000))
    return cmds


WS_CONTACTS = 6 + 2 + 3 + FILLERS + 1  # = 24


class Api:
    def __init__(self, server):
        self.s = server
        self.owner = token_for(OWNER)
        self.admin = token_for(ADMIN)
        self.member = token_for(MEMBER)
        self.outsider = token_for(OUTSIDER)
        self.removed = token_for(REMOVED)
        self.promoted = token_for(PROMOTED)
        self.only_other = token_for(ONLY_OTHER)
        self.contacts = {}  # email (or name for no-email contacts) -> list of contacts

    def load(self):
        for c in self.s.list_all(WS, self.owner):
            self.contacts.setdefault(c["email"] or c["name"], []).append(c)

    def one(self, key):
        (c,) = self.contacts[key]
        return c


@pytest.fixture(scope="module")
def api(module_server_factory):
    server = module_server_factory()
    server.ingest_ok(_dataset())
    a = Api(server)
    a.load()
    return a


def contacts_path(ws=WS):
    return f"/api/workspaces/{ws}/contacts"


def is_int(v):
    return type(v) is int


# =========================================================================== operations

def test_healthz_answers_200(api):
    assert api.s.get("/healthz").status == 200


def test_readyz_answers_200_once_everything_is_applied(api):
    assert api.s.readyz().status == 200


def test_serve_prints_listening_on_stdout(api):
    deadline = time.monotonic() + 5
    while "listening" not in api.s.stdout_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "listening" in api.s.stdout_text()


# =========================================================================== auth

def _protected_requests(api):
    alice = api.one("alice@example.com")["id"]
    return [
        ("GET", contacts_path()),
        ("GET", f"{contacts_path()}/{alice}"),
        ("GET", f"{contacts_path()}/{alice}/events"),
        ("DELETE", f"{contacts_path()}/{alice}"),
        ("GET", f"/api/workspaces/{WS}/api-keys"),
        ("POST", f"/api/workspaces/{WS}/api-keys"),
        ("GET", f"/api/workspaces/{WS}/audit-log"),
    ]


def test_missing_authorization_is_401_authentication_required(api):
    for method, path in _protected_requests(api):
        body = {"name": "x", "role": "member"} if method == "POST" else None
        r = api.s.request(method, path, body=body)
        assert r.status == 401, (method, path, r)
        assert r.json == {"error": "Authentication required"}, (method, path, r)
    # Nothing was deleted by the unauthenticated DELETE.
    assert api.s.get(f"{contacts_path()}/{api.one('alice@example.com')['id']}",
                     api.owner).status == 200


@pytest.mark.parametrize("kind", ["garbage", "wrong_secret", "expired", "alg_none",
                                  "tampered_payload", "unknown_api_key", "three_dots"])
def test_invalid_credentials_are_401_invalid_token(api, kind):
    now = int(time.time())
    token = {
        "garbage": "not-a-jwt",
        "wrong_secret": mint_jwt(sub="7", secret="some-other-secret"),
        "expired": mint_jwt(sub="7", exp=now - 3600),
        "alg_none": mint_jwt(sub="7", alg="none"),
        "three_dots": "a.b.c",
        "unknown_api_key": "lnx_" + "A" * 43,
    }.get(kind)
    if kind == "tampered_payload":
        good = mint_jwt(sub="9")
        h, _, sig = good.split(".")
        forged = base64.urlsafe_b64encode(
            json.dumps({"sub": "7", "exp": now + 3600}).encode()).rstrip(b"=").decode()
        token = f"{h}.{forged}.{sig}"
    for path in (contacts_path(), f"{contacts_path()}/{api.one('alice@example.com')['id']}"):
        r = api.s.get(path, token)
        assert r.status == 401, (kind, path, r)
        assert r.json == {"error": "Invalid token"}, (kind, r)


def test_expired_jwt_is_401_invalid_token(api):
    token = mint_jwt(sub=str(OWNER), exp=int(time.time()) - 10)
    r = api.s.get(contacts_path(), token)
    assert (r.status, r.json) == (401, {"error": "Invalid token"})


def test_jwt_with_numeric_sub_is_accepted(api):
    r = api.s.get(contacts_path(), mint_jwt(sub=OWNER))
    assert r.status == 200, r


def test_token_cli_mints_a_working_jwt(api):
    proc = run_cli("token", "--jwt-secret", api.s.jwt_secret, "--user", OWNER, "--ttl", "1h")
    assert proc.returncode == 0, proc.stderr
    token = proc.stdout.strip()
    assert token.count(".") == 2
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert str(payload["sub"]) == "7"
    assert abs(payload["exp"] - (time.time() + 3600)) < 120
    assert api.s.get(contacts_path(), token).status == 200


@pytest.mark.parametrize("ttl,seconds", [("30s", 30), ("10m", 600), ("2d", 172800),
                                         ("90", 90)])
def test_token_cli_ttl_units(api, ttl, seconds):
    proc = run_cli("token", "--jwt-secret", api.s.jwt_secret, "--user", "7", "--ttl", ttl)
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(base64.urlsafe_b64decode(proc.stdout.strip().split(".")[1] + "=="))
    assert abs(payload["exp"] - (time.time() + seconds)) < 60


def test_token_signed_with_other_secret_is_refused(api):
    proc = run_cli("token", "--jwt-secret", "not-the-server-secret", "--user", "7", "--ttl",
                   "1h")
    assert proc.returncode == 0, proc.stderr
    r = api.s.get(contacts_path(), proc.stdout.strip())
    assert (r.status, r.json) == (401, {"error": "Invalid token"})


def _assert_not_member(api, token):
    alice = api.one("alice@example.com")["id"]
    for method, path in [("GET", contacts_path()),
                         ("GET", f"{contacts_path()}/{alice}"),
                         ("GET", f"{contacts_path()}/{alice}/events"),
                         ("DELETE", f"{contacts_path()}/{alice}")]:
        r = api.s.request(method, path, token)
        assert r.status == 403, (method, path, r)
        assert r.json == {"error": "Not a member of this workspace"}, (method, path, r)
    assert api.s.get(f"{contacts_path()}/{alice}", api.owner).status == 200


def test_user_without_membership_is_403(api):
    _assert_not_member(api, api.outsider)


def test_member_of_another_workspace_only_is_403(api):
    _assert_not_member(api, api.only_other)
    assert api.s.get(contacts_path(WS_OTHER), api.only_other).status == 200


def test_removed_member_is_403(api):
    _assert_not_member(api, api.removed)


def test_non_member_of_unknown_workspace_is_403(api):
    r = api.s.get(contacts_path(999), api.owner)
    assert (r.status, r.json) == (403, {"error": "Not a member of this workspace"})


@pytest.mark.parametrize("who", ["owner", "admin", "member"])
def test_any_member_can_list_view_and_read_timeline(api, who):
    token = getattr(api, who)
    alice = api.one("alice@example.com")["id"]
    assert api.s.get(contacts_path(), token).status == 200
    assert api.s.get(f"{contacts_path()}/{alice}", token).status == 200
    assert api.s.get(f"{contacts_path()}/{alice}/events", token).status == 200


# =========================================================================== list

def test_list_response_shape_and_contact_fields(api):
    r = api.s.get(contacts_path(), api.member)
    assert r.status == 200
    assert r.headers.get("content-type", "").startswith("application/json")
    assert set(r.json) == {"contacts", "total", "page", "limit"}
    assert r.json["total"] == WS_CONTACTS
    assert (r.json["page"], r.json["limit"]) == (1, 50)
    assert len(r.json["contacts"]) == WS_CONTACTS
    ids = set()
    for c in r.json["contacts"]:
        assert set(c) == CONTACT_FIELDS, c
        assert is_int(c["id"]) and 0 <= c["id"] < 2 ** 53
        assert c["workspace_id"] == WS
        assert isinstance(c["name"], str)
        assert c["email"] is None or isinstance(c["email"], str)
        assert is_int(c["event_count"]) and c["event_count"] >= 1
        assert is_int(c["last_seen_at"])
        assert is_int(c["created_at"]) and is_int(c["updated_at"])
        ids.add(c["id"])
    assert len(ids) == WS_CONTACTS


def test_list_shows_the_documented_example_contact(api):
    alice = api.one("alice@example.com")
    assert {k: v for k, v in alice.items() if k != "id"} == {
        "workspace_id": 2, "name": "Alice Martin", "email": "alice@example.com",
        "event_count": 2, "last_seen_at": 1711500000, "created_at": 1711000000,
        "updated_at": 1711500000}


def test_list_counts_events_per_contact_identified_by_email(api):
    bob = api.one("bob@example.com")
    assert bob["event_count"] == 3
    assert (bob["created_at"], bob["updated_at"], bob["last_seen_at"]) == (
        1711100000, 1711300000, 1711300000)
    assert api.one(TIMELINE_EMAIL)["event_count"] == 7


def test_contacts_without_email_have_null_email_and_are_separate(api):
    walk_ins = api.contacts["Walk In"]
    assert len(walk_ins) == 2
    for c in walk_ins:
        assert c["email"] is None
        assert c["event_count"] == 1


def test_list_is_ordered_by_last_seen_desc_then_id_desc(api):
    contacts = api.s.list_all(WS, api.owner)
    keys = [(c["last_seen_at"], c["id"]) for c in contacts]
    assert keys == sorted(keys, reverse=True)
    # The ties are really there, so the id tie-break is exercised.
    ties = [c for c in contacts if c["last_seen_at"] == 1711250000]
    assert len(ties) == 3
    assert [c["id"] for c in ties] == sorted((c["id"] for c in ties), reverse=True)
    assert contacts[0]["email"] == "alice@example.com"
    assert contacts[-1]["email"] == TIMELINE_EMAIL


def test_list_pages_concatenate_to_the_full_list(api):
    full = api.s.get(qs(contacts_path(), limit=100), api.owner).json["contacts"]
    walked = []
    for page in range(1, 7):
        r = api.s.get(qs(contacts_path(), page=page, limit=5), api.owner)
        assert r.status == 200
        assert (r.json["page"], r.json["limit"], r.json["total"]) == (page, 5, WS_CONTACTS)
        assert len(r.json["contacts"]) == min(5, max(0, WS_CONTACTS - (page - 1) * 5))
        walked.extend(r.json["contacts"])
    assert walked == full


def test_list_page_past_the_end_is_empty_with_total(api):
    r = api.s.get(qs(contacts_path(), page=50, limit=10), api.owner)
    assert r.status == 200
    assert r.json == {"contacts": [], "total": WS_CONTACTS, "page": 50, "limit": 10}


@pytest.mark.parametrize("raw,expected", [
    (None, 50), ("1", 1), ("7", 7), ("100", 100), ("101", 100), ("100000", 100), ("0", 1),
    ("-5", 1), ("abc", 50), ("", 50)])
def test_list_limit_is_clamped_to_1_100_default_50(api, raw, expected):
    r = api.s.get(qs(contacts_path(), limit=raw), api.owner)
    assert r.status == 200, r
    assert r.json["limit"] == expected
    assert r.json["page"] == 1
    assert len(r.json["contacts"]) == min(expected, WS_CONTACTS)
    assert r.json["total"] == WS_CONTACTS


@pytest.mark.parametrize("raw,expected", [
    (None, 1), ("1", 1), ("2", 2), ("0", 1), ("-3", 1), ("abc", 1), ("", 1)])
def test_list_page_minimum_is_1(api, raw, expected):
    r = api.s.get(qs(contacts_path(), page=raw, limit=10), api.owner)
    assert r.status == 200, r
    assert r.json["page"] == expected
    full = api.s.get(qs(contacts_path(), limit=100), api.owner).json["contacts"]
    assert r.json["contacts"] == full[(expected - 1) * 10: expected * 10]


def test_list_huge_page_number_is_not_a_server_error(api):
    r = api.s.get(qs(contacts_path(), page="99999999999999999999999"), api.owner)
    assert r.status < 500, r


def test_list_is_scoped_to_the_workspace(api):
    other = api.s.list_all(WS_OTHER, api.owner)
    assert sorted(c["email"] for c in other) == ["alice@example.com", "carol@example.com"]
    assert all(c["workspace_id"] == WS_OTHER for c in other)
    alice_other = [c for c in other if c["email"] == "alice@example.com"][0]
    assert alice_other["name"] == "Alice Elsewhere"
    assert alice_other["event_count"] == 1
    assert alice_other["id"] != api.one("alice@example.com")["id"]
    assert not {c["id"] for c in other} & {c["id"] for cs in api.contacts.values() for c in cs}


# =========================================================================== search

def _search(api, term, **params):
    r = api.s.get(qs(contacts_path(), search=term, **params), api.member)
    assert r.status == 200, r
    return r.json


@pytest.mark.parametrize("term", ["bob", "BOB", "Bob Stone", "b STONE", "ob st"])
def test_search_name_case_insensitive_substring(api, term):
    res = _search(api, term)
    assert [c["email"] for c in res["contacts"]] == ["bob@example.com"]
    assert res["total"] == 1


@pytest.mark.parametrize("term", ["percent@", "PERCENT@EXAMPLE.COM", "nt@exa"])
def test_search_email_case_insensitive_substring(api, term):
    res = _search(api, term)
    assert [c["email"] for c in res["contacts"]] == ["percent@example.com"]


@pytest.mark.parametrize("term", ["ÉLODIE", "élodie", "éLoDiE", "élodie durand"])
def test_search_is_unicode_case_insensitive(api, term):
    res = _search(api, term)
    assert [c["name"] for c in res["contacts"]] == ["Élodie Durand"], term
    assert res["total"] == 1


@pytest.mark.parametrize("term", ["zoë", "Zoë Ångström", "ångström", "ÅNGSTRÖM", "zoë å"])
def test_search_unicode_name_stored_upper_case(api, term):
    res = _search(api, term)
    assert [c["email"] for c in res["contacts"]] == ["zoe@example.org"], term


def test_search_plus_in_the_query_string_is_a_space(api):
    # Form-encoded query strings (URLSearchParams, HTML forms) write spaces as "+".
    r = api.s.get(contacts_path() + "?search=Bob+Stone", api.member)
    assert r.status == 200, r
    assert [c["email"] for c in r.json["contacts"]] == ["bob@example.com"]


def test_search_total_counts_all_matches_across_pages(api):
    res = _search(api, "filler", limit=5)
    assert res["total"] == FILLERS
    assert len(res["contacts"]) == 5
    all_ = []
    for page in (1, 2, 3):
        all_.extend(_search(api, "FILLER", limit=5, page=page)["contacts"])
    assert len(all_) == FILLERS
    assert {c["email"] for c in all_} == {f"filler{i:02d}@example.net" for i in range(FILLERS)}
    keys = [(c["last_seen_at"], c["id"]) for c in all_]
    assert keys == sorted(keys, reverse=True)


def test_search_by_email_domain(api):
    res = _search(api, "EXAMPLE.NET")
    assert res["total"] == FILLERS


def test_search_treats_percent_and_underscore_literally(api):
    assert [c["name"] for c in _search(api, "%")["contacts"]] == ["100% Real"]
    assert [c["name"] for c in _search(api, "_")["contacts"]] == ["under_score"]


def test_search_without_match_is_empty(api):
    assert _search(api, "no-such-person-xyz") == {"contacts": [], "total": 0, "page": 1,
                                                  "limit": 50}


def test_search_matches_contacts_without_email_by_name(api):
    res = _search(api, "walk in")
    assert res["total"] == 2
    assert all(c["email"] is None for c in res["contacts"])


def test_search_is_scoped_to_the_workspace(api):
    res = _search(api, "alice")
    assert [c["name"] for c in res["contacts"]] == ["Alice Martin"]


# =========================================================================== get

def test_get_contact_has_exactly_the_documented_fields(api):
    alice = api.one("alice@example.com")
    r = api.s.get(f"{contacts_path()}/{alice['id']}", api.member)
    assert r.status == 200
    assert set(r.json) == {"contact"}
    assert set(r.json["contact"]) == SINGLE_CONTACT_FIELDS
    assert "event_count" not in r.json["contact"]
    assert "last_seen_at" not in r.json["contact"]
    assert r.json["contact"] == {"id": alice["id"], "workspace_id": 2, "name": "Alice Martin",
                                 "email": "alice@example.com", "created_at": 1711000000,
                                 "updated_at": 1711500000}


def test_get_contact_matches_the_list_for_every_contact(api):
    for c in api.s.list_all(WS, api.owner):
        r = api.s.get(f"{contacts_path()}/{c['id']}", api.owner)
        assert r.status == 200
        assert r.json["contact"] == {k: c[k] for k in SINGLE_CONTACT_FIELDS}


def _unknown_id(api):
    ids = {c["id"] for cs in api.contacts.values() for c in cs}
    candidate = max(ids) + 1000003
    while candidate in ids:
        candidate += 1
    return candidate


@pytest.mark.parametrize("suffix", ["", "/events"])
def test_missing_contact_is_404_contact_not_found(api, suffix):
    r = api.s.get(f"{contacts_path()}/{_unknown_id(api)}{suffix}", api.owner)
    assert (r.status, r.json) == (404, {"error": "Contact not found"})


@pytest.mark.parametrize("bad_id", ["abc", "1x", "-1", "1.5", "99999999999999999999999",
                                    "%20"])
@pytest.mark.parametrize("suffix", ["", "/events"])
def test_non_numeric_contact_id_is_404_contact_not_found(api, bad_id, suffix):
    r = api.s.get(f"{contacts_path()}/{bad_id}{suffix}", api.owner)
    assert (r.status, r.json) == (404, {"error": "Contact not found"}), (bad_id, r)


@pytest.mark.parametrize("suffix", ["", "/events"])
def test_contact_of_another_workspace_is_404(api, suffix):
    alice = api.one("alice@example.com")["id"]
    r = api.s.get(f"{contacts_path(WS_OTHER)}/{alice}{suffix}", api.owner)
    assert (r.status, r.json) == (404, {"error": "Contact not found"})


# =========================================================================== timeline

def _timeline(api, contact_id, token=None, **params):
    r = api.s.get(qs(f"{contacts_path()}/{contact_id}/events", **params), token or api.member)
    assert r.status == 200, r
    return r.json


def test_timeline_of_the_documented_example(api):
    alice = api.one("alice@example.com")["id"]
    res = _timeline(api, alice)
    assert set(res) == {"events", "total", "page", "limit"}
    assert (res["total"], res["page"], res["limit"]) == (2, 1, 50)
    events = res["events"]
    for e in events:
        assert set(e) == EVENT_FIELDS, e
        assert is_int(e["id"]) and 0 <= e["id"] < 2 ** 53
    assert events[0]["id"] != events[1]["id"]
    strip = [{k: v for k, v in e.items() if k != "id"} for e in events]
    assert strip == [
        {"contact_id": alice, "workspace_id": 2, "event_type": "room_join", "room_id": 5,
         "room_name": "team-standup-1234", "room_display_name": "Team Standup",
         "booking_page_id": None, "booking_page_title": None, "booking_page_slug": None,
         "metadata": "{\"device\":\"web\"}", "created_at": 1711500000},
        {"contact_id": alice, "workspace_id": 2, "event_type": "booking", "room_id": None,
         "room_name": None, "room_display_name": None, "booking_page_id": 3,
         "booking_page_title": "30-min Intro Call", "booking_page_slug": "intro-call",
         "metadata": None, "created_at": 1711000000},
    ]


def test_timeline_is_ordered_by_created_at_desc_then_id_desc(api):
    tim = api.one(TIMELINE_EMAIL)["id"]
    events = _timeline(api, tim)["events"]
    assert len(events) == 7
    keys = [(e["created_at"], e["id"]) for e in events]
    assert keys == sorted(keys, reverse=True)
    assert [e["created_at"] for e in events] == [1709000500, 1709000400, 1709000300,
                                                 1709000200, 1709000200, 1709000100,
                                                 1709000000]
    assert [json.loads(e["metadata"])["i"] for e in events][:3] == [6, 5, 4]
    assert {json.loads(e["metadata"])["i"] for e in events[3:5]} == {2, 3}


def test_timeline_event_copies_room_and_booking_fields(api):
    tim = api.one(TIMELINE_EMAIL)["id"]
    by_i = {json.loads(e["metadata"])["i"]: e for e in _timeline(api, tim)["events"]}
    assert by_i[0]["event_type"] == "room_join"
    assert (by_i[0]["room_id"], by_i[0]["room_name"], by_i[0]["room_display_name"]) == (
        40, "room-0", "Room 0")
    assert by_i[0]["booking_page_id"] is None
    assert by_i[1]["event_type"] == "booking"
    assert (by_i[1]["booking_page_id"], by_i[1]["booking_page_title"],
            by_i[1]["booking_page_slug"]) == (31, "Page 1", "page-1")
    assert by_i[1]["room_id"] is None and by_i[1]["room_name"] is None
    assert all(e["contact_id"] == tim and e["workspace_id"] == WS for e in by_i.values())


def test_timeline_paging_and_total(api):
    tim = api.one(TIMELINE_EMAIL)["id"]
    full = _timeline(api, tim)["events"]
    walked = []
    for page, n in ((1, 3), (2, 3), (3, 1), (4, 0)):
        res = _timeline(api, tim, page=page, limit=3)
        assert (res["total"], res["page"], res["limit"]) == (7, page, 3)
        assert len(res["events"]) == n
        walked.extend(res["events"])
    assert walked == full


@pytest.mark.parametrize("params,page,limit,count", [
    ({"limit": "0"}, 1, 1, 1), ({"limit": "-1"}, 1, 1, 1), ({"limit": "500"}, 1, 100, 7),
    ({"limit": "x"}, 1, 50, 7), ({"page": "0"}, 1, 50, 7), ({"page": "-2"}, 1, 50, 7),
    ({"page": "zz", "limit": "2"}, 1, 2, 2)])
def test_timeline_page_and_limit_bounds(api, params, page, limit, count):
    res = _timeline(api, api.one(TIMELINE_EMAIL)["id"], **params)
    assert (res["page"], res["limit"], len(res["events"]), res["total"]) == (page, limit,
                                                                            count, 7)


# =========================================================================== routing

@pytest.mark.parametrize("path", [
    "/api/workspaces/abc/contacts", "/api/workspaces/2x/contacts",
    "/api/workspaces/abc/contacts/1", "/api/workspaces/abc/contacts/1/events",
    "/api/nothing-here", "/api/workspaces/2/contacts/1/nope", "/nope",
    "/api/workspaces/2/contactz"])
def test_unknown_paths_are_404_not_found(api, path):
    r = api.s.get(path, api.owner)
    assert (r.status, r.json) == (404, {"error": "Not found"}), (path, r)


def test_non_numeric_workspace_delete_is_404_not_found(api):
    r = api.s.delete("/api/workspaces/abc/contacts/1", api.owner)
    assert (r.status, r.json) == (404, {"error": "Not found"})


def test_huge_workspace_id_is_not_a_server_error(api):
    r = api.s.get("/api/workspaces/99999999999999999999999/contacts", api.owner)
    assert r.status in (403, 404), r


# =========================================================================== delete

def _make_contact(api, email, name="To Delete", events=2, ws=WS_DEL):
    cmds = [room_join(ws, name, email, occurred_at=1712000000 + i) for i in range(events)]
    api.s.ingest_ok(cmds)
    c = api.s.find_by_email(ws, email, api.owner)
    assert c is not None and c["event_count"] == events
    return c


def test_delete_by_owner_removes_contact_and_events_immediately(api):
    c = _make_contact(api, "del-owner@example.com")
    before = api.s.get(contacts_path(WS_DEL), api.owner).json["total"]
    r = api.s.delete(f"{contacts_path(WS_DEL)}/{c['id']}", api.owner)
    assert (r.status, r.json) == (200, {"ok": True})
    # Read-your-writes: no wait for /readyz.
    r = api.s.get(f"{contacts_path(WS_DEL)}/{c['id']}", api.owner)
    assert (r.status, r.json) == (404, {"error": "Contact not found"})
    r = api.s.get(f"{contacts_path(WS_DEL)}/{c['id']}/events", api.owner)
    assert (r.status, r.json) == (404, {"error": "Contact not found"})
    listing = api.s.get(qs(contacts_path(WS_DEL), limit=100), api.owner).json
    assert listing["total"] == before - 1
    assert c["id"] not in {x["id"] for x in listing["contacts"]}
    assert api.s.get(qs(contacts_path(WS_DEL), search="del-owner"), api.owner).json["total"] == 0
    r = api.s.delete(f"{contacts_path(WS_DEL)}/{c['id']}", api.owner)
    assert (r.status, r.json) == (404, {"error": "Contact not found"})


def test_delete_leaves_other_contacts_untouched(api):
    keep = _make_contact(api, "keep-me@example.com", events=3)
    gone = _make_contact(api, "gone@example.com")
    assert api.s.delete(f"{contacts_path(WS_DEL)}/{gone['id']}", api.owner).status == 200
    assert api.s.find_by_email(WS_DEL, "keep-me@example.com", api.owner) == keep
    assert len(api.s.timeline_all(WS_DEL, keep["id"], api.owner)) == 3


def test_delete_by_admin_is_allowed(api):
    c = _make_contact(api, "del-admin@example.com")
    r = api.s.delete(f"{contacts_path(WS_DEL)}/{c['id']}", api.admin)
    assert (r.status, r.json) == (200, {"ok": True})
    assert api.s.get(f"{contacts_path(WS_DEL)}/{c['id']}", api.admin).status == 404


def test_delete_by_member_promoted_to_admin_is_allowed(api):
    c = _make_contact(api, "del-promoted@example.com")
    r = api.s.delete(f"{contacts_path(WS_DEL)}/{c['id']}", api.promoted)
    assert (r.status, r.json) == (200, {"ok": True})


def test_delete_by_plain_member_is_403_and_changes_nothing(api):
    c = _make_contact(api, "del-member@example.com")
    r = api.s.delete(f"{contacts_path(WS_DEL)}/{c['id']}", api.member)
    assert (r.status, r.json) == (403, {"error": "Only owners and admins can delete contacts"})
    api.s.wait_ready()
    assert api.s.find_by_email(WS_DEL, "del-member@example.com", api.owner) == c


def test_delete_by_member_is_403_even_for_a_missing_contact(api):
    r = api.s.delete(f"{contacts_path(WS_DEL)}/{_unknown_id(api)}", api.member)
    assert (r.status, r.json) == (403, {"error": "Only owners and admins can delete contacts"})


def test_delete_missing_contact_is_404(api):
    r = api.s.delete(f"{contacts_path(WS_DEL)}/{_unknown_id(api)}", api.owner)
    assert (r.status, r.json) == (404, {"error": "Contact not found"})


@pytest.mark.parametrize("bad_id", ["abc", "-1", "99999999999999999999999"])
def test_delete_non_numeric_contact_id_is_404(api, bad_id):
    r = api.s.delete(f"{contacts_path(WS_DEL)}/{bad_id}", api.owner)
    assert (r.status, r.json) == (404, {"error": "Contact not found"})


def test_delete_contact_of_another_workspace_is_404_and_keeps_it(api):
    alice = api.one("alice@example.com")
    r = api.s.delete(f"{contacts_path(WS_DEL)}/{alice['id']}", api.owner)
    assert (r.status, r.json) == (404, {"error": "Contact not found"})
    api.s.wait_ready()
    assert api.s.get(f"{contacts_path()}/{alice['id']}", api.owner).status == 200


# =========================================================================== audit log

def _audit(api, token=None, ws=WS_DEL, **params):
    return api.s.get(qs(f"/api/workspaces/{ws}/audit-log", **params), token or api.owner)


def test_delete_records_an_audit_entry_newest_first(api):
    a = _make_contact(api, "audit-a@example.com", name="Audit A")
    b = _make_contact(api, "audit-b@example.com", name="Audit B")
    assert api.s.delete(f"{contacts_path(WS_DEL)}/{a['id']}", api.owner).status == 200
    assert api.s.delete(f"{contacts_path(WS_DEL)}/{b['id']}", api.admin).status == 200
    r = _audit(api)
    assert r.status == 200, r
    assert set(r.json) == {"entries", "total", "page", "limit"}
    assert (r.json["page"], r.json["limit"]) == (1, 50)
    entries = r.json["entries"]
    assert r.json["total"] >= 2
    for e in entries:
        assert set(e) == AUDIT_FIELDS, e
    first, second = entries[0], entries[1]
    assert {k: v for k, v in first.items() if k not in ("id", "created_at")} == {
        "action": "contact.delete", "actor": {"user_id": ADMIN}, "target_type": "contact",
        "target_id": b["id"], "details": {}}
    assert {k: v for k, v in second.items() if k not in ("id", "created_at")} == {
        "action": "contact.delete", "actor": {"user_id": OWNER}, "target_type": "contact",
        "target_id": a["id"], "details": {}}
    assert is_int(first["created_at"]) and abs(first["created_at"] - time.time()) < 300
    keys = [(e["created_at"], e["id"]) for e in entries]
    assert keys == sorted(keys, reverse=True)


def test_audit_log_paging(api):
    c = _make_contact(api, "audit-page@example.com")
    assert api.s.delete(f"{contacts_path(WS_DEL)}/{c['id']}", api.owner).status == 200
    full = _audit(api, limit=100).json
    assert full["total"] >= 1
    one = _audit(api, limit=1).json
    assert (one["limit"], one["page"], one["total"]) == (1, 1, full["total"])
    assert one["entries"] == full["entries"][:1]
    assert _audit(api, limit=0).json["limit"] == 1
    assert _audit(api, limit=1000).json["limit"] == 100
    past = _audit(api, page=1000).json
    assert past["entries"] == [] and past["total"] == full["total"]


def test_audit_log_member_is_403(api):
    r = _audit(api, api.member)
    assert r.status == 403, r
    assert isinstance(r.json, dict) and isinstance(r.json.get("error"), str)


def test_audit_log_non_member_is_403(api):
    r = _audit(api, api.outsider)
    assert (r.status, r.json) == (403, {"error": "Not a member of this workspace"})


# =========================================================================== API keys

KEY_RE = re.compile(r"^lnx_[A-Za-z0-9_-]{43}=?$")


def _keys_path(ws=WS_KEYS):
    return f"/api/workspaces/{ws}/api-keys"


def _create_key(api, name, role, token=None, ws=WS_KEYS):
    r = api.s.post(_keys_path(ws), {"name": name, "role": role}, token or api.owner)
    assert r.status == 201, r
    return r.json["api_key"]


def test_create_api_key_answers_201_with_full_key_once(api):
    r = api.s.post(_keys_path(), {"name": "CI key", "role": "member"}, api.owner)
    assert r.status == 201, r
    assert set(r.json) == {"api_key"}
    key = r.json["api_key"]
    assert set(key) == API_KEY_FIELDS | {"full_key"}
    assert key["name"] == "CI key" and key["role"] == "member" and key["is_active"] is True
    assert is_int(key["id"]) and is_int(key["created_at"])
    assert abs(key["created_at"] - time.time()) < 300
    assert KEY_RE.match(key["full_key"]), key["full_key"]
    assert key["full_key"].startswith(key["key_prefix"]) and len(key["key_prefix"]) >= 4
    assert key["key_prefix"] != key["full_key"]

    listed = api.s.get(_keys_path(), api.owner)
    assert listed.status == 200
    assert set(listed.json) == {"api_keys"}
    mine = [k for k in listed.json["api_keys"] if k["id"] == key["id"]]
    assert len(mine) == 1
    assert set(mine[0]) == API_KEY_FIELDS
    assert mine[0] == {k: key[k] for k in API_KEY_FIELDS}
    assert key["full_key"] not in listed.body.decode()


def test_two_keys_are_different(api):
    a = _create_key(api, "k-a", "member")
    b = _create_key(api, "k-b", "member")
    assert a["full_key"] != b["full_key"] and a["id"] != b["id"]


def test_member_key_reads_but_cannot_delete(api):
    key = _create_key(api, "reader", "member")["full_key"]
    assert api.s.get(contacts_path(WS_KEYS), key).status == 200
    api.s.ingest_ok([room_join(WS_KEYS, "Key Target", "key-target@example.com")])
    c = api.s.find_by_email(WS_KEYS, "key-target@example.com", key)
    assert c is not None
    assert api.s.get(f"{contacts_path(WS_KEYS)}/{c['id']}", key).status == 200
    assert api.s.get(f"{contacts_path(WS_KEYS)}/{c['id']}/events", key).status == 200
    r = api.s.delete(f"{contacts_path(WS_KEYS)}/{c['id']}", key)
    assert (r.status, r.json) == (403, {"error": "Only owners and admins can delete contacts"})


def test_admin_key_deletes_and_audit_actor_is_the_key(api):
    created = _create_key(api, "deleter", "admin")
    key = created["full_key"]
    api.s.ingest_ok([room_join(WS_KEYS, "Key Victim", "key-victim@example.com")])
    c = api.s.find_by_email(WS_KEYS, "key-victim@example.com", key)
    r = api.s.delete(f"{contacts_path(WS_KEYS)}/{c['id']}", key)
    assert (r.status, r.json) == (200, {"ok": True})
    entries = _audit(api, ws=WS_KEYS, limit=100).json["entries"]
    deletes = [e for e in entries if e["action"] == "contact.delete" and
               e["target_id"] == c["id"]]
    assert len(deletes) == 1
    assert deletes[0]["actor"] == {"api_key_id": created["id"]}
    # The act only: an erased person's name and email stay nowhere (DESIGN.md section 10).
    assert deletes[0]["details"] == {}


def test_key_only_works_for_its_own_workspace(api):
    key = _create_key(api, "scoped", "owner")["full_key"]
    r = api.s.get(contacts_path(WS), key)
    assert (r.status, r.json) == (403, {"error": "Not a member of this workspace"})
    assert api.s.get(contacts_path(WS_KEYS), key).status == 200


def test_revoked_key_is_401(api):
    created = _create_key(api, "to-revoke", "member")
    key = created["full_key"]
    assert api.s.get(contacts_path(WS_KEYS), key).status == 200
    r = api.s.delete(f"{_keys_path()}/{created['id']}", api.owner)
    assert (r.status, r.json) == (200, {"ok": True})
    r = api.s.get(contacts_path(WS_KEYS), key)
    assert (r.status, r.json) == (401, {"error": "Invalid token"})
    listed = [k for k in api.s.get(_keys_path(), api.owner).json["api_keys"]
              if k["id"] == created["id"]]
    assert listed == [] or listed[0]["is_active"] is False


def test_key_management_audit_entries(api):
    created = _create_key(api, "audited", "member")
    assert api.s.delete(f"{_keys_path()}/{created['id']}", api.owner).status == 200
    entries = _audit(api, ws=WS_KEYS, limit=100).json["entries"]
    actions = [e["action"] for e in entries]
    assert "api_key.create" in actions and "api_key.revoke" in actions
    # newest first: the revoke comes before (above) the create
    assert actions.index("api_key.revoke") < actions.index("api_key.create")
    for e in entries:
        assert set(e) == AUDIT_FIELDS


def test_member_cannot_manage_keys(api):
    r = api.s.post(_keys_path(), {"name": "nope", "role": "member"}, api.member)
    assert (r.status, r.json) == (403, {"error": "Only owners and admins can manage API keys"})
    created = _create_key(api, "victim-key", "member")
    r = api.s.delete(f"{_keys_path()}/{created['id']}", api.member)
    assert (r.status, r.json) == (403, {"error": "Only owners and admins can manage API keys"})
    assert api.s.get(contacts_path(WS_KEYS), created["full_key"]).status == 200


def test_non_member_cannot_create_keys(api):
    r = api.s.post(_keys_path(), {"name": "nope", "role": "member"}, api.outsider)
    assert (r.status, r.json) == (403, {"error": "Not a member of this workspace"})


def test_admin_cannot_create_a_key_above_its_role(api):
    r = api.s.post(_keys_path(), {"name": "too-high", "role": "owner"}, api.admin)
    assert r.status == 403, r
    assert _create_key(api, "admin-made", "admin", token=api.admin)["role"] == "admin"


def test_member_key_cannot_create_keys(api):
    key = _create_key(api, "member-key", "member")["full_key"]
    r = api.s.post(_keys_path(), {"name": "x", "role": "member"}, key)
    assert (r.status, r.json) == (403, {"error": "Only owners and admins can manage API keys"})


def test_key_role_defaults_to_member(api):
    r = api.s.post(_keys_path(), {"name": "default-role"}, api.owner)
    assert r.status == 201, r
    assert r.json["api_key"]["role"] == "member"


@pytest.mark.parametrize("body", [
    {"role": "member"}, {"name": "", "role": "member"}, {"name": 5, "role": "member"},
    {"name": "x", "role": "superuser"}, {"name": "x", "role": 1}, {"name": None},
    "not json", "[1,2]"])
def test_bad_key_body_is_400(api, body):
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    r = api.s.post(_keys_path(), raw, api.owner, headers={"Content-Type": "application/json"})
    assert r.status == 400, (body, r)
    assert isinstance(r.json, dict) and isinstance(r.json.get("error"), str)


# A key acts with at most its creator's current role; only owners revoke owner keys
# (docs/decisions.md, issue 20). Workspace 6 and users 30+ are these tests' own.
WS_ROLES = 6


def _key_ok(api, key, ws=WS_ROLES):
    return api.s.get(contacts_path(ws), key).status == 200


def test_a_removed_admins_keys_stop_working(api):
    admin = 30
    api.s.ingest_ok([member_upsert(WS_ROLES, OWNER, "owner"),
                     member_upsert(WS_ROLES, admin, "admin")])
    created = _create_key(api, "admin-made", "admin", token=token_for(admin), ws=WS_ROLES)
    made_by_key = _create_key(api, "key-made", "member", token=created["full_key"], ws=WS_ROLES)
    owners = _create_key(api, "owner-made", "admin", ws=WS_ROLES)
    assert _key_ok(api, created["full_key"]) and _key_ok(api, made_by_key["full_key"])
    api.s.ingest_ok([member_remove(WS_ROLES, admin, occurred_at=1700000100)])
    for key in (created, made_by_key):
        r = api.s.get(contacts_path(WS_ROLES), key["full_key"])
        assert (r.status, r.json) == (401, {"error": "Invalid token"})
    assert _key_ok(api, owners["full_key"])
    listed = {k["id"]: k for k in api.s.get(_keys_path(WS_ROLES), api.owner).json["api_keys"]}
    assert listed[created["id"]]["is_active"] is False
    assert listed[made_by_key["id"]]["is_active"] is False
    assert listed[owners["id"]]["is_active"] is True
    # Back in the workspace, the old keys stay off.
    api.s.ingest_ok([member_upsert(WS_ROLES, admin, "admin", occurred_at=1700000200)])
    assert api.s.get(contacts_path(WS_ROLES), created["full_key"]).status == 401


def test_a_demoted_admins_key_can_no_longer_do_admin_things(api):
    admin = 31
    api.s.ingest_ok([member_upsert(WS_ROLES, OWNER, "owner"),
                     member_upsert(WS_ROLES, admin, "admin"),
                     room_join(WS_ROLES, "Demotion Target", "demotion@example.com")])
    created = _create_key(api, "to-demote", "admin", token=token_for(admin), ws=WS_ROLES)
    key = created["full_key"]
    assert api.s.get(_keys_path(WS_ROLES), key).status == 200
    api.s.ingest_ok([member_upsert(WS_ROLES, admin, "member", occurred_at=1700000100)])
    r = api.s.get(_keys_path(WS_ROLES), key)
    assert (r.status, r.json) == (403, {"error": "Only owners and admins can manage API keys"})
    c = api.s.find_by_email(WS_ROLES, "demotion@example.com", key)  # reading is still allowed
    r = api.s.delete(f"{contacts_path(WS_ROLES)}/{c['id']}", key)
    assert (r.status, r.json) == (403, {"error": "Only owners and admins can delete contacts"})
    # A later promotion does not raise the key again.
    api.s.ingest_ok([member_upsert(WS_ROLES, admin, "admin", occurred_at=1700000200)])
    assert api.s.get(_keys_path(WS_ROLES), key).status == 403
    listed = [k for k in api.s.get(_keys_path(WS_ROLES), api.owner).json["api_keys"]
              if k["id"] == created["id"]]
    assert listed[0]["role"] == "member" and listed[0]["is_active"] is True


def test_an_admin_or_admin_key_cannot_revoke_an_owner_key(api):
    owner_key = _create_key(api, "owner-key", "owner")
    admin_key = _create_key(api, "admin-key", "admin", token=api.admin)
    path = f"{_keys_path()}/{owner_key['id']}"
    for token in (admin_key["full_key"], api.admin):
        r = api.s.delete(path, token)
        assert (r.status, r.json) == (403, {"error": "Only owners can revoke owner keys"})
    assert _key_ok(api, owner_key["full_key"], ws=WS_KEYS)
    # The owner does revoke it; an admin still revokes an admin key.
    assert api.s.delete(f"{_keys_path()}/{admin_key['id']}", api.admin).status == 200
    assert api.s.delete(path, api.owner).status == 200
    assert api.s.get(contacts_path(WS_KEYS), owner_key["full_key"]).status == 401


def test_keys_cli_appends_a_working_owner_key(server_factory):
    server = server_factory()
    server.ingest_ok([member_upsert(2, OWNER, "owner"),
                      room_join(2, "Cli Person", "cli@example.com")])
    assert server.stop() == 0
    proc = run_cli("keys", "create", "--data", server.data_dir, "--workspace", "2",
                   "--role", "owner", "--name", "bootstrap", *server.log_args())
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1 and KEY_RE.match(lines[0]), proc.stdout
    key = lines[0]
    server.start()
    server.wait_ready()
    r = server.get("/api/workspaces/2/contacts", key)
    assert r.status == 200 and r.json["total"] == 1, r
    listed = server.get("/api/workspaces/2/api-keys", key)
    assert listed.status == 200, listed
    assert [(k["name"], k["role"], k["is_active"]) for k in listed.json["api_keys"]] == [
        ("bootstrap", "owner", True)]
    assert key.startswith(listed.json["api_keys"][0]["key_prefix"])
    r = server.get("/api/workspaces/3/contacts", key)
    assert r.status == 403
