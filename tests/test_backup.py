"""Backup and restore (README "Backup and restore").

`contacts backup --to DIR` copies a node's stores (log, views, key store, webhook deliveries) with
RocksDB checkpoints: through the control socket of a node running on --data, which goes on
serving and ingesting, or by itself when none runs. `contacts restore --from DIR --data DATA`
copies them into an empty data directory, where a node folds what its log holds past the views.
These tests check:
  - a backup taken under ingest load (visits, and deletes that erase) restores into a node whose
    views answer byte for byte what a clean fold of the log it holds answers, and which then
    folds new commands;
  - a data directory with no node running is backed up by the command itself;
  - a backup refuses a target that is not empty, a restore a data directory that is not empty,
    one a node runs on, a directory that is no backup, and one its manifest does not match;
  - on Kafka (CONTACTS_TEST_BROKERS), the views and deliveries are backed up, the manifest says
    the log is Kafka's, and a node restored from them resumes from their offsets in its topics.
"""

import json
import os
import random
import shutil
import threading
import time

import pytest

from helpers import BROKERS, contact_delete, member_upsert, qs, room_join, run_cli, token_for

embedded_only = pytest.mark.skipif(bool(BROKERS), reason="the embedded log's data directory")

OWNER = 7
WORKSPACES = (2, 3)
PEOPLE = 120  # distinct emails per workspace
LOAD_SECONDS = 4.0
WAIT = 60.0


def visits(rnd, n, tag):
    """`n` room joins of people of the workspaces, some of them new names of known people."""
    out = []
    for i in range(n):
        ws = rnd.choice(WORKSPACES)
        k = rnd.randrange(PEOPLE)
        out.append(room_join(ws, f"Person {k} v{rnd.randrange(5)}", f"p{k}@example.org",
                             occurred_at=1711000000 + rnd.randrange(1_000_000), room_id=k % 7 + 1,
                             command_id=f"{tag}-{i}"))
    return out


def start_node(server_factory, **kwargs):
    kwargs.setdefault("brokers", None)
    server = server_factory(**kwargs)
    server.wait_ready(timeout=WAIT)
    return server


def seed(server, rnd):
    server.ingest_ok([member_upsert(ws, OWNER, "owner") for ws in WORKSPACES] +
                     visits(rnd, 300, "seed"))


class Load:
    """Ingests visits in NDJSON batches and deletes a contact now and then (a DELETE erases it),
    on a thread of its own, until stopped; counts what was acknowledged, and when."""

    def __init__(self, server):
        self.server = server
        self.rnd = random.Random(7)
        self.accepted = []  # (monotonic time, commands) of each acknowledged batch
        self.deleted = 0
        self.errors = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run)

    def run(self):
        token = token_for(OWNER)
        batch = 0
        try:
            while not self.stopping.is_set():
                batch += 1
                commands = visits(self.rnd, 50, f"load{batch}")
                r = self.server.ingest(commands)
                if r.status != 202:
                    self.errors.append(f"ingest: {r!r}")
                    return
                self.accepted.append((time.monotonic(), len(commands)))
                if batch % 4 == 0:
                    ws = self.rnd.choice(WORKSPACES)
                    page = self.server.get(qs(f"/api/workspaces/{ws}/contacts", limit=5), token)
                    if page.status == 200 and page.json["contacts"]:
                        cid = page.json["contacts"][-1]["id"]
                        r = self.server.delete(f"/api/workspaces/{ws}/contacts/{cid}", token)
                        if r.status != 200:
                            self.errors.append(f"delete: {r!r}")
                            return
                        self.deleted += 1
        except Exception as e:  # noqa: BLE001  reported by the test
            self.errors.append(repr(e))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join(timeout=WAIT)


def capture(server):
    """The API's bytes: every list page and audit page of each workspace, each contact and its
    timeline."""
    token = token_for(OWNER)
    out, contacts = {}, []
    for ws in WORKSPACES:
        for what, path, rows in (("list", f"/api/workspaces/{ws}/contacts", "contacts"),
                                 ("audit", f"/api/workspaces/{ws}/audit-log", "entries")):
            page = 1
            while True:
                r = server.get(qs(path, page=page, limit=100), token)
                assert r.status == 200, r
                out[(ws, what, page)] = r.body
                if what == "list":
                    contacts += [(ws, c["id"]) for c in r.json[rows]]
                if not r.json[rows]:
                    break
                page += 1
    for ws, cid in contacts:
        base = f"/api/workspaces/{ws}/contacts/{cid}"
        for path in (base, qs(f"{base}/events", limit=100)):
            r = server.get(path, token)
            assert r.status == 200, r
            out[path] = r.body
    return out


