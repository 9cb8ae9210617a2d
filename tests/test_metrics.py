"""/metrics is a clean Prometheus exposition on every listener of `contacts serve` (and of
`contacts ingest` on Kafka):
  - `promtool check metrics` finds nothing to say about it;
  - each family has one HELP and one TYPE and its samples together, once;
  - the HTTP series carry a route from a fixed set, never a path;
  - process_* and contacts_build_info are there;
  - the webhook backlog, the RocksDB stores' sizes and the fold's lag are there.
"""

import os
import re
import shutil
import subprocess
import time

import pytest

from helpers import (BIN, BROKERS, INGEST_TOKEN, TEST_MASTER_KEY, contact_delete, free_port,
                     http_request, member_upsert, ndjson, produce, room_join, token_for,
                     wait_for)

WS = 31
OWNER = 7
# A failed attempt is retried in an hour: the delivery stays pending for the whole module.
HOOKS = ["--webhook-allow-private", "--webhook-retry-schedule", "3600"]
API_ROUTES = {"probe", "contacts.list", "contacts.get", "contacts.delete", "timeline",
              "contacts.export", "api_keys.list", "api_keys.create", "api_keys.revoke",
              "audit_log", "webhooks.list", "webhooks.create", "webhooks.update", "webhooks.delete",
              "webhooks.deliveries", "webhooks.test", "webhooks.rotate_secret",
              "webhooks.redeliver", "other"}
INGEST_ROUTES = {"probe", "ingest.commands", "other"}
STORES = {"views", "deliveries"} if BROKERS else {"views", "deliveries", "log", "keys"}
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """[(name, labels, value)] of the samples, and {family: (help, type)} of the comments."""
    samples, families = [], {}
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            _, kind, name, rest = line.split(" ", 3)
            families.setdefault(name, {})[kind] = rest
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = dict(LABEL.findall(m.group(2) or ""))
        samples.append((m.group(1), labels, float(m.group(3))))
    return samples, families


def values(text, name):
    """{frozenset(labels): value} of the series `name`."""
    return {frozenset(labels.items()): v for n, labels, v in parse(text)[0] if n == name}


def value(text, name, **labels):
    return values(text, name)[frozenset(labels.items())]


def promtool(text):
    if not shutil.which("promtool"):
        pytest.fail("promtool not found (scripts/setup installs the Debian package prometheus)")
    return subprocess.run(["promtool", "check", "metrics"], input=text.encode(), capture_output=True,
                          timeout=60)


@pytest.fixture(scope="module")
def server(module_server_factory):
    s = module_server_factory(extra_args=HOOKS)
    s.ingest_ok([member_upsert(WS, OWNER, "owner")])
    token = token_for(OWNER)
    # A webhook whose receiver is down: the first attempt of each delivery (one per contact
    # created) fails, and its retry waits an hour.
    down = f"http://127.0.0.1:{free_port()}/down"
    r = s.post(f"/api/workspaces/{WS}/webhooks", token=token,
               body={"name": "down", "url": down, "events": ["contact.created"]})
    assert r.status == 201, r
    s.ingest_ok([room_join(WS, "Ada Metrics", "ada-metrics@example.com"),
                 room_join(WS, "Bob Metrics", "bob-metrics@example.com")])
    contacts = s.list_all(WS, token)
    bob = next(c for c in contacts if c["email"] == "bob-metrics@example.com")
    ada = next(c for c in contacts if c["email"] == "ada-metrics@example.com")
    assert s.get(f"/api/workspaces/{WS}/contacts/{ada['id']}", token=token).status == 200
    assert s.get(f"/api/workspaces/{WS}/contacts/{ada['id']}/events", token=token).status == 200
    assert s.delete(f"/api/workspaces/{WS}/contacts/{bob['id']}", token=token).status in (200, 204)
    assert s.get(f"/api/workspaces/{WS}/nothing/{ada['id']}", token=token).status == 404
    s.ingest_ok([contact_delete(WS, 999999)])
    assert http_request(s.ingest_port, "GET", "/v1/commands").status == 405
    wait_for(lambda: value(s.get("/metrics").body.decode(), "contacts_webhook_attempts_total") >= 2,
             what="the attempts at the down webhook")
    return s


@pytest.fixture(scope="module")
def api_text(server):
    r = server.get("/metrics")
    assert r.status == 200
    assert r.headers.get("content-type", "").startswith("text/plain; version=0.0.4")
    return r.body.decode()


@pytest.fixture(scope="module")
def ingest_text(server):
    r = http_request(server.ingest_port, "GET", "/metrics")
    assert r.status == 200
    return r.body.decode()


