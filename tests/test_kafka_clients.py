"""Real clients, each with its defaults, write to contacts.commands at once (DESIGN.md section 3,
"Any producer"): kcat and confluent-kafka place a key by librdkafka's CRC32, Java's
kafka-clients by murmur2, so most workspaces land in two partitions. The views must equal an
embedded fold of the same commands, and contacts.dlq must hold exactly the malformed records.

The Python and Java producers are the README's examples (examples/producer.py,
examples/Producer.java; tests/test_readme.py checks the README shows them byte for byte), and
the README's three `echo ... |` producer lines run here as written, but for the broker and the
topic (this server's prefix).

Runs when CONTACTS_TEST_BROKERS names a broker started by scripts/kafka (whose cached jars,
${KAFKA_CACHE:-~/.cache/contacts/kafka-3.9.1}/libs, hold kafka-clients); needs kcat, java (a
JDK: it runs the source file) and the confluent-kafka package (scripts/setup installs them).
"""

import collections
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zlib

import pytest

from helpers import (BROKERS, PARTITIONS, REPO, kcat_consume, member_upsert, partition_of, token_for,
                     wait_for)

pytestmark = pytest.mark.skipif(BROKERS is None, reason="needs CONTACTS_TEST_BROKERS (a Kafka broker)")

OWNER = 7
# With 4 partitions, CRC32 and murmur2 disagree on all of these but 3 and 5.
WORKSPACES = [2, 3, 4, 5, 6, 7, 9, 10, 11]
CLIENTS = ["kcat", "python", "java"]
# The round in which each client writes a workspace is shifted by this much: kcat and python
# write the same workspace at the same time, java another one.
SHIFT = {"kcat": 0, "python": 0, "java": 3}
PEOPLE = 6
PER_BATCH = 11  # commands a client writes to a workspace
LINE_PACE = 2.0  # seconds over which a client's batch of a round is written

KAFKA_LIBS = os.path.join(os.environ.get("KAFKA_CACHE") or
                          os.path.expanduser("~/.cache/contacts/kafka-3.9.1"), "libs")
README = os.path.join(REPO, "README.md")


def crc32_partition(key: bytes, partitions: int) -> int:
    """librdkafka's default (consistent_random) partitioner of a keyed record."""
    return zlib.crc32(key) % partitions


# --------------------------------------------------------------------------- the commands

def serialize(client, command):
    """Each producer writes JSON its own way; the fold must not care."""
    if client == "python":
        return json.dumps(command)  # ASCII escapes, ", " and ": "
    if client == "java":
        return json.dumps(command, ensure_ascii=False, separators=(", ", ":"))
    return json.dumps(command, ensure_ascii=False, separators=(",", ":"))


def person(ws, k, client):
    """Person k of a workspace; each client spells the email its own way (normalized alike)."""
    if k == 5:
        name, email = "Zoë Ünal", f"zoë.ünal@ws{ws}.example.org"
    else:
        name, email = f"Person {k}", f"person{k}@ws{ws}.example.org"
    if client == "python":
        email = email.upper()
    elif client == "java" and k % 2:
        email = email.capitalize()
    return name, email


