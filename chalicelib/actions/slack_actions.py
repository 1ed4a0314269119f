"""``/slack/actions``: verify the signature (5-minute window), parse ``block_actions``, check the
approver, record the decision with a conditional write (the first click wins), enqueue the work,
and answer well inside Slack's 3 seconds. The route does no AWS work beyond the decision write and
the enqueue; the SQS worker re-reads, reverts and updates the message.

Framework-agnostic: takes the raw body and headers, returns (status, body). Without a queue
(``DRIFTWARDEN_QUEUE_URL`` unset: the CLI, a single-process setup) the decision runs inline.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.signature import SignatureVerifier

from chalicelib.actions.approvers import ApproverPolicy, SlackDirectory
from chalicelib.actions.store import FindingStore, utcnow
from chalicelib.actions.workflow import Workflow
from chalicelib.errors import SlackError
from chalicelib.notify.blocks import APPROVE, REVERT
from chalicelib.notify.slack import SlackNotifier

__all__ = ["SlackActions"]

log = logging.getLogger(__name__)

_DONE_WORDS = {"expired": "This alert expired before anyone decided; Driftwarden did nothing.",
               "superseded": "A newer alert for this resource replaced this one; use its buttons."}


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for k, v in headers.items():
        if k.lower() == name.lower():
            return v
    return None


@dataclass
class SlackActions:
    verifier: SignatureVerifier
    store: FindingStore
    workflow: Callable[[], Workflow]
    notifier: Callable[[], SlackNotifier | None]
    approvers: ApproverPolicy
    enqueue: Callable[[dict[str, Any]], None] | None = None
    directory: Callable[[], SlackDirectory | None] = lambda: None

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
        verb = "revert" if action["action_id"] == REVERT else "approve"
        stored = self.store.get(finding_id)
        if stored is None:
            self._ephemeral(channel, user, f"Driftwarden has no finding {finding_id}.")
            return 200, ""
        refusal = self.approvers.refusal(user, stored.finding, self.directory)
        if refusal:
            log.info("decision refused", extra={"finding_id": finding_id, "user": user, "why": refusal})
            self._ephemeral(channel, user, f"{refusal} Nothing was done.")
            return 200, ""
        decision = {"action": verb, "user": user, "at": utcnow()}
        if not self.store.decide(finding_id, decision):
            self._ephemeral(channel, user, self._already(finding_id))
            return 200, ""
        log.info("decision recorded", extra={"finding_id": finding_id, "user": user, "decision": verb})
        work = {"finding_id": finding_id, "action": verb, "user": user, "at": decision["at"]}
        if self.enqueue is not None:
            self.enqueue(work)
        else:
            self.workflow().execute(finding_id, verb, user)
        return 200, ""

    def _already(self, finding_id: str) -> str:
        current = self.store.get(finding_id)
        if current is not None and current.state in _DONE_WORDS:
            return _DONE_WORDS[current.state]
        prior = (current.decision if current else None) or {}
        return (f"Already decided: {prior.get('action', 'a decision')} by <@{prior.get('user')}> at "
                f"{prior.get('at')}. Nothing was done.")

    def _ephemeral(self, channel: str | None, user: str | None, text: str) -> None:
        notifier = self.notifier()
        if notifier and channel and user:
            try:
                notifier.ephemeral(channel, user, text)
            except SlackError as exc:
                log.error("could not send ephemeral reply", extra={"error": str(exc)})
