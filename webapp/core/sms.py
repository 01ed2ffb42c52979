"""SMS adapter: posts one text message to an HTTP SMS gateway as JSON.

The gateway contract is the common one: POST {"from", "to", "message"} with a
bearer token; 2xx means accepted, 4xx a permanent refusal, 5xx try again.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from webapp.core.mail import DeliveryError, append_private


class HttpSmsGateway:
    """Deliver SMS through an HTTP gateway."""

    def __init__(self, url: str, *, token: str = "", sender: str = "Lotsa", timeout: float = 10.0):
        self.url, self.token, self.sender, self.timeout = url, token, sender, timeout

    @classmethod
    def from_config(cls, config) -> HttpSmsGateway | None:
        if not config.get("SMS_GATEWAY_URL"):
            return None
        return cls(config["SMS_GATEWAY_URL"], token=config["SMS_GATEWAY_TOKEN"],
                   sender=config["SMS_SENDER"])

    def send(self, to: str, text: str) -> None:
        body = json.dumps({"from": self.sender, "to": to, "message": text}).encode()
        req = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {self.token}",
        })
        try:
            # Bandit B310: URL from config, checked to be http(s) at start-up.
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # nosec B310
                resp.read()
        except urllib.error.HTTPError as exc:
            raise DeliveryError(f"gateway answered {exc.code}", permanent=400 <= exc.code < 500) from exc
        except (OSError, urllib.error.URLError) as exc:
            raise DeliveryError(type(exc).__name__) from exc


class FileSms:
    """Development only: append SMS to a file instead of sending them (the terminal says only that)."""

    def __init__(self, path: str):
        self.path = path

    def send(self, to: str, text: str) -> None:
        append_private(self.path, f"--- SMS to {to} at {time.asctime()}\n{text}\n\n")
        print(f"--- an SMS was written to {self.path}", flush=True)
