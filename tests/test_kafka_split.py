"""The service past one machine (DESIGN.md section 9), on a real broker: `contacts project`
writers sharing the group contacts-projector and publishing contacts.changes, `contacts
webhooks` dispatchers in the group contacts-webhooks, `contacts api --replica` readers, and the
offsets the groups commit (`contacts lag`).

Runs when CONTACTS_TEST_BROKERS names a broker (scripts/test starts one with scripts/kafka).
"""

import collections
import json
import os
import signal
import subprocess
import threading
import time

import pytest

from helpers import (BIN, BROKERS, INGEST_TOKEN, Receiver, free_port, http_request, kcat_consume, member_upsert,
                     ndjson, PARTITIONS, partition_of, produce, room_join, run_cli, token_for, wait_for)

pytestmark = pytest.mark.skipif(BROKERS is None, reason="needs CONTACTS_TEST_BROKERS (a Kafka broker)")

OWNER = 7


def lag(node, group="contacts-projector"):
    """`contacts lag`: {partition: (committed, end)} and the total."""
    proc = run_cli("lag", "--brokers", BROKERS, "--topic-prefix", node.topic_prefix, "--group", group, timeout=60)
    assert proc.returncode == 0, proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines()[1:]]
    assert rows[-1][0] == "total"
    return {int(p): (None if c == "-" else int(c), int(e)) for p, c, e, _ in rows[:-1]}, int(rows[-1][1])


def changes_on_topic(node, expect):
    """The change events on the node's contacts.changes, once at least `expect` are there."""
    records = kcat_consume(node.topic_prefix + "contacts.changes", expect, timeout=60)
    return [(key, json.loads(value)) for key, _, value in records]


def applied(node):
    r = node.get("/metrics")
    for line in r.body.decode().splitlines():
        if line.startswith("contacts_applied_records_total "):
            return int(line.split()[1])
    return 0


def assigned(node):
    """The partitions the node's last assignment gave it, from its stdout."""
    last = None
    for line in node.stdout_text().splitlines():
        if "assigned partitions" in line:
            last = line.rsplit(" ", 1)[1]
        elif "revoked partitions" in line:
            last = "none"
    return set() if last in (None, "none") else {int(p) for p in last.split(",")}


