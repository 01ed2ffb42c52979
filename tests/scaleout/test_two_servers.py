"""Two app servers and two schedulers against one PostgreSQL: a trimmed bench/scaleout.py.

Two gunicorn servers (one worker each), two ``flask --app webapp scheduler run``
and an SMTP sink run as real processes on loopback, with the rate limits in
Redis. The test fails if a session started on one server does not work on the
other (or survives a logout there), if the login limits count per server, or if
an e-mail notification is delivered twice, lost, or sent twice for one event.
It creates and drops its own database (``lotsa_scaleout_test``) beside
TEST_DATABASE_URL's; every process is stopped before it returns.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

pytestmark = pytest.mark.postgres_only

BENCH = Path(__file__).resolve().parents[2] / "bench" / "scaleout.py"
REDIS_URL = "redis://127.0.0.1:6379/8"  # the benchmark uses /7


def _load_scaleout():
    """bench/ is not a package: load bench/scaleout.py by path (once)."""
    if "bench_scaleout" not in sys.modules:
        spec = importlib.util.spec_from_file_location("bench_scaleout", BENCH)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up while it executes
        spec.loader.exec_module(module)
    return sys.modules["bench_scaleout"]


@pytest.fixture
def scaleout():
    return _load_scaleout()


@pytest.fixture
def options(scaleout, tmp_path):
    if not scaleout.redis_reachable(REDIS_URL):
        message = f"Redis at {REDIS_URL} is unreachable (Flask-Limiter's shared storage)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    admin = make_url(os.environ["TEST_DATABASE_URL"]).set(drivername="postgresql", database="postgres")
    return scaleout.Options(
        admin_url=admin.render_as_string(hide_password=False), database="lotsa_scaleout_test",
        redis_url=REDIS_URL, patients=4, clinicians=2, rounds=2, round_seconds=2.0, workers=1,
        drain_seconds=30, drop_database_after=True, work=tmp_path,
    )


# Which scheduler gets which item is down to timing: with a handful of items one
# may deliver them all, so that check is the benchmark's, not this test's.
NOT_REQUIRED = {"both schedulers delivered"}


def test_sessions_limits_and_deliveries_across_two_servers_and_two_schedulers(scaleout, options):
    result = scaleout.run(options)
    failed = [f"({c['part']}) {c['name']}: {c['detail']}" for c in result["checks"]
              if not c["ok"] and c["name"] not in NOT_REQUIRED]
    assert not failed, "\n".join(failed) + f"\nprocess logs in {options.work}"
    names = {c["name"] for c in result["checks"]}
    assert {"patient logs in on A, same cookie works on B", "logout on B revokes the session on A",
            "every e-mail notification delivered exactly once", "nobody told twice about one waiting event"} <= names
    assert result["notifications_expected"] > 0
    assert result["notifications_delivered"] == result["notifications_expected"]
    assert result["notifications_duplicated"] == 0 and result["notifications_lost"] == 0
