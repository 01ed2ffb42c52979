"""E-mail adapter: sends one plain-text message over SMTP."""

from __future__ import annotations

import os
import smtplib
import ssl
import time
from email.message import EmailMessage
from email.utils import make_msgid


class DeliveryError(Exception):
    """Delivery failed; ``permanent`` means retrying will not help."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class SmtpMailer:
    """Deliver e-mail through an SMTP server (the local relay in production)."""

    def __init__(self, host: str, port: int, *, sender: str, security: str = "none",
                 username: str = "", password: str = "", timeout: float = 10.0):
        self.host, self.port, self.sender = host, port, sender
        self.security, self.username, self.password = security, username, password
        self.timeout = timeout

    @classmethod
    def from_config(cls, config) -> SmtpMailer | None:
        if not config.get("SMTP_PORT"):
            return None
        return cls(
            config["SMTP_HOST"], int(config["SMTP_PORT"]), sender=config["MAIL_FROM"],
            security=config["SMTP_SECURITY"], username=config["SMTP_USERNAME"],
            password=config["SMTP_PASSWORD"],
        )

    def send(self, to: str, subject: str, body: str, reference: str | None = None) -> None:
        """Send one e-mail. ``reference`` (the outbox item) makes the Message-ID stable,
        so a retry after a lost acknowledgement is recognisable as the same message."""
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = to
        msg["Subject"] = subject
        msg["Message-ID"] = f"<{reference}@lotsa.invalid>" if reference else make_msgid(domain="lotsa.invalid")
        msg.set_content(body)
        try:
            if self.security == "ssl":
                client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                          context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                if self.security == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if self.username:
                    client.login(self.username, self.password)
                client.send_message(msg)
        # The messages name the failure, never the address: they are logged and shown to administrators.
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _text in exc.recipients.values()})
            raise DeliveryError(f"recipient refused ({', '.join(map(str, codes))})", permanent=True) from exc
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"{type(exc).__name__} ({exc.smtp_code})") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(type(exc).__name__) from exc


def append_private(path: str, text: str) -> None:
    """Append to a file only its owner can read (it holds addresses and live links)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write(text)


class MailboxFileMailer:
    """Development only: append e-mail to a mailbox file instead of sending it.

    The terminal is told that a message was written, not to whom or what it
    says: server logs must not carry addresses or live invitation links.
    """

    def __init__(self, path: str):
        self.path = path

    def send(self, to: str, subject: str, body: str, reference: str | None = None) -> None:
        msg = EmailMessage()
        msg["From"] = "Lotsa <no-reply@lotsa.invalid>"
        msg["To"] = to
        msg["Subject"] = subject
        msg.set_content(body)
        append_private(self.path, f"From lotsa {time.asctime()}\n{msg.as_string()}\n")
        print(f"--- an e-mail was written to {self.path}", flush=True)
