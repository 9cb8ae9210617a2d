"""Erasure, as a privacy reviewer would test it (DESIGN.md section 10; README, Personal data).

A person with a distinctive name and email becomes a contact through ingest, through `contacts
produce` and (on Kafka) through a direct producer that seals with `contacts seal`; a webhook
delivers their changes. Before the delete, the log (the command topic) holds them only sealed.
After the delete and the documented compaction, no file under the data directory and (on Kafka)
no record of any of the service's topics holds their name or email: as raw bytes, lower-cased,
or in base64. A rebuild afterwards gives the live views byte for byte, and a lost master key
refuses to start rather than serve garbage.
"""

import base64
import json
import os
import subprocess
import time

import pytest

from helpers import (BROKERS, Receiver, booking, member_upsert, produce, qs, room_join, run_cli,
                     token_for, wait_for)
from test_rebuild import OWNER, WORKSPACES, capture

WS = WORKSPACES[0]
NAME = "Zebulon Quaxworth-Fenimore"
EMAIL = "zeb.quaxworth@fenimore-erasure.example"
WINDOW = 3  # seconds: the erasure window of the Kafka topics in these tests
ARGS = ["--webhook-allow-private", "--webhook-retry-schedule", "1,1,1",
        "--erasure-window", f"{WINDOW}s"]


def needles():
    """The person's name and email as a reviewer searches for them: the bytes (matched against
    lower-cased data, so any case), and base64 at each of the three alignments."""
    out = []
    for text in (NAME, EMAIL):
        for variant in {text, text.lower()}:
            raw = variant.encode()
            out.append(("raw", raw.lower()))
            for k in range(3):
                for encode in (base64.b64encode, base64.urlsafe_b64encode):
                    out.append(("base64", encode(raw[k:])[:-4].rstrip(b"=")))
    return out


def traces(blobs):
    """(where, kind) of every needle found in `blobs` ({where: bytes})."""
    found = []
    for where, data in blobs.items():
        lowered = data.lower()
        for kind, needle in needles():
            if (needle in lowered) if kind == "raw" else (needle in data):
                found.append((where, kind, needle))
                break
    return found


def files_under(path):
    blobs = {}
    for root, _, names in os.walk(path):
        for name in names:
            full = os.path.join(root, name)
            if name == "control.sock" or not os.path.isfile(full):
                continue
            with open(full, "rb") as f:
                blobs[full] = f.read()
    return blobs


def topic_dump(topic):
    """Every record of `topic` (key and value bytes), from its start."""
    proc = subprocess.run(["kcat", "-C", "-b", BROKERS, "-t", topic, "-e", "-q",
                           "-f", "%k\\t%s\\n"], capture_output=True, timeout=60)
    return proc.stdout


def topics(server):
    return [server.topic_prefix + t for t in
            ("contacts.commands", "contacts.changes", "contacts.dlq", "contacts.keys")]


@pytest.fixture
def receiver(tmp_path):
    r = Receiver(tmp_path).start()
    try:
        yield r
    finally:
        r.stop()


def contact_of(server, token):
    r = server.get(qs(f"/api/workspaces/{WS}/contacts", search="quaxworth"), token)
    assert r.status == 200, r
    return r.json["contacts"]


