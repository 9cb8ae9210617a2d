"""Helpers for the integration tests: the server process, HTTP calls, JWTs, commands.

Standard library only. The server under test is the `contacts` binary (env CONTACTS_BIN,
default <repo>/build/contacts); each ContactsServer owns one data directory and two
loopback ports and is always stopped by the fixture that started it.
"""

import base64
import hashlib
import hmac
import http.client
import itertools
import json
import os
import re
import resource
import signal
import socket
import subprocess
import time
import urllib.parse

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("CONTACTS_BIN", os.path.join(REPO, "build", "contacts"))
# Every process the tests start seals personal data under this master key (a test value; a
# deployment keeps its own apart from the data: README, Personal data).
TEST_MASTER_KEY = "dGVzdC1tYXN0ZXIta2V5LW9mLTMyLWJ5dGVzLi4uLi4="

# With CONTACTS_TEST_BROKERS set, every server runs on that Kafka cluster instead of the
# embedded log, each with topics of its own (a unique --topic-prefix).
BROKERS = os.environ.get("CONTACTS_TEST_BROKERS") or None

JWT_SECRET = "test-jwt-secret-0123456789abcdef"
INGEST_TOKEN = "test-ingest-token-abcdef"
PARTITIONS = 4

# --------------------------------------------------------------------------- secrets in logs
#
# Every secret, token, API key and email the helpers create or see go into SECRETS; every
# server's stdout and stderr go to files under RUN_LOG_DIR (set per run by conftest.py), listed
# in SERVER_LOGS. At the end of the run conftest.py greps those files for these values: no log
# line may hold one (README, Logs).
SECRETS = set()
SERVER_LOGS = []
RUN_LOG_DIR = None
_SHORTEST_SECRET = 5  # shorter values would match by chance


def remember_secret(value):
    """Adds a value no log line may hold; returns it."""
    if isinstance(value, str) and len(value) >= _SHORTEST_SECRET:
        SECRETS.add(value)
    return value


def _remember_secrets_in(j):
    """The API keys and webhook secrets of a JSON request or response body."""
    if isinstance(j, dict):
        for k, v in j.items():
            if k in ("full_key", "secret") or (k == "email" and isinstance(v, str) and "@" in v):
                remember_secret(v)
            else:
                _remember_secrets_in(v)
    elif isinstance(j, list):
        for v in j:
            _remember_secrets_in(v)


# What a secret looks like in a line: a run of these characters (an email, a JWT, a key, a
# token; base64 without its padding). A remembered value made of them is looked up per token
# (with its parts between '/' and '+'), the others as substrings: a run's logs are tens of MB
# and the tests remember tens of thousands of emails.
_TOKEN = re.compile(r"[\w.%+/\-@~]+")


def secrets_in_logs(paths=None):
    """(path, line number, what) of every remembered secret found in the server logs."""
    tokens, substrings = set(), []
    for value in SECRETS:
        needle = value.strip().lower().rstrip("=")
        if len(needle) < _SHORTEST_SECRET:
            continue
        if _TOKEN.fullmatch(needle):
            tokens.add(needle)
        else:
            substrings.append(needle)
    found = []
    for path in (SERVER_LOGS if paths is None else paths):
        if not os.path.exists(path):
            continue
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace").lower()

        def line_of(pos):
            return text.count("\n", 0, pos) + 1

        for m in _TOKEN.finditer(text):
            token = m.group(0)
            parts = {token, *re.split(r"[/+]", token)} if ("/" in token or "+" in token) else {token}
            for hit in parts & tokens:
                found.append((path, line_of(m.start()), hit))
        for needle in substrings:
            pos = text.find(needle)
            if pos >= 0:
                found.append((path, line_of(pos), needle))
    return found


HEALTH_TIMEOUT = 20.0
READY_TIMEOUT = 60.0

