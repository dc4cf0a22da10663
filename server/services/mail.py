"""Outgoing messages to users (password reset, invitations).

There is no mail server in a self-hosted default install, so the default `OutboxMailer` appends
each message to a private file (0600) that the operator reads, and the system log records
only that a message was written — never its link. An SMTP mailer can implement the same
`send` signature later and be chosen by configuration.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from server.clock import isoformat, utcnow


class OutboxMailer:
    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def send(self, to: str, subject: str, body: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"at": isoformat(utcnow()), "to": to, "subject": subject, "body": body})
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)
