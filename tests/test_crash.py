"""Crash safety of the projection (DESIGN.md section 5).

~200k deterministic commands (8 workspaces, repeated emails, out-of-order timestamps,
duplicates, contact/room/booking-page deletes) are produced into data dir A, where the
server is killed with SIGKILL several times while it folds and then left to finish; the
same commands are produced into a fresh data dir B and folded without interruption. Every
page of every workspace's list, the audit logs and a sample of timelines must be identical
JSON, and must match an independent Python model of the fold.

Contact ids come from log positions, so contact_delete commands (which name ids) are only
known after a first part of the log has been folded: phase 1 is folded (with crashes) in A,
the ids are read from A, then phase 2 (with the deletes) is appended.
"""

import json
import random
import time

import pytest

from helpers import BROKERS, ndjson, produce, produce_in_background, qs, token_for

SEED = 20240328
WORKSPACES = list(range(1, 9))
EMAILS_PER_WS = 3000
PHASE1 = 190_000
PHASE2 = 10_000
OWNER = 7
TOKEN = token_for(OWNER)
T0 = 1_700_000_000


# =========================================================================== generator

class Generator:
    def __init__(self, seed):
        self.rnd = random.Random(seed)
        self.n = 0
        self.emitted = []

    def _cid(self):
        self.n += 1
        return f"k{self.n}"

    def participant(self, ws):
        rnd = self.rnd
        if rnd.random() < 0.01:
            return {"name": f"Anon {rnd.randrange(100)}", "email": None}
        i = rnd.randrange(EMAILS_PER_WS)
        email = f"user{i}@ws{ws}.example.com"
        r = rnd.random()
        if r < 0.1:
            email = email.upper()
        elif r < 0.15:
            email = "  " + email + " "
        return {"name": f"Person {i} v{rnd.randrange(5)}", "email": email}

    def event(self, ws):
        rnd = self.rnd
        cmd = {"command_id": self._cid(), "workspace_id": ws,
               "occurred_at": T0 + rnd.randrange(10_000_000),
               "participant": self.participant(ws)}
        if rnd.random() < 0.6:
            cmd["type"] = "room_join"
            room = rnd.randrange(1, 40)
            cmd["room"] = {"id": room, "name": f"room-{room}"}
            if room % 2:
                cmd["room"]["display_name"] = f"Room {room}"
            if rnd.random() < 0.2:
                cmd["metadata"] = {"device": rnd.choice(["web", "ios", "android"])}
        else:
            cmd["type"] = "booking"
            page = rnd.randrange(1, 20)
            cmd["booking_page"] = {"id": page, "title": f"Page {page}", "slug": f"p-{page}"}
        # Reorder keys so "type" leads, as producers usually write it.
        return {"type": cmd.pop("type"), **cmd}

    def phase1(self, count):
        cmds = [{"type": "member_upsert", "command_id": self._cid(), "workspace_id": ws,
                 "occurred_at": T0, "user_id": OWNER, "role": "owner"} for ws in WORKSPACES]
        while len(cmds) < count:
            if self.emitted and self.rnd.random() < 0.005:
                cmds.append(self.rnd.choice(self.emitted))  # duplicate command_id
                continue
            cmd = self.event(self.rnd.choice(WORKSPACES))
            cmds.append(cmd)
            if self.rnd.random() < 0.01:
                self.emitted.append(cmd)
        return cmds

    def phase2(self, count, contacts_by_ws):
        """contacts_by_ws: ws -> list of (id, email) of emailed contacts after phase 1."""
        rnd = self.rnd
        cmds = []
        targets = {ws: rnd.sample(sorted(contacts_by_ws[ws]), 50) for ws in WORKSPACES}
        while len(cmds) < count:
            ws = rnd.choice(WORKSPACES)
            r = rnd.random()
            if r < 0.08 and targets[ws]:
                cid = targets[ws].pop()[0]
                actor = {"user_id": OWNER} if rnd.random() < 0.5 else {"api_key_id": 3}
                cmds.append({"type": "contact_delete", "command_id": self._cid(),
                             "workspace_id": ws, "occurred_at": T0 + 20_000_000 + len(cmds),
                             "contact_id": cid, "actor": actor})
            elif 0.08 <= r < 0.082:
                cmds.append({"type": "room_delete", "command_id": self._cid(),
                             "workspace_id": ws, "occurred_at": T0 + 20_000_000,
                             "room_id": rnd.randrange(1, 40)})
            elif 0.08 <= r < 0.084:
                cmds.append({"type": "booking_page_delete", "command_id": self._cid(),
                             "workspace_id": ws, "occurred_at": T0 + 20_000_000,
                             "booking_page_id": rnd.randrange(1, 20)})
            elif 0.08 <= r < 0.086:
                cmds.append({"type": "member_upsert", "command_id": self._cid(),
                             "workspace_id": ws, "occurred_at": T0, "user_id": 100 + ws,
                             "role": rnd.choice(["admin", "member"])})
            elif 0.08 <= r < 0.087:
                cmds.append({"type": "member_remove", "command_id": self._cid(),
                             "workspace_id": ws, "occurred_at": T0, "user_id": 100 + ws})
            elif 0.08 <= r < 0.10:
                cmds.append(rnd.choice(self.emitted))
            else:
                cmds.append(self.event(ws))
        return cmds


