"""pytest fixtures: servers on temp data dirs and free loopback ports, always stopped.

`server_factory` (per test) and `module_server_factory` (per module) return a callable
`make(**kwargs) -> ContactsServer` (already healthy); every server they start is stopped at
teardown (SIGTERM, SIGKILL if needed), whatever the outcome of the test.
"""

import itertools
import os

import pytest

import helpers
from helpers import TEST_MASTER_KEY

os.environ["CONTACTS_MASTER_KEY"] = TEST_MASTER_KEY

from helpers import BIN, ContactsServer, mint_jwt  # noqa: F401  (re-exported for tests)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running test (crash/replay)")
    if not config.pluginmanager.hasplugin("timeout"):
        config.addinivalue_line("markers", "timeout(seconds): per-test time limit "
                                "(enforced by pytest-timeout when installed; the tests "
                                "also bound every wait themselves)")


class _Factory:
    def __init__(self, base_dir):
        self.base_dir = str(base_dir)
        self.servers = []
        self._n = itertools.count(1)

    def new_data_dir(self, name=None):
        path = os.path.join(self.base_dir, name or f"data{next(self._n)}")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return path

    def __call__(self, data_dir=None, start=True, **kwargs):
        data_dir = data_dir or self.new_data_dir()
        server = ContactsServer(data_dir, log_dir=self.base_dir, **kwargs)
        self.servers.append(server)
        if start:
            server.start()
        return server

    def stop_all(self):
        for s in self.servers:
            try:
                s.stop()
            except Exception:  # noqa: BLE001  keep stopping the others
                try:
                    s.kill9()
                except Exception:  # noqa: BLE001
                    pass


@pytest.fixture(scope="session", autouse=True)
def _no_secrets_in_server_logs(tmp_path_factory):
    """Every server of the run logs under one directory; once all have stopped, no line of
    those logs may hold a secret, token, API key or email the tests used (helpers.SECRETS).
    Torn down last (the first session fixture set up), whatever tests ran and in what order."""
    helpers.RUN_LOG_DIR = str(tmp_path_factory.mktemp("server-logs"))
    yield
    found = helpers.secrets_in_logs()
    if found:
        shown = "\n".join(f"{path}:{line}: holds {value[:12]}..." for path, line, value in found[:20])
        pytest.fail(f"{len(found)} log lines hold a secret or an email the tests used:\n{shown}",
                    pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def _binary_present():
    if not os.path.exists(BIN):
        pytest.fail(f"contacts binary not found at {BIN} (set CONTACTS_BIN)", pytrace=False)


@pytest.fixture
def server_factory(tmp_path):
    factory = _Factory(tmp_path)
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture(scope="module")
def module_server_factory(tmp_path_factory, request):
    base = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    factory = _Factory(base)
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture
def jwt():
    """mint_jwt(sub=..., exp=..., secret=...) for tests that want to forge tokens."""
    return mint_jwt
