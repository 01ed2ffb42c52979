"""The login limits when their shared storage (Redis) cannot be reached.

With several app servers the limits live in Redis. If Redis is down, logins
must keep working: the limits are counted in each process's memory until it is
back (RATELIMIT_IN_MEMORY_FALLBACK_ENABLED), never a server error.
"""

from __future__ import annotations

import socket

import pytest


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


UNREACHABLE = f"redis://127.0.0.1:{_closed_port()}/0"


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": UNREACHABLE}])
def test_logins_work_and_are_limited_while_redis_is_down(client, auth, make):
    patient = make.user("patient")
    statuses = [
        auth.post("/auth/login", {"email": patient.email, "password": "wrong password"}, "/auth/login").status_code
        for _ in range(6)
    ]
    assert statuses == [200] * 5 + [429]


def test_the_fallback_is_on_by_default():
    from webapp.config import DEFAULTS

    assert DEFAULTS["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] is True
