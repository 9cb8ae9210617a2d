"""The README's examples run as written, in order, on a fresh data directory.

Every fenced block whose info string is exactly `sh` runs against a `contacts serve` started as
`scripts/run` starts it (the development secrets); blocks marked `sh stopped` run while that
server is stopped (they open the embedded log themselves). Blocks marked `sh kafka`,
`sh docker` or `sh public-endpoint` need a broker, Docker or a public webhook endpoint and are
not run here (tests/test_kafka*.py and tests/test_webhooks.py cover what they show).

The text of a block is run unchanged but for three substitutions, so that the test neither
needs fixed ports nor a build directory in its working directory: `127.0.0.1:8080` and
`127.0.0.1:8081` become free loopback ports, and `build/contacts` the binary under test.
Consecutive blocks of one phase run in one shell, so variables carry over as in a terminal.
"""

import os
import re
import signal
import subprocess
import time
import urllib.request

from helpers import BIN, free_port

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")
BLOCK = re.compile(r"^```([^\n]*)\n(.*?)^```$", re.S | re.M)


def readme_blocks():
    """(kind, text) of each `sh` block: kind "server" or "stopped"."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    blocks = []
    for info, body in BLOCK.findall(text):
        info = info.strip()
        if info == "sh":
            blocks.append(("server", body))
        elif info == "sh stopped":
            blocks.append(("stopped", body))
    return blocks


def phases(blocks):
    """Consecutive blocks of one kind, joined."""
    out = []
    for kind, body in blocks:
        if out and out[-1][0] == kind:
            out[-1] = (kind, out[-1][1] + body)
        else:
            out.append((kind, body))
    return out


class Server:
    def __init__(self, cwd, env):
        self.cwd, self.env, self.proc = cwd, env, None

    def start(self):
        self.proc = subprocess.Popen([BIN, "serve"], cwd=self.cwd, env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://{self.env['CONTACTS_LISTEN']}/readyz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            assert self.proc.poll() is None, "contacts serve exited"
            time.sleep(0.1)
        raise AssertionError("contacts serve did not become ready")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
        self.proc = None


def run_phase(body, cwd, env, api, ingest):
    script = (body.replace("127.0.0.1:8080", api).replace("127.0.0.1:8081", ingest)
              .replace("build/contacts", BIN))
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"README block failed:\n{script}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return done.stdout


def test_readme_examples_run_as_written(tmp_path):
    api, ingest = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    while ingest == api:
        ingest = f"127.0.0.1:{free_port()}"
    env = dict(os.environ, CONTACTS_JWT_SECRET="dev-jwt-secret", CONTACTS_INGEST_TOKEN="dev-ingest-token",
               CONTACTS_LISTEN=api, CONTACTS_INGEST_LISTEN=ingest)
    env.pop("CONTACTS_BROKERS", None)
    env.pop("CONTACTS_DATA", None)  # ./data, as scripts/run
    server = Server(str(tmp_path), env)
    outputs = []
    try:
        for kind, body in phases(readme_blocks()):
            if kind == "server":
                if server.proc is None:
                    server.start()
            else:
                server.stop()
            outputs.append((kind, run_phase(body, str(tmp_path), env, api, ingest)))
        server.start()
        # What the examples did is in the views: the contact they deleted is gone, the booking
        # produced from the file is listed.
        token = subprocess.run([BIN, "token", "--jwt-secret", "dev-jwt-secret", "--user", "7", "--ttl", "1h"],
                               capture_output=True, text=True, check=True).stdout.strip()
        def get(path):
            req = urllib.request.Request(f"http://{api}{path}", headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.read().decode()
        assert '"total":0' in get("/api/workspaces/2/contacts")
        assert '"Bob Stone"' in get("/api/workspaces/3/contacts")
    finally:
        server.stop()
    text = "\n".join(out for _, out in outputs)
    assert '"accepted":2' in text
    assert "appended 2 commands" in text
    assert '"name":"Alice Martin"' in text
    assert '"event_type":"room_join"' in text
    assert '{"ok":true}' in text
    assert "rebuilt views from 5 records" in text


def test_readme_has_examples_of_each_phase():
    kinds = [kind for kind, _ in readme_blocks()]
    assert kinds.count("server") >= 3
    assert "stopped" in kinds
