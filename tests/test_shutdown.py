"""A graceful stop (SIGTERM): idle keep-alive connections close at once, a request in flight
finishes (with Connection: close) and what it appended is kept, and the process exits 0.

Behind a load balancer every node holds idle keep-alive connections; they used to hold the
drain until their idle timeout, so each stop took seconds.
"""

import socket
import time

from helpers import INGEST_TOKEN, member_upsert, ndjson, room_join, token_for

OWNER = 7
TOKEN = token_for(OWNER)
WS = 31


def keep_alive_connection(port):
    """A connection that has had one response and now waits, kept alive, for the next request."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while b'"ok"' not in data:
        chunk = s.recv(4096)
        assert chunk, "closed before the first response"
        data += chunk
    assert b"connection: close" not in data.lower()
    return s


def read_response(s):
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


def test_idle_keep_alive_connections_do_not_hold_the_stop(server_factory):
    srv = server_factory()
    idle = [keep_alive_connection(srv.port) for _ in range(6)]
    idle += [keep_alive_connection(srv.ingest_port) for _ in range(2)]
    started = time.monotonic()
    srv.proc.send_signal(15)
    rc = srv.proc.wait(timeout=20)
    took = time.monotonic() - started
    assert rc == 0
    # The idle timeout is 30 s and the drain's limit 10 s: either would show here.
    assert took < 5.0, f"stop took {took:.2f} s with idle keep-alive connections"
    for s in idle:
        s.settimeout(1)
        assert s.recv(1) == b"", "an idle connection was left open"
        s.close()


def test_a_request_in_flight_finishes_with_connection_close_and_is_kept(server_factory):
    srv = server_factory()
    srv.ingest_ok([member_upsert(WS, OWNER, "owner")])
    body = ndjson([room_join(WS, "Ines Drain", "ines.drain@example.com")])
    head = (f"POST /v1/commands HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {INGEST_TOKEN}\r\n"
            f"Content-Type: application/x-ndjson\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    s = socket.create_connection(("127.0.0.1", srv.ingest_port), timeout=10)
    s.sendall(head + body[:10])  # in flight: the head and a part of the body
    idle = keep_alive_connection(srv.port)
    time.sleep(0.3)  # the server has read what was sent
    srv.proc.send_signal(15)
    idle.settimeout(2)
    assert idle.recv(1) == b"", "the idle connection was not closed at once"
    assert srv.proc.poll() is None, "exited before the request in flight finished"
    s.sendall(body[10:])
    response = read_response(s).decode()
    assert response.startswith("HTTP/1.1 202"), response
    assert "connection: close" in response.lower()
    assert srv.proc.wait(timeout=20) == 0
    # What the request appended is there after a restart.
    srv.start()
    srv.wait_ready()
    emails = [c["email"] for c in srv.list_all(WS, TOKEN)]
    assert emails == ["ines.drain@example.com"]
