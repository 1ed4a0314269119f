"""The data Driftwarden passes around. Frozen, typed, JSON-friendly.

The finding's JSON form (``Finding.to_dict``) is a stable contract documented in README.md.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

__all__ = [
    "Action",
    "Actor",
    "ApiCall",
    "Change",
    "Finding",
    "Remediation",
    "RemediationStatus",
    "ResourceInfo",
    "Severity",
    "Status",
]


class Status(str, Enum):
    DRIFT = "drift"
    IN_SYNC = "in_sync"
    UNMANAGED = "unmanaged"
    DELETED = "deleted"
    IGNORED = "ignored"
    SKIPPED = "skipped"
    UNSUPPORTED = "unsupported"
    ERROR = "error"


class Severity(str, Enum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]

    @classmethod
    def highest(cls, severities: list[Severity]) -> Severity:
        return max(severities, key=lambda s: s.rank, default=cls.INFO)


_SEVERITY_RANK = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}


class Action(str, Enum):
    ALERT = "alert"
    REVERT = "revert"
    NONE = "none"


class RemediationStatus(str, Enum):
    REVERTED = "reverted"
    REFUSED = "refused"
    FAILED = "failed"
    NOT_NEEDED = "not_needed"


@dataclass(frozen=True)
class Actor:
    """Who made the call, as CloudTrail tells it."""

    arn: str | None
    type: str | None
    name: str | None
    via_console: bool
    source_ip: str | None = None
    user_agent: str | None = None
    invoked_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "arn": self.arn,
            "type": self.type,
            "name": self.name,
            "via_console": self.via_console,
            "source_ip": self.source_ip,
            "user_agent": self.user_agent,
            "invoked_by": self.invoked_by,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Actor:
        data = data or {}
        return cls(
            arn=data.get("arn"),
            type=data.get("type"),
            name=data.get("name"),
            via_console=bool(data.get("via_console")),
            source_ip=data.get("source_ip"),
            user_agent=data.get("user_agent"),
            invoked_by=data.get("invoked_by"),
        )


@dataclass(frozen=True)
class ResourceInfo:
    """The managed resource a finding is about: Terraform type, full address, live id, state URL."""

    type: str
    address: str | None
    id: str
    state: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "address": self.address, "id": self.id, "state": self.state}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ResourceInfo | None:
        if not data:
            return None
        return cls(type=data["type"], address=data.get("address"), id=data["id"], state=data.get("state"))


@dataclass(frozen=True)
class Change:
    """One attribute that differs. ``path`` is the Terraform attribute name, optionally a sub-path.

    ``severity`` and ``rule`` say how severe this change is and which built-in rule decided it.
    ``sensitive`` changes are compared but their values are masked everywhere they are shown.
    """

    path: str
    declared: Any
    live: Any
    severity: Severity = Severity.MEDIUM
    rule: str = "attribute-changed"
    sensitive: bool = False
    digest: str = ""

    def __post_init__(self) -> None:
        if not self.digest:
            object.__setattr__(self, "digest", value_digest(self.live))

    def to_dict(self) -> dict[str, Any]:
        declared, live = self.declared, self.live
        if self.sensitive:
            declared = mask(declared)
            live = mask(live)
        return {"path": self.path, "declared": declared, "live": live}

    def to_record(self) -> dict[str, Any]:
        """Full form for the store (values still masked when sensitive)."""
        return {
            **self.to_dict(),
            "severity": self.severity.value,
            "rule": self.rule,
            "sensitive": self.sensitive,
            "digest": self.digest,
        }

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Change:
        return cls(
            path=data["path"],
            declared=data.get("declared"),
            live=data.get("live"),
            severity=Severity(data.get("severity", "medium")),
            rule=data.get("rule", "attribute-changed"),
            sensitive=bool(data.get("sensitive", False)),
            digest=data.get("digest", ""),
        )


def value_digest(value: Any) -> str:
    """A digest of a (possibly secret) value: lets us compare without keeping the value."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


MASK = "********"


def mask(value: Any) -> Any:
    """Masked stand-in for a sensitive value: shows presence, never content."""
    if value is None:
        return None
    return MASK


