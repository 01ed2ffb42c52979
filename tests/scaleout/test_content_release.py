"""A content release reaches two running gunicorn servers while patients read, with no failed request.

Real processes on loopback: two gunicorn servers (two workers each, the
production deploy/gunicorn.conf.py) on one PostgreSQL database, reading a
temporary copy of the content tree. Patients read a module page on both
servers the whole time. A changed module file is released with
``flask content release``: every response after the swap must show the new
text, the swap must finish within SWAP_LIMIT seconds on both servers, and no
request may fail. Then a broken file is released: the command refuses it
(exit 1, a 'refused' row) and both servers keep serving the previous text.
The measured figures are printed (``-s`` shows them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.scaleout.test_two_servers import _load_scaleout

pytestmark = pytest.mark.postgres_only

CHECK_SECONDS = 1  # CONTENT_RELEASE_CHECK_SECONDS in the servers
SWAP_LIMIT = 6.0  # the check interval, the load (~0.2 s) and a margin for two shared CPU cores
MODULE = "pain-school/pain-physiology/sv.md"
OLD_HEADING = "## Välkommen till smärtskolan"
NEW_HEADING = "## Välkommen till den nya smärtskolan"


class Load(threading.Thread):
    """One patient reading the first module page, alternating between the servers."""

    def __init__(self, client, bases, enrolment_id, module_id, log, stop):
        super().__init__(daemon=True)
        self.client, self.bases, self.path = client, bases, f"/e/{enrolment_id}/{module_id}/1"
        self.log, self.stop = log, stop

    def run(self):
        n = 0
        while not self.stop.is_set():
            base = self.bases[n % 2]
            status, text = self.client.request(self.path, base=base)
            self.log.append((time.time(), base, status, "den nya smärtskolan" in text, OLD_HEADING[3:] in text))
            n += 1
            time.sleep(0.02)


def _release(env, note):
    return subprocess.run([sys.executable, "-m", "flask", "--app", "webapp", "content", "release", "--note", note],
                          cwd=Path(__file__).resolve().parents[2], env=env, capture_output=True, text=True, timeout=120)


def test_a_release_swaps_both_servers_without_a_failed_request_and_a_broken_one_is_refused(tmp_path):
    scaleout = _load_scaleout()
    common = sys.modules["_common"]
    admin = make_url(os.environ["TEST_DATABASE_URL"]).set(drivername="postgresql", database="postgres")
    options = scaleout.Options(admin_url=admin.render_as_string(hide_password=False), database="lotsa_release_test",
                               workers=2, work=tmp_path)
    content = tmp_path / "content"
    shutil.copytree(common.ROOT / "content", content)
    env = {**scaleout.environment_for(options, common.free_port(), tmp_path / "instance"),
           "CONTENT_ROOT": str(content / "modules"), "FORMS_ROOT": str(content / "forms"),
           "CONTENT_RELEASE_CHECK_SECONDS": str(CHECK_SECONDS), "RATELIMIT_ENABLED": "false",
           "RATELIMIT_STORAGE_URI": "memory://"}
    common.create_database(options.admin_url, options.database)
    processes, logs = [], []
    stop = threading.Event()
    try:
        migrate = subprocess.run([str(common.BIN / "flask"), "--app", "webapp", "db", "upgrade"], cwd=common.ROOT,
                                 env=env, capture_output=True, text=True, timeout=120)
        assert migrate.returncode == 0, migrate.stderr
        world = common.seed(env, 4, 1)
        first = _release(env, "as deployed")
        assert first.returncode == 0, first.stdout + first.stderr
        ports = [common.free_port(), common.free_port()]
        for name, port in zip("AB", ports, strict=True):
            log = open(tmp_path / f"app-{name}.log", "w")
            logs.append(log)
            processes.append(subprocess.Popen(
                [str(common.BIN / "gunicorn"), "-c", str(scaleout.GUNICORN_CONF), "--workers", "2",
                 "--bind", f"127.0.0.1:{port}", "webapp:create_app()"],
                cwd=common.ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        for port in ports:
            common.wait_for_port(port, timeout=60)
        stats = common.Stats()
        requests: list[tuple] = []
        loads = []
        for n, (email, enrolment_id) in enumerate(world["patients"]):
            client = common.Client(bases[n % 2], stats, headers={"X-Forwarded-For": f"10.9.0.{n + 1}"})
            deadline = time.time() + 60
            while not client.login(email):  # the workers may still be loading the app
                assert time.time() < deadline, f"patient {n} could not log in; see {tmp_path}"
                time.sleep(0.5)
            loads.append(Load(client, bases, enrolment_id, "pain-physiology", requests, stop))
        for load in loads:
            load.start()
        time.sleep(2)

        # A new text, released while the patients read.
        module = content / "modules" / MODULE
        module.write_text(module.read_text(encoding="utf-8").replace(OLD_HEADING, NEW_HEADING), encoding="utf-8")
        command_started = time.time()
        second = _release(env, "new heading")
        assert second.returncode == 0, second.stdout + second.stderr
        command_seconds = round(time.time() - command_started, 1)
        # From the moment the release was recorded (the command also starts an app and checks the files).
        (released_at,), = scaleout.query(options, "SELECT extract(epoch FROM created_at) FROM content_release "
                                                  "WHERE id = 2")
        released_at = float(released_at)
        deadline = released_at + 30
        while time.time() < deadline:
            recent = [r for r in requests if r[0] > time.time() - 1.5]
            if recent and all(r[3] for r in recent) and {r[1] for r in recent} == set(bases):
                break
            time.sleep(0.2)
        # Every response from a server after its last old page shows the new text.
        swap_seconds = {}
        for base in bases:
            old = [r[0] for r in requests if r[1] == base and r[0] > released_at and not r[3]]
            swap_seconds[base] = round((max(old) - released_at) if old else 0.0, 2)
            after = [r for r in requests if r[1] == base and old and r[0] > max(old)]
            assert after and all(r[3] for r in after), f"{base} went back to the old text"
        during = len([r for r in requests if released_at < r[0] <= released_at + max(swap_seconds.values())])

        # A broken file: refused, and the servers keep the new (live) text.
        broken = content / "modules" / "pain-school" / "treatment" / "sv.md"
        broken.write_text(broken.read_text(encoding="utf-8").replace("version:", "version: many\nold_version:", 1),
                          encoding="utf-8")
        refused_from = time.time()
        third = _release(env, "broken")
        assert third.returncode == 1, third.stdout + third.stderr
        assert "refused" in third.stderr and "treatment/sv.md" in third.stderr
        time.sleep(CHECK_SECONDS * 3)
        stop.set()
        for load in loads:
            load.join(timeout=30)
        after_refusal = [r for r in requests if r[0] > refused_from]
        assert after_refusal and all(r[2] == 200 and r[3] for r in after_refusal)
        statuses = {}
        for r in requests:
            statuses[r[2]] = statuses.get(r[2], 0) + 1
        rows = scaleout.query(options, "SELECT id, status FROM content_release ORDER BY id")
        print(f"\ncontent release: `flask content release` took {command_seconds} s; "
              f"swap seconds per server after the release was recorded {swap_seconds} (check every {CHECK_SECONDS} s); "
              f"{len(requests)} page requests in all, {during} during the swap; statuses {statuses}; "
              f"{stats.client_failures} connection failures; releases {rows}")
        assert [status for _id, status in rows] == ["released", "released", "refused"]
        assert max(swap_seconds.values()) < SWAP_LIMIT, swap_seconds
        assert set(statuses) == {200}, statuses
        assert stats.server_errors == 0 and stats.client_failures == 0
    finally:
        stop.set()
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, 15)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, 9)
        for log in logs:
            log.close()
        common.drop_database(options.admin_url, options.database)
