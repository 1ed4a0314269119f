"""CloudTrail records (bare, or wrapped by EventBridge) → a normalized event and resource references.

Real input is messy: lower-cased keys, non-ISO times, redacted values, missing fields. Parsing
never raises anything but ``EventError`` with a message saying what is wrong.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.errors import EventError
from chalicelib.models import Actor
from chalicelib.resources.base import REDACTED_IDS, EventKind
from chalicelib.resources.registry import Registry, normalize_event_name

__all__ = ["CloudTrailEvent", "Ref", "eventbridge_pattern", "iter_records", "parse_event", "resolve_refs"]

# The console signs calls as itself ("console.ec2.amazonaws.com", "AWS CloudWatch Console",
# "[S3Console/0.4, ...]", "AWSConsole", "EC2ConsoleBackend") or passes the browser's agent.
_CONSOLE_UA = re.compile(r"console|signin\.amazonaws\.com|^\[?Mozilla/", re.IGNORECASE)
REDACTED = REDACTED_IDS


class _CI(dict[str, Any]):
    """Case-insensitive read view of a mapping's keys (CloudTrail exports sometimes lower-case them)."""

    def __init__(self, data: Mapping[str, Any] | None) -> None:
        super().__init__()
        for k, v in (data or {}).items():
            self[str(k).lower()] = v

    def get_ci(self, key: str, default: Any = None) -> Any:
        return self.get(key.lower(), default)


@dataclass(frozen=True)
class CloudTrailEvent:
    event_id: str | None
    name: str  # API name, version suffix removed
    raw_name: str
    source: str
    time: str | None
    account: str | None
    region: str | None
    actor: Actor
    principal_arns: tuple[str, ...]  # session ARN and the role/user behind it, for glob matching
    error_code: str | None
    read_only: bool
    event_type: str | None
    record: Mapping[str, Any]


@dataclass(frozen=True)
class Ref:
    """A reference the trigger found: which object an event may have changed."""

    object_kind: str
    object_id: str | None
    event_kind: EventKind
    account: str | None
    region: str | None
    note: str = ""


def iter_records(payload: Any) -> Iterable[Mapping[str, Any]]:
    """Accept an EventBridge event, a bare record, a list of either, or a CloudTrail log file."""
    if isinstance(payload, list):
        for item in payload:
            yield from iter_records(item)
    elif isinstance(payload, Mapping) and isinstance(payload.get("Records"), list):
        yield from payload["Records"]
    elif isinstance(payload, Mapping):
        yield payload
    else:
        raise EventError(f"expected a JSON object or list, got {type(payload).__name__}")


def _iso(value: Any) -> str | None:
    if not value:
        return None
    text = str(value)
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            continue
    return text


def _actor(ident: _CI, record: _CI) -> tuple[Actor, tuple[str, ...]]:
    kind = ident.get_ci("type")
    arn = ident.get_ci("arn")
    invoked_by = ident.get_ci("invokedBy")
    session = _CI(ident.get_ci("sessionContext"))
    issuer = _CI(session.get_ci("sessionIssuer"))
    name: str | None = ident.get_ci("userName")
    arns = [a for a in (arn, issuer.get_ci("arn")) if isinstance(a, str)]
    if kind == "AssumedRole" and isinstance(arn, str) and "/" in arn:
        role, _, sess = arn.split(":assumed-role/", 1)[-1].partition("/")
        if role.startswith("AWSReservedSSO_"):
            kind, name = "IdentityCenterUser", sess
        else:
            name = f"{role}/{sess}" if sess else role
    elif kind == "Root":
        name = name or "root"
    elif kind == "FederatedUser" and isinstance(arn, str):
        name = arn.rsplit("/", 1)[-1]
    elif kind == "AWSService":
        name = invoked_by or ident.get_ci("principalId")
    elif kind == "AWSAccount":
        name = ident.get_ci("accountId") or ident.get_ci("principalId")
    ua = record.get_ci("userAgent")
    console_flag = str(record.get_ci("sessionCredentialFromConsole", "")).lower() == "true"
    via_console = console_flag or bool(isinstance(ua, str) and _CONSOLE_UA.search(ua))
    actor = Actor(
        arn=arn if isinstance(arn, str) else None,
        type=kind if isinstance(kind, str) else None,
        name=name if isinstance(name, str) else None,
        via_console=via_console,
        source_ip=record.get_ci("sourceIPAddress"),
        user_agent=ua if isinstance(ua, str) else None,
        invoked_by=invoked_by if isinstance(invoked_by, str) else None,
    )
    return actor, tuple(arns)


