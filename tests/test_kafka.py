"""What only the Kafka bus has (issue "Kafka as the log"): producers that write to
contacts.commands directly, the dead-letter topic, and a broker that goes away mid-stream.

Runs when CONTACTS_TEST_BROKERS names a broker (scripts/test starts one with scripts/kafka);
the broker test also needs CONTACTS_TEST_KAFKA_SCRIPT (scripts/kafka, with KAFKA_PORT and
KAFKA_DIR in the environment) to stop and start it.
"""

import json
import os
import subprocess
import threading
import time

import pytest

from helpers import (BROKERS, PARTITIONS, kcat_consume, kcat_produce, member_upsert, ndjson, room_join,
                     run_cli, token_for, wait_for)

pytestmark = pytest.mark.skipif(BROKERS is None, reason="needs CONTACTS_TEST_BROKERS (a Kafka broker)")

OWNER = 7
WS = 2


def contacts_of(server, ws=WS):
    return {c["email"]: c for c in server.list_all(ws, token_for(OWNER))}


def test_commands_written_straight_to_the_topic_are_applied(server_factory):
    s = server_factory()
    topic = s.topic_prefix + "contacts.commands"
    kcat_produce(topic, WS, [json.dumps(member_upsert(WS, OWNER, "owner")),
                             json.dumps(room_join(WS, "Kcat Person", "kcat@example.com", occurred_at=1711500000))])
    wait_for(lambda: "kcat@example.com" in contacts_of(s) if s.get(
        f"/api/workspaces/{WS}/contacts", token_for(OWNER)).status == 200 else False, what="the kcat record")
    c = contacts_of(s)["kcat@example.com"]
    assert (c["name"], c["event_count"], c["last_seen_at"]) == ("Kcat Person", 1, 1711500000)


def test_bad_records_go_to_the_dead_letter_topic_and_the_fold_goes_on(server_factory):
    s = server_factory()
    prefix = s.topic_prefix
    s.ingest_ok([member_upsert(WS, OWNER, "owner")])
    kcat_produce(prefix + "contacts.commands", WS, [
        "{not json",
        json.dumps({"type": "room_join", "command_id": "no-participant", "workspace_id": WS,
                    "room": {"id": 1, "name": "r"}}),
        json.dumps(room_join(WS, "Wrong Key", "wrongkey@example.com") | {"workspace_id": 3}),
        json.dumps(room_join(WS, "After Bad", "after-bad@example.com")),
    ])
    # The default (CRC32) partitioner puts workspace 2 in another partition than Kafka's murmur2.
    kcat_produce(prefix + "contacts.commands", WS,
                 [json.dumps(room_join(WS, "Misplaced", "misplaced@example.com"))],
                 extra=("-p", "-1", "-X", "partitioner=consistent"))
    wait_for(lambda: "after-bad@example.com" in contacts_of(s), what="the good record after the bad ones")
    dead = [d for d in kcat_consume(prefix + "contacts.dlq", 3) if "Misplaced" not in d[2]]
    reasons = [h["reason"] for _, h, _ in dead]
    assert reasons[0] == "malformed JSON"
    assert reasons[1] == 'missing field "participant"'
    assert "is not the command's workspace_id" in reasons[2]
    assert all(h["source"].startswith(prefix + "contacts.commands/") for _, h, _ in dead)
    assert [v for _, _, v in dead][0] == "{not json"
    assert {k for k, _, _ in dead} == {str(WS)}
    emails = set(contacts_of(s))
    assert "wrongkey@example.com" not in emails
    metrics = s.get("/metrics").body.decode()
    assert "contacts_dead_letters_total" in metrics
    # A record in another partition than murmur2's (CRC32 here, which disagrees for this key
    # with 4 partitions) is forwarded to the partition of its key and applied, not dead-lettered.
    wait_for(lambda: "misplaced@example.com" in contacts_of(s), what="the misplaced record")
    assert contacts_of(s)["misplaced@example.com"]["event_count"] == 1
    assert not [v for _, _, v in kcat_consume(prefix + "contacts.dlq", 3) if "Misplaced" in v]
    assert "contacts_forwarded_records_total 1" in s.get("/metrics").body.decode()


def dlq(server, *args):
    return run_cli("dlq", *args, "--brokers", BROKERS, "--topic-prefix", server.topic_prefix,
                   "--partitions", PARTITIONS, "--data", server.data_dir, timeout=60)


