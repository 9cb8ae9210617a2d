"""Logs (README, Logs): one event per line, timestamped and levelled, as text or JSON; an access
log line per response with the request id of X-Request-Id; every failed webhook attempt with its
delivery id and reason. conftest.py checks, at the end of every run, that no server log holds a
secret or an email the tests used.
"""

import json
import os
import re
import time

import pytest

from helpers import (free_port, member_upsert, qs, remember_secret, room_join, run_cli,
                     secrets_in_logs, token_for, wait_for)

WS = 31
OWNER = 7
TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info |warn |error) \S")
GENERATED_ID = re.compile(r"^[0-9a-f]{16}$")


def events(server):
    """The JSON events of the server's stdout, each line parsed."""
    return [json.loads(line) for line in server.stdout_text().splitlines() if line]


def wait_event(server, predicate, timeout=30.0, what="event"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = [e for e in events(server) if predicate(e)]
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"no {what} in the log:\n{server.logs()}")


def access_line(server, request_id):
    return wait_event(server, lambda e: e.get("msg") == "request" and e.get("request_id") == request_id,
                      what=f"access line of {request_id}")[0]


@pytest.fixture(scope="module")
def json_server(module_server_factory):
    s = module_server_factory(env={"CONTACTS_LOG_FORMAT": "json"},
                              extra_args=["--webhook-allow-private", "--webhook-retry-schedule", "1"])
    s.ingest_ok([member_upsert(WS, OWNER, "owner")])
    return s


def test_json_format_writes_one_object_per_line_with_ts_level_and_msg(json_server):
    json_server.get("/healthz")
    lines = [line for line in json_server.stdout_text().splitlines() if line]
    assert lines
    for line in lines:
        event = json.loads(line)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event["ts"]), line
        assert event["level"] in ("debug", "info", "warn", "error"), line
        assert isinstance(event["msg"], str) and event["msg"], line
    assert any(e["msg"].startswith("API listening on http://") for e in map(json.loads, lines))


def test_access_line_has_path_and_query_names_only_and_the_generated_request_id(json_server):
    email = remember_secret(f"ada.lovelace-{time.monotonic_ns()}@example.com")
    r = json_server.get(qs(f"/api/workspaces/{WS}/contacts", search=email, page=1),
                        token=token_for(OWNER))
    assert r.status == 200, r
    request_id = r.headers["x-request-id"]
    assert GENERATED_ID.match(request_id), request_id
    line = access_line(json_server, request_id)
    assert line["level"] == "info"
    assert line["method"] == "GET"
    assert line["path"] == f"/api/workspaces/{WS}/contacts?search&page"
    assert line["status"] == 200
    assert line["bytes"] == len(r.body)
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["remote"] == "127.0.0.1"
    assert email not in json_server.stdout_text()
    assert secrets_in_logs([json_server.stdout_path, json_server.stderr_path]) == []


def test_a_proxy_request_id_is_returned_and_logged(json_server):
    r = json_server.get("/healthz", headers={"X-Request-Id": "lb-7f3a.2:9_x"})
    assert r.headers["x-request-id"] == "lb-7f3a.2:9_x"
    assert access_line(json_server, "lb-7f3a.2:9_x")["path"] == "/healthz"


@pytest.mark.parametrize("bad", ["has space", "a" * 129, "semi;colon", "quote\"d"])
def test_a_bad_incoming_request_id_is_replaced(json_server, bad):
    r = json_server.get("/healthz", headers={"X-Request-Id": bad})
    assert r.status == 200
    replaced = r.headers["x-request-id"]
    assert GENERATED_ID.match(replaced), replaced
    assert access_line(json_server, replaced)["status"] == 200