def test_promtool_finds_nothing_wrong_on_either_listener(api_text, ingest_text):
    for text in (api_text, ingest_text):
        checked = promtool(text)
        assert checked.returncode == 0 and not checked.stdout and not checked.stderr, \
            (checked.stdout + checked.stderr).decode()


def test_each_family_has_help_and_type_and_its_samples_together_once(api_text):
    samples, families = parse(api_text)
    seen_order = []
    for line in api_text.splitlines():
        if line.startswith("# HELP "):
            seen_order.append(line.split(" ")[2])
    assert len(seen_order) == len(set(seen_order)), "a family is printed twice"
    assert len([l for l in api_text.splitlines() if l.startswith("# TYPE ")]) == len(seen_order)
    for name, comments in families.items():
        assert comments.get("HELP") and comments.get("TYPE") in ("counter", "gauge", "histogram"), name
    # Each sample sits under its family's comments: no family is interleaved with another.
    current = None
    for line in api_text.splitlines():
        if line.startswith("# TYPE "):
            current = line.split(" ")[2]
        elif not line.startswith("#"):
            name = SAMPLE.match(line).group(1)
            assert re.sub(r"_(bucket|sum|count)$", "", name) == current or name == current, line
    assert families["contacts_http_responses_total"]["TYPE"] == "counter"
    assert families["contacts_http_request_duration_seconds"]["TYPE"] == "histogram"


def test_http_series_carry_a_route_from_a_fixed_set_and_the_listener(api_text, ingest_text):
    for text in (api_text, ingest_text):
        responses = values(text, "contacts_http_responses_total")
        routes = {(dict(k)["listener"], dict(k)["route"]) for k in responses}
        for listener, route in routes:
            assert route in (API_ROUTES if listener == "api" else INGEST_ROUTES), route
            assert "/" not in route
        assert {("api", r) for r in ("contacts.list", "contacts.get", "contacts.delete", "timeline",
                                     "webhooks.create", "other")} <= routes
        assert {("ingest", "ingest.commands"), ("ingest", "other")} <= routes
    # A DELETE that waits for the fold is counted apart from reads.
    assert value(api_text, "contacts_http_request_duration_seconds_count", listener="api",
                 route="contacts.delete") == 1
    assert value(api_text, "contacts_http_responses_total", listener="api", route="other",
                 **{"class": "4xx"}) >= 1
    assert value(api_text, "contacts_http_responses_total", listener="ingest",
                 route="ingest.commands", **{"class": "2xx"}) >= 3


def test_process_series_and_build_info(api_text, server):
    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes",
                 "process_virtual_memory_bytes", "process_open_fds", "process_max_fds"):
        assert value(api_text, name) > 0, name
    started = value(api_text, "process_start_time_seconds")
    assert time.time() - 3600 < started <= time.time()
    assert value(api_text, "process_resident_memory_bytes") < value(api_text,
                                                                   "process_virtual_memory_bytes")
    (labels, one), = values(api_text, "contacts_build_info").items()
    labels = dict(labels)
    assert one == 1
    assert re.fullmatch(r"\d+\.\d+\.\d+", labels["version"]), labels
    assert re.fullmatch(r"\d+\.\d+\.\d+", labels["rocksdb"]), labels


def test_webhook_backlog_counts_the_pending_deliveries_whose_retry_is_not_due(api_text):
    assert value(api_text, "contacts_webhook_pending_deliveries") == 2
    assert value(api_text, "contacts_webhook_due_deliveries") == 0
    assert value(api_text, "contacts_webhook_oldest_due_age_seconds") == 0
    assert value(api_text, "contacts_webhook_retries_scheduled_total") == 2


def test_rocksdb_sizes_are_labelled_by_store(api_text):
    for family in ("contacts_store_live_data_bytes", "contacts_store_sst_files_bytes",
                   "contacts_store_memtable_bytes", "contacts_store_pending_compaction_bytes"):
        series = values(api_text, family)
        assert {dict(k)["store"] for k in series} == STORES, family
        assert all(v >= 0 for v in series.values())
    views = frozenset({("store", "views")})
    assert (values(api_text, "contacts_store_memtable_bytes")[views] +
            values(api_text, "contacts_store_sst_files_bytes")[views]) > 0


def test_the_fold_lag_is_shown_per_partition_and_is_zero_once_ready(server):
    server.wait_ready()
    lag = values(server.get("/metrics").body.decode(), "contacts_consumer_lag")
    assert {dict(k)["partition"] for k in lag} == {str(p) for p in range(server.partitions)}
    assert set(lag.values()) == {0}