def assert_same(got, expected, what):
    assert got.keys() == expected.keys(), f"{what}: other endpoints"
    differ = [k for k in expected if got[k] != expected[k]]
    assert not differ, (f"{what}: {len(differ)} of {len(expected)} answers differ; first "
                        f"{differ[0]}: {got[differ[0]]!r:.300} instead of {expected[differ[0]]!r:.300}")


def manifest_of(backup):
    with open(os.path.join(backup, "manifest.json")) as f:
        return json.load(f)


def restore(backup, data):
    return run_cli("restore", "--from", backup, "--data", data)


def clean_fold(server_factory, data_dir):
    """A node on a fresh data directory folding, from offset 0, the log of `data_dir` (with the
    key store its records are sealed under)."""
    fresh = server_factory.new_data_dir()
    os.makedirs(fresh)
    for part in ("log", "keys"):
        shutil.copytree(os.path.join(data_dir, part), os.path.join(fresh, part))
    return start_node(server_factory, data_dir=fresh)


@embedded_only
def test_a_backup_under_ingest_load_restores_to_a_clean_fold_of_its_log_that_folds_on(
        server_factory, tmp_path):
    server = start_node(server_factory)
    seed(server, random.Random(1))
    backup = str(tmp_path / "backup")
    with Load(server) as load:
        time.sleep(LOAD_SECONDS / 2)
        taken = run_cli("backup", "--data", server.data_dir, "--to", backup, timeout=WAIT)
        backed_up_at = time.monotonic()
        time.sleep(LOAD_SECONDS / 2)
    assert not load.errors, load.errors
    assert taken.returncode == 0, taken.stderr
    assert "backed up the running node's" in taken.stdout
    # The node took it while it ingested and erased: batches were acknowledged on both sides.
    assert any(at < backed_up_at for at, _ in load.accepted)
    assert any(at > backed_up_at for at, _ in load.accepted)
    assert load.deleted > 0
    manifest = manifest_of(backup)
    assert manifest["log"] == "embedded"
    assert sorted(manifest["stores"]) == ["keys", "log", "views", "webhooks"]
    assert len(manifest["view_offsets"]) == len(manifest["log_end_offsets"]) == server.partitions
    for applied, end in zip(manifest["view_offsets"], manifest["log_end_offsets"]):
        assert applied <= end
    server.stop()

    restored_dir = server_factory.new_data_dir("restored")
    r = restore(backup, restored_dir)
    assert r.returncode == 0, r.stderr
    restored = start_node(server_factory, data_dir=restored_dir)
    restored_answers = capture(restored)
    restored.stop()
    clean = clean_fold(server_factory, restored_dir)
    assert_same(restored_answers, capture(clean), "the restored node against a clean fold")
    clean.stop()

    # It folds what comes next, and deletes with read-your-writes.
    restored.start()
    restored.wait_ready(timeout=WAIT)
    restored.ingest_ok([room_join(2, "After Restore", "after@example.org", command_id="after-1")])
    token = token_for(OWNER)
    found = restored.get(qs("/api/workspaces/2/contacts", search="after@example.org"), token)
    assert found.status == 200 and found.json["total"] == 1, found
    cid = found.json["contacts"][0]["id"]
    assert restored.delete(f"/api/workspaces/2/contacts/{cid}", token).status == 200
    assert restored.get(f"/api/workspaces/2/contacts/{cid}", token).status == 404


@embedded_only
def test_a_data_directory_no_node_runs_on_is_backed_up_by_the_command(server_factory, tmp_path):
    server = start_node(server_factory)
    seed(server, random.Random(2))
    server.ingest_ok([contact_delete(2, server.list_all(2, token_for(OWNER))[0]["id"])])
    before = capture(server)
    server.stop()
    backup = str(tmp_path / "backup")
    taken = run_cli("backup", "--data", server.data_dir, "--to", backup)
    assert taken.returncode == 0, taken.stderr
    assert "no node running on it" in taken.stdout
    manifest = manifest_of(backup)
    assert manifest["view_offsets"] == manifest["log_end_offsets"]  # a stopped node applied all
    restored_dir = server_factory.new_data_dir("restored")
    r = restore(backup, restored_dir)
    assert r.returncode == 0, r.stderr
    assert_same(capture(start_node(server_factory, data_dir=restored_dir)), before,
                "the restored node against the one backed up")