@dataclass(frozen=True)
class ApiCall:
    """One AWS API call of a revert plan, as data. ``operation`` is the API name (IAM action name)."""

    service: str
    operation: str
    params: dict[str, Any]
    summary: str

    def to_dict(self) -> dict[str, Any]:
        return {"service": self.service, "operation": self.operation, "params": self.params, "summary": self.summary}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ApiCall:
        return cls(data["service"], data["operation"], dict(data.get("params") or {}), data.get("summary", ""))

    @property
    def iam_action(self) -> str:
        return f"{self.service}:{self.operation}"


@dataclass(frozen=True)
class Remediation:
    status: RemediationStatus
    calls: tuple[ApiCall, ...]
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "calls": [{"service": c.service, "operation": c.operation, "params": c.params} for c in self.calls],
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Finding:
    """The verdict on one resource for one event (or one scan)."""

    event_id: str | None
    event_name: str | None
    event_source: str | None
    event_time: str | None
    account: str | None
    region: str | None
    actor: Actor
    status: Status
    resource: ResourceInfo | None
    changes: tuple[Change, ...]
    severity: Severity
    action: Action
    reason: str
    plan: tuple[ApiCall, ...] = ()
    not_revertible: str | None = None
    remediation: Remediation | None = None
    object_kind: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """Stable id: the same event about the same resource always gets the same id."""
        rid = self.resource.id if self.resource else ""
        raw = f"{self.event_id}|{self.object_kind}|{rid}|{self.event_name}"
        return hashlib.sha256(raw.encode()).hexdigest()[:20]

    @property
    def fingerprint(self) -> str:
        """Identifies *this drift*: same resource, same paths, same live values."""
        rid = self.resource.id if self.resource else ""
        body = json.dumps(
            [rid, self.status.value, sorted((c.path, c.digest) for c in self.changes)],
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(body.encode()).hexdigest()[:20]

    @property
    def revertible(self) -> bool:
        return self.status is Status.DRIFT and bool(self.plan) and self.not_revertible is None

    def with_(self, **changes: Any) -> Finding:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON contract (one line per finding in ``driftwarden replay``)."""
        out: dict[str, Any] = {
            "finding_id": self.id,
            "event_id": self.event_id,
            "event_name": self.event_name,
            "event_source": self.event_source,
            "event_time": self.event_time,
            "account": self.account,
            "region": self.region,
            "actor": self.actor.to_dict(),
            "status": self.status.value,
            "resource": self.resource.to_dict() if self.resource else None,
            "changes": [c.to_dict() for c in self.changes],
            "severity": self.severity.value,
            "action": self.action.value,
            "reason": self.reason,
        }
        if self.remediation is not None:
            out["remediation"] = self.remediation.to_dict()
        return out

    def to_record(self) -> dict[str, Any]:
        """Everything needed to act on the finding later (what the store keeps)."""
        rec = self.to_dict()
        rec["changes"] = [c.to_record() for c in self.changes]
        rec["plan"] = [c.to_dict() for c in self.plan]
        rec["not_revertible"] = self.not_revertible
        rec["object_kind"] = self.object_kind
        rec["fingerprint"] = self.fingerprint
        rec["extra"] = self.extra
        return rec

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Finding:
        return cls(
            event_id=rec.get("event_id"),
            event_name=rec.get("event_name"),
            event_source=rec.get("event_source"),
            event_time=rec.get("event_time"),
            account=rec.get("account"),
            region=rec.get("region"),
            actor=Actor.from_dict(rec.get("actor")),
            status=Status(rec["status"]),
            resource=ResourceInfo.from_dict(rec.get("resource")),
            changes=tuple(Change.from_record(c) for c in rec.get("changes") or []),
            severity=Severity(rec.get("severity", "info")),
            action=Action(rec.get("action", "none")),
            reason=rec.get("reason", ""),
            plan=tuple(ApiCall.from_dict(c) for c in rec.get("plan") or []),
            not_revertible=rec.get("not_revertible"),
            object_kind=rec.get("object_kind"),
            extra=dict(rec.get("extra") or {}),
        )