def test_the_ingest_listener_is_ready_when_the_log_answers(server):
    r = http_request(server.ingest_port, "GET", "/readyz")
    assert (r.status, r.json) == (200, {"status": "ready"})
    assert http_request(server.ingest_port, "GET", "/healthz").status == 200
    assert http_request(server.ingest_port, "DELETE", "/metrics").status == 405


@pytest.mark.skipif(not BROKERS, reason="contacts ingest runs on Kafka (CONTACTS_TEST_BROKERS)")
def test_contacts_ingest_serves_readyz_and_a_clean_exposition(tmp_path):
    port = free_port()
    out = open(tmp_path / "ingest.out", "wb")
    proc = subprocess.Popen([BIN, "ingest", "--ingest-listen", f"127.0.0.1:{port}", "--ingest-token",
                             INGEST_TOKEN, "--brokers", BROKERS, "--topic-prefix",
                             f"t{time.monotonic_ns()}.", "--partitions", "4"],
                            stdout=out, stderr=subprocess.STDOUT,
                            env={**os.environ, "CONTACTS_MASTER_KEY": TEST_MASTER_KEY})
    try:
        wait_for(lambda: _status(port, "/readyz") == 200, timeout=60, what="contacts ingest ready")
        body = ndjson([member_upsert(1, OWNER, "owner")])
        r = http_request(port, "POST", "/v1/commands", body=body,
                         headers={"Authorization": f"Bearer {INGEST_TOKEN}",
                                  "Content-Type": "application/x-ndjson"})
        assert r.status == 202, r
        text = http_request(port, "GET", "/metrics").body.decode()
        checked = promtool(text)
        assert checked.returncode == 0 and not checked.stdout, checked.stdout.decode()
        assert value(text, "contacts_ingest_accepted_total") == 1
        assert value(text, "contacts_http_responses_total", listener="ingest",
                     route="ingest.commands", **{"class": "2xx"}) == 1
        assert value(text, "process_open_fds") > 0
        assert "contacts_build_info{" in text
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        out.close()


@pytest.mark.skipif(not BROKERS, reason="the split roles run on Kafka (CONTACTS_TEST_BROKERS)")
def test_project_webhooks_and_replica_nodes_serve_a_clean_exposition(server_factory):
    writer = server_factory(command="project")
    hooks = server_factory(command="webhooks", topic_prefix=writer.topic_prefix, extra_args=HOOKS)
    replica = server_factory(command="api", topic_prefix=writer.topic_prefix)
    assert produce(writer.data_dir, [member_upsert(WS, OWNER, "owner")],
                   log_args=writer.log_args()).returncode == 0
    for node in (writer, hooks, replica):
        node.wait_ready(timeout=60)
        text = node.get("/metrics").body.decode()
        checked = promtool(text)
        assert checked.returncode == 0 and not checked.stdout, (node.command, checked.stdout.decode())
        assert list(values(text, "contacts_build_info").values()) == [1]
        assert value(text, "process_open_fds") > 0
        assert {dict(k)["store"] for k in values(text, "contacts_store_sst_files_bytes")} == (
            {"views", "deliveries"} if node is hooks else {"views"})
        # The fold's lag, per partition the node folds (the writer: those the group gave it).
        assert values(text, "contacts_consumer_lag"), node.command
    assert "contacts_changes_published_total" in writer.get("/metrics").body.decode()
    assert "contacts_webhook_pending_deliveries 0" in hooks.get("/metrics").body.decode()


def _status(port, path):
    try:
        return http_request(port, "GET", path, timeout=2).status
    except OSError:
        return None


def test_a_repeated_read_is_counted_as_kept_and_authentication_rows_are_held(server):
    token = token_for(OWNER)
    before = server.get("/metrics").body.decode()
    path = f"/api/workspaces/{WS}/contacts?search=metrics&limit=7"
    first = server.get(path, token=token)
    again = server.get(path, token=token)
    assert first.status == again.status == 200 and first.body == again.body
    after = server.get("/metrics").body.decode()
    assert value(after, "contacts_response_cache_misses_total") == (
        value(before, "contacts_response_cache_misses_total") + 1)
    assert value(after, "contacts_response_cache_hits_total") == (
        value(before, "contacts_response_cache_hits_total") + 1)
    assert value(after, "contacts_response_cache_responses") >= 1
    assert 0 < value(after, "contacts_response_cache_bytes") <= value(
        after, "contacts_response_cache_limit_bytes")
    assert value(after, "contacts_auth_rows") >= 1  # the owner's membership