@embedded_only
def test_a_backup_refuses_a_target_that_is_not_empty(server_factory, tmp_path):
    server = start_node(server_factory)
    seed(server, random.Random(3))
    target = tmp_path / "taken"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    for running in (True, False):
        if not running:
            server.stop()
        r = run_cli("backup", "--data", server.data_dir, "--to", str(target))
        assert r.returncode == 1, r.stdout
        assert "exists and is not empty" in r.stderr
        assert sorted(os.listdir(target)) == ["keep.txt"]
    # An empty one is taken.
    (target / "keep.txt").unlink()
    r = run_cli("backup", "--data", server.data_dir, "--to", str(target))
    assert r.returncode == 0, r.stderr
    assert os.path.exists(target / "manifest.json")


@embedded_only
def test_a_restore_refuses_a_data_directory_in_use_or_not_empty_and_what_is_no_backup(
        server_factory, tmp_path):
    server = start_node(server_factory)
    seed(server, random.Random(4))
    backup = str(tmp_path / "backup")
    assert run_cli("backup", "--data", server.data_dir, "--to", backup).returncode == 0

    r = restore(backup, server.data_dir)
    assert r.returncode == 1
    assert "a node runs on" in r.stderr

    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    r = restore(backup, str(occupied))
    assert r.returncode == 1
    assert "is not empty" in r.stderr
    assert sorted(os.listdir(occupied)) == ["notes.txt"]

    r = restore(str(tmp_path), str(tmp_path / "fresh"))
    assert r.returncode == 1
    assert "not a backup" in r.stderr
    assert not os.path.exists(tmp_path / "fresh")

    # A manifest whose views applied more than its log holds, or a backup without a store its
    # manifest names, is refused before anything is copied.
    manifest = manifest_of(backup)
    whole = dict(manifest)
    manifest["view_offsets"] = [end + 1 for end in manifest["log_end_offsets"]]
    write_manifest(backup, manifest)
    assert_restore_refused(backup, tmp_path / "fresh", "than its log holds")
    write_manifest(backup, whole)
    shutil.rmtree(os.path.join(backup, "keys"))
    assert_restore_refused(backup, tmp_path / "fresh", "lacks its store keys")


def write_manifest(backup, manifest):
    with open(os.path.join(backup, "manifest.json"), "w") as f:
        json.dump(manifest, f)


def assert_restore_refused(backup, data, message):
    r = restore(backup, str(data))
    assert r.returncode == 1
    assert message in r.stderr
    assert not os.path.exists(data)


@pytest.mark.skipif(not BROKERS, reason="needs CONTACTS_TEST_BROKERS")
def test_on_kafka_the_views_and_deliveries_are_backed_up_and_resume_in_the_topics(
        server_factory, tmp_path):
    server = start_node(server_factory, brokers=BROKERS)
    seed(server, random.Random(5))
    backup = str(tmp_path / "backup")
    taken = run_cli("backup", "--data", server.data_dir, "--to", backup, *server.log_args())
    assert taken.returncode == 0, taken.stderr
    manifest = manifest_of(backup)
    assert manifest["log"] == "kafka"
    assert manifest["commands_topic"] == server.topic_prefix + "contacts.commands"
    assert sorted(manifest["stores"]) == ["views", "webhooks"]
    assert "log_end_offsets" not in manifest and "not_in_backup" in manifest
    before = capture(server)
    server.stop()
    restored_dir = server_factory.new_data_dir("restored")
    assert restore(backup, restored_dir).returncode == 0
    restored = start_node(server_factory, data_dir=restored_dir, brokers=BROKERS,
                          topic_prefix=server.topic_prefix)
    assert_same(capture(restored), before, "the restored node against the one backed up")
    restored.ingest_ok([room_join(2, "After Restore", "after@example.org", command_id="after-1")])
    found = restored.get(qs("/api/workspaces/2/contacts", search="after@example.org"),
                         token_for(OWNER))
    assert found.status == 200 and found.json["total"] == 1, found
