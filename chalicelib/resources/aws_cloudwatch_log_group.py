"""aws_cloudwatch_log_group: a CloudWatch Logs group, keyed by name.

Compared: ``retention_in_days`` (0 = never expire, what AWS reports as no retention policy),
``kms_key_id`` (HIGH: encryption changed or removed) and tags. ``CreateLogStream`` is how every
Lambda writes logs: it changes no declared attribute and is skipped without reading AWS.

Revert: ``PutRetentionPolicy`` / ``DeleteRetentionPolicy`` (an attribute delete: back to "never
expire"), ``AssociateKmsKey`` / ``DisassociateKmsKey``, ``TagResource`` / ``UntagResource``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.drift.diff import RawChange
from chalicelib.drift.normalize import tags_from_state
from chalicelib.models import ApiCall, Change, Severity
from chalicelib.resources.base import Declared, EventKind, EventSpec, Gone, LiveContext, ManagedResource
from chalicelib.resources.data_common import (
    DataPlugin,
    NotRevertible,
    arn_parts,
    as_int,
    live_tags,
    mark_sensitive_roots,
    tag_edits,
)
from chalicelib.resources.registry import register

KIND = "logs:log-group"
LOGS = "logs.amazonaws.com"
_NAME = "requestParameters.logGroupName || requestParameters.logGroupIdentifier"


def log_group_name(value: str, record: Mapping[str, Any]) -> str | None:
    """A name, or a log-group ARN (``...:log-group:NAME[:*]``) → the name."""
    parts = arn_parts(value)
    if not parts:
        return value
    if parts[2] != "logs" or not parts[5].startswith("log-group:"):
        return None
    name = parts[5][len("log-group:"):]
    return name[:-2] if name.endswith(":*") else name


def _logs(name: str, ids: str = _NAME, kind: EventKind = EventKind.MODIFY, **kw: Any) -> EventSpec:
    return EventSpec(LOGS, name, ids, kind, transform=log_group_name, **kw)


def _kms(ch: RawChange) -> tuple[Severity, str] | None:
    return Severity.HIGH, "logs-encryption-removed" if ch.live is None else "logs-encryption-changed"


@register
class AwsCloudwatchLogGroup(DataPlugin):
    type = "aws_cloudwatch_log_group"
    service = "logs"
    object_kind = KIND
    id_attribute = "name"
    events = (
        _logs("PutRetentionPolicy"),
        _logs("DeleteRetentionPolicy"),
        _logs("AssociateKmsKey"),
        _logs("DisassociateKmsKey"),
        _logs("TagResource", "requestParameters.resourceArn", id_prefix="arn:"),
        _logs("UntagResource", "requestParameters.resourceArn", id_prefix="arn:"),
        _logs("DeleteLogGroup", kind=EventKind.DELETE),
        _logs("CreateLogGroup", kind=EventKind.CREATE),
        _logs("CreateLogStream", kind=EventKind.NOOP, note="writing logs changes no declared attribute"),
    )
    compared = {"retention_in_days": Severity.MEDIUM, "kms_key_id": Severity.HIGH, "tags": Severity.LOW}
    rules = {"kms_key_id": _kms}
    read_permissions = ("logs:DescribeLogGroups", "logs:ListTagsForResource")
    revert_permissions = ("logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy", "logs:AssociateKmsKey",
                          "logs:DisassociateKmsKey", "logs:TagResource", "logs:UntagResource")
    gone_codes = frozenset({"ResourceNotFoundException"})
    deleted_severity = Severity.CRITICAL

    def object_id(self, attrs: Mapping[str, Any]) -> str | None:
        value = attrs.get("name") or attrs.get("id")
        return str(value) if value else None

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        attrs = resource.attributes
        declared.model["retention_in_days"] = as_int(attrs.get("retention_in_days")) or 0
        declared.model["kms_key_id"] = str(attrs.get("kms_key_id") or "") or None
        declared.model["tags"] = tags_from_state(attrs)
        mark_sensitive_roots(resource, declared)

    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        group = None
        params: dict[str, Any] = {"logGroupNamePrefix": object_id}
        try:
            while group is None:
                page = self.call(ctx, "describe_log_groups", **params)
                groups = page.get("logGroups") or []
                group = next((g for g in groups if g.get("logGroupName") == object_id), None)
                if group is not None or not page.get("nextToken"):
                    break
                params["nextToken"] = page["nextToken"]
            if group is None:
                return None
            arn = group.get("logGroupArn") or str(group.get("arn", "")).removesuffix(":*")
            tags = self.call(ctx, "list_tags_for_resource", resourceArn=arn).get("tags")
        except Gone:
            return None
        return {"retention_in_days": as_int(group.get("retentionInDays")) or 0,
                "kms_key_id": group.get("kmsKeyId") or None, "tags": live_tags(tags), "_arn": arn}

    def revert_calls(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> list[ApiCall]:
        calls: list[ApiCall] = []
        for ch in changes:
            if ch.path == "retention_in_days":
                if not ch.declared:
                    calls.append(ApiCall("logs", "DeleteRetentionPolicy", {"logGroupName": object_id},
                                         f"remove the retention policy of {object_id} (never expire)"))
                else:
                    calls.append(ApiCall("logs", "PutRetentionPolicy",
                                         {"logGroupName": object_id, "retentionInDays": ch.declared},
                                         f"set retention of {object_id} back to {ch.declared} days"))
            elif ch.path == "kms_key_id":
                if ch.declared:
                    calls.append(ApiCall("logs", "AssociateKmsKey",
                                         {"logGroupName": object_id, "kmsKeyId": ch.declared},
                                         f"encrypt {object_id} with its declared KMS key again"))
                else:
                    calls.append(ApiCall("logs", "DisassociateKmsKey", {"logGroupName": object_id},
                                         f"remove the undeclared KMS key from {object_id}"))
            elif not ch.path.startswith("tags."):
                raise NotRevertible(f"{ch.path} cannot be restored by Driftwarden")
        to_set, to_remove = tag_edits(changes)
        arn = live.get("_arn")
        if to_set:
            calls.append(ApiCall("logs", "TagResource", {"resourceArn": arn, "tags": to_set},
                                 f"set tag(s) {', '.join(sorted(to_set))} on {object_id}"))
        if to_remove:
            calls.append(ApiCall("logs", "UntagResource", {"resourceArn": arn, "tagKeys": to_remove},
                                 f"remove tag(s) {', '.join(to_remove)} from {object_id}"))
        return calls
