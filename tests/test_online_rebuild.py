"""Rebuilds while serving (DESIGN.md section 5, README "Operations").

`contacts rebuild --data DIR` against a running node asks it, over DIR/control.sock, to fold the
whole log into a fresh view set beside the live one and swap it in; the node serves reads, ingest
and read-your-writes DELETE throughout. These tests seed a log big enough for a rebuild to take a
second or more, then check:
  - clients reading, ingesting and deleting through a rebuild see no error, every acknowledged
    DELETE is gone on the very next read, and the rebuilt views answer byte for byte what a clean
    fold of the same log answers;
  - /readyz and /metrics show the progress, a second request is refused, `--cancel` cancels and
    the old views serve on, unchanged;
  - a kill -9 early, half way and at the swap leaves views that serve whole, and the restarted
    node resumes (or has completed) the rebuild and leaves no other view set behind;
  - builds of a newer fold version (build/contacts-fold-bump1, -bump2) rebuild views written by
    `contacts` in the background, or before they serve.
"""

import os
import random
import re
import shutil
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from helpers import BIN, BROKERS, produce, qs, room_join, run_cli, token_for

# The fold version of this build (views/fold_version.cpp); the bump builds fold FOLD + 1.
FOLD = 3

OWNER = 7
WORKSPACES = (2, 3, 4, 5)
PEOPLE = 300  # distinct emails per workspace in the seed
# Records of each test's log: enough for a rebuild to last a second or more (a rebuild folds some
# 400k records/s on a small machine, on either log).
RECORDS = 600_000
SWAP_LAG = 20_000  # projector/live_fold.cpp kSwapLag: the swap starts this close to the live views
WAIT = 120.0  # the bound of every wait for a rebuild

BUMP1 = os.path.join(os.path.dirname(BIN), "contacts-fold-bump1")
BUMP2 = os.path.join(os.path.dirname(BIN), "contacts-fold-bump2")

DONE_LINE = re.compile(r"^rebuilt the views of the running node from (\d+) records in \d+ ms\n$")
PROGRESS_LINE = re.compile(r"^rebuild folding: \d+%  [\d,]+ / [\d,]+ records  [\d,]+ records/s"
                           r"(  ETA \d+ s)?$", re.M)
NOT_SERVING = {"error": "The views are being rebuilt before this node serves; see /readyz"}


# --------------------------------------------------------------------------- the log

def write_seed(path, records):
    """Members, then `records` room joins and bookings of PEOPLE people per workspace (and a room
    delete every 100k records); the number of lines."""
    rnd = random.Random(20240601)
    lines = [f'{{"type":"member_upsert","command_id":"seed-m{ws}","workspace_id":{ws},'
             f'"occurred_at":1700000000,"user_id":{OWNER},"role":"owner"}}' for ws in WORKSPACES]
    for i in range(records):
        ws = WORKSPACES[i % len(WORKSPACES)]
        k = rnd.randrange(PEOPLE)
        at = 1711000000 + rnd.randrange(10_000_000)
        who = f'"participant":{{"name":"Person {k} v{i % 7}","email":"p{k}@example.org"}}'
        if i % 100_000 == 50_000:
            lines.append(f'{{"type":"room_delete","command_id":"seed-d{i}","workspace_id":{ws},'
                         f'"occurred_at":{at},"room_id":{i % 9 + 1}}}')
        elif i % 3:
            lines.append(f'{{"type":"room_join","command_id":"seed-{i}","workspace_id":{ws},'
                         f'"occurred_at":{at},{who},"room":{{"id":{k % 9 + 1},"name":"room-{k % 9}"}}}}')
        else:
            lines.append(f'{{"type":"booking","command_id":"seed-{i}","workspace_id":{ws},'
                         f'"occurred_at":{at},{who},"booking_page":{{"id":{k % 5 + 1},'
                         f'"title":"Page {k % 5}","slug":"page-{k % 5}"}}}}')
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return len(lines)


@pytest.fixture(scope="module")
def seed(tmp_path_factory):
    path = tmp_path_factory.mktemp("seed") / "seed.ndjson"
    return str(path), write_seed(path, RECORDS)


def seeded_server(server_factory, seed, **kwargs):
    """A server on a log holding the seed, its views caught up."""
    path, count = seed
    server = server_factory(start=False, **kwargs)
    proc = produce(server.data_dir, path, log_args=server.log_args())
    assert proc.returncode == 0, proc.stderr
    assert f"appended {count} commands" in proc.stdout
    server.start()
    server.wait_ready(timeout=WAIT)
    return server


