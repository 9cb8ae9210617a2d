"""scripts/bench-reads --smoke: every row of its tables comes out, measured, and the PostgreSQL
documents were checked equal to the API's before anything was measured against them.

The smoke mode is the whole benchmark on tiny data with 1-second runs (about 30 s): data from
`contacts bench`, an owner key, a served copy, wrk on every read idle and while the fold works
through a backlog `contacts produce` appended, and a throwaway PostgreSQL cluster; then the writes
posted to ingest instead (--writes ingest, without PostgreSQL). Skipped where wrk or PostgreSQL
(initdb, pgbench) is missing; scripts/setup installs both. No figure is asserted beyond being
measured: timings on a shared machine are not a test.
"""

import glob
import json
import os
import shutil
import subprocess

import pytest

from helpers import BIN, REPO

SCRIPT = os.path.join(REPO, "scripts", "bench-reads")


def postgres_installed():
    for bindir in glob.glob("/usr/lib/postgresql/*/bin"):
        if all(os.path.exists(os.path.join(bindir, t)) for t in ("initdb", "pgbench")):
            return True
    return bool(shutil.which("initdb") and shutil.which("pgbench"))


pytestmark = [
    pytest.mark.skipif(not shutil.which("wrk"), reason="wrk is not installed (scripts/setup)"),
    pytest.mark.skipif(not postgres_installed(),
                       reason="PostgreSQL (initdb, pgbench) is not installed (scripts/setup)"),
]


def run_smoke(out, *flags):
    figures = out / "figures.json"
    env = {**os.environ, "CONTACTS_BIN": BIN}
    done = subprocess.run([SCRIPT, "--smoke", "--data", str(out / "data"), "--json", str(figures),
                           *flags], capture_output=True, text=True, timeout=180, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    with open(figures) as f:
        return done.stdout, json.load(f)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    return run_smoke(tmp_path_factory.mktemp("bench-reads"))


@pytest.fixture(scope="module")
def smoke_ingest(tmp_path_factory):
    return run_smoke(tmp_path_factory.mktemp("bench-reads-ingest"), "--writes", "ingest", "--no-pg",
                     "--uncached")


READS = ["/healthz", "list page 3, limit=50", "timeline (", "search=a (1 chars",
         "search=ma (2 chars", "search=mar (3 chars", "search=martin 1 (8 chars"]


def rows_of(table_heading, stdout):
    """The first cells of the markdown table under a heading starting with `table_heading`."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(table_heading))
    rows = []
    for line in lines[start + 1:]:
        if line.startswith("### "):
            break
        if line.startswith("| ") and not line.startswith("| request") and not line.startswith("| ---"):
            rows.append(line)
    return rows


def test_smoke_prints_every_read_idle_and_during_writes(smoke):
    stdout, _ = smoke
    idle = rows_of("### Idle: this build", stdout)
    writes = rows_of("### During writes to workspace 1: this build", stdout)
    for read in READS:
        assert any(row.startswith(f"| {read}") for row in idle), (read, idle)
        if read != "/healthz":
            assert any(row.startswith(f"| {read}") for row in writes), (read, writes)
    assert "Total time: " in stdout


def test_smoke_measures_every_read_and_the_fold_through_the_whole_backlog(smoke):
    _, figures = smoke
    [session] = figures["sessions"]
    assert len(session["idle"]) == len(READS)
    assert all(run["rate"] > 0 and run["p99"] >= run["p50"] > 0 for run in session["idle"].values())
    assert len(session["writes"]) == len(READS) - 1
    assert all(run["rate"] > 0 and run["applied"] >= 0 for run in session["writes"].values())
    # The backlog is sized from the fold rate of the `contacts bench` that made the data, at most
    # the smoke's 200,000 commands; the server restarted on it applied every command once (its
    # counter starts at zero, and nothing else was left in the log).
    writes = session["writes_summary"]
    assert writes["mode"] == "backlog" and figures["settings"]["fold_rate"] > 0
    assert 0 < writes["backlog"] <= 200000
    assert writes["caught_up_after"] is not None
    assert writes["applied"] == writes["backlog"]
    # Every search matches, and the timeline is the long one the script adds.
    assert all(total > 0 for _, total in figures["settings"]["searches"])
    assert figures["settings"]["timeline_events"] == 201


def test_smoke_says_which_runs_ended_with_the_fold_caught_up(smoke):
    stdout, figures = smoke
    runs = figures["sessions"][0]["writes"]
    rows = rows_of("### During writes to workspace 1: this build", stdout)
    for name, run in runs.items():
        [row] = [r for r in rows if r.startswith(f"| {name} |")]
        left = row.rstrip(" |").rsplit("| ", 1)[1]
        assert left == ("0: caught up" if run["behind_after"] == 0 else str(run["behind_after"]))


def test_smoke_ingest_posts_while_reading_and_the_fold_applies_every_command(smoke_ingest):
    stdout, figures = smoke_ingest
    session, _ = figures["sessions"]
    assert len(session["writes"]) == len(READS) - 1
    assert all(run["rate"] > 0 and run["posted"] > 0 for run in session["writes"].values())
    assert any(row.startswith("| list page 3")
               for row in rows_of("### During writes to workspace 1: this build", stdout))
    # The fold commits in batches (a 1-second run may see none): the whole phase counts, and
    # once the posting stopped the fold applied every command posted.
    writes = session["writes_summary"]
    assert writes["mode"] == "ingest" and writes["posted"] > 0
    assert writes["caught_up_after"] is not None
    assert writes["applied"] >= writes["posted"]


def test_smoke_checks_postgres_documents_equal_then_measures_pairs(smoke):
    stdout, figures = smoke
    checked = next(line for line in stdout.splitlines()
                   if line.startswith("Documents checked equal to the API's before measuring: "))
    for request in ["list page 3, limit=50", "timeline", "search=mar (pg_trgm)",
                    "search=mar (no index)", "search=martin 1 (pg_trgm)"]:
        assert request in checked
    pg = figures["sessions"][0]["postgres"]
    assert pg["contacts"] == 3000 and pg["events"] == 201
    for name, row in pg["rows"].items():
        assert len(row["ours"]) == 1, name
        assert all(len(runs) == 1 and runs[0]["rate"] > 0 for runs in row.values()), name
    assert set(pg["rows"]["search=mar"]) == {"ours", "pg_trgm GIN index", "no index (strpos)"}
    table = rows_of("### Against PostgreSQL", stdout)
    assert len(table) == 4, table


def test_smoke_uncached_renders_every_read_where_this_build_keeps_answers(smoke_ingest):
    stdout, figures = smoke_ingest
    kept, uncached = figures["sessions"]
    assert [kept["label"], uncached["label"]] == ["this build", "this build, answers not kept"]
    assert kept["response_cache_hits"] > 0
    assert uncached["response_cache_hits"] == 0
    idle = rows_of("### Idle: this build, answers not kept", stdout)
    for read in READS:
        assert any(row.startswith(f"| {read}") for row in idle), (read, idle)
    assert len(uncached["writes"]) == len(READS) - 1
