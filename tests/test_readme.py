"""The README's examples run as written, in order, on a fresh data directory.

Which blocks run: every fenced block whose info string is `sh` runs against a running
`contacts serve`, started as `scripts/run` starts it (`build/contacts serve` with the
development secrets `dev-jwt-secret` and `dev-ingest-token`, the default ./data); a block
marked `sh stopped` runs while that server is stopped (Ctrl-C in the README's words), and the
server is started again before the next `sh` block. Blocks marked `sh kafka`, `sh docker` or
`sh public-endpoint` need a broker, Docker or a public webhook endpoint and are not run here
(tests/test_kafka*.py and tests/test_webhooks.py cover what they show); any other `sh ...`
marking fails the test, so a typo cannot drop a block silently. The `python` and `java` blocks
are examples/producer.py and examples/Producer.java byte for byte (checked here), files that
tests/test_kafka_clients.py runs against a broker.

How: all the blocks run in ONE bash process (`set -euo pipefail`), in README order, so
variables carry over as in a terminal. The working directory is a fresh temporary directory
standing in for the repository's root: `build/contacts` there is a symlink to the binary under
test (CONTACTS_BIN) and `./data` does not exist yet. The test adds only: a prelude defining
`__readme_server_start` / `__readme_server_stop` (the server, with its own environment), those
calls between phases, and a marker line before each block so that each block's output can be
told apart. The shell the blocks run in has no CONTACTS_* variable, so the examples cannot lean
on the environment of the server.

The text of the blocks is unchanged but for two lines: the README's `API=http://127.0.0.1:8080`
and `INGEST=http://127.0.0.1:8081` assignments are rewritten to free loopback ports (other tests
may be running servers; the ports stay the defaults' in the README). Nothing else is replaced.
"""

import json
import os
import re
import signal
import subprocess

from helpers import BIN, free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
BLOCK = re.compile(r"^```([^\n]*)\n(.*?)^```$", re.S | re.M)
RUN = {"sh": "server", "sh stopped": "stopped"}
NOT_RUN = {"sh kafka", "sh docker", "sh public-endpoint"}
# What scripts/run gives the server when the environment has nothing (the README's
# INGEST_TOKEN= and JWT_SECRET= lines must match them, as they must for a reader).
DEV_ENV = {"CONTACTS_JWT_SECRET": "dev-jwt-secret", "CONTACTS_INGEST_TOKEN": "dev-ingest-token"}
MARK = "@@readme-block"

PRELUDE = r"""
__readme_server_pid=
__readme_server_start() {
  # As scripts/run does: a development master key, made once.
  [ -f dev-master.key ] || (umask 077 && head -c 32 /dev/urandom | base64 >dev-master.key)
  CONTACTS_MASTER_KEY_FILE="$PWD/dev-master.key" \
  CONTACTS_JWT_SECRET="$__readme_jwt" CONTACTS_INGEST_TOKEN="$__readme_token" \
  CONTACTS_LISTEN="$__readme_api" CONTACTS_INGEST_LISTEN="$__readme_ingest" \
    build/contacts serve >>server.log 2>&1 &
  __readme_server_pid=$!
  for __readme_i in $(seq 600); do
    if curl -sf "http://$__readme_api/readyz" >/dev/null; then return 0; fi
    if ! kill -0 "$__readme_server_pid" 2>/dev/null; then
      echo "contacts serve exited" >&2; cat server.log >&2; return 1
    fi
    sleep 0.1
  done
  echo "contacts serve did not become ready" >&2; return 1
}
__readme_server_stop() {
  if [ -z "$__readme_server_pid" ]; then return 0; fi
  kill -TERM "$__readme_server_pid"
  local rc=0
  wait "$__readme_server_pid" || rc=$?
  __readme_server_pid=
  if [ "$rc" != 0 ]; then echo "contacts serve exited $rc on SIGTERM" >&2; return 1; fi
}
trap '__readme_server_stop' EXIT
"""


def readme_blocks():
    """[(kind, text)] of the blocks to run, kind "server" or "stopped", in README order."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    blocks = []
    for info, body in BLOCK.findall(text):
        info = " ".join(info.split())
        if info in RUN:
            blocks.append((RUN[info], body))
        else:
            assert not info.startswith("sh") or info in NOT_RUN, f"unknown README block kind {info!r}"
    return blocks


def set_ports(blocks, api, ingest):
    """The blocks with the API= and INGEST= assignment lines pointed at the test's ports."""
    out, seen = [], {"API": 0, "INGEST": 0}
    for kind, body in blocks:
        for name, default, port in (("API", "127.0.0.1:8080", api), ("INGEST", "127.0.0.1:8081", ingest)):
            body, n = re.subn(rf"^{name}=http://{re.escape(default)}(?=\s)", f"{name}=http://{port}", body,
                              flags=re.M)
            seen[name] += n
        out.append((kind, body))
    assert seen == {"API": 1, "INGEST": 1}, f"the README sets API= and INGEST= once each: {seen}"
    return out


def script_for(blocks):
    """One bash script: the prelude, then the blocks with the server started or stopped between."""
    parts, running = [PRELUDE], False
    for i, (kind, body) in enumerate(blocks):
        if kind == "server" and not running:
            parts.append("__readme_server_start\n")
            running = True
        elif kind == "stopped" and running:
            parts.append("__readme_server_stop\n")
            running = False
        parts.append(f"echo '{MARK} {i}'\n")
        parts.append(body)
    return "".join(parts)