def build_batches():
    """{(client, ws): [value, ...]} to write, the valid commands, and the malformed values."""
    rng = random.Random(20241205)
    n_events = len(CLIENTS) * len(WORKSPACES) * PER_BATCH
    stamps = rng.sample(range(n_events * 3), n_events)  # distinct occurred_at, out of log order
    batches, valid = {}, []
    for ci, client in enumerate(CLIENTS):
        for ws in WORKSPACES:
            lines = []
            if ws % len(CLIENTS) == ci:
                lines.append(serialize(client, member_upsert(ws, OWNER, "owner",
                                                             command_id=f"m-{ws}")))
            for j in range(PER_BATCH):
                k = (j + ci) % PEOPLE  # every person gets commands from every client
                name, email = person(ws, k, client)
                common = {"command_id": f"{client}-{ws}-{j}", "workspace_id": ws,
                          "occurred_at": 1711000000 + 61 * stamps.pop(),
                          "participant": {"name": f"{name} ({client} {j})", "email": email}}
                if j % 3 == 0:
                    common["metadata"] = {"device": client, "n": j, "tags": ["é", None, True]}
                elif j % 3 == 1:
                    common["metadata"] = None
                if (j + ci) % 2:
                    cmd = {"type": "room_join", **common,
                           "room": {"id": 1 + j % 4, "name": f"room-{j % 4}"}}
                    if j % 4 == 1:
                        cmd["room"]["display_name"] = f"Room {j % 4} ✓"
                else:
                    cmd = {"type": "booking", **common,
                           "booking_page": {"id": 10 + j % 3, "title": f"Page {j % 3}",
                                            "slug": f"page-{j % 3}"}}
                lines.append(serialize(client, cmd))
            batches[(client, ws)] = lines
            valid.extend(lines)

    # Duplicates across producers: each client also sends, byte for byte, a command another
    # client sends for the same workspace (applied once, by its command_id).
    for ci, client in enumerate(CLIENTS):
        other = CLIENTS[(ci + 1) % len(CLIENTS)]
        for ws in WORKSPACES[ci::3]:
            batches[(client, ws)].insert(4, batches[(other, ws)][-1])

    # Malformed records, each client its own, in the middle of some batches.
    malformed = []
    for ci, client in enumerate(CLIENTS):
        ws_a, ws_b, ws_c = WORKSPACES[ci + 1], WORKSPACES[ci + 4], WORKSPACES[ci + 6]
        bad_json = f'{{"type":"room_join","command_id":"bad-json-{client}","workspace_id":{ws_a},'
        no_participant = json.dumps({"type": "booking", "command_id": f"no-participant-{client}",
                                     "workspace_id": ws_b, "occurred_at": 1711000000,
                                     "booking_page": {"id": 1, "title": "T", "slug": "t"}})
        # Keyed by ws_c, but a command of another workspace: never applied, anywhere.
        wrong_key = json.dumps({"type": "room_join", "command_id": f"wrong-key-{client}",
                                "workspace_id": WORKSPACES[(ci + 7) % len(WORKSPACES)],
                                "occurred_at": 1711000000,
                                "participant": {"name": "Wrong Key", "email": f"wrong-key-{client}@example.org"},
                                "room": {"id": 1, "name": "r"}})
        assert WORKSPACES[(ci + 7) % len(WORKSPACES)] != ws_c
        for ws, value in ((ws_a, bad_json), (ws_b, no_participant), (ws_c, wrong_key)):
            batches[(client, ws)].insert(6, value)
            malformed.append(value)
    return batches, valid, malformed


def readme_producer_lines():
    """The README's `echo '<command>' | <producer>` lines of its `sh kafka` blocks, as
    (client, shell command, command JSON)."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    out = []
    for body in re.findall(r"^```sh kafka\n(.*?)^```$", text, re.S | re.M):
        for cmd in body.replace("\\\n", "").splitlines():
            m = re.match(r"^echo '([^']*)'\s*\|\s*(.*)$", cmd)
            if not m:
                continue
            producer = m.group(2)
            client = ("kcat" if producer.startswith("kcat ") else
                      "python" if "examples/producer.py" in producer else
                      "java" if "examples/Producer.java" in producer else None)
            assert client, f"a README producer line this test does not know: {cmd}"
            out.append((client, cmd, m.group(1)))
    assert sorted(c for c, _, _ in out) == sorted(CLIENTS), out
    return out


def as_run_here(shell_command, topic):
    """A README line pointed at the test's broker and this server's topic (nothing else)."""
    assert shell_command.count("127.0.0.1:9092") == 1 and shell_command.count(" contacts.commands") == 1
    return shell_command.replace("127.0.0.1:9092", BROKERS).replace(" contacts.commands", " " + topic)


# --------------------------------------------------------------------------- the producers

def producer_argv(client, topic, ws):
    if client == "kcat":
        return ["kcat", "-P", "-b", BROKERS, "-t", topic, "-k", str(ws)]
    if client == "python":
        return [sys.executable, "examples/producer.py", BROKERS, topic, str(ws)]
    return ["java", "-cp", os.path.join(KAFKA_LIBS, "*"), "examples/Producer.java", BROKERS, topic, str(ws)]


def run_producer(argv, lines, errors, label):
    """Starts one producer process and writes its lines paced over LINE_PACE seconds."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)
        try:
            for line in lines:
                proc.stdin.write(line.encode("utf-8") + b"\n")
                proc.stdin.flush()
                time.sleep(LINE_PACE / len(lines))
            proc.stdin.close()
            proc.wait(timeout=120)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        if proc.returncode != 0:
            err.seek(0)
            errors.append(f"{label} exited {proc.returncode}: {err.read().decode('utf-8', 'replace')[-2000:]}")