def test_project_webhooks_and_a_replica_as_separate_processes(server_factory, tmp_path):
    receiver = Receiver(tmp_path).start()
    try:
        writer = server_factory(command="project")
        prefix = writer.topic_prefix
        hooks = server_factory(command="webhooks", topic_prefix=prefix,
                               extra_args=["--webhook-allow-private", "--webhook-retry-schedule", "1"])
        replica = server_factory(command="api", topic_prefix=prefix)
        token = token_for(OWNER)
        ws = 2
        # Before any webhook: changes go on the topic all the same, with no subscriber.
        early = [member_upsert(ws, OWNER, "owner")] + [
            room_join(ws, f"Early {i}", f"early{i}@example.com", occurred_at=1711000000 + i) for i in range(5)]
        assert produce(writer.data_dir, early, log_args=writer.log_args()).returncode == 0
        for node in (writer, hooks, replica):
            node.wait_ready(timeout=60)

        # A webhook created through the dispatcher node (a command on the log like any write).
        r = hooks.post(f"/api/workspaces/{ws}/webhooks", {"name": "crm", "url": receiver.url("/split"),
                                                          "events": ["contact.created", "contact.updated",
                                                                     "contact.deleted"]}, token)
        assert r.status == 201, r
        webhook = r.json["webhook"]
        receiver.register("/split", webhook["secret"])

        later = [room_join(ws, f"Person {i % 40}", f"person{i % 40}@example.com", occurred_at=1711100000 + i)
                 for i in range(120)]
        assert produce(writer.data_dir, later, log_args=writer.log_args()).returncode == 0
        replica.wait_ready(timeout=60)
        victim = replica.find_by_email(ws, "person3@example.com", token)
        r = replica.delete(f"/api/workspaces/{ws}/contacts/{victim['id']}", token)
        assert (r.status, r.json) == (200, {"ok": True})

        # contacts.changes: one event per applied change, keyed by workspace, with the position
        # as its stable id and the subscriptions that wanted it.
        events = changes_on_topic(writer, 5 + 120 + 1)
        by_position = {e["position"]: (key, e) for key, e in events}
        assert len(by_position) == 5 + 120 + 1
        kinds = collections.Counter(e["event"] for _, e in by_position.values())
        assert kinds == {"contact.created": 45, "contact.updated": 80, "contact.deleted": 1}
        assert all(key == str(ws) for key, _ in by_position.values())
        early_events = [e for _, e in by_position.values() if e["data"]["email"].startswith("early")]
        assert len(early_events) == 5 and all(e["webhooks"] == [] for e in early_events)
        subscribed = {p for p, (_, e) in by_position.items() if e["webhooks"] == [webhook["id"]]}
        assert len(subscribed) == 121
        deleted = [e for _, e in by_position.values() if e["event"] == "contact.deleted"][0]
        assert deleted["data"] == {"id": victim["id"], "name": "Person 3", "email": "person3@example.com"}

        # The dispatcher delivered each subscribed change once, signed, with msg_<position>.
        got = receiver.wait_for(lambda g: len(g) >= 121, timeout=60, path="/split")
        time.sleep(1.0)
        got = receiver.received("/split")
        assert sorted(d["id"] for d in got) == sorted(f"msg_{p}" for p in subscribed)
        assert all(d["standard_ok"] and d["hmac_ok"] for d in got)
        # Its deliveries are served by its own API; the replica has none.
        r = hooks.get(f"/api/workspaces/{ws}/webhooks/{webhook['id']}/deliveries?limit=100", token)
        assert r.status == 200 and r.json["total"] == 121, r
        assert {d["state"] for d in r.json["deliveries"]} == {"succeeded"}
        assert replica.get(f"/api/workspaces/{ws}/webhooks/{webhook['id']}/deliveries", token).status == 404

        # Both groups committed everything they took: no lag.
        wait_for(lambda: lag(writer)[1] == 0, timeout=30, what="the writer group's lag to reach 0")
        wait_for(lambda: lag(writer, "contacts-webhooks")[1] == 0, timeout=30,
                 what="the dispatcher group's lag to reach 0")
        offsets, _ = lag(writer)
        assert sum(end for _, end in offsets.values()) == len(early) + 1 + len(later) + 1  # + webhook, delete
    finally:
        receiver.stop()


def _stream(path, workspaces, count):
    """room_joins spread over workspaces; returns (commands, expected event_count per (ws, email))."""
    expected = collections.Counter()
    with open(path, "w") as f:
        for ws in workspaces:
            f.write(json.dumps(member_upsert(ws, OWNER, "owner")) + "\n")
        for i in range(count):
            ws = workspaces[i % len(workspaces)]
            email = f"p{(i * 7) % 97}@ws{ws}.example.com"
            f.write(json.dumps(room_join(ws, f"P {(i * 7) % 97}", email, occurred_at=1711000000 + i)) + "\n")
            expected[(ws, email)] += 1
    return expected