def run_readme(cwd, api, ingest):
    blocks = set_ports(readme_blocks(), api, ingest)
    os.makedirs(os.path.join(cwd, "build"))
    os.symlink(os.path.abspath(BIN), os.path.join(cwd, "build", "contacts"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTS_")}
    env.update(__readme_api=api, __readme_ingest=ingest, __readme_jwt=DEV_ENV["CONTACTS_JWT_SECRET"],
               __readme_token=DEV_ENV["CONTACTS_INGEST_TOKEN"])
    script = script_for(blocks)
    proc = subprocess.Popen(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=180)
    finally:
        try:  # whatever happened, nothing the script started outlives the test
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    server_log = open(os.path.join(cwd, "server.log"), encoding="utf-8", errors="replace").read() \
        if os.path.exists(os.path.join(cwd, "server.log")) else ""
    report = f"script:\n{script}\nstdout:\n{out}\nstderr:\n{err}\nserver log:\n{server_log}"
    assert proc.returncode == 0, f"the README's examples failed (exit {proc.returncode})\n{report}"
    outputs = {}
    for chunk in out.split(MARK + " ")[1:]:
        index, _, text = chunk.partition("\n")
        outputs[int(index)] = text
    assert sorted(outputs) == list(range(len(blocks))), report
    return blocks, outputs, report


def json_values(text):
    """Every JSON object in `text`, in order (curl's answers; other lines are skipped)."""
    decoder, values, at = json.JSONDecoder(), [], 0
    while (at := text.find("{", at)) >= 0:
        try:
            value, end = decoder.raw_decode(text, at)
        except ValueError:
            at += 1
            continue
        values.append(value)
        at = end
    return values


def test_readme_examples_run_as_written(tmp_path):
    api = f"127.0.0.1:{free_port()}"
    ingest = api
    while ingest == api:
        ingest = f"127.0.0.1:{free_port()}"
    _, outputs, report = run_readme(str(tmp_path), api, ingest)
    text = "".join(outputs[i] for i in sorted(outputs))
    values = json_values(text)

    assert {"accepted": 2} in values, report                       # HTTP ingest
    assert "appended 2 commands" in text, report                   # contacts produce

    lists = [v for v in values if "contacts" in v and "total" in v]
    bob = [v for v in lists if [c["name"] for c in v["contacts"]] == ["Bob Stone"]]
    assert len(bob) == 2, f"workspace 3 listed with the API key, before and after the rebuild\n{report}"
    assert bob[0] == bob[1], f"the rebuilt views serve the same bytes\n{report}"
    alice = [v for v in lists if [c["name"] for c in v["contacts"]] == ["Alice Martin"]]
    assert alice and alice[0]["total"] == 1 and alice[0]["limit"] == 10, report
    alice_id = alice[0]["contacts"][0]["id"]

    # The contact the example took from the list, read by that id, its timeline, its delete.
    singles = [v["contact"] for v in values if "contact" in v]
    assert singles and singles[0]["id"] == alice_id and singles[0]["name"] == "Alice Martin", report
    assert "event_count" not in singles[0]
    timelines = [v for v in values if "events" in v]
    assert timelines and [(e["contact_id"], e["event_type"]) for e in timelines[0]["events"]] == \
        [(alice_id, "room_join")], report
    assert {"ok": True} in values, report
    assert re.search(r"^304$", text, re.M), f"the list's ETag sent back is a 304\n{report}"
    after = values[values.index({"ok": True}) + 1:]
    assert after[0] == {"error": "Contact not found"}, report
    audit = [v for v in values if "entries" in v]
    assert audit and audit[0]["entries"][0]["action"] == "contact.delete" and \
        audit[0]["entries"][0]["target_id"] == alice_id, report

    assert {"status": "ok"} in values, report
    ready = [v for v in values if isinstance(v, dict) and v.get("status") == "ready"]
    assert ready and ready[0]["views"]["fold_version"] >= 1, report
    rebuilt = re.search(r"^rebuilt the views of the running node from (\d+) records in \d+ ms$",
                        text, re.M)
    assert rebuilt and int(rebuilt.group(1)) >= 6, report  # 2 + 2 + the key + the delete
    lag = re.findall(r'^contacts_consumer_lag\{partition="(\d+)"\} (\d+)$', text, re.M)
    assert sorted(int(p) for p, _ in lag) == list(range(8)) and all(v == "0" for _, v in lag), report


def test_readme_has_examples_of_each_phase():
    kinds = [kind for kind, _ in readme_blocks()]
    assert kinds.count("server") >= 3
    assert "stopped" in kinds


# The README's code blocks that are files of the repository, run by the Kafka tests.
EXAMPLE_FILES = {"python": "examples/producer.py", "java": "examples/Producer.java"}


def test_readme_producer_examples_are_the_files_the_kafka_test_runs():
    with open(README, encoding="utf-8", newline="") as f:
        text = f.read()
    for lang, path in EXAMPLE_FILES.items():
        with open(os.path.join(ROOT, path), encoding="utf-8", newline="") as f:
            code = f.read()
        blocks = [body for info, body in BLOCK.findall(text) if info.strip() == lang]
        assert blocks == [code], f"the README's ```{lang} block is not {path} byte for byte"
    # kcat needs no partitioner setting: the writer forwards a record to its key's partition.
    assert "murmur2_random" not in text
