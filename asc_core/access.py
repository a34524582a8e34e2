"""Who may open the app: anyone on this computer; over a network, whoever knows the shared password.

``make app`` binds to 127.0.0.1. Serving a classroom (``ASC_HOST=0.0.0.0``) requires ``ASC_PASSWORD``; the app then
asks for it once per browser session. Compared in constant time; never logged or stored.
"""

from __future__ import annotations

import hmac
import os

MAX_PASSWORD_CHARS = 256


def password_required() -> bool:
    return bool(os.environ.get("ASC_PASSWORD"))


def password_ok(given: str | None) -> bool:
    expected = os.environ.get("ASC_PASSWORD", "")
    if not expected:
        return True
    given = (given or "")[:MAX_PASSWORD_CHARS]
    return hmac.compare_digest(given.encode(), expected.encode())
