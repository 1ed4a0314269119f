"""aws_instance: the attributes a console user can change on a running (or stopped) instance.

Read with ``DescribeInstances`` plus ``DescribeInstanceAttribute`` for what the former does not show
(termination/stop protection, user data). ``user_data`` is compared the way the provider stores it:
the SHA-1 hex of the decoded user data (``user_data_base64`` verbatim when that is what the state
holds). ``instance_type``, ``user_data`` and ``ebs_optimized`` are reported but never reverted:
AWS only changes them on a stopped instance, and stopping a production instance is not a call
Driftwarden makes on its own (and the state keeps only a hash of the user data).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from typing import Any

from chalicelib.drift.diff import RawChange
from chalicelib.drift.normalize import tags_from_state
from chalicelib.models import ApiCall, Change, Severity
from chalicelib.resources.base import (
    Declared,
    EventKind,
    EventSpec,
    Gone,
    LiveContext,
    ManagedResource,
    ResourcePlugin,
)
from chalicelib.resources.ec2_common import (
    EC2,
    METADATA_FIELDS,
    TAG_REVERT_PERMISSIONS,
    as_bool,
    attribute_value,
    declared_metadata,
    decode_set,
    live_metadata,
    live_tags,
    metadata_severity,
    restrict_metadata,
    string_set,
    tag_calls,
    tag_events,
    wrapped,
)
from chalicelib.resources.registry import register

KIND = "ec2:instance"
_IID = "requestParameters.instanceId"
_SET_IDS = "requestParameters.instancesSet.items[].instanceId"
_STATE_ONLY = "changes the run state only; instance_state is computed, never declared"
GONE_STATES = frozenset({"terminated", "shutting-down"})

# Attributes AWS changes only on a stopped instance: reported, never reverted (see module docstring).
NEEDS_STOP = {
    "instance_type": "instance-type-changed (needs a stop/start; not reverted automatically)",
    "user_data": "user-data-changed (runs at next boot; needs a stop/start and the state keeps only a hash; "
                 "not reverted automatically)",
    "user_data_base64": "user-data-changed (runs at next boot; needs a stop/start; "
                        "not reverted automatically)",
    "ebs_optimized": "ebs-optimized-changed (needs a stop/start; not reverted automatically)",
}
_FLAG_FIELDS = {  # state key -> ModifyInstanceAttribute parameter (revertible while running)
    "disable_api_termination": "DisableApiTermination",
    "disable_api_stop": "DisableApiStop",
    "source_dest_check": "SourceDestCheck",
}


def user_data_hash(value: str | None) -> str | None:
    """The provider's ``user_data`` state value: SHA-1 hex of the decoded user data."""
    if not value:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = value.encode()
    return hashlib.sha1(raw).hexdigest()