def run_all_at_once(topic, batches, readme_lines):
    """One thread a client; in each round every client starts a producer process for one
    workspace and they write at the same time. The README's lines run in the first round."""
    errors = []
    barrier = threading.Barrier(len(CLIENTS) + 1)

    def client_thread(client):
        try:
            for r in range(len(WORKSPACES)):
                ws = WORKSPACES[(r + SHIFT[client]) % len(WORKSPACES)]
                barrier.wait(timeout=180)
                run_producer(producer_argv(client, topic, ws), batches[(client, ws)], errors,
                             f"{client} (workspace {ws})")
        except Exception as e:  # noqa: BLE001  reported below
            errors.append(f"{client}: {e!r}")
            barrier.abort()

    def readme_thread():
        try:
            barrier.wait(timeout=180)
            procs = [subprocess.Popen(["bash", "-euo", "pipefail", "-c", as_run_here(cmd, topic)], cwd=REPO,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                     for _, cmd, _ in readme_lines]
            for (client, cmd, _), proc in zip(readme_lines, procs):
                _, err = proc.communicate(timeout=120)
                if proc.returncode != 0:
                    errors.append(f"README line ({client}) exited {proc.returncode}: {err[-2000:]}")
            for _ in range(len(WORKSPACES) - 1):
                barrier.wait(timeout=180)
        except Exception as e:  # noqa: BLE001
            errors.append(f"README lines: {e!r}")
            barrier.abort()

    threads = [threading.Thread(target=client_thread, args=(c,)) for c in CLIENTS]
    threads.append(threading.Thread(target=readme_thread))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert not any(t.is_alive() for t in threads), "a producer hung"
    assert not errors, "\n".join(errors)


# --------------------------------------------------------------------------- the views

def views(server, token):
    """Every workspace's contacts by email (list order too), with their timelines; ids left out
    (they derive from log positions, which differ between a Kafka run and an embedded one)."""
    out = {}
    for ws in WORKSPACES:
        contacts = server.list_all(ws, token)
        by_email = {}
        for c in contacts:
            events = server.timeline_all(ws, c["id"], token)
            by_email[c["email"]] = ({k: v for k, v in c.items() if k != "id"},
                                    [{k: v for k, v in e.items() if k not in ("id", "contact_id")}
                                     for e in events])
        out[ws] = ([c["email"] for c in contacts], by_email)
    return out


def total_events(server, token):
    try:
        return sum(c["event_count"] for ws in WORKSPACES for c in server.list_all(ws, token))
    except AssertionError:  # before the owner's member_upsert is applied
        return -1


def metric(server, name):
    m = re.search(rf"^{name} (\d+)$", server.get("/metrics").body.decode(), re.M)
    return int(m.group(1)) if m else None


# --------------------------------------------------------------------------- the test

@pytest.mark.timeout(300)
def test_kcat_confluent_kafka_and_java_write_at_once_and_the_views_equal_an_embedded_fold(server_factory):
    for tool in ("kcat", "java"):
        assert shutil.which(tool), f"{tool} is needed (scripts/setup installs it)"
    assert os.path.exists(os.path.join(KAFKA_LIBS, "kafka-clients-3.9.1.jar")), \
        f"kafka-clients is not in {KAFKA_LIBS} (scripts/kafka start fetches it)"
    try:
        import confluent_kafka  # noqa: F401
    except ImportError:
        pytest.fail("the confluent-kafka package is needed (scripts/setup installs it)", pytrace=False)
    misplaced = [ws for ws in WORKSPACES
                 if crc32_partition(str(ws).encode(), PARTITIONS) != partition_of(ws, PARTITIONS)]
    assert len(misplaced) >= len(WORKSPACES) - 2, misplaced

    batches, valid, malformed = build_batches()
    readme_lines = readme_producer_lines()
    valid += [command for _, _, command in readme_lines]
    token = token_for(OWNER)

    s = server_factory()
    topic = s.topic_prefix + "contacts.commands"
    run_all_at_once(topic, batches, readme_lines)

    events = sum(1 for v in valid if json.loads(v)["type"] in ("room_join", "booking"))
    wait_for(lambda: total_events(s, token) == events, timeout=120, what=f"{events} events applied")
    s.wait_ready(timeout=60)

    # The same commands, once each, through the ingest of a server on the embedded log.
    embedded = server_factory(brokers=None)
    rng = random.Random(7)
    shuffled = valid[:]
    rng.shuffle(shuffled)
    embedded.ingest_ok(shuffled)
    assert total_events(embedded, token) == events

    expected, got = views(embedded, token), views(s, token)
    for ws in WORKSPACES:
        order_e, contacts_e = expected[ws]
        order_g, contacts_g = got[ws]
        assert sorted(contacts_g) == sorted(contacts_e), f"workspace {ws}: emails differ"
        for email in contacts_e:
            assert contacts_g[email][0] == contacts_e[email][0], f"workspace {ws}: {email}"
            assert contacts_g[email][1] == contacts_e[email][1], f"workspace {ws}: {email}'s timeline"
        assert order_g == order_e, f"workspace {ws}: list order"
    # The README's commands and the cross-producer people are there, once.
    readme_people = {json.loads(c)["participant"]["email"] for _, _, c in readme_lines}
    assert readme_people <= set(got[2][1]), readme_people
    counts = collections.Counter((c["workspace_id"], c["participant"]["email"].lower())
                                 for c in map(json.loads, valid) if "participant" in c)
    assert {(ws, email): c[0]["event_count"] for ws in WORKSPACES for email, c in got[ws][1].items()} == counts

    # contacts.dlq: exactly the malformed records, each once; nothing for being misplaced.
    dead = kcat_consume(s.topic_prefix + "contacts.dlq", len(malformed), timeout=60)
    time.sleep(1.0)
    dead = kcat_consume(s.topic_prefix + "contacts.dlq", len(malformed), timeout=60)
    assert collections.Counter(v for _, _, v in dead) == collections.Counter(malformed), \
        json.dumps([(k, h, v) for k, h, v in dead], ensure_ascii=False, indent=1)
    assert not [h for _, h, _ in dead if "partition" in h.get("reason", "")], dead
    assert metric(s, "contacts_dead_letters_total") == len(malformed)
    forwarded = metric(s, "contacts_forwarded_records_total")
    print(f"{len(valid)} commands, {events} events, {len(malformed)} malformed; "
          f"forwarded {forwarded}; CRC32 misplaces workspaces {misplaced}")
    # Forwarded: every valid command that reached the topic only in a partition other than its
    # key's, at most every such record (a duplicate may be forwarded before it is skipped).
    wrong = {(c, ws) for c in ("kcat", "python") for ws in misplaced}
    sends = [(line, (client, ws) in wrong) for (client, ws), lines in batches.items()
             for line in lines if line not in malformed]
    sends += [(command, (client, 2) in wrong) for client, _, command in readme_lines]
    only_wrong = {line for line, _ in sends} - {line for line, w in sends if not w}
    assert len(only_wrong) <= forwarded <= sum(w for _, w in sends), (len(only_wrong), forwarded)
