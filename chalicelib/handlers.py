"""Lambda entry points, framework-agnostic. app.py wires each to a Chalice decorator in one line."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from chalicelib import wiring
from chalicelib.models import Finding
from chalicelib.observability import emit_finding, lambda_entry, logger
from chalicelib.pipeline import summarize
from chalicelib.resources.registry import default_registry
from chalicelib.triggers.cloudtrail import eventbridge_pattern

__all__ = ["CLOUDTRAIL_PATTERN", "STATE_CHANGE_PATTERN", "on_cloudtrail", "on_decision", "on_schedule",
           "on_state_change", "on_sweep", "process_event", "respond", "slack_actions"]

log = logging.getLogger(__name__)

CLOUDTRAIL_PATTERN = eventbridge_pattern(default_registry())
STATE_CHANGE_PATTERN = {"source": ["aws.s3"], "detail-type": ["Object Created", "Object Deleted"]}


def respond(finding: Finding, started: float | None = None) -> dict[str, Any]:
    """Log and measure a verdict, then hand it to the workflow (store before Slack, audit)."""
    latency = (time.monotonic() - started) * 1000 if started else None
    emit_finding(finding, latency)
    log.info("finding", extra={"finding_id": finding.id, "status": finding.status.value,
                               "severity": finding.severity.value, "reason": finding.reason,
                               "resource": finding.resource.address if finding.resource else None})
    return wiring.workflow().detected(finding)


def process_event(event: dict[str, Any]) -> dict[str, Any]:
    """One CloudTrail event through the pipeline and the workflow."""
    started = time.monotonic()
    findings = wiring.pipeline().process_event(event)
    results = [respond(f, started) for f in findings]
    return {"findings": results, "summary": summarize(findings)}


def process_once(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """EventBridge delivers at least once: with DRIFTWARDEN_IDEMPOTENCY_TABLE set, each CloudTrail
    eventID is processed once (Powertools idempotency); a redelivery returns the first response."""
    idem = wiring.idempotency()
    if idem is None:
        return process_event(event)
    from aws_lambda_powertools.utilities.idempotency import idempotent_function

    persistence, config = idem
    if context is not None:
        config.register_lambda_context(context)

    @idempotent_function(data_keyword_argument="event", persistence_store=persistence, config=config)
    def once(event: dict[str, Any]) -> dict[str, Any]:
        return process_event(event)

    result: dict[str, Any] = once(event=event)
    return result


@lambda_entry
def on_cloudtrail(event: dict[str, Any], context: Any) -> dict[str, Any]:
    detail = event.get("detail") if isinstance(event, Mapping) else None
    if isinstance(detail, Mapping):
        logger.set_correlation_id(detail.get("eventID"))
    return process_once(event, context)


@lambda_entry
def on_deferred(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SQS (delivery delay): re-check events a Terraform agent made outside the IaC principals."""
    results: list[dict[str, Any]] = []
    for record in event.get("Records", []):
        body = json.loads(record["body"])
        findings = wiring.pipeline().process_event(body["event"], recheck=body.get("serials") or {})
        results.extend(respond(f) for f in findings)
    return {"findings": results}


@lambda_entry
def on_decision(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SQS worker: carry out recorded Approve/Revert decisions (re-read, compare-and-set, verify)."""
    results = []
    for record in event.get("Records", []):
        work = json.loads(record["body"])
        logger.set_correlation_id(work.get("finding_id"))
        results.append(wiring.workflow().execute(work["finding_id"], work["action"], work.get("user"),
                                                 auto=bool(work.get("auto"))))
    return {"results": results}


@lambda_entry
def on_schedule(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from chalicelib.triggers.scan import scan

    raw = event.get("detail")
    detail: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    findings = scan(wiring.pipeline(), shard=int(detail.get("shard", 0)), shards=int(detail.get("shards", 1)))
    results = [respond(f) for f in findings]
    return {"findings": len(results), "summary": summarize(findings),
            "api_calls": wiring.clients().total_calls()}


@lambda_entry
def on_sweep(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Expire undecided findings and retry Slack posts that failed (the outbox)."""
    return wiring.workflow().sweep(time.time())


@lambda_entry
def on_state_change(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A state object was written or deleted: re-read only that state (by its ETag), else refresh."""
    raw = event.get("detail")
    detail: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    bucket = (detail.get("bucket") or {}).get("name")
    obj = detail.get("object") or {}
    index = wiring.state_index()
    reread = None
    if bucket and obj.get("key"):  # refresh_one also drops a state whose object was deleted
        reread = index.refresh_one(f"s3://{bucket}/{obj['key']}", etag=obj.get("etag"))
    else:
        index.refresh()
    return {"states": len(index.states()), "errors": len(index.errors), "reads": index.reads, "reread": reread}


def slack_actions(body: bytes | str, headers: Mapping[str, str]) -> tuple[int, Any]:
    logger.clear_state()
    logger.append_keys(route="/slack/actions")
    return wiring.slack_actions().handle(body, headers)
