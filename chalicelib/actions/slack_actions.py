"""``/slack/actions``: verify, parse ``block_actions``, record the decision (first wins), act.

Framework-agnostic: takes the raw body and headers, returns (status, body). The Chalice route
in app.py only translates types. In this version the click acts inline (revert re-reads live
first and refuses if it moved); queueing, authorization and audit build on ``decide``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.signature import SignatureVerifier

from chalicelib.actions.store import FindingStore, utcnow
from chalicelib.errors import SlackError
from chalicelib.notify.blocks import APPROVE, REVERT, alert_text, outcome_blocks
from chalicelib.notify.slack import SlackNotifier
from chalicelib.pipeline import Pipeline

__all__ = ["SlackActions"]

log = logging.getLogger(__name__)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for k, v in headers.items():
        if k.lower() == name.lower():
            return v
    return None


@dataclass
class SlackActions:
    verifier: SignatureVerifier
    store: FindingStore
    pipeline: Callable[[], Pipeline]
    notifier: Callable[[], SlackNotifier | None]

    def handle(self, body: bytes | str, headers: Mapping[str, str]) -> tuple[int, Any]:
        raw = body.decode() if isinstance(body, (bytes, bytearray)) else (body or "")
        timestamp = _header(headers, "X-Slack-Request-Timestamp")
        signature = _header(headers, "X-Slack-Signature")
        if not timestamp or not signature or not self.verifier.is_valid(raw, timestamp, signature):
            log.warning("rejected slack request: bad or stale signature")
            return 401, {"error": "invalid signature"}
        try:
            payload = json.loads(parse_qs(raw).get("payload", [""])[0])
        except json.JSONDecodeError:
            return 400, {"error": "no JSON payload"}
        if payload.get("type") != "block_actions" or not payload.get("actions"):
            return 200, ""
        action = payload["actions"][0]
        if action.get("action_id") not in (APPROVE, REVERT):
            return 200, ""
        finding_id = str(action.get("value", ""))
        user = str((payload.get("user") or {}).get("id") or "")
        channel = (payload.get("channel") or {}).get("id") or (payload.get("container") or {}).get("channel_id")
        decision: dict[str, str] = {"action": "revert" if action["action_id"] == REVERT else "approve", "user": user,
                    "at": utcnow()}
        stored = self.store.get(finding_id)
        if stored is None:
            self._ephemeral(channel, user, f"Driftwarden has no finding {finding_id}.")
            return 200, ""
        if not self.store.decide(finding_id, decision):
            current = self.store.get(finding_id)
            prior = (current.decision if current else None) or {}
            self._ephemeral(channel, user, f"Already decided: {prior.get('action', 'a decision')} by "
                                           f"<@{prior.get('user')}> at {prior.get('at')}. Nothing was done.")
            return 200, ""
        finding = stored.finding
        if decision["action"] == "revert":
            remediation = self.pipeline().revert(finding)
            outcome, detail = remediation.status.value, remediation.reason
            self.store.finish(finding_id, outcome, {"user": user, "calls": [c.to_dict() for c in remediation.calls]})
            log.info("revert decided", extra={"finding_id": finding_id, "outcome": outcome, "user": user})
        else:
            outcome, detail = "approved", "Drift accepted. Codify it in Terraform so the next apply keeps it."
            self.store.finish(finding_id, outcome, {"user": user})
        ref = stored.slack or ({"channel": channel, "ts": (payload.get("container") or {}).get("message_ts")})
        notifier = self.notifier()
        if notifier and ref.get("channel") and ref.get("ts"):
            try:
                notifier.update(ref, outcome_blocks(finding, outcome, user, detail, decision["at"]),
                                f"{outcome}: {alert_text(finding)}")
            except SlackError as exc:
                log.error("could not update slack message", extra={"finding_id": finding_id, "error": str(exc)})
        return 200, ""

    def _ephemeral(self, channel: str | None, user: str | None, text: str) -> None:
        notifier = self.notifier()
        if notifier and channel and user:
            try:
                notifier.ephemeral(channel, user, text)
            except SlackError as exc:
                log.error("could not send ephemeral reply", extra={"error": str(exc)})