@pytest.mark.timeout(600)
def test_an_erased_person_leaves_no_trace_in_the_data_or_on_any_topic(server_factory, receiver):
    server = server_factory(extra_args=ARGS)
    token = token_for(OWNER)
    server.ingest_ok([member_upsert(ws, OWNER, "owner") for ws in WORKSPACES])
    r = server.post(f"/api/workspaces/{WS}/webhooks", token=token,
                    body={"name": "crm", "url": receiver.url("/crm"),
                          "events": ["contact.created", "contact.updated", "contact.deleted"]})
    assert r.status == 201, r
    hook = r.json["webhook"]
    receiver.register("/crm", hook["secret"])

    # Through ingest, then `contacts produce` (the embedded log needs the server stopped).
    server.ingest_ok([room_join(WS, NAME, EMAIL, occurred_at=1711500000)])
    assert server.stop() == 0
    proc = produce(server.data_dir, [booking(WS, NAME.upper(), EMAIL.upper(), occurred_at=1711600000)],
                   log_args=server.log_args())
    assert proc.returncode == 0, proc.stderr
    server.start()
    server.wait_ready()
    visits = 2
    if BROKERS:
        # A producer writing to Kafka itself seals with the helper, then sends with its own client
        # (kcat: CRC32, another partitioner than the service's; the writer forwards the record).
        line = json.dumps(room_join(WS, NAME, EMAIL, occurred_at=1711700000))
        sealed = run_cli("seal", "--data", server.data_dir, *server.log_args(), input=line + "\n")
        assert sealed.returncode == 0, sealed.stderr
        assert NAME not in sealed.stdout and EMAIL not in sealed.stdout
        assert json.loads(sealed.stdout)["participant"]["sealed"]
        subprocess.run(["kcat", "-P", "-b", BROKERS, "-t", server.topic_prefix + "contacts.commands",
                        "-k", str(WS)], input=sealed.stdout, text=True, check=True, timeout=30)
        visits = 3
    wait_for(lambda: contact_of(server, token) and contact_of(server, token)[0]["event_count"] == visits,
             timeout=60, what="the person's visits folded")
    contact = contact_of(server, token)[0]
    assert contact["email"] == EMAIL  # normalized: it was sent in upper case once
    receiver.wait_for(lambda got: any(json.loads(x["body"])["event"] == "contact.updated" for x in got),
                      path="/crm")

    # Before the delete: the log holds the person only sealed; the views, which serve them, in
    # clear (the search finds them there once compacted to files: it would find them anywhere).
    if BROKERS:
        commands = topic_dump(server.topic_prefix + "contacts.commands")
        assert commands.count(b'"sealed"') >= visits
        assert traces({"commands": commands}) == []
    else:
        assert traces(files_under(os.path.join(server.data_dir, "log"))) == []
    assert run_cli("compact", "--data", server.data_dir, *server.log_args()).returncode == 0
    assert {os.path.basename(os.path.dirname(w)) for w, _, _ in traces(files_under(server.data_dir))} \
        >= {"views"}

    # The right of access: everything held about the person, in one document.
    export = server.get(f"/api/workspaces/{WS}/contacts/{contact['id']}/export", token)
    assert export.status == 200, export
    assert export.json["contact"]["name"] == contact["name"]
    assert export.json["contact"]["event_count"] == visits
    assert len(export.json["events"]) == visits
    assert {d["webhook_id"] for d in export.json["deliveries"]} == {hook["id"]}
    assert {d["event"] for d in export.json["deliveries"]} >= {"contact.created", "contact.updated"}

    r = server.delete(f"/api/workspaces/{WS}/contacts/{contact['id']}", token)
    assert r.status == 200 and r.json == {"ok": True}, r
    # The contact.deleted webhook still carries {id, name, email}: the values in hand at the delete.
    deleted = receiver.wait_for(
        lambda got: any(json.loads(x["body"])["event"] == "contact.deleted" for x in got), path="/crm")
    body = next(json.loads(x["body"]) for x in deleted if json.loads(x["body"])["event"] == "contact.deleted")
    assert body["data"] == {"id": contact["id"], "name": contact["name"], "email": EMAIL}
    wait_for(lambda: all(d["state"] != "pending" for d in server.get(
        qs(f"/api/workspaces/{WS}/webhooks/{hook['id']}/deliveries", limit=100), token).json["deliveries"]),
        what="deliveries done")
    audit = server.get(f"/api/workspaces/{WS}/audit-log", token).json["entries"]
    delete_entry = next(e for e in audit if e["action"] == "contact.delete")
    assert delete_entry["target_id"] == contact["id"] and delete_entry["details"] == {}

    # The documented compaction, on the running node.
    done = run_cli("compact", "--data", server.data_dir, *server.log_args())
    assert done.returncode == 0, done.stderr
    assert "running node" in done.stdout
    found = traces(files_under(server.data_dir))
    assert found == [], f"the erased person is still in {sorted({w for w, _, _ in found})}"

    if BROKERS:
        # Past the erasure window, the next change rolls the change topic's segment (and the key
        # store its own, with a roll marker): retention and compaction then remove what was left.
        time.sleep(WINDOW + 1)
        server.ingest_ok([room_join(WS, "Someone Else", "someone@example.com")])
        deadline = time.monotonic() + 120
        found = None
        while time.monotonic() < deadline:
            dumps = {t: topic_dump(t) for t in topics(server)}
            assert dumps[server.topic_prefix + "contacts.keys"], "the key store's topic is empty?"
            found = traces(dumps)
            if not found:
                break
            time.sleep(2)
            server.ingest_ok([room_join(WS, "Someone Else", "someone@example.com",
                                        occurred_at=int(time.time()))], wait=False)
        assert not found, f"the erased person is still on {sorted({w for w, _, _ in found})}"

    # A rebuild after the erasure gives the live views, byte for byte.
    before = capture(server)
    rebuilt = run_cli("rebuild", "--data", server.data_dir, *server.log_args(), timeout=300)
    assert rebuilt.returncode == 0, rebuilt.stderr
    server.wait_ready()
    assert capture(server) == before
    assert contact_of(server, token) == []