def clean_fold(server_factory, server):
    """A server on a fresh data directory folding the same log from offset 0 (the embedded log's
    files and the key store its records are sealed under copied; on Kafka, the same topics).
    `server` is stopped."""
    assert not server.running()
    fresh = server_factory.new_data_dir()
    if not BROKERS:
        os.makedirs(fresh)
        for part in ("log", "keys"):
            shutil.copytree(os.path.join(server.data_dir, part), os.path.join(fresh, part))
    other = server_factory(data_dir=fresh, topic_prefix=server.topic_prefix)
    other.wait_ready(timeout=WAIT)
    return other


# --------------------------------------------------------------------------- view sets on disk

def view_sets(data_dir):
    """The view sets in `data_dir` (`views`, `views.N`)."""
    return sorted(n for n in os.listdir(data_dir)
                  if n == "views" or re.fullmatch(r"views\.\d+", n))


def live_set(data_dir):
    current = os.path.join(data_dir, "views.current")
    if not os.path.exists(current):
        return "views"
    with open(current) as f:
        return f.read().strip()


def wait_only_set(data_dir, name, timeout=30.0):
    """Waits until `name` is the only view set (the old one goes once its readers let go)."""
    deadline = time.monotonic() + timeout
    while view_sets(data_dir) != [name] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert view_sets(data_dir) == [name]


# --------------------------------------------------------------------------- progress

def views_state(server):
    """(HTTP status, readyz JSON) of /readyz."""
    r = server.readyz()
    assert r.json is not None and "views" in r.json, r
    return r.status, r.json


def rebuild_of(server):
    return views_state(server)[1]["views"]["rebuild"]


def wait_rebuild(server, predicate, what, timeout=WAIT):
    """Polls /readyz until predicate(rebuild) holds; that rebuild object."""
    deadline = time.monotonic() + timeout
    rebuild = None
    while time.monotonic() < deadline:
        rebuild = rebuild_of(server)
        if predicate(rebuild):
            return rebuild
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}; last rebuild state {rebuild}")


def metrics(server):
    r = server.get("/metrics")
    assert r.status == 200, r
    values, phases = {}, {}
    for line in r.body.decode().splitlines():
        m = re.match(r'^contacts_rebuild_phase\{phase="(\w+)"\} (\S+)$', line)
        if m:
            phases[m.group(1)] = float(m.group(2))
        elif line.startswith("contacts_") and " " in line and "{" not in line:
            name, value = line.split(" ", 1)
            values[name] = float(value)
    return values, phases