# =========================================================================== model

class Model:
    """An independent fold of the commands: emailed contacts and counts per workspace."""

    def __init__(self):
        self.seen = set()
        self.contacts = {ws: {} for ws in WORKSPACES}   # ws -> email -> state
        self.anon = {ws: 0 for ws in WORKSPACES}
        self.pos = 0
        self.deleted_ids = set()
        self.id_to_email = {}

    def apply(self, cmd):
        self.pos += 1
        ws = cmd["workspace_id"]
        key = (ws, cmd["command_id"])
        if key in self.seen:
            return
        self.seen.add(key)
        t = cmd["type"]
        if t in ("room_join", "booking"):
            email = cmd["participant"]["email"]
            email = email.strip().lower() if email else None
            if not email:
                self.anon[ws] += 1
                return
            at = cmd["occurred_at"]
            c = self.contacts[ws].get(email)
            if c is None:
                self.contacts[ws][email] = {"name": cmd["participant"]["name"],
                                            "name_key": (at, self.pos), "event_count": 1,
                                            "created_at": at, "updated_at": at,
                                            "last_seen_at": at}
                return
            c["event_count"] += 1
            c["created_at"] = min(c["created_at"], at)
            c["updated_at"] = max(c["updated_at"], at)
            c["last_seen_at"] = max(c["last_seen_at"], at)
            if (at, self.pos) > c["name_key"]:
                c["name_key"] = (at, self.pos)
                c["name"] = cmd["participant"]["name"]
        elif t == "contact_delete":
            cid = cmd["contact_id"]
            if cid in self.deleted_ids or cid not in self.id_to_email:
                return
            self.deleted_ids.add(cid)
            self.contacts[ws].pop(self.id_to_email[cid], None)

    def expected(self, ws):
        return {email: {k: v for k, v in c.items() if k != "name_key"}
                for email, c in self.contacts[ws].items()}


def assert_matches_model(listing, model, label):
    for ws in WORKSPACES:
        got = listing[ws]
        emailed = {c["email"]: {k: c[k] for k in ("name", "event_count", "created_at",
                                                  "updated_at", "last_seen_at")}
                   for c in got if c["email"] is not None}
        anon = [c for c in got if c["email"] is None]
        assert len(anon) == model.anon[ws], (label, ws)
        expected = model.expected(ws)
        if emailed != expected:
            missing = sorted(set(expected) - set(emailed))[:5]
            extra = sorted(set(emailed) - set(expected))[:5]
            diff = [(e, emailed[e], expected[e]) for e in sorted(expected)
                    if e in emailed and emailed[e] != expected[e]][:5]
            pytest.fail(f"{label}: workspace {ws} differs from the model: missing {missing}, "
                        f"extra {extra}, different {diff}")


# =========================================================================== capture

def list_pages(server, ws):
    pages = []
    page = 1
    while True:
        r = server.get(qs(f"/api/workspaces/{ws}/contacts", page=page, limit=100), TOKEN)
        assert r.status == 200, r
        pages.append(r.json)
        if len(r.json["contacts"]) < 100:
            return pages
        page += 1


def capture(server, sample_seed):
    out = {"lists": {}, "timelines": {}, "audit": {}}
    rnd = random.Random(sample_seed)
    for ws in WORKSPACES:
        pages = list_pages(server, ws)
        out["lists"][ws] = pages
        contacts = sorted((c for p in pages for c in p["contacts"]), key=lambda c: c["id"])
        for c in rnd.sample(contacts, min(25, len(contacts))):
            r = server.get(qs(f"/api/workspaces/{ws}/contacts/{c['id']}/events", limit=100),
                           TOKEN)
            assert r.status == 200, r
            single = server.get(f"/api/workspaces/{ws}/contacts/{c['id']}", TOKEN)
            assert single.status == 200, single
            out["timelines"][(ws, c["id"])] = (r.json, single.json)
        r = server.get(qs(f"/api/workspaces/{ws}/audit-log", limit=100), TOKEN)
        assert r.status == 200, r
        out["audit"][ws] = r.json
    return out


def flat(pages_by_ws):
    return {ws: [c for p in pages for c in p["contacts"]] for ws, pages in pages_by_ws.items()}


