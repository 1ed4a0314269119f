"""Every transition of a finding, in one place: detected → notified → decided → reverted/approved,
auto-revert, the revert-war cap, expiry and the Slack outbox. Each one is stored (conditionally)
before Slack is called, and appended to the audit trail.

Used by the Lambda handlers (CloudTrail, SQS worker, sweep), the Slack route in inline mode, and
the CLI, so there is one implementation of what happens to a finding.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.actions.store import FindingStore, Put, StoredFinding, utcnow
from chalicelib.audit import AuditLog, new_record
from chalicelib.errors import DriftwardenError, SlackError
from chalicelib.models import Action, Finding, Status
from chalicelib.notify.blocks import alert_blocks, alert_text, outcome_blocks
from chalicelib.notify.slack import SlackNotifier
from chalicelib.pipeline import Pipeline

__all__ = ["NOTIFY", "Workflow"]

log = logging.getLogger(__name__)

NOTIFY = frozenset({Status.DRIFT, Status.DELETED})


def should_alert(finding: Finding) -> bool:
    return finding.status in NOTIFY or (finding.status is Status.UNMANAGED and finding.action is Action.ALERT)


@dataclass
class Workflow:
    store: FindingStore
    pipeline: Callable[[], Pipeline]
    notifier: Callable[[], SlackNotifier | None]
    audit: Callable[[], AuditLog | None]
    auto_revert: bool = False
    revert_cap_per_hour: int = 3
    group_window_seconds: float = 300.0
    finding_ttl_hours: float = 72.0
    codify: Callable[[Finding], str | None] | None = None
    #: Sends decided work to the SQS worker (the only function holding revert permissions). None: inline.
    enqueue: Callable[[dict[str, Any]], None] | None = None

    # --- detection ---------------------------------------------------------------------------------
    def detected(self, finding: Finding) -> dict[str, Any]:
        """A new verdict from the pipeline: store it, then auto-revert or alert (grouped)."""
        out: dict[str, Any] = {"id": finding.id, "status": finding.status.value, "notified": False}
        if not should_alert(finding):
            return out
        put, stored = self.store.put(finding)
        if put is Put.DUPLICATE:
            return {**out, "duplicate": True}
        if put is Put.REDETECTED:
            return {**out, "redetected": stored.finding.id}
        self._audit("detected", finding)
        if finding.action is Action.REVERT and finding.revertible:
            if self.auto_revert:
                if self.enqueue is None:
                    return {**out, **self.execute(finding.id, "revert", user=None, auto=True)}
                # Decide first (a human click cannot race it), then let the worker revert.
                if self.store.decide(finding.id, {"action": "revert", "user": "driftwarden:auto", "at": utcnow()}):
                    self.enqueue({"finding_id": finding.id, "action": "revert", "user": None, "auto": True})
                return {**out, "outcome": "auto-revert queued"}
            log.info("policy asks for revert but DRIFTWARDEN_AUTO_REVERT is off; alerting",
                     extra={"finding_id": finding.id})
        return {**out, **self.notify(stored)}

    def notify(self, stored: StoredFinding) -> dict[str, Any]:
        """Post the alert, or update the resource's recent open alert in place (a burst is one message)."""
        notifier = self.notifier()
        finding = stored.finding
        if notifier is None:
            log.warning("slack not configured; finding stored only", extra={"finding_id": finding.id})
            return {"notified": False}
        previous = None
        if finding.resource is not None:
            previous = self.store.latest_open_for(finding.resource.id, self.group_window_seconds)
        try:
            if previous is not None and previous.finding.id != finding.id and previous.slack:
                note = f"Updated in place: supersedes finding {previous.finding.id} (same resource, newer state)."
                notifier.update(previous.slack, alert_blocks(finding, note=note), alert_text(finding))
                self.store.supersede(previous.finding.id, finding.id)
                self.store.set_slack(finding.id, previous.slack)
                self._audit("superseded", previous.finding, detail={"by": finding.id})
            else:
                channel = finding.extra.get("channel") if isinstance(finding.extra, dict) else None
                ref = notifier.post_alert(finding, channel=channel)
                self.store.set_slack(finding.id, ref)
        except SlackError as exc:
            log.error("slack post failed; the sweep will retry (outbox)",
                      extra={"finding_id": finding.id, "error": str(exc)})
            return {"notified": False, "error": str(exc)}
        self._audit("notified", finding)
        return {"notified": True}

    # --- decisions ---------------------------------------------------------------------------------
    def execute(self, finding_id: str, action: str, user: str | None, *, auto: bool = False) -> dict[str, Any]:
        """Carry out a recorded decision (from the queue, inline, or auto-revert)."""
        stored = self.store.get(finding_id)
        if stored is None:
            return {"outcome": "failed", "reason": f"no finding {finding_id}"}
        finding = stored.finding
        if action == "approve":
            self.store.finish(finding_id, "approved", {"user": user})
            self._audit("approved", finding, slack_user=user)
            detail = "Drift accepted; this exact drift is suppressed until it changes. Codify it in Terraform."
            self._update_message(stored, "approved", user, detail)
            self._post_codify(stored)
            return {"outcome": "approved"}
        resource_id = finding.resource.id if finding.resource else finding_id
        count = self.store.count_revert(resource_id)
        if count > self.revert_cap_per_hour:
            reason = (f"revert cap reached: {count - 1} revert(s) of {resource_id} in the last hour (limit "
                      f"{self.revert_cap_per_hour}); another automation may be fighting us. Not reverting.")
            self.store.finish(finding_id, "refused", {"user": user, "reason": reason})
            self._audit("refused", finding, slack_user=user, detail={"reason": reason, "cap": True})
            self._update_message(stored, "refused", user, reason)
            self._escalate(stored, reason)
            return {"outcome": "refused", "reason": reason}
        try:
            remediation = self.pipeline().revert(finding)
        except DriftwardenError as exc:
            log.error("revert crashed", extra={"finding_id": finding_id, "error": str(exc)})
            self.store.finish(finding_id, "failed", {"user": user, "reason": str(exc)})
            self._audit("failed", finding, slack_user=user, detail={"reason": str(exc)})
            self._update_message(stored, "failed", user, str(exc))
            return {"outcome": "failed", "reason": str(exc)}
        outcome = remediation.status.value
        calls = [c.to_dict() for c in remediation.calls]
        self.store.finish(finding_id, outcome, {"user": user, "reason": remediation.reason, "calls": calls})
        event = {"reverted": "auto-reverted" if auto else "reverted"}.get(outcome, outcome)
        self._audit(event, finding, slack_user=user, detail={"reason": remediation.reason, "calls": calls})
        detail = remediation.reason
        if auto:
            rule = finding.extra.get("policy_rule") if isinstance(finding.extra, dict) else None
            detail = f"Auto-reverted because policy rule {rule or '(unnamed)'} says revert. {detail}"
            self._announce_auto(stored, detail, outcome)
        else:
            self._update_message(stored, outcome, user, detail)
        return {"outcome": outcome, "reason": remediation.reason}

    # --- the sweep: expiry and outbox ----------------------------------------------------------------
    def sweep(self, now_epoch: float) -> dict[str, int]:
        expired = posted = 0
        for stored in self.store.open_findings():
            age_hours = (now_epoch - stored.detected_at) / 3600
            if age_hours >= self.finding_ttl_hours:
                if self.store.expire(stored.finding.id):
                    expired += 1
                    self._audit("expired", stored.finding, detail={"age_hours": round(age_hours, 1)})
                    self._update_message(stored, "expired", None,
                                         f"No decision within {self.finding_ttl_hours:g} h; buttons are disabled.")
            elif not stored.slack and self.notify(stored).get("notified"):
                posted += 1
        return {"expired": expired, "posted": posted}

    # --- helpers -----------------------------------------------------------------------------------
    def _update_message(self, stored: StoredFinding, outcome: str, user: str | None, detail: str) -> None:
        notifier = self.notifier()
        current = self.store.get(stored.finding.id) or stored
        if notifier is None or not current.slack:
            return
        try:
            notifier.update(current.slack, outcome_blocks(stored.finding, outcome, user, detail, utcnow()),
                            f"{outcome}: {alert_text(stored.finding)}")
        except SlackError as exc:
            log.error("could not update slack message", extra={"finding_id": stored.finding.id, "error": str(exc)})

    def _announce_auto(self, stored: StoredFinding, detail: str, outcome: str) -> None:
        notifier = self.notifier()
        if notifier is None:
            return
        try:
            channel = stored.finding.extra.get("channel") if isinstance(stored.finding.extra, dict) else None
            ref = notifier.post_alert(stored.finding, channel=channel, note=f"*{outcome}*: {detail}")
            self.store.set_slack(stored.finding.id, ref)
            self._audit("notified", stored.finding)
        except SlackError as exc:
            log.error("could not announce auto-revert", extra={"finding_id": stored.finding.id, "error": str(exc)})

    def _post_codify(self, stored: StoredFinding) -> None:
        notifier = self.notifier()
        current = self.store.get(stored.finding.id) or stored
        if notifier is None or not current.slack or self.codify is None:
            return
        try:
            text = self.codify(stored.finding)
        except DriftwardenError as exc:
            text = f"Could not build the Terraform change automatically: {exc}"
        if text:
            try:
                notifier.thread(current.slack, f"To keep this change, codify it in Terraform:\n```{text}```")
            except SlackError as exc:
                log.error("could not post codify snippet", extra={"finding_id": stored.finding.id, "error": str(exc)})

    def _escalate(self, stored: StoredFinding, reason: str) -> None:
        notifier = self.notifier()
        self._audit("escalated", stored.finding, detail={"reason": reason})
        if notifier is None:
            return
        try:
            where = stored.finding.resource.address if stored.finding.resource else stored.finding.id
            notifier.say(f"<!here> :fire: Revert war suspected on `{where}`: {reason}")
        except SlackError as exc:
            log.error("could not escalate", extra={"finding_id": stored.finding.id, "error": str(exc)})

    def _audit(self, event: str, finding: Finding, *, slack_user: str | None = None,
               detail: dict[str, Any] | None = None) -> None:
        log_ = self.audit()
        if log_ is None:
            return
        try:
            log_.append(new_record(event, finding, slack_user=slack_user, detail=detail))
        except DriftwardenError as exc:  # the audit trail must not silently lose a transition
            log.error("audit append failed", extra={"finding_id": finding.id, "audit_event": event, "error": str(exc)})
            raise

