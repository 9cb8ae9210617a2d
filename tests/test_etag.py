"""Conditional GETs (issue 23): a contacts list, a contact and a timeline carry an ETag of their
bytes; If-None-Match with it answers 304 until an ingest changes them, and an ingest into another
workspace leaves them as they were. HEAD gives the same tag; errors carry none.

One server for the module; workspace 41 is read and written, workspace 42 only written.
"""

import http.client
import re

import pytest

from helpers import booking, member_upsert, qs, room_join, token_for

WS = 41
WS_OTHER = 42
OWNER, OUTSIDER = 7, 10
TAG = re.compile(r'^"[0-9a-f]{16}"$')


@pytest.fixture(scope="module")
def server(module_server_factory):
    s = module_server_factory()
    s.ingest_ok([member_upsert(WS, OWNER, "owner"), member_upsert(WS_OTHER, OWNER, "owner"),
                 member_upsert(WS_OTHER, OUTSIDER, "owner"),
                 room_join(WS, "Alice Martin", "alice@example.com", occurred_at=1711500000),
                 booking(WS, "Alice Martin", "alice@example.com", occurred_at=1711000000),
                 room_join(WS, "Bob Stone", "bob@example.com", occurred_at=1711400000),
                 room_join(WS_OTHER, "Carol", "carol@example.com", occurred_at=1711400000)])
    return s


def base(ws=WS):
    return f"/api/workspaces/{ws}/contacts"


def alice(server):
    (c,) = [c for c in server.list_all(WS, token_for(OWNER)) if c["email"] == "alice@example.com"]
    return c["id"]


def targets(server):
    """The three tagged reads of Alice: the list (a page and a search), her, her timeline."""
    one = f"{base()}/{alice(server)}"
    return [base(), qs(base(), search="ALI", limit=10), one, f"{one}/events",
            qs(f"{one}/events", page=2, limit=1)]


def get(server, path, if_none_match=None, user=OWNER, method="GET"):
    headers = {} if if_none_match is None else {"If-None-Match": if_none_match}
    return server.request(method, path, token=token_for(user), headers=headers)


def tag(server, path):
    r = get(server, path)
    assert r.status == 200, r
    assert TAG.match(r.headers["etag"]), r.headers
    return r.headers["etag"]


def test_an_unchanged_resource_answers_304_to_its_tag(server):
    for path in targets(server):
        r = get(server, path)
        assert r.status == 200, r
        etag = r.headers["etag"]
        assert TAG.match(etag), r.headers
        assert r.headers["cache-control"] == "private, no-cache"
        assert r.headers["vary"] == "Authorization"
        again = get(server, path, if_none_match=etag)
        assert again.status == 304, (path, again)
        assert again.body == b""
        assert again.headers["etag"] == etag
        assert again.headers["cache-control"] == "private, no-cache"
        assert again.headers["vary"] == "Authorization"
        assert "content-length" not in again.headers  # only the 200's length may stand there
        assert "content-type" not in again.headers


def test_an_ingest_that_changes_the_resource_gives_a_new_tag(server):
    paths = targets(server)  # the second timeline page too: its total changes
    before = {path: tag(server, path) for path in paths}
    # Alice comes back later under another name: her row, her contact and her timeline change.
    server.ingest_ok([room_join(WS, "Alice M.", "alice@example.com", occurred_at=1711600000)])
    for path in paths:
        r = get(server, path, if_none_match=before[path])
        assert r.status == 200, (path, r)
        assert r.json is not None
        new = r.headers["etag"]
        assert TAG.match(new) and new != before[path], path
        assert get(server, path, if_none_match=new).status == 304, path
        assert get(server, path, if_none_match=before[path]).status == 200, path


def test_an_ingest_into_another_workspace_leaves_the_tags(server):
    paths = targets(server)
    before = {path: tag(server, path) for path in paths}
    server.ingest_ok([room_join(WS_OTHER, "Dave", "dave@example.com", occurred_at=1711700000),
                      room_join(WS_OTHER, "Alice Martin", "alice@example.com",
                                occurred_at=1711800000)])
    for path in paths:
        r = get(server, path, if_none_match=before[path])
        assert r.status == 304, (path, r)
        assert r.headers["etag"] == before[path]


def test_head_gives_the_same_tag_as_get(server):
    for path in targets(server):
        g = get(server, path)
        h = get(server, path, method="HEAD")
        assert (h.status, h.body) == (200, b"")
        assert h.headers["etag"] == g.headers["etag"]
        assert h.headers["content-length"] == str(len(g.body))
        h304 = get(server, path, if_none_match=g.headers["etag"], method="HEAD")
        assert (h304.status, h304.body) == (304, b"")
        assert h304.headers["etag"] == g.headers["etag"]
        assert "content-length" not in h304.headers


def test_weak_and_list_forms_match_and_a_malformed_value_is_ignored(server):
    path = base()
    etag = tag(server, path)
    for field in (f"W/{etag}", f'"0123456789abcdef", {etag}', f' ,{etag} ,', f"W/{etag}, W/\"x\"",
                  "*"):
        assert get(server, path, if_none_match=field).status == 304, field
    for field in ('"0123456789abcdef"', etag.strip('"'), f"w/{etag}", f"{etag}, *", f"{etag} x",
                  "", etag[:-1]):
        r = get(server, path, if_none_match=field)
        assert r.status == 200, (field, r)
        assert r.headers["etag"] == etag


def test_errors_carry_no_tag_and_are_never_304(server):
    one = f"{base()}/{alice(server)}"
    answers = {
        404: [get(server, f"{base()}/999999", if_none_match="*"),
              get(server, f"{base()}/999999/events", if_none_match="*")],
        400: [get(server, base() + "?search=%FF", if_none_match="*")],
        401: [server.request("GET", one, headers={"If-None-Match": "*"})],
        403: [get(server, one, if_none_match="*", user=OUTSIDER)],
    }
    for status, responses in answers.items():
        for r in responses:
            assert r.status == status, r
            assert "etag" not in r.headers and "cache-control" not in r.headers, r.headers
    # Routes outside the three reads answer as before.
    export = get(server, f"{one}/export", if_none_match="*")
    assert export.status == 200 and "etag" not in export.headers


def test_a_304_leaves_the_connection_usable(server):
    """A 304 without a body or a Content-Length frames right: the next answer on the same
    keep-alive connection is read whole."""
    path = base()
    etag = tag(server, path)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        auth = {"Authorization": f"Bearer {token_for(OWNER)}"}
        conn.request("GET", path, headers={**auth, "If-None-Match": etag})
        first = conn.getresponse()
        assert (first.status, first.read()) == (304, b"")
        conn.request("GET", path, headers=auth)
        second = conn.getresponse()
        body = second.read()
        assert second.status == 200 and second.getheader("ETag") == etag
        assert b'"contacts"' in body
    finally:
        conn.close()