def test_writers_share_partitions_survive_a_kill_and_hand_over_on_rebalance(server_factory, tmp_path):
    a = server_factory(command="project")
    b = server_factory(command="project", topic_prefix=a.topic_prefix)
    every = set(range(a.partitions))
    wait_for(lambda: assigned(a) and assigned(b) and assigned(a) | assigned(b) == every
             and not assigned(a) & assigned(b), timeout=60, what="the two writers to split the partitions")

    workspaces = list(range(2, 42))
    first, second = tmp_path / "first.ndjson", tmp_path / "second.ndjson"
    expected = _stream(first, workspaces, 30000)
    more = _stream(second, workspaces, 10000)
    expected.update(more)
    room_joins = 30000 + 10000
    distinct = len(expected)

    # A is killed -9 while the first part streams in (in 15 pieces, one `contacts produce`
    # each), once it has applied some of it; B takes its partitions over.
    lines = first.read_text().splitlines(keepends=True)
    pieces = []
    for i in range(15):
        piece = tmp_path / f"piece{i}.ndjson"
        piece.write_text("".join(lines[i * len(lines) // 15:(i + 1) * len(lines) // 15]))
        pieces.append(piece)
    failures = []

    def stream():
        for piece in pieces:
            proc = produce(a.data_dir, str(piece), log_args=a.log_args())
            if proc.returncode != 0:
                failures.append(proc.stderr)

    producer = threading.Thread(target=stream)
    producer.start()
    wait_for(lambda: applied(a) > 4000, timeout=120, what="A to apply part of the stream")
    a.kill9()
    producer.join(timeout=300)
    assert not producer.is_alive() and not failures, failures
    wait_for(lambda: assigned(b) == every, timeout=60, what="B to own every partition")

    # A comes back: the group rebalances, B publishes and commits before it lets partitions go,
    # A resumes its own from its own views, quietly up to what the group committed.
    a.start()
    wait_for(lambda: assigned(a) and assigned(a) | assigned(b) == every, timeout=60,
             what="A to rejoin")
    assert produce(a.data_dir, second, log_args=a.log_args()).returncode == 0

    # A request to a writer for a workspace whose partition it does not own is refused at once
    # (its views of it are stale or empty), and a write there appends nothing.
    token = token_for(OWNER)
    foreign = next(ws for ws in workspaces if partition_of(ws, a.partitions) not in assigned(a))
    wait_for(lambda: lag(a)[1] == 0, timeout=120, what="the writer group's lag to reach 0")
    victim = b.list_all(foreign, token)[0]
    started = time.monotonic()
    r = a.delete(f"/api/workspaces/{foreign}/contacts/{victim['id']}", token)
    assert r.status == 503 and "partition" in r.json["error"] and time.monotonic() - started < 5, r
    assert a.get(f"/api/workspaces/{foreign}/contacts", token).status == 503
    assert b.get(f"/api/workspaces/{foreign}/contacts/{victim['id']}", token).status == 200
    home = next(ws for ws in workspaces if partition_of(ws, a.partitions) in assigned(a))
    assert a.get(f"/api/workspaces/{home}/contacts", token).status == 200
    wait_for(lambda: lag(a)[1] == 0, timeout=120, what="the writer group's lag to reach 0")

    # Every applied change is on the topic at least once, and none that was not applied.
    events = changes_on_topic(a, room_joins)
    positions = collections.Counter(e["position"] for _, e in events)
    assert len(positions) == room_joins
    created = {(e["workspace_id"], e["data"]["email"]) for _, e in events if e["event"] == "contact.created"}
    assert created == set(expected)
    duplicates = sum(n - 1 for n in positions.values())
    print(f"change events: {len(events)}, distinct {len(positions)}, published again after the kill {duplicates}")

    # A leaves cleanly: B owns everything and folds the rest from its own views: every count
    # exact, none applied twice, and only what A had not published goes out from B.
    a.stop()
    wait_for(lambda: assigned(b) == every, timeout=60, what="B to own every partition again")
    b.wait_ready(timeout=120)
    token = token_for(OWNER)
    got = {}
    for ws in workspaces:
        for c in b.list_all(ws, token):
            got[(ws, c["email"])] = c["event_count"]
    assert got == dict(expected)
    after = changes_on_topic(a, len(events))
    assert len(after) == len(events), "a clean hand-over publishes nothing again"
    assert len(got) == distinct

    # B's views rebuilt from the topic: the same views, and nothing published again (the
    # rebuild is quiet up to what the group committed, whoever published it).
    b.stop()
    rebuilt = run_cli("rebuild", "--data", b.data_dir, "--partitions", b.partitions, *b.log_args(), timeout=300)
    assert rebuilt.returncode == 0, rebuilt.stderr
    b.start()
    wait_for(lambda: assigned(b) == every, timeout=60, what="B to own every partition after the rebuild")
    b.wait_ready(timeout=120)
    got = {(ws, c["email"]): c["event_count"] for ws in workspaces for c in b.list_all(ws, token)}
    assert got == dict(expected)
    time.sleep(1.0)
    assert len(changes_on_topic(a, len(events))) == len(events), "a rebuild publishes nothing again"
    assert lag(b)[1] == 0


def test_two_dispatchers_share_the_change_topic_and_one_takes_over_after_a_kill(server_factory, tmp_path):
    receiver = Receiver(tmp_path).start()
    try:
        writer = server_factory(command="project")
        prefix = writer.topic_prefix
        flags = ["--webhook-allow-private", "--webhook-retry-schedule", "1"]
        d1 = server_factory(command="webhooks", topic_prefix=prefix, extra_args=flags)
        d2 = server_factory(command="webhooks", topic_prefix=prefix, extra_args=flags)
        token = token_for(OWNER)
        workspaces = list(range(2, 10))  # spread over the partitions
        assert produce(writer.data_dir, [member_upsert(ws, OWNER, "owner") for ws in workspaces],
                       log_args=writer.log_args()).returncode == 0
        d1.wait_ready(timeout=60)
        hooks = {}
        for ws in workspaces:
            r = d1.post(f"/api/workspaces/{ws}/webhooks", {"name": "crm", "url": receiver.url(f"/ws{ws}"),
                                                           "events": ["contact.created", "contact.updated"]}, token)
            assert r.status == 201, r
            hooks[ws] = r.json["webhook"]["id"]
            receiver.register(f"/ws{ws}", r.json["webhook"]["secret"])
        every = set(range(writer.partitions))
        wait_for(lambda: assigned(d1) and assigned(d2) and assigned(d1) | assigned(d2) == every
                 and not assigned(d1) & assigned(d2), timeout=60, what="the dispatchers to share the change topic")

        def visits(start, count):
            return [room_join(workspaces[i % len(workspaces)], f"V {i % 50}", f"v{i % 50}@example.com",
                              occurred_at=1711000000 + i) for i in range(start, start + count)]

        # Without faults, each change is delivered once, by one of the two.
        assert produce(writer.data_dir, visits(0, 400), log_args=writer.log_args()).returncode == 0
        got = receiver.wait_for(lambda g: len(g) >= 400, timeout=60)
        time.sleep(1.0)
        got = receiver.received()
        assert len(got) == 400 and len({(d["path"], d["id"]) for d in got}) == 400
        totals = [sum(node.get(f"/api/workspaces/{ws}/webhooks/{hooks[ws]}/deliveries", token).json["total"]
                      for ws in workspaces) for node in (d1, d2)]
        assert sum(totals) == 400 and min(totals) > 0, totals

        # One is killed -9; the other takes its partitions over: every change still arrives.
        d2.kill9()
        assert produce(writer.data_dir, visits(400, 400), log_args=writer.log_args()).returncode == 0
        got = receiver.wait_for(lambda g: len({(d["path"], d["id"]) for d in g}) >= 800, timeout=90,
                                what="every change after the kill")
        assert all(d["standard_ok"] and d["hmac_ok"] for d in got)
    finally:
        receiver.stop()


def test_the_ingest_process_appends_to_the_topic_a_replica_folds(server_factory, tmp_path):
    replica = server_factory(command="api")
    port = free_port()
    out = open(tmp_path / "ingest.out", "wb")
    proc = subprocess.Popen([BIN, "ingest", "--ingest-listen", f"127.0.0.1:{port}", "--ingest-token", INGEST_TOKEN,
                             *replica.log_args()], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: _healthy(port), timeout=30, what="contacts ingest to listen")
        body = ndjson([member_upsert(2, OWNER, "owner"), room_join(2, "Via Ingest", "via-ingest@example.com")])
        r = http_request(port, "POST", "/v1/commands", body=body,
                         headers={"Authorization": f"Bearer {INGEST_TOKEN}", "Content-Type": "application/x-ndjson"})
        assert (r.status, r.json) == (202, {"accepted": 2}), r
        r = http_request(port, "POST", "/v1/commands", body=body, headers={"Content-Type": "application/x-ndjson"})
        assert r.status == 401
        replica.wait_ready(timeout=60)
        wait_for(lambda: replica.find_by_email(2, "via-ingest@example.com", token_for(OWNER)) is not None, timeout=30,
                 what="the replica to fold the ingested command")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        out.close()


def _healthy(port):
    try:
        return http_request(port, "GET", "/healthz", timeout=2).status == 200
    except OSError:
        return False


@pytest.mark.timeout(300)
def test_a_writer_rebuilds_while_serving_keeps_its_partitions_and_publishes_each_change_once(server_factory):
    """Issue "Replay history while serving": `contacts rebuild` against a running `contacts project`
    swaps in views folded afresh; the writer keeps the partitions its group gave it, publishes
    nothing again for what it had applied, and publishes the changes of commands that arrive
    during and after the rebuild, once each."""
    writer = server_factory(command="project")
    replica = server_factory(command="api", topic_prefix=writer.topic_prefix)
    token = token_for(OWNER)
    workspaces = [2, 3, 4]
    first = [member_upsert(ws, OWNER, "owner") for ws in workspaces] + [
        room_join(workspaces[i % 3], f"Person {i % 300}", f"p{i % 300}@example.com",
                  occurred_at=1711000000 + i) for i in range(30000)]
    assert produce(writer.data_dir, first, log_args=writer.log_args()).returncode == 0
    writer.wait_ready(timeout=120)
    owned = assigned(writer)
    assert owned == set(range(PARTITIONS))
    before = len(changes_on_topic(writer, 1))

    # Commands keep coming while the writer rebuilds.
    during = [room_join(workspaces[i % 3], f"New {i}", f"new{i}@example.com",
                        occurred_at=1712000000 + i) for i in range(300)]
    producing = threading.Thread(target=lambda: [
        produce(writer.data_dir, during[at:at + 30], log_args=writer.log_args()) for at in range(0, 300, 30)])
    producing.start()
    out = run_cli("rebuild", "--data", writer.data_dir, *writer.log_args(), timeout=240)
    producing.join()
    assert out.returncode == 0, out.stdout + out.stderr
    assert "rebuilt the views of the running node from" in out.stdout
    assert open(os.path.join(writer.data_dir, "views.current")).read().strip() == "views.2"
    after = [room_join(2, "After Swap", "after@example.com", occurred_at=1713000000)]
    assert produce(writer.data_dir, after, log_args=writer.log_args()).returncode == 0
    writer.wait_ready(timeout=120)
    assert assigned(writer) == owned  # no rebalance: the rebuild kept its partitions

    # Every change once: the first run's, those that came during the rebuild and the one after.
    events = changes_on_topic(writer, before + 300 + 1)
    positions = collections.Counter(e["position"] for _, e in events)
    assert len(events) == before + 300 + 1, f"{len(events)} events for {before + 301} changes"
    assert max(positions.values()) == 1
    # The rebuilt views serve the replica's bytes.
    replica.wait_ready(timeout=120)
    wait_for(lambda: replica.find_by_email(2, "after@example.com", token) is not None, timeout=60,
             what="the replica folding the last command")
    for ws in workspaces:
        assert writer.list_all(ws, token) == replica.list_all(ws, token)