CONTACT_FIELDS = {"id", "workspace_id", "name", "email", "event_count", "last_seen_at",
                  "created_at", "updated_at"}
SINGLE_CONTACT_FIELDS = {"id", "workspace_id", "name", "email", "created_at", "updated_at"}
EVENT_FIELDS = {"id", "contact_id", "workspace_id", "event_type", "room_id", "room_name",
                "room_display_name", "booking_page_id", "booking_page_title",
                "booking_page_slug", "metadata", "created_at"}
API_KEY_FIELDS = {"id", "name", "key_prefix", "role", "is_active", "created_at"}
AUDIT_FIELDS = {"id", "action", "actor", "target_type", "target_id", "details", "created_at"}


# --------------------------------------------------------------------------- JWTs

def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def mint_jwt(sub="7", exp=None, secret=JWT_SECRET, ttl=3600, alg="HS256", extra=None,
             header=None):
    """An HS256 JWT signed in Python; exp defaults to now + ttl."""
    hdr = header if header is not None else {"alg": alg, "typ": "JWT"}
    payload = {"sub": sub}
    payload["exp"] = int(time.time()) + ttl if exp is None else exp
    if extra:
        payload.update(extra)
    signing_input = (_b64url(json.dumps(hdr, separators=(",", ":")).encode()) + "." +
                     _b64url(json.dumps(payload, separators=(",", ":")).encode()))
    if alg == "none":
        return signing_input + "."
    remember_secret(secret)
    sig = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return remember_secret(signing_input + "." + _b64url(sig))


def token_for(user_id) -> str:
    return mint_jwt(sub=str(user_id))


# --------------------------------------------------------------------------- commands

_ids = itertools.count(1)
MISSING = object()


def next_command_id(prefix="c"):
    return f"{prefix}-{os.getpid()}-{next(_ids)}"


def _base(type_, ws, occurred_at, command_id):
    cmd = {"type": type_, "command_id": command_id or next_command_id(type_[:2]),
           "workspace_id": ws}
    if occurred_at is not MISSING and occurred_at is not None:
        cmd["occurred_at"] = occurred_at
    return cmd


def participant(name, email=MISSING):
    p = {"name": name}
    if email is not MISSING:
        p["email"] = remember_secret(email)
    return p


def room_join(ws, name, email=MISSING, occurred_at=1711500000, room_id=5,
              room_name="team-standup-1234", display_name=MISSING, metadata=MISSING,
              command_id=None):
    cmd = _base("room_join", ws, occurred_at, command_id)
    cmd["participant"] = participant(name, email)
    room = {"id": room_id, "name": room_name}
    if display_name is not MISSING:
        room["display_name"] = display_name
    cmd["room"] = room
    if metadata is not MISSING:
        cmd["metadata"] = metadata
    return cmd


def booking(ws, name, email=MISSING, occurred_at=1711000000, page_id=3,
            title="30-min Intro Call", slug="intro-call", metadata=MISSING, command_id=None):
    cmd = _base("booking", ws, occurred_at, command_id)
    cmd["participant"] = participant(name, email)
    cmd["booking_page"] = {"id": page_id, "title": title, "slug": slug}
    if metadata is not MISSING:
        cmd["metadata"] = metadata
    return cmd


def contact_delete(ws, contact_id, actor=MISSING, occurred_at=1711600000, command_id=None):
    cmd = _base("contact_delete", ws, occurred_at, command_id)
    cmd["contact_id"] = contact_id
    if actor is not MISSING:
        cmd["actor"] = actor
    return cmd


def member_upsert(ws, user_id, role, occurred_at=1700000000, command_id=None):
    cmd = _base("member_upsert", ws, occurred_at, command_id)
    cmd["user_id"] = user_id
    cmd["role"] = role
    return cmd


def member_remove(ws, user_id, occurred_at=1700000001, command_id=None):
    cmd = _base("member_remove", ws, occurred_at, command_id)
    cmd["user_id"] = user_id
    return cmd