def test_dead_letters_are_listed_and_replayed_once_they_are_valid(server_factory):
    s = server_factory()
    prefix = s.topic_prefix
    s.ingest_ok([member_upsert(WS, OWNER, "owner")])
    kcat_produce(prefix + "contacts.commands", WS, ["{not json"])
    # What an earlier release dead-lettered although valid (a record in another partition than
    # murmur2's), with the headers it wrote: fixed since, so it may be replayed.
    earlier = json.dumps(room_join(WS, "Earlier", "earlier@example.com", command_id="earlier-1"))
    source = prefix + "contacts.commands/3/41"
    kcat_produce(prefix + "contacts.dlq", WS, [earlier],
                 extra=("-H", "reason=record of key \"2\" is in partition 3 but belongs in "
                        "partition 1 (Kafka's murmur2 partitioner)", "-H", f"source={source}"))
    kcat_consume(prefix + "contacts.dlq", 2)

    listed = dlq(s, "list")
    assert listed.returncode == 0, listed.stderr
    letters = {d["value"]: d for d in map(json.loads, listed.stdout.splitlines())}
    assert set(letters) == {"{not json", earlier}
    bad = letters["{not json"]
    assert bad["reason"] == "malformed JSON" and bad["key"] == str(WS)
    assert letters[earlier]["source"] == "3/41"
    values = dlq(s, "list", "--values")
    assert sorted(values.stdout.splitlines()) == sorted(["{not json", earlier])

    # A record still invalid is refused and nothing is appended; an unknown position too.
    refused = dlq(s, "replay", bad["source"], "9/999")
    assert refused.returncode == 1
    assert f"{bad['source']}: still invalid, not replayed: malformed JSON" in refused.stderr
    assert "9/999: no dead letter there" in refused.stderr
    assert "replayed 0 record(s)" in refused.stdout
    replayed = dlq(s, "replay", "3/41")
    assert replayed.returncode == 0, replayed.stderr
    assert "replayed 1 record(s)" in replayed.stdout
    wait_for(lambda: "earlier@example.com" in contacts_of(s), what="the replayed record")
    # Replayed twice, applied once (its command_id).
    assert dlq(s, "replay", "--all").returncode == 1  # the bad one is still refused
    time.sleep(1.0)
    assert contacts_of(s)["earlier@example.com"]["event_count"] == 1
    assert dlq(s, "list").stdout.count("\n") == 2  # the list is the topic: nothing removed


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.skipif(not os.environ.get("CONTACTS_TEST_KAFKA_SCRIPT"), reason="needs CONTACTS_TEST_KAFKA_SCRIPT")
def test_a_broker_restart_mid_stream_loses_nothing_and_applies_nothing_twice(server_factory):
    script = os.environ["CONTACTS_TEST_KAFKA_SCRIPT"]
    s = server_factory()
    s.ingest_ok([member_upsert(WS, OWNER, "owner")])
    batches = [[room_join(WS, f"P{i % 300}", f"p{i % 300}@example.com", occurred_at=1711000000 + i)
                for i in range(b * 400, (b + 1) * 400)] for b in range(20)]
    failures = []
    sent = []

    def stream():
        for batch in batches:
            for attempt in range(60):  # a producer retries what was refused; duplicates are ignored
                try:
                    r = s.ingest(batch)
                except OSError as e:
                    r = e
                if getattr(r, "status", None) == 202:
                    sent.append(len(batch))
                    break
                failures.append(repr(r)[:200])
                time.sleep(1.0)
            time.sleep(0.1)

    t = threading.Thread(target=stream)
    t.start()
    try:
        wait_for(lambda: len(sent) >= 5, timeout=60, what="the first batches")
        subprocess.run([script, "stop"], check=True, capture_output=True, timeout=60)
        # With the brokers gone, the log's end is unknown: not ready, and said at once (one
        # bounded request for every partition, not a wait per partition).
        started = time.monotonic()
        r = s.get("/readyz")
        assert r.status == 503 and time.monotonic() - started < 5.0, (r, time.monotonic() - started)
        time.sleep(3.0)
    finally:
        subprocess.run([script, "start"], check=True, capture_output=True, timeout=120)
    t.join(timeout=240)
    assert not t.is_alive()
    assert sum(sent) == 20 * 400, failures
    s.wait_ready(timeout=120)
    got = contacts_of(s)
    assert len(got) == 300
    assert sum(c["event_count"] for c in got.values()) == 20 * 400
    for i in range(300):
        c = got[f"p{i}@example.com"]
        # Events i, i+300, ... up to 7999: the latest names the contact.
        last = max(range(i, 8000, 300))
        assert c["last_seen_at"] == 1711000000 + last and c["created_at"] == 1711000000 + i
    # The server survived the outage and still serves reads and writes.
    s.ingest_ok([room_join(WS, "After Outage", "after-outage@example.com")])
    assert "after-outage@example.com" in contacts_of(s)
    print(f"ingest calls refused during the outage: {len(failures)}")


