"""aws_kms_key: key policy, rotation, enabled state, pending deletion, description and tags.

KMS records name a key by id or by ARN (``arn:aws:kms:<region>:<account>:key/<id>``) depending on
the caller; both normalize to the key id, which is what the state index holds. The key policy is
compared as canonical JSON (statement order, whitespace and single-vs-list do not matter); a live
policy granting ``Principal: "*"`` without a condition is CRITICAL. A disabled key or a key
scheduled for deletion is CRITICAL: everything encrypted with it stops working (or is lost). The
revert of a scheduled deletion is ``CancelKeyDeletion`` then ``EnableKey``: AWS leaves a cancelled
key disabled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from chalicelib.drift.diff import RawChange
from chalicelib.drift.normalize import canonical_policy, parse_policy, policy_grants_public, tags_from_state
from chalicelib.models import ApiCall, Change, Severity
from chalicelib.resources.base import (
    Declared,
    EventKind,
    EventSpec,
    Gone,
    LiveContext,
    ManagedResource,
    ResourcePlugin,
    call_aws,
)
from chalicelib.resources.registry import register

KIND = "kms:key"
KMS = "kms.amazonaws.com"
PENDING_STATES = frozenset({"PendingDeletion", "PendingReplicaDeletion"})
_KEY_ID = "requestParameters.keyId"
_NO_ROTATION = frozenset({"UnsupportedOperationException", "KMSInvalidStateException"})


def key_id(value: str) -> str:
    """``arn:aws:kms:...:key/<id>`` → ``<id>``; a plain id stays as it is."""
    if value.startswith("arn:") and ":key/" in value:
        return value.rsplit(":key/", 1)[1]
    return value


def key_event(source: str, name: str, ids: str, kind: EventKind = EventKind.MODIFY, **kw: Any) -> EventSpec:
    """An event whose ids are KMS key ids or ARNs, normalized to key ids (the index key)."""
    return EventSpec(source, name, ids, kind, transform=lambda value, _record: key_id(value), **kw)


def _tag_map(tags: Any) -> dict[str, str]:
    """KMS tags are ``[{"TagKey", "TagValue"}]``; ``aws:`` keys are AWS-managed, never declared."""
    out: dict[str, str] = {}
    for tag in tags or []:
        key = tag.get("TagKey")
        if key and not str(key).startswith("aws:"):
            out[str(key)] = str(tag.get("TagValue") or "")
    return out


@register
class AwsKmsKey(ResourcePlugin):
    type = "aws_kms_key"
    computed = frozenset({"description", "rotation_period_in_days"})
    deleted_severity = Severity.CRITICAL
    service = "kms"
    object_kind = KIND
    events = (
        key_event(KMS, "PutKeyPolicy", _KEY_ID),
        key_event(KMS, "EnableKeyRotation", _KEY_ID),
        key_event(KMS, "DisableKeyRotation", _KEY_ID),
        key_event(KMS, "EnableKey", _KEY_ID),
        key_event(KMS, "DisableKey", _KEY_ID),
        key_event(KMS, "ScheduleKeyDeletion", _KEY_ID),
        key_event(KMS, "CancelKeyDeletion", _KEY_ID),
        key_event(KMS, "UpdateKeyDescription", _KEY_ID),
        key_event(KMS, "TagResource", _KEY_ID),
        key_event(KMS, "UntagResource", _KEY_ID),
        key_event(KMS, "CreateKey", "responseElements.keyMetadata.keyId", EventKind.CREATE),
    )
    compared = {"policy": Severity.HIGH, "enable_key_rotation": Severity.HIGH,
                "rotation_period_in_days": Severity.LOW, "is_enabled": Severity.CRITICAL,
                "pending_deletion": Severity.CRITICAL, "description": Severity.LOW, "tags": Severity.LOW}
    read_permissions = ("kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus",
                        "kms:ListResourceTags")
    revert_permissions = ("kms:PutKeyPolicy", "kms:EnableKeyRotation", "kms:DisableKeyRotation",
                          "kms:EnableKey", "kms:DisableKey", "kms:CancelKeyDeletion",
                          "kms:UpdateKeyDescription", "kms:TagResource", "kms:UntagResource")
    gone_codes = frozenset({"NotFoundException"})

    def object_id(self, attrs: Mapping[str, Any]) -> str | None:
        value = attrs.get("key_id") or attrs.get("id") or attrs.get("arn")
        return key_id(str(value)) if value else None

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        a = resource.attributes
        m = declared.model
        if a.get("policy"):
            m["policy"] = canonical_policy(a["policy"])
            m["_policy_text"] = a["policy"]
        if a.get("enable_key_rotation") is not None:
            m["enable_key_rotation"] = bool(a["enable_key_rotation"])
        if a.get("enable_key_rotation") and a.get("rotation_period_in_days"):
            m["rotation_period_in_days"] = int(a["rotation_period_in_days"])
        m["is_enabled"] = a.get("is_enabled") is not False
        m["pending_deletion"] = False  # a managed key is never meant to be on its way out
        if a.get("description") is not None:
            m["description"] = str(a["description"])
        m["tags"] = tags_from_state(a)

    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        try:
            meta = self.call(ctx, "describe_key", KeyId=object_id)["KeyMetadata"]
            policy = self.call(ctx, "get_key_policy", KeyId=object_id, PolicyName="default").get("Policy")
            tags = self.call(ctx, "list_resource_tags", KeyId=object_id).get("Tags")
        except Gone:
            return None
        live: dict[str, Any] = {
            "policy": canonical_policy(policy),
            "_policy_text": policy,
            "is_enabled": bool(meta.get("Enabled")),
            "pending_deletion": meta.get("KeyState") in PENDING_STATES,
            "description": meta.get("Description") or "",
            "tags": _tag_map(tags),
        }
        try:
            rotation = call_aws(ctx.client("kms"), "get_key_rotation_status", _NO_ROTATION, KeyId=object_id)
        except Gone as exc:
            if str(exc) == "UnsupportedOperationException":  # asymmetric/HMAC/imported keys never rotate
                rotation = {"KeyRotationEnabled": False}
            else:  # the key's state hides rotation: leave it out rather than guess (never compared)
                return live
        live["enable_key_rotation"] = bool(rotation.get("KeyRotationEnabled"))
        if rotation.get("RotationPeriodInDays") is not None:  # reported only while rotation is on
            live["rotation_period_in_days"] = int(rotation["RotationPeriodInDays"])
        return live

    def diff(self, declared: Declared, live: Mapping[str, Any]) -> list[Change]:
        """The default diff over the compared attributes the live read could see."""
        model = {k: v for k, v in declared.model.items() if not k.startswith("_") and k in live}
        return super().diff(replace(declared, model=model), live)

    def severity(self, change: RawChange) -> tuple[Severity, str]:
        attr, want, have = change.attribute, change.declared, change.live
        if attr == "policy":
            if policy_grants_public(parse_policy(have)) and not policy_grants_public(parse_policy(want)):
                return Severity.CRITICAL, "key-policy-grants-public"
            return Severity.HIGH, "key-policy-changed"
        if attr == "pending_deletion":
            return Severity.CRITICAL, "key-scheduled-for-deletion"
        if attr == "is_enabled":
            return ((Severity.CRITICAL, "key-disabled") if want and not have
                    else (Severity.LOW, "key-enabled"))
        if attr == "enable_key_rotation":
            return ((Severity.HIGH, "key-rotation-disabled") if want and not have
                    else (Severity.LOW, "key-rotation-enabled"))
        if attr == "description":
            return Severity.LOW, "key-description-changed"
        if attr == "rotation_period_in_days":
            return Severity.LOW, "key-rotation-period-changed"
        if attr == "tags":
            return Severity.LOW, "tags-changed"
        return super().severity(change)

    def plan_revert(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> tuple[ApiCall, ...]:
        m = declared.model
        paths = {c.path for c in changes}
        calls: list[ApiCall] = []
        if "pending_deletion" in paths:
            calls.append(ApiCall("kms", "CancelKeyDeletion", {"KeyId": object_id},
                                 f"cancel the scheduled deletion of key {object_id}"))
        if "is_enabled" in paths or ("pending_deletion" in paths and m.get("is_enabled")):
            op = "EnableKey" if m.get("is_enabled") else "DisableKey"
            calls.append(ApiCall("kms", op, {"KeyId": object_id},
                                 f"{'enable' if op == 'EnableKey' else 'disable'} key {object_id}"))
        if "policy" in paths:
            calls.append(ApiCall("kms", "PutKeyPolicy",
                                 {"KeyId": object_id, "PolicyName": "default",
                                  "Policy": str(m["_policy_text"])},
                                 f"restore the declared key policy of {object_id}"))
        if "enable_key_rotation" in paths or "rotation_period_in_days" in paths:
            if m.get("enable_key_rotation"):
                params: dict[str, Any] = {"KeyId": object_id}
                if m.get("rotation_period_in_days"):
                    params["RotationPeriodInDays"] = m["rotation_period_in_days"]
                calls.append(ApiCall("kms", "EnableKeyRotation", params,
                                     f"enable rotation of key {object_id}"))
            else:
                calls.append(ApiCall("kms", "DisableKeyRotation", {"KeyId": object_id},
                                     f"disable rotation of key {object_id}"))
        if "description" in paths:
            calls.append(ApiCall("kms", "UpdateKeyDescription",
                                 {"KeyId": object_id, "Description": m["description"]},
                                 f"restore the description of key {object_id}"))
        for ch in changes:
            if not ch.path.startswith("tags."):
                continue
            tag = ch.path.split(".", 1)[1]
            if ch.declared is None:
                calls.append(ApiCall("kms", "UntagResource", {"KeyId": object_id, "TagKeys": [tag]},
                                     f"remove tag {tag} from key {object_id}"))
            else:
                calls.append(ApiCall("kms", "TagResource",
                                     {"KeyId": object_id, "Tags": [{"TagKey": tag, "TagValue": ch.declared}]},
                                     f"set tag {tag}={ch.declared} on key {object_id}"))
        return tuple(calls)