def room_delete(ws, room_id, occurred_at=1711700000, command_id=None):
    cmd = _base("room_delete", ws, occurred_at, command_id)
    cmd["room_id"] = room_id
    return cmd


def booking_page_delete(ws, page_id, occurred_at=1711700000, command_id=None):
    cmd = _base("booking_page_delete", ws, occurred_at, command_id)
    cmd["booking_page_id"] = page_id
    return cmd


def ndjson(commands) -> bytes:
    out = []
    for c in commands:
        if isinstance(c, bytes):
            out.append(c)
        elif isinstance(c, str):
            out.append(c.encode("utf-8"))
        else:
            out.append(json.dumps(c, ensure_ascii=False).encode("utf-8"))
    return b"\n".join(out) + b"\n"


# --------------------------------------------------------------------------- HTTP

class Response:
    def __init__(self, status, body, headers):
        self.status = status
        self.body = body
        self.headers = headers
        try:
            self.json = json.loads(body.decode("utf-8")) if body else None
        except (ValueError, UnicodeDecodeError):
            self.json = None
        _remember_secrets_in(self.json)

    def __repr__(self):
        return f"<Response {self.status} {self.body[:300]!r}>"


def http_request(port, method, path, body=None, headers=None, timeout=30.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return Response(resp.status, data, {k.lower(): v for k, v in resp.getheaders()})
    finally:
        conn.close()


def qs(path, **params):
    """path + query string (params with value None are left out)."""
    items = [(k, v) for k, v in params.items() if v is not None]
    if not items:
        return path
    return path + "?" + urllib.parse.urlencode(items, quote_via=urllib.parse.quote)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- CLI

def run_cli(*args, input=None, timeout=300, env=None):
    """Runs `contacts ARGS...` and returns the CompletedProcess (text mode)."""
    args = [str(a) for a in args]
    for flag, value in zip(args, args[1:]):
        if flag in ("--jwt-secret", "--ingest-token", "--master-key"):
            remember_secret(value)
    proc = subprocess.run([BIN, *args], input=input, capture_output=True, timeout=timeout,
                          text=True, env=env)
    if args and args[0] in ("token", "keys") and proc.stdout:
        for line in proc.stdout.splitlines():
            remember_secret(line.strip())  # a minted JWT or a new API key
    return proc


def produce(data_dir, commands_or_path, partitions=PARTITIONS, timeout=300, log_args=()):
    """`contacts produce` into the log of `data_dir` (or the Kafka topics `log_args` name)."""
    args = ["produce", "--data", data_dir, "--partitions", partitions, *log_args]
    if isinstance(commands_or_path, (str, os.PathLike)):
        return run_cli(*args, commands_or_path, timeout=timeout)
    return run_cli(*args, input=ndjson(commands_or_path).decode("utf-8"), timeout=timeout)


def produce_in_background(data_dir, path, partitions=PARTITIONS, log_args=()):
    """Starts `contacts produce FILE`; the caller waits on the returned Popen."""
    return subprocess.Popen([BIN, "produce", "--data", str(data_dir), "--partitions", str(partitions),
                             *log_args, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


# --------------------------------------------------------------------------- server

class ServerError(Exception):
    pass


class ContactsServer:
    """One `contacts serve` process on a data dir; start() waits for /healthz."""

    _seq = itertools.count(1)

    def __init__(self, data_dir, log_dir=None, partitions=PARTITIONS, jwt_secret=JWT_SECRET,
                 ingest_token=INGEST_TOKEN, extra_args=(), command="serve", topic_prefix=None, env=None,
                 brokers=MISSING, binary=None, open_files=None):
        self.data_dir = str(data_dir)
        # The contacts binary this server runs (default BIN; e.g. a build with another fold version).
        self.binary = str(binary or BIN)
        self.log_dir = str(log_dir or os.path.dirname(self.data_dir.rstrip("/")))
        self.partitions = partitions
        self.jwt_secret = jwt_secret
        self.ingest_token = ingest_token
        self.extra_args = list(extra_args)
        self.extra_env = dict(env or {})
        # `api --replica` nodes share the topics of the writer they replicate (topic_prefix).
        self.command = command
        # The log: CONTACTS_TEST_BROKERS' Kafka unless brokers= says otherwise (None: the
        # embedded log in data_dir, whatever the environment).
        self.brokers = BROKERS if brokers is MISSING else brokers
        self.topic_prefix = topic_prefix or (f"t{os.getpid()}-{time.monotonic_ns()}." if self.brokers else None)
        # A soft and hard open-file limit (RLIMIT_NOFILE) to start the process under; None: ours.
        self.open_files = open_files
        self.proc = None
        self.port = None
        self.ingest_port = None
        self.stdout_path = None
        self.stderr_path = None
        self._files = []

    def log_args(self):
        """The flags that name this server's log, for CLI commands on its data."""
        if not self.brokers:
            return []
        return ["--brokers", self.brokers, "--topic-prefix", self.topic_prefix]

    # ---- lifecycle

    def start(self, timeout=HEALTH_TIMEOUT, wait_health=True):
        if not os.path.exists(self.binary):
            raise ServerError(f"binary not found: {self.binary}")
        self.port = free_port()
        self.ingest_port = free_port()
        while self.ingest_port == self.port:
            self.ingest_port = free_port()
        n = next(self._seq)
        base = os.path.basename(self.data_dir.rstrip("/"))
        logs = RUN_LOG_DIR or self.log_dir
        self.stdout_path = os.path.join(logs, f"{base}.serve{os.getpid()}-{n}.stdout")
        self.stderr_path = os.path.join(logs, f"{base}.serve{os.getpid()}-{n}.stderr")
        SERVER_LOGS.extend([self.stdout_path, self.stderr_path])
        for value in (self.jwt_secret, self.ingest_token, TEST_MASTER_KEY):
            remember_secret(value)
        out = open(self.stdout_path, "wb")
        err = open(self.stderr_path, "wb")
        self._files = [out, err]
        args = [self.binary, self.command] + (["--replica"] if self.command == "api" else []) + ["--data", self.data_dir,
                "--listen", f"127.0.0.1:{self.port}",
                "--ingest-listen", f"127.0.0.1:{self.ingest_port}",
                "--partitions", str(self.partitions)]
        if self.jwt_secret is not None:
            args += ["--jwt-secret", self.jwt_secret]
        if self.ingest_token is not None:
            args += ["--ingest-token", self.ingest_token]
        args += self.log_args()
        args += self.extra_args
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTS_")}
        env["CONTACTS_MASTER_KEY"] = TEST_MASTER_KEY
        env.update(self.extra_env)
        limit = self.open_files

        def limit_open_files():
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

        self.proc = subprocess.Popen(args, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                     env=env, preexec_fn=limit_open_files if limit else None)
        if wait_health:
            self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout=HEALTH_TIMEOUT):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(f"server exited with {self.proc.returncode} before healthy\n"
                                  + self.logs())
            try:
                r = http_request(self.port, "GET", "/healthz", timeout=2)
                if r.status == 200:
                    return
                last = r
            except OSError as e:
                last = e
            time.sleep(0.05)
        raise ServerError(f"/healthz not 200 within {timeout}s (last: {last!r})\n" + self.logs())

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=20.0):
        """SIGTERM, then SIGKILL if it does not exit in time. Returns the exit code."""
        if self.proc is None:
            return None
        rc = self.proc.poll()
        if rc is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                rc = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                rc = "killed after SIGTERM timeout"
        self._close_files()
        return rc

    def rss_bytes(self):
        """The process's resident memory, from /proc."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise ServerError("no VmRSS in /proc status")

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self._close_files()

    def _close_files(self):
        for f in self._files:
            try:
                f.close()
            except OSError:
                pass
        self._files = []

    def logs(self, limit=4000):
        out = []
        for p in (self.stdout_path, self.stderr_path):
            if p and os.path.exists(p):
                with open(p, "rb") as f:
                    data = f.read()
                out.append(f"--- {os.path.basename(p)} (last {limit} bytes)\n" +
                           data[-limit:].decode("utf-8", "replace"))
        return "\n".join(out)

    def stdout_text(self):
        with open(self.stdout_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    # ---- readiness

    def readyz(self):
        return http_request(self.port, "GET", "/readyz", timeout=5)

    def wait_ready(self, timeout=READY_TIMEOUT):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(f"server exited with {self.proc.returncode}\n" + self.logs())
            try:
                last = self.readyz()
                if last.status == 200:
                    return
            except OSError as e:
                last = e
            time.sleep(0.05)
        raise ServerError(f"/readyz not 200 within {timeout}s (last: {last!r})")

    # ---- API port

    def request(self, method, path, token=None, body=None, headers=None, timeout=30.0):
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = f"Bearer {remember_secret(token)}"
        _remember_secrets_in(body if isinstance(body, (dict, list)) else None)
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body).encode("utf-8")
            h.setdefault("Content-Type", "application/json")
        return http_request(self.port, method, path, body=body, headers=h, timeout=timeout)

    def get(self, path, token=None, **kw):
        return self.request("GET", path, token=token, **kw)

    def delete(self, path, token=None, **kw):
        return self.request("DELETE", path, token=token, **kw)

    def post(self, path, body=None, token=None, **kw):
        return self.request("POST", path, token=token, body=body, **kw)

    # ---- ingest port

    def ingest_raw(self, body, content_type="application/x-ndjson", token=MISSING,
                   headers=None):
        h = dict(headers or {})
        tok = self.ingest_token if token is MISSING else token
        if tok is not None:
            h["Authorization"] = f"Bearer {tok}"
        if content_type is not None:
            h["Content-Type"] = content_type
        return http_request(self.ingest_port, "POST", "/v1/commands", body=body, headers=h)

    def ingest(self, commands, **kw):
        """POST commands as NDJSON; returns the Response."""
        return self.ingest_raw(ndjson(commands), **kw)

    def ingest_ok(self, commands, wait=True):
        commands = list(commands)
        r = self.ingest(commands)
        assert r.status == 202, f"ingest failed: {r!r}"
        assert r.json == {"accepted": len(commands)}, r.json
        if wait:
            self.wait_ready()
        return r

    # ---- convenience reads

    def list_all(self, ws, token, search=None, limit=100):
        """Every contact of the workspace, walking all pages."""
        out = []
        page = 1
        while True:
            r = self.get(qs(f"/api/workspaces/{ws}/contacts", search=search, page=page,
                            limit=limit), token)
            assert r.status == 200, r
            out.extend(r.json["contacts"])
            if len(r.json["contacts"]) < limit or len(out) >= r.json["total"]:
                return out
            page += 1

    def timeline_all(self, ws, contact_id, token, limit=100):
        out = []
        page = 1
        while True:
            r = self.get(qs(f"/api/workspaces/{ws}/contacts/{contact_id}/events", page=page,
                            limit=limit), token)
            assert r.status == 200, r
            out.extend(r.json["events"])
            if len(r.json["events"]) < limit or len(out) >= r.json["total"]:
                return out
            page += 1

    def find_by_email(self, ws, email, token):
        matches = [c for c in self.list_all(ws, token, search=email) if c["email"] == email]
        assert len(matches) <= 1, matches
        return matches[0] if matches else None


# --------------------------------------------------------------------------- webhook receiver

RECEIVER_JS = os.path.join(REPO, "tests", "webhook_receiver", "receiver.js")
WEBHOOK_FIELDS = {"id", "name", "url", "events", "is_active", "created_at"}
DELIVERY_FIELDS = {"message_id", "event", "state", "attempts", "last_status_code", "last_error",
                   "last_attempt_at", "next_attempt_at", "created_at"}


class Receiver:
    """tests/webhook_receiver/receiver.js on a free loopback port: verifies every delivery
    with the standardwebhooks npm package and its own X-Webhook-Signature HMAC check."""

    def __init__(self, log_dir):
        self.log_path = os.path.join(str(log_dir), f"receiver{os.getpid()}-{next(ContactsServer._seq)}.log")
        self.proc = None
        self.port = None

    def start(self, timeout=20.0):
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(["node", RECEIVER_JS, "0"], stdout=subprocess.PIPE, stderr=log,
                                     stdin=subprocess.DEVNULL)
        line = self.proc.stdout.readline().decode().strip()
        if not line.startswith("listening "):
            self.stop()
            raise ServerError(f"receiver did not start: {line!r}")
        self.port = int(line.split()[1])
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def _call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        r = http_request(self.port, method, path, body=data,
                         headers={"Content-Type": "application/json"} if data else None)
        assert r.status == 200, r
        return r.json

    def register(self, path, secret):
        self._call("POST", "/_secret", {"path": path, "secret": secret})

    def configure(self, fail_first=None, fail_every=1, delay_ms=None):
        self._call("POST", "/_config", {"fail_first": fail_first or {}, "fail_every": fail_every,
                                        "delay_ms": delay_ms or {}})

    def received(self, path=None):
        got = self._call("GET", "/_received")
        return [r for r in got if path is None or r["path"] == path]

    def wait_for(self, predicate, timeout=30.0, path=None, what="deliveries"):
        """Polls until predicate(received(path)) is true; returns that list."""
        deadline = time.monotonic() + timeout
        got = []
        while time.monotonic() < deadline:
            got = self.received(path)
            if predicate(got):
                return got
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; got {json.dumps(got)[:3000]}")


# ---- Kafka (tests that run when CONTACTS_TEST_BROKERS names a broker)

def partition_of(ws, partitions):
    """Kafka's murmur2 partitioner, as the log places a workspace's records."""
    data = str(ws).encode()
    m, r = 0x5bd1e995, 24
    h = (0x9747b28c ^ len(data)) & 0xFFFFFFFF
    for i in range(0, len(data) // 4 * 4, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    rest = len(data) % 4
    tail = data[len(data) // 4 * 4:]
    if rest == 3:
        h ^= tail[2] << 16
    if rest >= 2:
        h ^= tail[1] << 8
    if rest >= 1:
        h ^= tail[0]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return (h & 0x7FFFFFFF) % partitions


def kcat_produce(topic, key, lines, extra=("-X", "partitioner=murmur2_random")):
    """The README's kcat line: one record per line, keyed by workspace id."""
    proc = subprocess.run(["kcat", "-P", "-b", BROKERS, "-t", topic, "-k", str(key), *extra],
                          input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr


def kcat_consume(topic, expect, timeout=30.0):
    """Every record of `topic` as (key, headers dict, value), once `expect` are there."""
    deadline = time.monotonic() + timeout
    records = []
    while time.monotonic() < deadline:
        proc = subprocess.run(["kcat", "-C", "-b", BROKERS, "-t", topic, "-e", "-q",
                               "-f", "%k\t%h\t%s\n"], capture_output=True, text=True, timeout=30)
        records = []
        for line in proc.stdout.splitlines():
            if not line:
                continue
            key, headers, value = line.split("\t", 2)
            pairs = dict(h.split("=", 1) for h in headers.split(",") if "=" in h)
            records.append((key, pairs, value))
        if len(records) >= expect:
            return records
        time.sleep(0.2)
    raise AssertionError(f"{topic}: {len(records)} records, expected {expect}")


def wait_for(predicate, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


