"""aws_db_parameter_group: the declared ``parameter`` set vs the live user-set parameters.

The live side is what ``DescribeDBParameters(Source="user")`` lists: the parameters someone set.
A declared parameter AWS lists as ``system``-set instead (AWS manages some values itself) is taken
from ``Source="system"`` before it is called missing, as the provider does. A user-set parameter the
configuration does not declare is drift: Terraform would plan to reset it. ``apply_method`` is
how a value is applied, not a value, and is not compared. Parameters that switch off TLS
enforcement are HIGH.

Revert: ``ModifyDBParameterGroup`` (20 parameters per call) restores declared values with their
declared ``apply_method``; ``ResetDBParameterGroup`` returns an undeclared parameter to the engine
default (``pending-reboot`` for static parameters, as AWS requires).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.drift.diff import RawChange
from chalicelib.drift.normalize import tags_from_state
from chalicelib.models import ApiCall, Change, Severity
from chalicelib.resources.aws_db_instance import RDS, rds_identifier, rds_tag_calls, rds_tag_events
from chalicelib.resources.base import Declared, EventKind, EventSpec, Gone, LiveContext, ManagedResource
from chalicelib.resources.data_common import (
    DataPlugin,
    NotRevertible,
    live_tags,
    mark_sensitive_roots,
)
from chalicelib.resources.registry import register

KIND = "rds:db-parameter-group"
_ID = "requestParameters.dBParameterGroupName"
_BATCH = 20
_TLS_PARAMETERS = {"rds.force_ssl", "require_secure_transport"}


def _tls_off(ch: RawChange) -> tuple[Severity, str] | None:
    name = ch.path.split(".", 1)[1] if "." in ch.path else ""
    if name in _TLS_PARAMETERS and str(ch.live).lower() in ("0", "off", "false", "none"):
        return Severity.HIGH, "rds-tls-enforcement-off"
    return None


@register
class AwsDbParameterGroup(DataPlugin):
    type = "aws_db_parameter_group"
    service = "rds"
    object_kind = KIND
    id_attribute = "name"
    events = (
        EventSpec(RDS, "ModifyDBParameterGroup", _ID, transform=rds_identifier),
        EventSpec(RDS, "ResetDBParameterGroup", _ID, transform=rds_identifier),
        EventSpec(RDS, "CreateDBParameterGroup", _ID, EventKind.CREATE, transform=rds_identifier),
        EventSpec(RDS, "DeleteDBParameterGroup", _ID, EventKind.DELETE, transform=rds_identifier),
        *rds_tag_events("pg"),
    )
    compared = {"parameter": Severity.MEDIUM, "tags": Severity.LOW}
    rules = {"parameter": _tls_off}
    read_permissions = ("rds:DescribeDBParameters", "rds:DescribeDBParameterGroups",
                        "rds:ListTagsForResource")
    revert_permissions = ("rds:ModifyDBParameterGroup", "rds:ResetDBParameterGroup", "rds:AddTagsToResource",
                          "rds:RemoveTagsFromResource")
    gone_codes = frozenset({"DBParameterGroupNotFound", "DBParameterGroupNotFoundFault"})

    def object_id(self, attrs: Mapping[str, Any]) -> str | None:
        value = attrs.get("name") or attrs.get("id")
        return str(value).lower() if value else None

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        attrs = resource.attributes
        params: dict[str, str] = {}
        methods: dict[str, str] = {}
        for p in attrs.get("parameter") or []:
            if isinstance(p, Mapping) and p.get("name"):
                params[str(p["name"])] = str(p.get("value", ""))
                methods[str(p["name"])] = str(p.get("apply_method") or "immediate")
        declared.model["parameter"] = params
        declared.model["_apply_methods"] = methods
        declared.model["tags"] = tags_from_state(attrs)
        mark_sensitive_roots(resource, declared)

    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        try:
            groups = self.call(ctx, "describe_db_parameter_groups", DBParameterGroupName=object_id)
            group = (groups.get("DBParameterGroups") or [None])[0]
            if group is None:
                return None
            user = self._parameters(ctx, object_id, "user")
            system = self._parameters(ctx, object_id, "system")
        except Gone:
            return None
        arn = group.get("DBParameterGroupArn")
        tags = self.call(ctx, "list_tags_for_resource", ResourceName=arn).get("TagList") if arn else []
        return {
            "parameter": {p["ParameterName"]: str(p.get("ParameterValue", "")) for p in user},
            "tags": live_tags(tags),
            "_system": {p["ParameterName"]: str(p["ParameterValue"]) for p in system
                        if p.get("ParameterValue") is not None},
            "_apply_types": {p["ParameterName"]: p.get("ApplyType", "dynamic") for p in user},
            "_arn": arn,
        }

    def _parameters(self, ctx: LiveContext, name: str, source: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        params: dict[str, Any] = {"DBParameterGroupName": name, "Source": source}
        while True:
            page = self.call(ctx, "describe_db_parameters", **params)
            out += [p for p in page.get("Parameters") or [] if p.get("ParameterName")]
            if not page.get("Marker"):
                return out
            params["Marker"] = page["Marker"]

    def diff(self, declared: Declared, live: Mapping[str, Any]) -> list[Change]:
        want: dict[str, str] = declared.model.get("parameter", {})
        have: dict[str, str] = dict(live.get("parameter") or {})
        system: dict[str, str] = live.get("_system") or {}
        for name in want:
            if name not in have and name in system:
                have[name] = system[name]
        return super().diff(declared, {**live, "parameter": have})

    def revert_calls(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> list[ApiCall]:
        methods: dict[str, str] = declared.model.get("_apply_methods", {})
        apply_types: dict[str, str] = live.get("_apply_types", {})
        restore: list[dict[str, str]] = []
        reset: list[dict[str, str]] = []
        for ch in changes:
            if ch.path.startswith("tags."):
                continue
            if not ch.path.startswith("parameter."):
                raise NotRevertible(f"{ch.path} is not a parameter")
            name = ch.path.split(".", 1)[1]
            if ch.declared is None:
                method = "pending-reboot" if apply_types.get(name) == "static" else "immediate"
                reset.append({"ParameterName": name, "ApplyMethod": method})
            else:
                restore.append({"ParameterName": name, "ParameterValue": ch.declared,
                                "ApplyMethod": methods.get(name, "immediate")})
        calls: list[ApiCall] = []
        for i in range(0, len(restore), _BATCH):
            chunk = restore[i:i + _BATCH]
            calls.append(ApiCall("rds", "ModifyDBParameterGroup",
                                 {"DBParameterGroupName": object_id, "Parameters": chunk},
                                 f"restore {', '.join(p['ParameterName'] for p in chunk)} in parameter group "
                                 f"{object_id}"))
        for i in range(0, len(reset), _BATCH):
            chunk = reset[i:i + _BATCH]
            calls.append(ApiCall("rds", "ResetDBParameterGroup",
                                 {"DBParameterGroupName": object_id, "ResetAllParameters": False,
                                  "Parameters": chunk},
                                 f"reset undeclared {', '.join(p['ParameterName'] for p in chunk)} to "
                                 f"the engine default in parameter group {object_id}"))
        calls += rds_tag_calls(live.get("_arn"), changes, f"parameter group {object_id}")
        return calls