def test_every_listener_logs_and_answers_a_request_id_even_when_refusing(json_server):
    r = json_server.ingest([room_join(WS, "Grace", "grace-refused@example.com")], token="wrong-token")
    assert r.status == 401, r
    request_id = r.headers["x-request-id"]
    line = access_line(json_server, request_id)
    assert (line["method"], line["path"], line["status"]) == ("POST", "/v1/commands", 401)
    # Refused by the framing rules before any handler ran: still one line and an id.
    r = json_server.request("POST", "/v1/things", headers={"Transfer-Encoding": "gzip"})
    assert r.status in (400, 501), r
    assert access_line(json_server, r.headers["x-request-id"])["status"] == r.status


def test_a_failed_webhook_attempt_is_logged_with_its_delivery_id_and_reason(json_server):
    closed = free_port()  # nothing listens there: every attempt is refused
    r = json_server.post(f"/api/workspaces/{WS}/webhooks", token=token_for(OWNER),
                         body={"name": "nobody home", "url": f"http://127.0.0.1:{closed}/hook",
                               "events": ["contact.created"]})
    assert r.status == 201, r
    hook_id = r.json["webhook"]["id"]
    json_server.ingest_ok([room_join(WS, "Hedy Lamarr", f"hedy-{time.monotonic_ns()}@example.com")])

    def of_hook(e):
        return e.get("webhook_id") == hook_id

    last = wait_event(json_server, lambda e: of_hook(e) and e["level"] == "error",
                      what="final failure")[0]
    first = wait_event(json_server, lambda e: of_hook(e) and e["level"] == "warn")[0]
    # The event is written just before the outcome is recorded: the list may lag it a moment.
    def recorded():
        page = json_server.get(f"/api/workspaces/{WS}/webhooks/{hook_id}/deliveries",
                               token=token_for(OWNER)).json
        return page["deliveries"] if page["deliveries"][0]["state"] == "failed" else None

    wait_for(recorded, what="the delivery recorded as failed")
    deliveries = recorded()
    assert len(deliveries) == 1, deliveries
    delivery = deliveries[0]
    for event, attempt in ((first, 1), (last, 2)):
        assert event["message_id"] == delivery["message_id"]
        assert event["workspace_id"] == WS
        assert event["attempt"] == attempt
        assert event["reason"] == delivery["last_error"] and "refused" in event["reason"].lower()
        assert event["status"] == 0
    assert first["msg"] == "webhook attempt failed"
    assert last["msg"] == "webhook delivery failed, no more attempts"


def test_text_is_the_default_format_one_event_per_line(server_factory):
    s = server_factory()
    r = s.get("/healthz?probe=1", headers={"X-Request-Id": "text-1"})
    assert r.status == 200
    deadline = time.monotonic() + 10
    while "request_id=text-1" not in s.stdout_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = s.stdout_text().splitlines()
    assert all(TEXT_LINE.match(line) for line in lines), lines
    access = [line for line in lines if "request_id=text-1" in line]
    assert len(access) == 1, lines
    assert re.search(r" info  request method=GET path=/healthz\?probe status=200 bytes=\d+ "
                     r"duration_ms=\d+\.\d{3} remote=127\.0\.0\.1 request_id=text-1$", access[0]), access


def test_log_level_warn_leaves_out_the_access_log(server_factory):
    s = server_factory(env={"CONTACTS_LOG_LEVEL": "warn"})
    r = s.get("/healthz", headers={"X-Request-Id": "quiet-1"})
    assert r.headers["x-request-id"] == "quiet-1"
    assert s.stop() == 0
    assert "quiet-1" not in s.stdout_text()
    assert "listening" not in s.stdout_text()


@pytest.mark.parametrize("variable, value", [("CONTACTS_LOG_LEVEL", "verbose"),
                                             ("CONTACTS_LOG_FORMAT", "xml")])
def test_an_unknown_log_level_or_format_is_refused(tmp_path, variable, value):
    env = dict(os.environ, **{variable: value})
    proc = run_cli("serve", "--data", tmp_path / "d", "--listen", f"127.0.0.1:{free_port()}", env=env)
    assert proc.returncode == 2, proc
    assert f"{variable} must be" in proc.stderr and value in proc.stderr
