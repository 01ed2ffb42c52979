"""Helpers shared by the multi-process benchmarks (bench/soak.py, bench/scaleout.py).

Nothing here runs on import: a throw-away PostgreSQL database, seeded users, an
SMTP sink that records Message-IDs, free loopback ports, and a browser-like HTTP
client (cookies, CSRF token taken from each page, redirects not followed).
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import os
import re
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
PASSWORD = "soak-test-password-1"
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')

# An SMTP server in its own process: writes each message's Message-ID to a file.
# The Message-ID is derived from the outbox row (lotsa-outbox-<id>), so a
# duplicate delivery shows as a repeated line.
SMTP_SINK = r"""
import sys, time
from aiosmtpd.controller import Controller
out = open(sys.argv[2], "a", buffering=1)
class Sink:
    async def handle_DATA(self, server, session, envelope):
        text = envelope.content.decode("utf-8", "replace")
        mid = next((l.split(":", 1)[1].strip() for l in text.splitlines() if l.lower().startswith("message-id:")), "")
        out.write(mid + "\n")
        return "250 OK"
controller = Controller(Sink(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
while True:
    time.sleep(1)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {port}")


def create_database(admin_url: str, name: str) -> None:
    """Drop (with any connections to it) and create a database."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def environment(env: dict):
    """Set environment variables for the block (create_app reads them), then restore."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


# Every seeded patient's authenticator key: each account keeps its own used step, so one
# key for all is safe here and spares the callers a key per patient.
PATIENT_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

def seed(env: dict, patients: int, clinicians: int) -> dict:
    """Units, clinicians (with two-factor secrets), patients with active enrolments, opted in to e-mail.

    Runs in this process with ``env`` applied only while it runs.
    """
    import pyotp

    with environment(env):
        from webapp import create_app
        from webapp.auth.services import create_care_unit, create_user
        from webapp.content.services import get_catalogue
        from webapp.core.db import utcnow
        from webapp.extensions import db
        from webapp.notifications.models import NotificationConsent
        from webapp.programme.models import Enrolment

        app = create_app()
    with app.app_context():
        unit = create_care_unit("soak", "Soak-enheten")
        staff = []
        for n in range(clinicians):
            user = create_user(role="clinician", email=f"clinician{n}@soak.example", full_name=f"Clinician {n}",
                               password=PASSWORD, units=[unit])
            user.totp_secret = pyotp.random_base32()
            staff.append(user)
        people = []
        for n in range(patients):
            patient = create_user(role="patient", email=f"patient{n}@soak.example", full_name=f"Patient {n}",
                                  password=PASSWORD)
            patient.totp_secret = PATIENT_TOTP_SECRET  # patients log in with a second step too
            people.append(patient)
        db.session.flush()
        enrolments = []
        for n, patient in enumerate(people):
            enrolment = Enrolment(patient=patient, programme_id="pain-school", care_unit=unit,
                                  responsible_clinician=staff[n % clinicians], status="active",
                                  recommended_days=365, started_at=utcnow(), welcome_text="")
            db.session.add(enrolment)
            db.session.add(NotificationConsent(user_id=patient.id, kind="new_message", channel="email",
                                               is_enabled=True, consented_at=utcnow()))
            enrolments.append(enrolment)
        db.session.commit()
        module = get_catalogue().programmes["pain-school"].published_modules[0]
        block = next(b for kind, b, _items in module.answer_ids() if kind == "reflection")
        world = {
            "clinicians": [(u.email, u.totp_secret, [e.id for i, e in enumerate(enrolments) if i % clinicians == c])
                           for c, u in enumerate(staff)],
            "patients": [(p.email, e.id) for p, e in zip(people, enrolments, strict=True)],
            "module": module.id, "block": block,
        }
        db.session.remove()
        db.engine.dispose()
    return world


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0
        self.server_errors = 0
        self.client_failures = 0  # timeouts and refused connections
        self.answers: set[str] = set()
        self.messages: set[str] = set()
        self.by_status: dict[int, int] = {}

    def count(self, status: int) -> None:
        with self.lock:
            self.requests += 1
            self.by_status[status] = self.by_status.get(status, 0) + 1
            if status >= 500:
                self.server_errors += 1


class Client:
    """A browser-like session: cookies, CSRF token from the page, redirects not followed.

    ``headers`` go with every request (e.g. the X-Forwarded-For a proxy would add).
    """

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    def __init__(self, base: str, stats: Stats, headers: dict | None = None):
        self.base, self.stats = base, stats
        self.headers = dict(headers or {})
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), self._NoRedirect)
        self.token = ""
        self.last_location = ""

    def request(self, path: str, data: dict | None = None, accept: str = "text/html",
                base: str | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode({"csrf_token": self.token, **data}).encode() if data is not None else None
        req = urllib.request.Request((base or self.base) + path, data=body, headers={"Accept": accept,
                                                                                     **self.headers})
        try:
            with self.opener.open(req, timeout=30) as response:
                status, text = response.status, response.read().decode("utf-8", "replace")
                self.last_location = response.headers.get("Location", "")
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode("utf-8", "replace")
            self.last_location = exc.headers.get("Location", "") if exc.headers else ""
            exc.close()
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError):
            with self.stats.lock:
                self.stats.client_failures += 1
            return 0, ""
        self.stats.count(status)
        match = CSRF_RE.search(text)
        if match:
            self.token = match.group(1)
        return status, text

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.jar if c.name == name), None)

    def login(self, email: str, secret: str | None = None, code: str | None = None) -> bool:
        """Password step, then the two-factor step with ``code`` or the current one (a seeded
        patient's key is PATIENT_TOTP_SECRET)."""
        self.request("/auth/login")
        status, _ = self.request("/auth/login", {"email": email, "password": PASSWORD})
        if not secret and status == 302 and "/auth/two-factor" in self.last_location:
            secret = PATIENT_TOTP_SECRET
        if secret:
            import pyotp

            self.request("/auth/two-factor")
            status, _ = self.request("/auth/two-factor", {"code": code or pyotp.TOTP(secret).now()})
        return status == 302