def parse_event(raw: Mapping[str, Any]) -> CloudTrailEvent:
    if not isinstance(raw, Mapping):
        raise EventError(f"event is a {type(raw).__name__}, not an object")
    outer = _CI(raw)
    detail = outer.get_ci("detail")
    wrapped = isinstance(detail, Mapping) and outer.get_ci("detail-type") is not None
    body = detail if wrapped else raw
    rec = _CI(body)
    name, source = rec.get_ci("eventName"), rec.get_ci("eventSource")
    if not isinstance(name, str) or not name or not isinstance(source, str) or not source:
        raise EventError("not a CloudTrail record: eventName/eventSource missing")
    ident = _CI(rec.get_ci("userIdentity"))
    actor, arns = _actor(ident, rec)
    account = rec.get_ci("recipientAccountId") or (outer.get_ci("account") if wrapped else None) or ident.get_ci(
        "accountId"
    )
    region = rec.get_ci("awsRegion") or (outer.get_ci("region") if wrapped else None)
    read_only = rec.get_ci("readOnly")
    record = {
        "requestParameters": rec.get_ci("requestParameters") or {},
        "responseElements": rec.get_ci("responseElements") or {},
        "resources": rec.get_ci("resources") or [],
        "additionalEventData": rec.get_ci("additionalEventData") or {},
    }
    return CloudTrailEvent(
        event_id=rec.get_ci("eventID") or (outer.get_ci("id") if wrapped else None),
        name=normalize_event_name(name),
        raw_name=name,
        source=source,
        time=_iso(rec.get_ci("eventTime") or (outer.get_ci("time") if wrapped else None)),
        account=str(account) if account else None,
        region=str(region) if region else None,
        actor=actor,
        principal_arns=arns,
        error_code=rec.get_ci("errorCode") or None,
        read_only=read_only is True or str(read_only).lower() == "true",
        event_type=rec.get_ci("eventType"),
        record=record,
    )


def principal_matches(event: CloudTrailEvent, globs: Iterable[str]) -> str | None:
    """The first glob matching the caller's session ARN or the role/user behind it."""
    for glob in globs:
        for arn in event.principal_arns:
            if fnmatch.fnmatchcase(arn, glob):
                return glob
    return None


def resolve_refs(registry: Registry, event: CloudTrailEvent) -> list[Ref]:
    """Every (object kind, id) this event may have changed. A claim whose id path finds nothing
    yields a ``Ref`` with ``object_id=None`` so the pipeline can say so (never silently dropped)."""
    refs: list[Ref] = []
    seen: set[tuple[str, str | None]] = set()
    claims = registry.claims(event.source, event.name)
    for claim in claims:
        ids = claim.spec.extract(event.record)
        if not ids:
            key: tuple[str, str | None] = (claim.plugin.object_kind, None)
            if claim.spec.id_prefix is None and key not in seen:
                seen.add(key)
                refs.append(Ref(claim.plugin.object_kind, None, claim.spec.kind, event.account, event.region,
                                f"no resource id at {claim.spec.ids}"))
            continue
        for oid in ids:
            key = (claim.plugin.object_kind, oid)
            if key in seen:
                continue
            seen.add(key)
            note = "redacted resource id" if oid in REDACTED else ""
            refs.append(Ref(claim.plugin.object_kind, None if note else oid, claim.spec.kind,
                            event.account, event.region, note))
    return refs


def eventbridge_pattern(registry: Registry) -> dict[str, Any]:
    """The EventBridge rule pattern: CloudTrail API calls from every source a plugin handles.
    Event names are filtered in code, which keeps the pattern far below the 2,048-character limit."""
    return {"detail-type": ["AWS API Call via CloudTrail"], "source": sorted(
        {"aws." + s.split(".amazonaws.com")[0] for s in registry.sources()})}