def start_rebuild(server, *extra):
    """`contacts rebuild` against the running node, in the background (stdout/stderr pipes: no
    terminal, so plain progress lines)."""
    return subprocess.Popen([BIN, "rebuild", "--data", server.data_dir, *server.log_args(), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def rebuild_cli(server, *extra):
    return run_cli("rebuild", "--data", server.data_dir, *server.log_args(), *extra, timeout=WAIT)


# --------------------------------------------------------------------------- captures

def capture(server, extra_ids=()):
    """Every endpoint's bytes: every page of each workspace's list, searches, the audit log,
    each contact and its timeline; (status, bytes) of the contacts in `extra_ids` ((ws, id))."""
    token = token_for(OWNER)
    out, contacts = {}, []
    for ws in WORKSPACES:
        base = f"/api/workspaces/{ws}"
        for what, path in (("list", f"{base}/contacts"), ("audit", f"{base}/audit-log")):
            page = 1
            while True:
                r = server.get(qs(path, page=page, limit=100), token)
                assert r.status == 200, r
                out[(ws, what, page)] = r.body
                rows = r.json["contacts" if what == "list" else "entries"]
                if what == "list":
                    contacts += [(ws, c["id"]) for c in rows]
                if not rows:
                    break
                page += 1
        for term in ("example.net", "person 1", "P2", "v3"):
            r = server.get(qs(f"{base}/contacts", search=term, limit=100), token)
            assert r.status == 200, r
            out[(ws, "search", term)] = r.body
    paths = []
    for i, (ws, cid) in enumerate(contacts):
        base = f"/api/workspaces/{ws}/contacts/{cid}"
        paths += [base, qs(f"{base}/events", limit=100)]
        if i % 10 == 0:
            paths.append(qs(f"{base}/events", limit=5, page=3))
    paths += [f"/api/workspaces/{ws}/contacts/{cid}" for ws, cid in extra_ids]

    def get(path):
        r = server.get(path, token)
        return path, (r.status, r.body)

    with ThreadPoolExecutor(8) as pool:
        for path, answer in pool.map(get, paths):
            out[path] = answer
    for ws, cid in contacts:
        assert out[f"/api/workspaces/{ws}/contacts/{cid}"][0] == 200, (ws, cid)
    return out


def first_pages(server):
    token = token_for(OWNER)
    return {ws: server.get(qs(f"/api/workspaces/{ws}/contacts", limit=100), token).body
            for ws in WORKSPACES}


def assert_same(got, expected, what):
    assert got.keys() == expected.keys(), f"{what}: other endpoints"
    differ = [k for k in expected if got[k] != expected[k]]
    assert not differ, (f"{what}: {len(differ)} of {len(expected)} answers differ; first "
                        f"{differ[0]}: {got[differ[0]]!r:.400} instead of {expected[differ[0]]!r:.400}")


# --------------------------------------------------------------------------- 1. clients through a rebuild

def test_reads_ingest_and_deletes_go_on_through_an_online_rebuild(server_factory, seed):
    server = seeded_server(server_factory, seed)
    token = token_for(OWNER)
    listing = {ws: server.list_all(ws, token) for ws in WORKSPACES}
    assert all(len(listing[ws]) == PEOPLE for ws in WORKSPACES)
    email_of = {(ws, c["id"]): c["email"] for ws in WORKSPACES for c in listing[ws]}
    everyone = sorted(email_of)
    # Every third contact is deleted by the API, in turn across the workspaces.
    victims = [(ws, listing[ws][i]["id"]) for i in range(0, PEOPLE, 3) for ws in WORKSPACES]
    victim_set = set(victims)
    kept = [(ws, email_of[(ws, cid)]) for ws, cid in everyone if (ws, cid) not in victim_set]

    stop = threading.Event()
    failures = []
    deleted_at = {}  # (ws, id) -> when its DELETE answered ok
    done = {"read": [], "ingest": [], "delete": []}  # start times of the operations
    ingested = {ws: 0 for ws in WORKSPACES}

    def fail(message):
        failures.append(message)

    def reader(seed_):
        rnd = random.Random(seed_)
        while not stop.is_set():
            ws, cid = rnd.choice(everyone)
            kind = rnd.randrange(3)
            if kind == 0:
                path = qs(f"/api/workspaces/{ws}/contacts", page=rnd.randint(1, 4),
                          limit=rnd.choice((10, 50, 100)))
            elif kind == 1:
                path = f"/api/workspaces/{ws}/contacts/{cid}"
            else:
                path = qs(f"/api/workspaces/{ws}/contacts/{cid}/events", limit=20)
            started = time.monotonic()
            try:
                r = server.get(path, token)
            except OSError as e:
                fail(f"GET {path}: {e!r}")
                continue
            done["read"].append(started)
            if kind == 0:
                if r.status != 200:
                    fail(f"GET {path}: {r!r}")
                    continue
                for c in r.json["contacts"]:
                    if deleted_at.get((ws, c["id"]), started) < started:
                        fail(f"GET {path}: contact {c['id']} listed after its DELETE answered")
            elif r.status == 404 and (ws, cid) in victim_set:
                if r.json != {"error": "Contact not found"}:
                    fail(f"GET {path}: {r!r}")
            elif r.status != 200:
                fail(f"GET {path}: {r!r}")
            elif deleted_at.get((ws, cid), started) < started:
                fail(f"GET {path}: 200 after its DELETE answered")

    def ingester():
        n = 0
        rnd = random.Random(7)
        while not stop.is_set():
            batch = []
            for _ in range(5):
                n += 1
                ws = WORKSPACES[n % len(WORKSPACES)]
                batch.append(room_join(ws, f"Live {n}", f"live-{n}@example.net",
                                       occurred_at=1722000000 + n, room_id=n % 4 + 1,
                                       room_name=f"live-room-{n % 4}",
                                       command_id=f"live-{os.getpid()}-{n}"))
            ws, email = rnd.choice(kept)  # a kept contact gets another event
            batch.append(room_join(ws, f"Person {n} later", email, occurred_at=1722000000 + n,
                                   room_id=1, room_name="room-1",
                                   command_id=f"live-{os.getpid()}-{n}-again"))
            started = time.monotonic()
            try:
                r = server.ingest(batch)
            except OSError as e:
                fail(f"ingest: {e!r}")
                continue
            if r.status != 202 or r.json != {"accepted": len(batch)}:
                fail(f"ingest: {r!r}")
            else:
                done["ingest"].append(started)
                for cmd in batch:
                    if "live-" in cmd["participant"]["email"]:
                        ingested[cmd["workspace_id"]] += 1
            time.sleep(0.05)

    def deleter():
        for ws, cid in victims:
            if stop.is_set():
                return
            base = f"/api/workspaces/{ws}/contacts"
            started = time.monotonic()
            try:
                r = server.delete(f"{base}/{cid}", token)
                if (r.status, r.json) != (200, {"ok": True}):
                    fail(f"DELETE {base}/{cid}: {r!r}")
                    continue
                deleted_at[(ws, cid)] = time.monotonic()
                done["delete"].append(started)
                # Read-your-writes: gone on the very next read, whichever view set answers.
                r = server.get(f"{base}/{cid}", token)
                if (r.status, r.json) != (404, {"error": "Contact not found"}):
                    fail(f"GET {base}/{cid} right after its DELETE: {r!r}")
                r = server.get(qs(f"{base}/{cid}/events", limit=5), token)
                if r.status != 404:
                    fail(f"GET {base}/{cid}/events right after its DELETE: {r!r}")
                r = server.get(qs(base, search=email_of[(ws, cid)], limit=100), token)
                if r.status != 200 or cid in {c["id"] for c in r.json["contacts"]}:
                    fail(f"search right after DELETE {base}/{cid}: {r!r}")
            except OSError as e:
                fail(f"DELETE {base}/{cid} and the reads after it: {e!r}")
            time.sleep(0.01)

    threads = ([threading.Thread(target=reader, args=(i,)) for i in range(3)] +
               [threading.Thread(target=ingester), threading.Thread(target=deleter)])
    for t in threads:
        t.start()
    try:
        time.sleep(0.3)
        rebuild_started = time.monotonic()
        follow = start_rebuild(server)
        phases = []
        while follow.poll() is None and time.monotonic() < rebuild_started + WAIT:
            try:
                phases.append(rebuild_of(server)["phase"])
            except OSError as e:
                fail(f"GET /readyz: {e!r}")
            time.sleep(0.02)
        if follow.poll() is None:
            follow.kill()
        out, err = follow.communicate(timeout=30)
        rebuild_ended = time.monotonic()
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)

    assert follow.returncode == 0, (out, err)
    m = DONE_LINE.match(out)
    assert m, out
    assert int(m.group(1)) >= seed[1]
    assert failures == [], f"{len(failures)} failures, first ones: {failures[:10]}"
    # The clients were at work while the node rebuilt.
    assert "folding" in phases
    for what, times in done.items():
        during = [t for t in times if rebuild_started <= t <= rebuild_ended]
        assert during, f"no {what} while the rebuild ran"
    print(f"\nrebuild {rebuild_ended - rebuild_started:.1f} s: {err.count(chr(10))} progress lines; "
          f"during it {sum(rebuild_started <= t <= rebuild_ended for t in done['read'])} reads, "
          f"{sum(rebuild_started <= t <= rebuild_ended for t in done['ingest'])} ingests, "
          f"{sum(rebuild_started <= t <= rebuild_ended for t in done['delete'])} deletes; "
          f"phases seen {sorted(set(phases))}")

    # The fresh set serves; the old one is gone.
    assert live_set(server.data_dir) == "views.2"
    wait_only_set(server.data_dir, "views.2")
    server.wait_ready(timeout=WAIT)
    _, ready = views_state(server)
    assert ready["views"]["rebuild"]["phase"] == "done"
    assert ready["views"]["fold_version"] == FOLD

    # Nothing accepted was lost across the swap; nothing deleted came back.
    for ws in WORKSPACES:
        r = server.get(qs(f"/api/workspaces/{ws}/contacts", search="@example.net", limit=1), token)
        assert r.status == 200 and r.json["total"] == ingested[ws], (ws, r, ingested[ws])
    deleted = sorted(deleted_at)
    after = capture(server, deleted)
    for ws, cid in deleted:
        assert after[f"/api/workspaces/{ws}/contacts/{cid}"][0] == 404

    # Byte for byte what a clean fold of the same log serves.
    assert server.stop() == 0
    clean = clean_fold(server_factory, server)
    assert_same(after, capture(clean, deleted), "the views rebuilt while serving vs a clean fold")


# --------------------------------------------------------------------------- 2. progress and control

def test_progress_a_second_request_and_cancel(server_factory, seed):
    server = seeded_server(server_factory, seed)
    total = seed[1]
    before = capture(server)
    status, ready = views_state(server)
    assert status == 200 and ready["views"]["rebuild"]["phase"] == "idle"

    for attempt in range(3):
        live_before = live_set(server.data_dir)
        wait_only_set(server.data_dir, live_before)
        follow = start_rebuild(server)
        rebuild = wait_rebuild(server, lambda r: r["phase"] != "idle" and (
            r["phase"] != "folding" or (r["folded"] > 0 and r["target"] > 0)), "folding under way")
        status, ready = views_state(server)
        values, phases = metrics(server)
        second = rebuild_cli(server)
        cancel = rebuild_cli(server, "--cancel")
        out, err = follow.communicate(timeout=WAIT)
        if cancel.returncode == 1 and cancel.stdout == "no rebuild is running\n" and \
                rebuild_of(server)["phase"] == "done":
            # This machine folded it all before the cancel came: again, with the views it made.
            print(f"\nattempt {attempt}: the rebuild was done before the cancel")
            before = capture(server)
            continue
        break
    else:
        pytest.fail("the rebuild was done before `--cancel` three times; seed more records")

    # While it folds: /readyz and /metrics show it; the views serve (ready, version 1).
    assert status == 200 and ready["status"] == "ready", ready
    views = ready["views"]
    assert (views["fold_version"], views["fold_version_of_code"]) == (FOLD, FOLD)
    progress = views["rebuild"]
    assert progress["phase"] == "folding", progress
    assert progress["before_serving"] is False
    assert progress["reason"] == "requested by `contacts rebuild`"
    assert 0 < progress["folded"] <= progress["target"] <= total, progress
    assert progress["seconds"] > 0 and progress["rate"] >= 0
    if progress["rate"] > 0:
        assert progress["eta_seconds"] >= 0
    assert rebuild["phase"] == "folding"
    assert phases == {"idle": 0, "folding": 1, "swapping": 0, "done": 0, "failed": 0,
                      "cancelled": 0}, phases
    assert 0 < values["contacts_rebuild_records_folded"] <= total
    assert 0 < values["contacts_rebuild_records_target"] <= total
    assert values["contacts_views_fold_version"] == FOLD

    # A second request is refused while it runs; `--cancel` cancels it.
    assert second.returncode == 1, (second.stdout, second.stderr)
    assert "a rebuild is running (requested by `contacts rebuild`)" in second.stderr
    assert second.stdout == ""
    assert (cancel.returncode, cancel.stdout) == (0, "cancelled the rebuild; the old views serve on\n"), cancel

    # The command that started it saw it cancelled; its plain progress lines (no terminal).
    assert follow.returncode == 1, (out, err)
    assert out == ""
    assert "contacts rebuild: the rebuild was cancelled; the old views serve on" in err
    assert PROGRESS_LINE.search(err), err
    assert "\r" not in err

    # The old views serve on, unchanged; the fresh set is gone.
    rebuild = wait_rebuild(server, lambda r: r["phase"] != "folding", "the cancel")
    assert rebuild["phase"] == "cancelled", rebuild
    values, phases = metrics(server)
    assert phases["cancelled"] == 1 and sum(phases.values()) == 1, phases
    assert live_set(server.data_dir) == live_before
    assert view_sets(server.data_dir) == [live_before]
    assert_same(capture(server), before, "the views after a cancelled rebuild")
    again = rebuild_cli(server, "--cancel")
    assert (again.returncode, again.stdout) == (1, "no rebuild is running\n"), again

    # A rebuild afterwards completes, and serves the same bytes.
    proc = rebuild_cli(server)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    m = DONE_LINE.match(proc.stdout)
    assert m and int(m.group(1)) == total, proc.stdout
    assert re.search(r"^rebuild done: 100%  [\d,]+ / [\d,]+ records", proc.stderr, re.M), proc.stderr
    assert PROGRESS_LINE.search(proc.stderr), proc.stderr
    live = live_set(server.data_dir)
    assert live != live_before and re.fullmatch(r"views\.\d+", live)
    wait_only_set(server.data_dir, live)
    rebuild = rebuild_of(server)
    assert rebuild["phase"] == "done" and rebuild["folded"] == rebuild["target"] == total, rebuild
    values, phases = metrics(server)
    assert phases["done"] == 1 and sum(phases.values()) == 1, phases
    assert values["contacts_rebuild_records_folded"] == total
    assert_same(capture(server), before, "the views after the rebuild that followed a cancel")


def test_a_cancel_during_the_swap_is_refused_or_leaves_the_old_views(server_factory, seed):
    server = seeded_server(server_factory, seed)
    for attempt in range(3):
        live_before = live_set(server.data_dir)
        wait_only_set(server.data_dir, live_before)
        follow = start_rebuild(server)
        rebuild = wait_rebuild(server, lambda r: r["phase"] not in ("idle", "folding"), "the swap")
        cancel = rebuild_cli(server, "--cancel") if rebuild["phase"] == "swapping" else None
        follow.communicate(timeout=WAIT)
        if cancel is not None and cancel.returncode == 0:
            break
    else:
        pytest.skip("no cancel reached the node while it swapped")
    assert cancel.stdout == "cancelled the rebuild; the old views serve on\n"
    rebuild = wait_rebuild(server, lambda r: r["phase"] not in ("folding", "swapping"), "the end")
    # Cancelled: the old views serve on. Or the swap went through: then it is done, not cancelled.
    live_after = live_set(server.data_dir)
    assert (rebuild["phase"], live_after) in (("cancelled", live_before), ("done", live_after)), \
        (rebuild, live_before, live_after)
    assert live_after == live_before, f"the cancel was accepted, yet {live_after} serves"


# --------------------------------------------------------------------------- 3. kill -9

@pytest.mark.parametrize("when", ["early", "mid", "swap"])
def test_kill_9_during_an_online_rebuild_leaves_whole_views_and_the_rebuild_resumes(
        server_factory, seed, when):
    server = seeded_server(server_factory, seed)
    total = seed[1]
    reference = capture(server)

    if when == "early":
        def kill_now(r):  # the fresh set has its first records
            return r["phase"] == "folding" and r["folded"] > 0
    elif when == "mid":
        def kill_now(r):
            return r["phase"] == "folding" and r["target"] > 0 and r["folded"] >= r["target"] // 2
    else:
        def kill_now(r):  # done: too late, the swap completed (accepted)
            return r["phase"] in ("swapping", "done")

    follow = start_rebuild(server)
    deadline = time.monotonic() + WAIT
    seen = None
    while time.monotonic() < deadline:
        r = server.readyz()  # as fast as it answers
        seen = r.json["views"]["rebuild"]
        if kill_now(seen):
            server.kill9()
            break
        assert seen["phase"] in ("idle", "folding", "swapping"), f"the rebuild ended first: {seen}"
    else:
        raise AssertionError(f"never reached the {when} kill point; last {seen}")
    out, err = follow.communicate(timeout=30)
    swapped = live_set(server.data_dir) == "views.2"
    half_built = not swapped and "views.2" in view_sets(server.data_dir)
    if not swapped:  # the command following it lost the node (else it may have seen it done)
        assert follow.returncode == 1, (out, err)
        assert "a node that restarts resumes the rebuild" in err, err
    print(f"\nkilled at {seen['phase']} {seen['folded']}/{seen['target']}: sets on disk "
          f"{view_sets(server.data_dir)}, live {live_set(server.data_dir)}")
    if when in ("early", "mid"):
        assert half_built
    if seen["phase"] == "done":
        assert swapped

    server.start()
    # Never the half-built set: once caught up, the node serves whole views (the old set, or the
    # one swapped in), while a resumed rebuild may still be folding the other.
    server.wait_ready(timeout=WAIT)
    assert first_pages(server) == {ws: reference[(ws, "list", 1)] for ws in WORKSPACES}
    if half_built:
        first = rebuild_of(server)
        assert first["reason"] == "resuming the rebuild a stop interrupted", first
        resumed = wait_rebuild(server, lambda r: r["phase"] not in ("folding", "swapping"),
                               "the resumed rebuild")
        assert resumed["phase"] == "done", resumed
        assert resumed["reason"] == "resuming the rebuild a stop interrupted"
        # What it folded when it swapped (the views keep no WAL: after a kill both sets come
        # back as of their last flush, and the live projector folds the rest after the swap).
        assert 0 <= resumed["folded"] <= total
        assert live_set(server.data_dir) == "views.2"
    else:
        # Swapped before the kill (the new set serves), or killed before the fresh set existed:
        # nothing to resume.
        assert rebuild_of(server)["phase"] == "idle"
        assert live_set(server.data_dir) == ("views.2" if swapped else "views")
    wait_only_set(server.data_dir, live_set(server.data_dir))
    server.wait_ready(timeout=WAIT)
    assert views_state(server)[1]["views"]["fold_version"] == FOLD
    assert_same(capture(server), reference, f"the views after a kill -9 {when} in a rebuild")


# --------------------------------------------------------------------------- 4. fold versions

needs_bumps = pytest.mark.skipif(not (os.path.exists(BUMP1) and os.path.exists(BUMP2)),
                                 reason=f"no {BUMP1} / {BUMP2} (scripts/build makes them)")


@pytest.fixture(scope="module")
def version_1(module_server_factory, seed):
    """Views of fold version 1 (written by `contacts`), stopped: (server, every endpoint's bytes)."""
    server = seeded_server(module_server_factory, seed)
    assert views_state(server)[1]["views"]["fold_version"] == FOLD
    reference = capture(server)
    assert server.stop() == 0
    return server, reference


def newer_build(server_factory, version_1, binary, **kwargs):
    """A server of `binary` on a copy of the version-1 data directory (on Kafka, its topics)."""
    v1, _ = version_1
    copy = server_factory.new_data_dir()
    shutil.copytree(v1.data_dir, copy, ignore=shutil.ignore_patterns("control.sock"))
    assert live_set(copy) == "views"
    return server_factory(data_dir=copy, topic_prefix=v1.topic_prefix, binary=binary, **kwargs)


def list_path():
    return qs(f"/api/workspaces/{WORKSPACES[0]}/contacts", limit=20)


@needs_bumps
def test_a_build_that_reads_the_old_fold_version_serves_it_and_rebuilds_in_the_background(
        server_factory, version_1):
    _, reference = version_1
    token = token_for(OWNER)
    server = newer_build(server_factory, version_1, BUMP1)
    served_while_folding = 0
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        status, ready = views_state(server)
        rebuild = ready["views"]["rebuild"]
        r = server.get(list_path(), token)
        assert r.status == 200, r
        if rebuild["phase"] == "folding" and status == 200:
            assert ready["views"]["fold_version"] == FOLD
            assert ready["views"]["fold_version_of_code"] == FOLD + 1
            assert f"fold version {FOLD}" in rebuild["reason"], rebuild
            assert rebuild["before_serving"] is False
            served_while_folding += 1
        if rebuild["phase"] not in ("idle", "folding", "swapping"):
            break
        time.sleep(0.01)
    assert rebuild["phase"] == "done", rebuild
    assert f"fold version {FOLD}" in rebuild["reason"], rebuild
    assert served_while_folding > 0, "never saw the version-1 views serve while the rebuild ran"
    server.wait_ready(timeout=WAIT)
    assert_version_2_live(server)
    wait_only_set(server.data_dir, "views.2")
    assert_same(capture(server), reference, "version-2 views rebuilt in the background")
    # Once rebuilt, a restart rebuilds nothing.
    assert_version_2_after_restart(server)


def assert_version_2_live(server):
    """The node serves views of fold version 2, the code's, from views.2."""
    ready = views_state(server)[1]
    assert (ready["views"]["fold_version"], ready["views"]["fold_version_of_code"]) == (FOLD + 1, FOLD + 1)
    assert metrics(server)[0]["contacts_views_fold_version"] == FOLD + 1
    assert live_set(server.data_dir) == "views.2"


def assert_version_2_after_restart(server):
    """Restarted, the node serves its version-2 views at once: no rebuild."""
    assert server.stop() == 0
    server.start()
    server.wait_ready(timeout=WAIT)
    ready = views_state(server)[1]
    assert ready["views"]["fold_version"] == FOLD + 1 and ready["views"]["rebuild"]["phase"] == "idle"


def watch_rebuild_before_serving(server):
    """Polls /readyz and the API of a node that rebuilds before it serves, from its start until
    /readyz answers 200: [(readyz status, JSON)], [(API status, JSON)]."""
    token = token_for(OWNER)
    server.start(wait_health=False)
    api, readiness = [], []
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        assert server.running(), server.logs()
        try:
            ready = server.readyz()
            r = server.get(list_path(), token)
        except OSError:  # not listening yet
            time.sleep(0.005)
            continue
        readiness.append((ready.status, ready.json))
        api.append((r.status, r.json))
        if ready.status == 200:
            break
        time.sleep(0.005)
    assert readiness and readiness[-1][0] == 200, readiness[-1:]
    return readiness, api


@needs_bumps
def test_a_build_that_cannot_read_the_old_fold_version_rebuilds_before_serving(
        server_factory, version_1):
    _, reference = version_1
    server = newer_build(server_factory, version_1, BUMP2, start=False)
    readiness, api = watch_rebuild_before_serving(server)
    rebuilding = [j for s, j in readiness if s == 503 and j["status"] == "rebuilding"]
    for j in rebuilding:
        progress = j["views"]["rebuild"]
        assert progress["before_serving"] is True, j
        assert progress["phase"] in ("folding", "swapping"), j
        assert f"fold version {FOLD}" in progress["reason"] and "cannot read" in progress["reason"], j
        assert (j["views"]["fold_version"], j["views"]["fold_version_of_code"]) == (0, FOLD + 1), j
    # 503 while the views are rebuilt; once it serves, it serves on (never a 5xx).
    serving = next((i for i, (s, j) in enumerate(api) if j != NOT_SERVING), len(api))
    assert all(s < 500 for s, _ in api[serving:]), api
    # Each poll asks /readyz before the API, so the readiness polled with the first served page may
    # still be from before the swap; every one polled after it must not say "rebuilding".
    assert all(not (s == 503 and j["status"] == "rebuilding") for s, j in readiness[serving + 1:])
    assert api[-1][0] == 200
    print(f"\nbefore serving: {len(rebuilding)} readyz 'rebuilding', {serving} API 503")

    # It was the rebuild before serving (the reason stays on /readyz), and it is done.
    rebuild = wait_rebuild(server, lambda r: r["phase"] not in ("folding", "swapping"), "the rebuild")
    assert rebuild["phase"] == "done" and rebuild["before_serving"] is False, rebuild
    assert f"fold version {FOLD}" in rebuild["reason"] and "cannot read" in rebuild["reason"], rebuild
    assert_version_2_live(server)
    assert_same(capture(server), reference, "version-2 views rebuilt before serving")
    # A restart serves them at once, and leaves no other set.
    assert_version_2_after_restart(server)
    assert view_sets(server.data_dir) == ["views.2"]


@needs_bumps
def test_a_node_rebuilding_before_serving_answers_503_until_the_views_hold_the_log(
        server_factory, version_1):
    server = newer_build(server_factory, version_1, BUMP2, start=False)
    readiness, api = watch_rebuild_before_serving(server)
    rebuild = wait_rebuild(server, lambda r: r["phase"] not in ("folding", "swapping"), "the rebuild")
    assert rebuild["phase"] == "done", rebuild
    # It served once the fresh views were within the swap's lag of the log's end (the projector
    # folds the rest); until then /readyz said rebuilding and the API answered 503, never what
    # half-built views hold.
    assert rebuild["folded"] >= rebuild["target"] - SWAP_LAG, rebuild
    assert any(s == 503 and j["status"] == "rebuilding" for s, j in readiness), readiness[:3]
    assert api[0] == (503, NOT_SERVING), api[0]
    assert all(j == NOT_SERVING or s == 200 for s, j in api), [a for a in api if a[0] != 503][:3]


@needs_bumps
def test_the_unreadable_views_are_removed_once_the_rebuilt_ones_serve(server_factory, version_1):
    server = newer_build(server_factory, version_1, BUMP2, start=False)
    watch_rebuild_before_serving(server)
    rebuild = wait_rebuild(server, lambda r: r["phase"] not in ("folding", "swapping"), "the rebuild")
    assert rebuild["phase"] == "done", rebuild
    assert live_set(server.data_dir) == "views.2"
    wait_only_set(server.data_dir, "views.2", timeout=5)
