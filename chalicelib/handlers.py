"""Lambda entry points, framework-agnostic. app.py wires each to a Chalice decorator in one line."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from chalicelib import wiring
from chalicelib.errors import SlackError
from chalicelib.models import Action, Finding, Status
from chalicelib.observability import emit_finding, lambda_entry, logger
from chalicelib.pipeline import summarize
from chalicelib.resources.registry import default_registry
from chalicelib.triggers.cloudtrail import eventbridge_pattern

__all__ = ["CLOUDTRAIL_PATTERN", "on_cloudtrail", "on_schedule", "respond", "slack_actions"]

log = logging.getLogger(__name__)

CLOUDTRAIL_PATTERN = eventbridge_pattern(default_registry())
NOTIFY = {Status.DRIFT, Status.DELETED}


def respond(finding: Finding, started: float | None = None) -> dict[str, Any]:
    """Log, measure, store (before Slack), then alert. Never raises for a Slack failure."""
    latency = (time.monotonic() - started) * 1000 if started else None
    emit_finding(finding, latency)
    log.info("finding", extra={"finding_id": finding.id, "status": finding.status.value,
                               "severity": finding.severity.value, "reason": finding.reason,
                               "resource": finding.resource.address if finding.resource else None})
    should_alert = finding.status in NOTIFY or (finding.status is Status.UNMANAGED and finding.action is Action.ALERT)
    if not should_alert:
        return {"id": finding.id, "status": finding.status.value, "notified": False}
    store = wiring.store()
    if not store.put(finding):
        return {"id": finding.id, "status": finding.status.value, "notified": False, "duplicate": True}
    notifier = wiring.notifier()
    if notifier is None:
        log.warning("slack not configured; finding stored only", extra={"finding_id": finding.id})
        return {"id": finding.id, "status": finding.status.value, "notified": False}
    try:
        ref = notifier.post_alert(finding)
        store.set_slack(finding.id, ref)
        return {"id": finding.id, "status": finding.status.value, "notified": True}
    except SlackError as exc:
        log.error("slack post failed; finding kept for retry", extra={"finding_id": finding.id, "error": str(exc)})
        return {"id": finding.id, "status": finding.status.value, "notified": False, "error": str(exc)}


@lambda_entry
def on_cloudtrail(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started = time.monotonic()
    detail = event.get("detail") if isinstance(event, Mapping) else None
    if isinstance(detail, Mapping):
        logger.set_correlation_id(detail.get("eventID"))
    findings = wiring.pipeline().process_event(event)
    results = [respond(f, started) for f in findings]
    return {"findings": results, "summary": summarize(findings)}


@lambda_entry
def on_schedule(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from chalicelib.triggers.scan import scan

    shard = event.get("detail", {}).get("shard", 0) if isinstance(event.get("detail"), Mapping) else 0
    shards = event.get("detail", {}).get("shards", 1) if isinstance(event.get("detail"), Mapping) else 1
    findings = scan(wiring.pipeline(), shard=int(shard), shards=int(shards))
    results = [respond(f) for f in findings]
    return {"findings": len(results), "summary": summarize(findings)}


def slack_actions(body: bytes | str, headers: Mapping[str, str]) -> tuple[int, Any]:
    logger.clear_state()
    logger.append_keys(route="/slack/actions")
    return wiring.slack_actions().handle(body, headers)