def _snapshot(server, workspaces, token):
    """The raw bytes of every list page, the timelines and single contacts, the audit logs,
    and the key and webhook listings of `workspaces`."""
    out = {}
    for ws in workspaces:
        page = 1
        while True:
            r = server.get(f"/api/workspaces/{ws}/contacts?page={page}&limit=100", token)
            assert r.status == 200, r
            out[(ws, "list", page)] = r.body
            contacts = json.loads(r.body)["contacts"]
            for c in contacts[:20]:
                for suffix in ("", "/events?limit=100"):
                    out[(ws, c["id"], suffix)] = server.get(f"/api/workspaces/{ws}/contacts/{c['id']}{suffix}", token).body
            if len(contacts) < 100:
                break
            page += 1
        for path in ("audit-log?limit=100", "api-keys", "webhooks"):
            r = server.get(f"/api/workspaces/{ws}/{path}", token)
            assert r.status == 200, r
            out[(ws, path)] = r.body
        out[(ws, "search")] = server.get(f"/api/workspaces/{ws}/contacts?search=person%201", token).body
    return out


@pytest.mark.timeout(300)
def test_two_read_replicas_and_the_writer_serve_byte_identical_responses(server_factory):
    writer = server_factory(extra_args=["--webhook-allow-private"])
    replicas = [server_factory(command="api", topic_prefix=writer.topic_prefix) for _ in range(2)]
    token = token_for(OWNER)
    workspaces = [2, 3, 4]
    writer.ingest_ok([member_upsert(ws, OWNER, "owner") for ws in workspaces])
    commands = [room_join(ws, f"Person {i % 150}", f"person{i % 150}@ws{ws}.example.com",
                          occurred_at=1711000000 + (i * 7919) % 100000, room_id=1 + i % 9)
                for i in range(3000) for ws in (workspaces[i % 3],)]
    for at in range(0, len(commands), 500):
        writer.ingest_ok(commands[at:at + 500], wait=False)
    for node in [writer] + replicas:
        node.wait_ready(timeout=120)

    # Writes through any node are commands on the log: a key on the writer, a webhook on a
    # replica, a delete on each replica (read-your-writes on the node that took it).
    r = writer.post("/api/workspaces/2/api-keys", {"name": "ci", "role": "member"}, token)
    assert r.status == 201, r
    r = replicas[0].post("/api/workspaces/3/webhooks", {"name": "crm", "url": "http://127.0.0.1:9/hook",
                                                        "events": ["contact.deleted"]}, token)
    # A replica checks URLs by its own flags: without --webhook-allow-private, loopback is refused.
    assert r.status == 400 and "private" in r.json["error"]
    r = writer.post("/api/workspaces/3/webhooks", {"name": "crm", "url": "http://127.0.0.1:9/hook",
                                                   "events": ["contact.deleted"]}, token)
    assert r.status == 201, r
    for node, ws in ((replicas[0], 2), (replicas[1], 4)):
        victim = node.list_all(ws, token)[3]
        r = node.delete(f"/api/workspaces/{ws}/contacts/{victim['id']}", token)
        assert (r.status, r.json) == (200, {"ok": True})
        r = node.get(f"/api/workspaces/{ws}/contacts/{victim['id']}", token)
        assert r.status == 404, "a replica reads its own delete at once"

    for node in [writer] + replicas:
        node.wait_ready(timeout=60)
    expected = _snapshot(writer, workspaces, token)
    for i, node in enumerate(replicas):
        got = _snapshot(node, workspaces, token)
        assert got.keys() == expected.keys(), f"replica {i}"
        for key in expected:
            assert got[key] == expected[key], f"replica {i}: {key} differs"
    # The replicas emitted nothing: the writer alone keeps webhook deliveries.
    r = replicas[0].get(f"/api/workspaces/3/webhooks/{json.loads(expected[(3, 'webhooks')])['webhooks'][0]['id']}/deliveries", token)
    assert r.status == 404


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_misplaced_records_apply_once_across_kill_9_and_a_replica_agrees_byte_for_byte(server_factory):
    """Records placed by librdkafka's default partitioner (CRC32; kcat with no flag) stream in
    while the writer, which forwards them to their murmur2 partition, is killed with SIGKILL
    again and again: every command applies exactly once, and a replica that folds the same log
    (skipping the originals, folding the forwarded copies) serves the same bytes."""
    s = server_factory()
    topic = s.topic_prefix + "contacts.commands"
    workspaces = [2, 3, 4, 5, 6, 7, 8, 9]
    s.ingest_ok([member_upsert(ws, OWNER, "owner") for ws in workspaces])
    per_batch, batches = 250, 24
    done = []

    def stream():
        for b in range(batches):
            ws = workspaces[b % len(workspaces)]
            kcat_produce(topic, ws, [json.dumps(room_join(
                ws, f"P{i % 40}", f"p{i % 40}@ws{ws}.example.com", occurred_at=1711000000 + i,
                command_id=f"crc-{b}-{i}")) for i in range(b * per_batch, (b + 1) * per_batch)],
                extra=())
            done.append(b)
            time.sleep(0.15)

    t = threading.Thread(target=stream)
    t.start()
    try:
        for kill in range(4):
            time.sleep(0.4 + 0.3 * kill)
            s.kill9()
            killed_at = len(done)
            s.start()
    finally:
        t.join(timeout=120)
    assert len(done) == batches
    print(f"batches produced when the last kill came: {killed_at}")
    s.wait_ready(timeout=120)

    def settled():
        total = 0
        for ws in workspaces:
            total += sum(c["event_count"] for c in s.list_all(ws, token_for(OWNER)))
        return total == per_batch * batches
    wait_for(settled, timeout=120, what="every command applied")
    for ws in workspaces:
        got = {c["email"]: c for c in s.list_all(ws, token_for(OWNER))}
        assert len(got) == 40, (ws, len(got))
        mine = [i for b in range(batches) if workspaces[b % len(workspaces)] == ws
                for i in range(b * per_batch, (b + 1) * per_batch)]
        for k in range(40):
            seen = [i for i in mine if i % 40 == k]
            c = got[f"p{k}@ws{ws}.example.com"]
            assert c["event_count"] == len(seen)
            assert c["last_seen_at"] == 1711000000 + max(seen)
    assert "contacts_dead_letters_total 0" in s.get("/metrics").body.decode()
    # The misplaced records were forwarded: the topic holds their copies besides them.
    records = subprocess.run(["kcat", "-C", "-b", BROKERS, "-t", topic, "-e", "-q", "-f", "%p\\n"],
                             capture_output=True, text=True, timeout=60).stdout.count("\n")
    assert records > len(workspaces) + per_batch * batches, records

    replica = server_factory(command="api", topic_prefix=s.topic_prefix)
    replica.wait_ready(timeout=120)
    wait_for(lambda: _snapshot(replica, workspaces, token_for(OWNER)) ==
             _snapshot(s, workspaces, token_for(OWNER)), timeout=60, what="the replica's bytes")

    # And a rebuild of the writer's views replays the same log into the same bytes.
    before = _snapshot(s, workspaces, token_for(OWNER))
    s.stop()
    proc = run_cli("rebuild", "--data", s.data_dir, *s.log_args(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    s.start()
    s.wait_ready(timeout=120)
    assert _snapshot(s, workspaces, token_for(OWNER)) == before


@pytest.mark.timeout(300)
def test_a_read_replica_rebuilds_while_serving_into_the_writers_bytes(server_factory):
    """Issue "Replay history while serving": `contacts rebuild` against a running replica swaps in
    views folded afresh while the old ones serve; reads never fail, and the result is the
    writer's bytes."""
    writer = server_factory()
    replica = server_factory(command="api", topic_prefix=writer.topic_prefix)
    token = token_for(OWNER)
    workspaces = [2, 3]
    writer.ingest_ok([member_upsert(ws, OWNER, "owner") for ws in workspaces])
    commands = [room_join(workspaces[i % 2], f"Person {i % 400}", f"p{i % 400}@example.com",
                          occurred_at=1711000000 + i, room_id=1 + i % 7) for i in range(20000)]
    for at in range(0, len(commands), 2000):
        writer.ingest_ok(commands[at:at + 2000], wait=False)
    for node in (writer, replica):
        node.wait_ready(timeout=120)

    failures, reads, stop = [], [0], threading.Event()

    def read():
        while not stop.is_set():
            r = replica.get(f"/api/workspaces/2/contacts?page=2&limit=50", token)
            reads[0] += 1
            if r.status != 200:
                failures.append(r)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        out = run_cli("rebuild", "--data", replica.data_dir, *replica.log_args(), timeout=240)
    finally:
        stop.set()
        reader.join()
    assert out.returncode == 0, out.stdout + out.stderr
    assert "rebuilt the views of the running node from" in out.stdout
    assert reads[0] > 0 and not failures, failures[:3]
    assert open(os.path.join(replica.data_dir, "views.current")).read().strip() == "views.2"
    ready = json.loads(replica.readyz().body)
    assert ready["views"]["rebuild"]["phase"] == "done", ready
    replica.wait_ready(timeout=60)
    assert _snapshot(replica, workspaces, token) == _snapshot(writer, workspaces, token)
    # The replica still emits nothing: it has no webhook deliveries and no outbox to drain.
    r = replica.delete(f"/api/workspaces/3/contacts/{replica.list_all(3, token)[0]['id']}", token)
    assert (r.status, r.json) == (200, {"ok": True})