@register
class AwsInstance(ResourcePlugin):
    type = "aws_instance"
    computed = frozenset({"ebs_optimized"})
    service = "ec2"
    object_kind = KIND
    events = (
        EventSpec(EC2, "ModifyInstanceAttribute", _IID),
        EventSpec(EC2, "ModifyInstanceMetadataOptions",
                  wrapped("ModifyInstanceMetadataOptions", "InstanceId", _IID)),
        *tag_events("i-"),
        EventSpec(EC2, "TerminateInstances", _SET_IDS, EventKind.DELETE),
        EventSpec(EC2, "RunInstances", "responseElements.instancesSet.items[].instanceId", EventKind.CREATE),
        EventSpec(EC2, "StopInstances", _SET_IDS, EventKind.NOOP, note=_STATE_ONLY),
        EventSpec(EC2, "StartInstances", _SET_IDS, EventKind.NOOP, note=_STATE_ONLY),
    )
    compared = {
        "instance_type": Severity.MEDIUM,
        "disable_api_termination": Severity.HIGH,
        "disable_api_stop": Severity.MEDIUM,
        "source_dest_check": Severity.MEDIUM,
        "user_data": Severity.HIGH,
        "user_data_base64": Severity.HIGH,
        "ebs_optimized": Severity.LOW,
        "vpc_security_group_ids": Severity.HIGH,
        "metadata_options": Severity.MEDIUM,
        "tags": Severity.LOW,
    }
    read_permissions = ("ec2:DescribeInstances", "ec2:DescribeInstanceAttribute")
    revert_permissions = ("ec2:ModifyInstanceAttribute", "ec2:ModifyInstanceMetadataOptions",
                          *TAG_REVERT_PERMISSIONS)
    gone_codes = frozenset({"InvalidInstanceID.NotFound"})

    # --- declared ---------------------------------------------------------------------------------
    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        a = resource.attributes
        m = declared.model
        if a.get("instance_type"):
            m["instance_type"] = str(a["instance_type"])
        for key in _FLAG_FIELDS:
            if a.get(key) is not None:
                m[key] = as_bool(a[key])
        if a.get("ebs_optimized") is not None:
            m["ebs_optimized"] = as_bool(a["ebs_optimized"])
        if a.get("user_data"):
            m["user_data"] = str(a["user_data"])
            declared.sensitive.add("user_data")
        elif a.get("user_data_base64"):
            m["user_data_base64"] = str(a["user_data_base64"])
            declared.sensitive.add("user_data_base64")
        if a.get("vpc_security_group_ids") is not None:
            m["vpc_security_group_ids"] = string_set(a["vpc_security_group_ids"])
        blocks = a.get("metadata_options") or []
        if blocks and isinstance(blocks[0], Mapping):
            m["metadata_options"] = declared_metadata(blocks[0])
        m["tags"] = tags_from_state(a)

    # --- live -------------------------------------------------------------------------------------
    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        try:
            reservations = self.call(ctx, "describe_instances", InstanceIds=[object_id])["Reservations"]
            instances = [i for r in reservations for i in r.get("Instances", [])]
            if not instances or instances[0].get("State", {}).get("Name") in GONE_STATES:
                return None
            return self._model(ctx, instances[0])
        except Gone:
            return None

    def read_live_many(self, ctx: LiveContext, object_ids: list[str]) -> dict[str, dict[str, Any] | None]:
        """One paginated DescribeInstances per 200 ids (an instance-id filter tolerates missing ids).

        The three attributes DescribeInstances does not return (termination and stop protection,
        user data) have no batch API: DescribeInstanceAttribute takes one instance and one attribute,
        so they still cost three calls per instance."""
        out: dict[str, dict[str, Any] | None] = dict.fromkeys(object_ids)
        for start in range(0, len(object_ids), 200):
            chunk = object_ids[start:start + 200]
            token: str | None = None
            while True:
                kwargs: dict[str, Any] = {"Filters": [{"Name": "instance-id", "Values": chunk}],
                                          "MaxResults": 1000}
                if token:
                    kwargs["NextToken"] = token
                resp = self.call(ctx, "describe_instances", **kwargs)
                for inst in (i for r in resp.get("Reservations", []) for i in r.get("Instances", [])):
                    if inst.get("InstanceId") in out and inst.get("State", {}).get("Name") not in GONE_STATES:
                        try:
                            out[inst["InstanceId"]] = self._model(ctx, inst)
                        except Gone:
                            out[inst["InstanceId"]] = None
                token = resp.get("NextToken")
                if not token:
                    break
        return out

    def _model(self, ctx: LiveContext, inst: Mapping[str, Any]) -> dict[str, Any]:
        object_id = inst["InstanceId"]
        attrs = {name: self.call(ctx, "describe_instance_attribute", InstanceId=object_id, Attribute=name)
                 for name in ("disableApiTermination", "disableApiStop", "userData")}
        user_data = attribute_value(attrs["userData"], "UserData") or None
        meta = inst.get("MetadataOptions") or {}
        return {
            "instance_type": inst.get("InstanceType"),
            "disable_api_termination": as_bool(attribute_value(attrs["disableApiTermination"],
                                                               "DisableApiTermination")),
            "disable_api_stop": as_bool(attribute_value(attrs["disableApiStop"], "DisableApiStop")),
            "source_dest_check": as_bool(inst.get("SourceDestCheck"), default=True),
            "ebs_optimized": as_bool(inst.get("EbsOptimized")),
            "user_data": user_data_hash(user_data),
            "user_data_base64": user_data,
            "vpc_security_group_ids": string_set(g.get("GroupId") for g in inst.get("SecurityGroups") or []),
            "metadata_options": live_metadata(meta),
            "tags": live_tags(inst.get("Tags")),
        }

    # --- judgment ---------------------------------------------------------------------------------
    def diff(self, declared: Declared, live: Mapping[str, Any]) -> list[Change]:
        return super().diff(declared, restrict_metadata(declared, live))

    def severity(self, change: RawChange) -> tuple[Severity, str]:
        attr, want, have = change.attribute, change.declared, change.live
        if attr in NEEDS_STOP:
            sev = Severity.HIGH if attr.startswith("user_data") else self.compared[attr]
            return sev, NEEDS_STOP[attr]
        if attr == "disable_api_termination":
            return ((Severity.HIGH, "termination-protection-disabled") if want and not have
                    else (Severity.LOW, "termination-protection-enabled"))
        if attr == "disable_api_stop":
            return ((Severity.MEDIUM, "stop-protection-disabled") if want and not have
                    else (Severity.LOW, "stop-protection-enabled"))
        if attr == "source_dest_check":
            return ((Severity.MEDIUM, "source-dest-check-disabled") if want and not have
                    else (Severity.MEDIUM, "source-dest-check-enabled"))
        if attr == "vpc_security_group_ids":
            return ((Severity.HIGH, "security-group-attached") if want is None
                    else (Severity.MEDIUM, "security-group-detached"))
        if attr == "metadata_options":
            return metadata_severity(change.path.split(".", 1)[-1], want, have)
        if attr == "tags":
            return Severity.LOW, "tags-changed"
        return super().severity(change)

    def plan_revert(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> tuple[ApiCall, ...]:
        calls: list[ApiCall] = []
        paths = {c.path for c in changes}
        for key, param in _FLAG_FIELDS.items():
            if key in paths:
                value = bool(declared.model[key])
                calls.append(ApiCall("ec2", "ModifyInstanceAttribute",
                                     {"InstanceId": object_id, param: {"Value": value}},
                                     f"set {key}={str(value).lower()} on {object_id}"))
        if "vpc_security_group_ids" in paths:
            groups = sorted(decode_set(declared.model["vpc_security_group_ids"]))
            calls.append(ApiCall("ec2", "ModifyInstanceAttribute",
                                 {"InstanceId": object_id, "Groups": groups},
                                 f"restore security groups {', '.join(groups)} on {object_id}"))
        if any(p.startswith("metadata_options.") for p in paths):
            params = {api: declared.model["metadata_options"][k] for k, api in METADATA_FIELDS.items()
                      if k in declared.model.get("metadata_options", {})}
            summary = ", ".join(f"{k}={v}" for k, v in sorted(declared.model["metadata_options"].items()))
            calls.append(ApiCall("ec2", "ModifyInstanceMetadataOptions", {"InstanceId": object_id, **params},
                                 f"restore metadata options ({summary}) on {object_id}"))
        calls.extend(tag_calls(object_id, changes))
        # instance_type / user_data / ebs_optimized: deliberately absent (NEEDS_STOP).
        return tuple(calls)
