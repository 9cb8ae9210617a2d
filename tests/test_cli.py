"""The binary's rough edges an operator meets first: --version, each command's help and usage
line, boolean variables, secrets from files (*_FILE), and the HTTP details clients rely on
(HEAD, Allow on 405, WWW-Authenticate on 401)."""

import base64
import hashlib
import hmac
import json
import os
import re

import pytest

from helpers import (BIN, INGEST_TOKEN, JWT_SECRET, http_request, member_upsert, room_join,
                     run_cli, token_for)

OWNER = 7
WS = 41


def env_with(**values):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTS_")}
    env.update(values)
    return env


def test_version_prints_the_version_and_its_libraries():
    for flag in ("--version", "version"):
        r = run_cli(flag)
        assert r.returncode == 0, r.stderr
        assert re.fullmatch(r"contacts \d+\.\d+\.\d+ \(RocksDB \d+\.\d+\.\d+, librdkafka \S+\)\n",
                            r.stdout), r.stdout


def test_ingest_offers_only_the_flags_it_uses():
    r = run_cli("ingest", "--help")
    assert r.returncode == 0
    flags = set(re.findall(r"^  --([a-z0-9-]+)", r.stdout, re.M))
    assert {"ingest-listen", "ingest-token", "brokers", "ingest-max-body"} <= flags
    for ignored in ("jwt-secret", "cache-mb", "key-filter-mb", "listen", "max-connections",
                    "webhook-allow-private", "webhook-retry-schedule"):
        assert ignored not in flags, ignored
    r = run_cli("ingest", "--jwt-secret", "x", "--brokers", "127.0.0.1:1")
    assert r.returncode == 2 and "unknown flag --jwt-secret" in r.stderr


def test_serve_help_lists_each_flag_once():
    r = run_cli("serve", "--help")
    flags = re.findall(r"^  --([a-z0-9-]+)", r.stdout, re.M)
    assert len(flags) == len(set(flags)) and "listen" in flags and "webhook-allow-private" in flags


@pytest.mark.parametrize("command, line", [
    ("keys", "usage: contacts keys create --workspace N [flags]"),
    ("produce", "usage: contacts produce [FILE | -] [flags]"),
    ("seal", "usage: contacts seal [FILE | -] [flags]"),
    ("dlq", "usage: contacts dlq list [flags] | contacts dlq replay (--all | POSITION...) [flags]"),
    ("serve", "usage: contacts serve [flags]"),
])
def test_usage_lines_name_the_verb_and_arguments(command, line):
    r = run_cli(command, "--help")
    assert r.returncode == 0
    assert r.stdout.splitlines()[0] == line


@pytest.mark.parametrize("value", ["2", "enabled", "maybe"])
def test_a_boolean_variable_that_is_neither_on_nor_off_is_an_error(tmp_path, value):
    r = run_cli("produce", "--data", tmp_path / "d", input="",
                env=env_with(CONTACTS_NO_ENCRYPTION=value))
    assert r.returncode == 2
    assert f"--no-encryption (CONTACTS_NO_ENCRYPTION) takes 1/true/yes/on or 0/false/no/off, not '{value}'" in r.stderr
    r = run_cli("serve", "--data", tmp_path / "s", env=env_with(CONTACTS_WEBHOOK_ALLOW_PRIVATE=value))
    assert r.returncode == 2 and "CONTACTS_WEBHOOK_ALLOW_PRIVATE" in r.stderr


@pytest.mark.parametrize("value, on", [("TRUE", True), ("On", True), ("yes", True),
                                       ("0", False), ("off", False), ("NO", False)])
def test_boolean_variables_take_on_and_off_in_any_case(tmp_path, value, on):
    # Without encryption produce needs no master key; with it, it asks for one.
    line = json.dumps(room_join(WS, "Bool Case", "bool.case@example.com"))
    r = run_cli("produce", "--data", tmp_path / "d", input=line + "\n",
                env=env_with(CONTACTS_NO_ENCRYPTION=value))
    assert "takes 1/true/yes/on" not in r.stderr
    if on:
        assert r.returncode == 0, r.stderr
    else:
        assert r.returncode != 0 and "master key" in r.stderr.lower(), r.stderr


def _hs256_valid(token, secret):
    header, payload, signature = token.split(".")
    mac = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode() == signature