# =========================================================================== the test

def crash_loop(server, rounds, rnd, log):
    """Start, let it fold for 0.5-1 s, SIGKILL; `rounds` times."""
    for i in range(rounds):
        server.start()
        time.sleep(rnd.uniform(0.5, 1.0))
        try:
            ready = server.readyz().status
        except OSError:
            ready = "unreachable"
        server.kill9()
        log.append(ready)


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_sigkill_during_fold_loses_nothing_and_counts_nothing_twice(server_factory, tmp_path):
    gen = Generator(SEED)
    phase1 = gen.phase1(PHASE1)
    file1 = tmp_path / "phase1.ndjson"
    file1.write_bytes(ndjson(phase1))

    dir_a = server_factory.new_data_dir("A")
    a = server_factory(data_dir=dir_a, start=False)
    rnd = random.Random(SEED + 1)
    readiness = []
    if BROKERS:
        # On Kafka the commands stream in while the projector is killed again and again.
        streaming = produce_in_background(dir_a, file1, log_args=a.log_args())
        crash_loop(a, 4, rnd, readiness)
        out, err = streaming.communicate(timeout=300)
        assert streaming.returncode == 0, err
        assert f"appended {len(phase1)} commands" in out
    else:
        proc = produce(dir_a, str(file1))
        assert proc.returncode == 0, proc.stderr
        assert f"appended {len(phase1)} commands" in proc.stdout
        crash_loop(a, 3, rnd, readiness)

    model = Model()
    for cmd in phase1:
        model.apply(cmd)
    a.start()
    a.wait_ready(timeout=180)
    listing_a1 = flat({ws: list_pages(a, ws) for ws in WORKSPACES})
    assert_matches_model(listing_a1, model, "A after phase 1 and 3 crashes")

    contacts_by_ws = {ws: [(c["id"], c["email"]) for c in listing_a1[ws] if c["email"]]
                      for ws in WORKSPACES}
    for ws in WORKSPACES:
        for cid, email in contacts_by_ws[ws]:
            model.id_to_email[cid] = email
    phase2 = gen.phase2(PHASE2, contacts_by_ws)
    file2 = tmp_path / "phase2.ndjson"
    file2.write_bytes(ndjson(phase2))
    for cmd in phase2:
        model.apply(cmd)
    assert len(model.deleted_ids) >= 8 * 40

    a.kill9()  # a crash while idle, too
    proc = produce(dir_a, str(file2), log_args=a.log_args())
    assert proc.returncode == 0, proc.stderr
    assert f"appended {len(phase2)} commands" in proc.stdout
    a.start()
    time.sleep(0.05)
    a.kill9()
    a.start()
    a.wait_ready(timeout=180)
    final_a = capture(a, SEED + 2)
    assert a.stop() == 0

    # B: the whole log in one produce, folded without interruption.
    file_all = tmp_path / "all.ndjson"
    file_all.write_bytes(file1.read_bytes() + file2.read_bytes())
    dir_b = server_factory.new_data_dir("B")
    b = server_factory(data_dir=dir_b, start=False)
    proc = produce(dir_b, str(file_all), log_args=b.log_args())
    assert proc.returncode == 0, proc.stderr
    assert f"appended {len(phase1) + len(phase2)} commands" in proc.stdout
    b.start()
    b.wait_ready(timeout=180)
    final_b = capture(b, SEED + 2)

    print(f"readyz when killed: {readiness}")
    assert_matches_model(flat(final_b["lists"]), model, "B (clean fold)")
    assert_matches_model(flat(final_a["lists"]), model, "A (crashed fold)")
    for ws in WORKSPACES:
        assert final_a["lists"][ws] == final_b["lists"][ws], f"list of workspace {ws} differs"
        assert final_a["audit"][ws] == final_b["audit"][ws], f"audit log of {ws} differs"
    assert final_a["timelines"].keys() == final_b["timelines"].keys()
    for key in final_a["timelines"]:
        assert final_a["timelines"][key] == final_b["timelines"][key], f"timeline {key}"
    # The deletes really happened, and were audited.
    for ws in WORKSPACES:
        assert final_b["audit"][ws]["total"] >= 40
        ids = {c["id"] for c in flat(final_b["lists"])[ws]}
        deleted = [cid for cid, _ in contacts_by_ws[ws] if cid in model.deleted_ids]
        assert not ids & set(deleted)
    # Room deletes left some events without room_id but with their room name.
    nulled = [e for (tl, _) in final_b["timelines"].values() for e in tl["events"]
              if e["event_type"] == "room_join" and e["room_id"] is None]
    assert all(e["room_name"] for e in nulled)
    assert json.dumps(final_a["lists"], sort_keys=True) == json.dumps(final_b["lists"],
                                                                      sort_keys=True)
