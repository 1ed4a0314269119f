"""Build correctly signed Slack interactivity requests (as Slack would send them)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode


def block_action_body(finding_id: str, action_id: str, user: str = "U0APPROVER", channel: str = "C0DRIFT",
                      message_ts: str | None = None) -> str:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower()},
        "channel": {"id": channel},
        "container": {"type": "message", "channel_id": channel, "message_ts": message_ts},
        "actions": [{"type": "button", "action_id": action_id, "value": finding_id, "block_id": f"dw:{finding_id}"}],
    }
    return urlencode({"payload": json.dumps(payload)})


def sign(secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    basestring = f"v0:{ts}:{body}".encode()
    sig = "v0=" + hmac.new(secret.encode(), basestring, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig,
            "Content-Type": "application/x-www-form-urlencoded"}
