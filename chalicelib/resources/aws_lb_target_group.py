"""aws_lb_target_group: one ELBv2 target group, keyed by its ARN.

Compared: the health check (flat paths ``health_check.interval`` ...), deregistration delay and
stickiness (target-group attributes), tags. Paths are flat so a declared subset compares against
the full live attribute list, and stickiness compares only the settings of the declared stickiness
type (an ``lb_cookie`` group has no app-cookie name to compare).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.drift.diff import RawChange
from chalicelib.drift.normalize import tags_from_state
from chalicelib.models import ApiCall, Change, Severity
from chalicelib.resources.app_common import as_bool, as_int, first_block, text
from chalicelib.resources.aws_lb import attribute_map, elb_events, elb_tag_calls, read_elb_tags
from chalicelib.resources.base import Declared, Gone, LiveContext, ManagedResource, ResourcePlugin
from chalicelib.resources.registry import register

# health_check.<key> -> (DescribeTargetGroups / ModifyTargetGroup field, kind)
HEALTH_CHECK: dict[str, tuple[str, str]] = {
    "enabled": ("HealthCheckEnabled", "bool"),
    "interval": ("HealthCheckIntervalSeconds", "int"),
    "path": ("HealthCheckPath", "str"),
    "port": ("HealthCheckPort", "str"),
    "protocol": ("HealthCheckProtocol", "str"),
    "timeout": ("HealthCheckTimeoutSeconds", "int"),
    "healthy_threshold": ("HealthyThresholdCount", "int"),
    "unhealthy_threshold": ("UnhealthyThresholdCount", "int"),
    "matcher": ("Matcher", "matcher"),
}
# model path -> (target-group attribute key, kind, AWS default when the list omits it; moto omits some)
TG_ATTRIBUTES: dict[str, tuple[str, str, str]] = {
    "deregistration_delay": ("deregistration_delay.timeout_seconds", "int", "300"),
    "stickiness.enabled": ("stickiness.enabled", "bool", "false"),
    "stickiness.type": ("stickiness.type", "str", ""),
    "stickiness.cookie_duration": ("stickiness.lb_cookie.duration_seconds", "int", "86400"),
    "stickiness.app_cookie.cookie_name": ("stickiness.app_cookie.cookie_name", "str", ""),
    "stickiness.app_cookie.duration": ("stickiness.app_cookie.duration_seconds", "int", "86400"),
}


def _typed(kind: str, value: Any) -> Any:
    if kind == "bool":
        return as_bool(value)
    if kind == "int":
        return as_int(value)
    return text(value)


@register
class AwsLbTargetGroup(ResourcePlugin):
    type = "aws_lb_target_group"
    service = "elbv2"
    object_kind = "elbv2:targetgroup"
    events = elb_events(
        ":targetgroup/",
        (("ModifyTargetGroup", "requestParameters.targetGroupArn"),
         ("ModifyTargetGroupAttributes", "requestParameters.targetGroupArn")),
        ("CreateTargetGroup", "responseElements.targetGroups[].targetGroupArn"),
        ("DeleteTargetGroup", "requestParameters.targetGroupArn"),
        report_missing_tags=False,
    )
    compared = {"health_check": Severity.MEDIUM, "deregistration_delay": Severity.MEDIUM,
                "stickiness": Severity.MEDIUM, "tags": Severity.LOW}
    read_permissions = ("elasticloadbalancing:DescribeTargetGroups",
                        "elasticloadbalancing:DescribeTargetGroupAttributes",
                        "elasticloadbalancing:DescribeTags")
    revert_permissions = ("elasticloadbalancing:ModifyTargetGroup",
                          "elasticloadbalancing:ModifyTargetGroupAttributes",
                          "elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags")
    gone_codes = frozenset({"TargetGroupNotFound"})

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        a = resource.attributes
        m = declared.model
        hc = first_block(a, "health_check")
        for key, (_, kind) in HEALTH_CHECK.items():
            if key in hc and hc[key] is not None:
                m[f"health_check.{key}"] = _typed("str" if kind == "matcher" else kind, hc[key])
        if a.get("target_type") != "lambda" and as_int(a.get("deregistration_delay")) is not None:
            m["deregistration_delay"] = as_int(a.get("deregistration_delay"))
        stick = first_block(a, "stickiness")
        if stick:
            m["stickiness.enabled"] = as_bool(stick.get("enabled"))
            kind = text(stick.get("type"))
            if kind:
                m["stickiness.type"] = kind
            if kind == "lb_cookie" and as_int(stick.get("cookie_duration")) is not None:
                m["stickiness.cookie_duration"] = as_int(stick.get("cookie_duration"))
            if kind == "app_cookie":
                m["stickiness.app_cookie.cookie_name"] = text(stick.get("cookie_name"))
                if as_int(stick.get("cookie_duration")) is not None:
                    m["stickiness.app_cookie.duration"] = as_int(stick.get("cookie_duration"))
        m["tags"] = tags_from_state(a)

    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        try:
            groups = self.call(ctx, "describe_target_groups", TargetGroupArns=[object_id]).get("TargetGroups")
            if not groups:
                return None
            attrs = attribute_map(self.call(ctx, "describe_target_group_attributes",
                                            TargetGroupArn=object_id).get("Attributes"))
            tags = read_elb_tags(self, ctx, object_id)
        except Gone:
            return None
        tg = groups[0]
        model: dict[str, Any] = {}
        for key, (api, kind) in HEALTH_CHECK.items():
            if kind == "matcher":
                matcher = tg.get("Matcher") or {}
                model[f"health_check.{key}"] = text(matcher.get("HttpCode") or matcher.get("GrpcCode"))
            else:
                model[f"health_check.{key}"] = _typed(kind, tg.get(api))
        for path, (key, kind, default) in TG_ATTRIBUTES.items():
            model[path] = _typed(kind, attrs.get(key, default))
        model["tags"] = tags
        model["_grpc"] = text(tg.get("ProtocolVersion")).upper() == "GRPC"  # never declared: not compared
        return model

    def severity(self, change: RawChange) -> tuple[Severity, str]:
        if change.attribute == "health_check.enabled" and change.declared and not change.live:
            return Severity.MEDIUM, "health-check-disabled"
        if change.attribute == "tags":
            return Severity.LOW, "tags-changed"
        return Severity.MEDIUM, f"{self.type}.{change.attribute}"

    def plan_revert(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> tuple[ApiCall, ...]:
        m = declared.model
        calls: list[ApiCall] = []
        health: dict[str, Any] = {}
        for ch in changes:
            if not ch.path.startswith("health_check."):
                continue
            key = ch.path.split(".", 1)[1]
            api, kind = HEALTH_CHECK[key]
            if kind == "matcher":
                health[api] = {"GrpcCode" if live.get("_grpc") else "HttpCode": ch.declared}
            else:
                health[api] = ch.declared
        if health:
            calls.append(ApiCall("elbv2", "ModifyTargetGroup", {"TargetGroupArn": object_id, **health},
                                 f"restore health check {', '.join(sorted(health))} on {object_id}"))
        attributes: dict[str, str] = {}
        for ch in changes:
            if ch.path in TG_ATTRIBUTES:
                key, kind, _ = TG_ATTRIBUTES[ch.path]
                value = ("true" if ch.declared else "false") if kind == "bool" else text(ch.declared)
                attributes[key] = value
        if any(k.startswith("stickiness.") for k in attributes) and m.get("stickiness.type"):
            # AWS wants the stickiness type with any stickiness setting
            attributes.setdefault("stickiness.type", m["stickiness.type"])
        if attributes:
            pairs = [{"Key": k, "Value": v} for k, v in attributes.items()]
            calls.append(ApiCall(
                "elbv2", "ModifyTargetGroupAttributes", {"TargetGroupArn": object_id, "Attributes": pairs},
                f"restore {', '.join(f'{k}={v}' for k, v in attributes.items())} on {object_id}"))
        calls.extend(elb_tag_calls(object_id, changes))
        return tuple(calls)