def test_secrets_can_come_from_files(tmp_path):
    secret_file = tmp_path / "jwt"
    secret_file.write_text("file-secret-0123456789\n")
    r = run_cli("token", "--user", "7", env=env_with(CONTACTS_JWT_SECRET_FILE=str(secret_file)))
    assert r.returncode == 0, r.stderr
    assert _hs256_valid(r.stdout.strip(), "file-secret-0123456789")  # the newline is not part
    r = run_cli("token", "--user", "7", env=env_with(CONTACTS_JWT_SECRET_FILE=str(secret_file),
                                                    CONTACTS_JWT_SECRET="other"))
    assert r.returncode == 2 and "both set" in r.stderr
    r = run_cli("token", "--user", "7", env=env_with(CONTACTS_JWT_SECRET_FILE=str(tmp_path / "none")))
    assert r.returncode == 2 and "cannot read" in r.stderr
    assert "CONTACTS_JWT_SECRET_FILE" in run_cli("serve", "--help").stdout


def test_a_server_reads_its_token_and_secret_from_files(server_factory, tmp_path):
    (tmp_path / "jwt").write_text(JWT_SECRET + "\n")
    (tmp_path / "ingest").write_text(INGEST_TOKEN)
    srv = server_factory(jwt_secret=None, ingest_token=None,
                         env={"CONTACTS_JWT_SECRET_FILE": str(tmp_path / "jwt"),
                              "CONTACTS_INGEST_TOKEN_FILE": str(tmp_path / "ingest")})
    srv.ingest_token = INGEST_TOKEN  # what the client sends; the server has it from the file
    srv.ingest_ok([member_upsert(WS, OWNER, "owner"), room_join(WS, "File Secret", "f.s@example.com")])
    r = srv.get(f"/api/workspaces/{WS}/contacts", token=token_for(OWNER))
    assert r.status == 200 and json.loads(r.body)["total"] == 1


@pytest.fixture(scope="module")
def srv(module_server_factory):
    s = module_server_factory()
    s.ingest_ok([member_upsert(WS, OWNER, "owner"), room_join(WS, "Head Request", "head@example.com")])
    return s


def test_head_answers_as_get_without_the_body(srv):
    for path, token in [("/healthz", None), (f"/api/workspaces/{WS}/contacts", token_for(OWNER))]:
        get = srv.request("GET", path, token=token)
        head = srv.request("HEAD", path, token=token)
        assert head.status == get.status == 200
        assert head.body == b""
        assert head.headers["content-length"] == str(len(get.body))
        assert head.headers["content-type"] == get.headers["content-type"]
    r = http_request(srv.ingest_port, "HEAD", "/healthz")
    assert r.status == 200 and r.body == b""


def test_a_405_says_which_methods_are_allowed(srv):
    token = token_for(OWNER)
    cases = [(srv.port, "PUT", f"/api/workspaces/{WS}/contacts", "GET, HEAD"),
             (srv.port, "POST", f"/api/workspaces/{WS}/contacts/1", "GET, HEAD, DELETE"),
             (srv.port, "PUT", f"/api/workspaces/{WS}/webhooks", "GET, HEAD, POST"),
             (srv.port, "POST", "/healthz", "GET, HEAD"),
             (srv.ingest_port, "GET", "/v1/commands", "POST")]
    for port, method, path, allow in cases:
        r = http_request(port, method, path, headers={"Authorization": f"Bearer {token}"})
        assert r.status == 405, (method, path, r.status)
        assert r.headers["allow"] == allow, (method, path)


def test_a_401_carries_the_bearer_challenge(srv):
    path = f"/api/workspaces/{WS}/contacts"
    r = srv.request("GET", path)
    assert r.status == 401 and r.headers["www-authenticate"] == 'Bearer realm="contacts"'
    r = srv.request("GET", path, token="not-a-token")
    assert r.status == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="contacts", error="invalid_token"'
    r = srv.ingest_raw(b"{}", token="wrong")
    assert r.status == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="contacts-ingest", error="invalid_token"'
    r = http_request(srv.ingest_port, "POST", "/v1/commands", body=b"{}")
    assert r.status == 401 and r.headers["www-authenticate"] == 'Bearer realm="contacts-ingest"'


def test_the_bearer_scheme_is_case_insensitive(srv):
    path = f"/api/workspaces/{WS}/contacts"
    r = http_request(srv.port, "GET", path, headers={"Authorization": f"bearer {token_for(OWNER)}"})
    assert r.status == 200
