"""aws_sqs_queue: an SQS queue, keyed by its URL (the state ``id`` and every call's ``queueUrl``).

URLs are canonicalized (``https://sqs.<region>.amazonaws.com/<account>/<name>``) because AWS
still accepts the legacy ``queue.amazonaws.com`` forms. Attributes arrive as strings and are
normalized to numbers/booleans; redrive and redrive-allow policies and the queue policy compare as
canonical JSON. The policy is the union of ``aws_sqs_queue.policy`` and ``aws_sqs_queue_policy``
(the separate resource wins); a policy that appears on a managed queue nothing declared a policy
for is drift too, CRITICAL when it grants ``*`` without conditions.

Encryption: with a KMS key declared, ``sqs_managed_sse_enabled`` is not compared (AWS turns SSE-SQS
off when a key is set). Any encryption change is HIGH. Revert is one ``SetQueueAttributes`` call
(empty string removes a policy, redrive policy or key) plus tag calls.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from chalicelib.drift.diff import RawChange
from chalicelib.drift.normalize import canonical_policy, parse_policy, policy_grants_public, tags_from_state
from chalicelib.models import ApiCall, Change, Severity
from chalicelib.resources.base import Declared, EventKind, EventSpec, Gone, LiveContext, ManagedResource
from chalicelib.resources.data_common import (
    DataPlugin,
    NotRevertible,
    as_bool,
    as_int,
    canonical_json,
    live_tags,
    mark_sensitive_roots,
    tag_edits,
)
from chalicelib.resources.registry import register

KIND = "sqs:queue"
SQS = "sqs.amazonaws.com"
_URL = "requestParameters.queueUrl"
_LEGACY = re.compile(r"^https?://(?:(?P<region>[a-z0-9-]+)\.)?queue\.amazonaws\.com/(?P<rest>.+)$")
_MODERN = re.compile(r"^https?://sqs\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<rest>.+)$")


def canonical_queue_url(url: str) -> str:
    text = url.strip().rstrip("/")
    m = _LEGACY.match(text)
    if m:
        return f"https://sqs.{m.group('region') or 'us-east-1'}.amazonaws.com/{m.group('rest')}"
    m = _MODERN.match(text)
    if m:
        return f"https://sqs.{m.group('region')}.amazonaws.com/{m.group('rest')}"
    return text


def queue_url(value: str, record: Mapping[str, Any]) -> str | None:
    return canonical_queue_url(value)


def sqs_events(*names: str, kind: EventKind = EventKind.MODIFY,
               ids: str = _URL) -> tuple[EventSpec, ...]:
    return tuple(EventSpec(SQS, n, ids, kind, transform=queue_url) for n in names)


POLICY_EVENTS = sqs_events("SetQueueAttributes", "AddPermission", "RemovePermission")


def canonical_redrive(doc: Any) -> str | None:
    """A redrive policy in canonical JSON; ``maxReceiveCount`` may be a string or a number."""
    text = canonical_json(doc)
    if text is None:
        return None
    parsed = parse_policy(text)
    if isinstance(parsed, dict) and "maxReceiveCount" in parsed:
        parsed["maxReceiveCount"] = as_int(parsed["maxReceiveCount"])
    return canonical_json(parsed)


def _policy(ch: RawChange) -> tuple[Severity, str] | None:
    if ch.live and policy_grants_public(ch.live):
        return Severity.CRITICAL, "sqs-policy-grants-public"
    return None


def _encryption(ch: RawChange) -> tuple[Severity, str] | None:
    return Severity.HIGH, "sqs-encryption-changed"


# Terraform attribute → (SetQueueAttributes name, value → attribute string).
_ATTRS: dict[str, tuple[str, Any]] = {
    "visibility_timeout_seconds": ("VisibilityTimeout", str),
    "message_retention_seconds": ("MessageRetentionPeriod", str),
    "delay_seconds": ("DelaySeconds", str),
    "max_message_size": ("MaximumMessageSize", str),
    "receive_wait_time_seconds": ("ReceiveMessageWaitTimeSeconds", str),
    "redrive_policy": ("RedrivePolicy", lambda v: v or ""),
    "redrive_allow_policy": ("RedriveAllowPolicy", lambda v: v or ""),
    "kms_master_key_id": ("KmsMasterKeyId", lambda v: v or ""),
    "kms_data_key_reuse_period_seconds": ("KmsDataKeyReusePeriodSeconds", str),
    "sqs_managed_sse_enabled": ("SqsManagedSseEnabled", lambda v: "true" if v else "false"),
    "content_based_deduplication": ("ContentBasedDeduplication", lambda v: "true" if v else "false"),
    "policy": ("Policy", lambda v: v or ""),
}
_INTS = ("visibility_timeout_seconds", "message_retention_seconds", "delay_seconds", "max_message_size",
         "receive_wait_time_seconds")


@register
class AwsSqsQueue(DataPlugin):
    type = "aws_sqs_queue"
    computed = frozenset({"kms_data_key_reuse_period_seconds"})
    service = "sqs"
    object_kind = KIND
    events = (
        *POLICY_EVENTS,
        *sqs_events("TagQueue", "UntagQueue"),
        *sqs_events("DeleteQueue", kind=EventKind.DELETE),
        *sqs_events("CreateQueue", kind=EventKind.CREATE, ids="responseElements.queueUrl"),
    )
    compared = {
        "visibility_timeout_seconds": Severity.MEDIUM,
        "message_retention_seconds": Severity.MEDIUM,
        "delay_seconds": Severity.MEDIUM,
        "max_message_size": Severity.MEDIUM,
        "receive_wait_time_seconds": Severity.LOW,
        "redrive_policy": Severity.MEDIUM,
        "redrive_allow_policy": Severity.MEDIUM,
        "kms_master_key_id": Severity.HIGH,
        "kms_data_key_reuse_period_seconds": Severity.LOW,
        "sqs_managed_sse_enabled": Severity.HIGH,
        "content_based_deduplication": Severity.LOW,
        "policy": Severity.HIGH,
        "tags": Severity.LOW,
    }
    rules = {"policy": _policy, "kms_master_key_id": _encryption, "sqs_managed_sse_enabled": _encryption}
    read_permissions = ("sqs:GetQueueAttributes", "sqs:ListQueueTags")
    revert_permissions = ("sqs:SetQueueAttributes", "sqs:TagQueue", "sqs:UntagQueue")
    gone_codes = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})
    deleted_severity = Severity.CRITICAL

    def object_id(self, attrs: Mapping[str, Any]) -> str | None:
        value = attrs.get("id") or attrs.get("url")
        return canonical_queue_url(str(value)) if value else None

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        attrs, model = resource.attributes, declared.model
        for key in _INTS:
            if as_int(attrs.get(key)) is not None:
                model[key] = as_int(attrs.get(key))
        model["redrive_policy"] = canonical_redrive(attrs.get("redrive_policy"))
        model["redrive_allow_policy"] = canonical_json(attrs.get("redrive_allow_policy"))
        kms = str(attrs.get("kms_master_key_id") or "") or None
        model["kms_master_key_id"] = kms
        if kms and as_int(attrs.get("kms_data_key_reuse_period_seconds")):
            model["kms_data_key_reuse_period_seconds"] = as_int(attrs["kms_data_key_reuse_period_seconds"])
        if not kms and as_bool(attrs.get("sqs_managed_sse_enabled")) is not None:
            model["sqs_managed_sse_enabled"] = as_bool(attrs.get("sqs_managed_sse_enabled"))
        if as_bool(attrs.get("fifo_queue")) and as_bool(attrs.get("content_based_deduplication")) is not None:
            model["content_based_deduplication"] = as_bool(attrs.get("content_based_deduplication"))
        model.setdefault("policy", canonical_policy(attrs.get("policy")))
        model["tags"] = tags_from_state(attrs)
        mark_sensitive_roots(resource, declared)

    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        try:
            attrs = self.call(ctx, "get_queue_attributes", QueueUrl=object_id, AttributeNames=["All"])
            tags = self.call(ctx, "list_queue_tags", QueueUrl=object_id).get("Tags")
        except Gone:
            return None
        return self.live_model(attrs.get("Attributes") or {}, tags)

    @staticmethod
    def live_model(a: Mapping[str, str], tags: Any) -> dict[str, Any]:
        return {
            "visibility_timeout_seconds": as_int(a.get("VisibilityTimeout")),
            "message_retention_seconds": as_int(a.get("MessageRetentionPeriod")),
            "delay_seconds": as_int(a.get("DelaySeconds")),
            "max_message_size": as_int(a.get("MaximumMessageSize")),
            "receive_wait_time_seconds": as_int(a.get("ReceiveMessageWaitTimeSeconds")),
            "redrive_policy": canonical_redrive(a.get("RedrivePolicy")),
            "redrive_allow_policy": canonical_json(a.get("RedriveAllowPolicy")),
            "kms_master_key_id": a.get("KmsMasterKeyId") or None,
            "kms_data_key_reuse_period_seconds": as_int(a.get("KmsDataKeyReusePeriodSeconds")),
            "sqs_managed_sse_enabled": bool(as_bool(a.get("SqsManagedSseEnabled"))),
            "content_based_deduplication": bool(as_bool(a.get("ContentBasedDeduplication"))),
            "policy": canonical_policy(a.get("Policy")),
            "tags": live_tags(tags),
        }

    def revert_calls(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> list[ApiCall]:
        attributes: dict[str, str] = {}
        for ch in changes:
            if ch.path.startswith("tags."):
                continue
            if ch.path not in _ATTRS:
                raise NotRevertible(f"{ch.path} cannot be restored by SetQueueAttributes")
            name, render = _ATTRS[ch.path]
            attributes[name] = render(ch.declared)
        calls: list[ApiCall] = []
        queue = object_id.rsplit("/", 1)[-1]
        if attributes:
            calls.append(ApiCall("sqs", "SetQueueAttributes",
                                 {"QueueUrl": object_id, "Attributes": attributes},
                                 f"restore {', '.join(sorted(attributes))} of queue {queue}"))
        to_set, to_remove = tag_edits(changes)
        if to_set:
            calls.append(ApiCall("sqs", "TagQueue", {"QueueUrl": object_id, "Tags": to_set},
                                 f"set tag(s) {', '.join(sorted(to_set))} on queue {queue}"))
        if to_remove:
            calls.append(ApiCall("sqs", "UntagQueue", {"QueueUrl": object_id, "TagKeys": to_remove},
                                 f"remove tag(s) {', '.join(to_remove)} from queue {queue}"))
        return calls