def test_a_lost_master_key_refuses_to_start_rather_than_serve_garbage(server_factory):
    server = server_factory()
    server.ingest_ok([member_upsert(WS, OWNER, "owner"), room_join(WS, NAME, EMAIL)])
    assert server.stop() == 0
    other = base64.b64encode(os.urandom(32)).decode()
    for env, says in (({"CONTACTS_MASTER_KEY": other}, "master key does not open the key store"),
                      ({"CONTACTS_MASTER_KEY": ""}, "no master key")):
        stranger = server_factory(data_dir=server.data_dir, start=False,
                                  topic_prefix=server.topic_prefix, env=env)
        with pytest.raises(Exception):
            stranger.start(timeout=60)
        assert says in stranger.logs(), stranger.logs()
    server.start()
    server.wait_ready()
    assert contact_of(server, token_for(OWNER))[0]["name"] == NAME


def test_the_master_key_rotates_and_the_sealed_records_still_open(server_factory):
    server = server_factory()
    token = token_for(OWNER)
    server.ingest_ok([member_upsert(WS, OWNER, "owner"), room_join(WS, NAME, EMAIL)])
    assert server.stop() == 0
    old = os.environ["CONTACTS_MASTER_KEY"]
    new = base64.b64encode(os.urandom(32)).decode()
    rotating = {**os.environ, "CONTACTS_MASTER_KEY": new, "CONTACTS_MASTER_KEY_PREVIOUS": old}
    done = run_cli("rotate-master-key", "--data", server.data_dir, *server.log_args(), env=rotating)
    assert done.returncode == 0, done.stderr
    assert "under the current master key" in done.stdout
    # The embedded store holds the new wrappings only: the new key alone opens it. On Kafka the
    # old wrappings stay until the topic's compaction: the previous key stays configured until then.
    env = {"CONTACTS_MASTER_KEY": new}
    if BROKERS:
        env["CONTACTS_MASTER_KEY_PREVIOUS"] = old
    rotated = server_factory(data_dir=server.data_dir, topic_prefix=server.topic_prefix, env=env)
    rotated.wait_ready()
    # A rebuild opens every sealed record again, under the rewrapped keys.
    rebuilt = run_cli("rebuild", "--data", rotated.data_dir, *rotated.log_args(),
                      env={**os.environ, **env})
    assert rebuilt.returncode == 0, rebuilt.stderr
    rotated.wait_ready()
    assert contact_of(rotated, token)[0]["name"] == NAME
    assert rotated.stop() == 0
    if not BROKERS:
        stale = server_factory(data_dir=server.data_dir, start=False, env={"CONTACTS_MASTER_KEY": old})
        with pytest.raises(Exception):
            stale.start(timeout=60)
        assert "master key does not open the key store" in stale.logs()


def test_records_in_clear_are_applied_and_counted(server_factory):
    server = server_factory()
    server.ingest_ok([member_upsert(WS, OWNER, "owner"), room_join(WS, NAME, EMAIL)])
    assert server.stop() == 0
    # A producer that does not seal (here `produce --no-encryption`; on Kafka, any client).
    proc = run_cli("produce", "--data", server.data_dir, *server.log_args(), "--no-encryption",
                   input=json.dumps(booking(WS, "Clara Clear", "clara@example.com")) + "\n")
    assert proc.returncode == 0, proc.stderr
    server.start()
    server.wait_ready()
    names = {c["name"] for c in server.list_all(WS, token_for(OWNER))}
    assert names == {NAME, "Clara Clear"}
    metrics = server.get("/metrics").body.decode()
    assert "contacts_clear_visits_total 1\n" in metrics, metrics
