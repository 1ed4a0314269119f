"""aws_lb: an Application/Network/Gateway load balancer (ELBv2), keyed by its ARN.

Compared: deletion protection (off is CRITICAL: the next ``terraform destroy`` or a stray click
deletes the entry point), access logs, invalid-header dropping, idle timeout and HTTP/2 (ALB only),
security groups and subnets as sets, tags. Load-balancer attributes are flat paths
(``access_logs.enabled``) so a declared subset compares against the full live attribute list.

Also the home of what the ELBv2 family shares: the ARN extraction (which keeps Classic Load
Balancer calls, same event source, out: they name ``loadBalancerName``, never an ARN) and tags.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.drift.diff import RawChange
from chalicelib.drift.normalize import decode_atom, tags_from_state
from chalicelib.models import ApiCall, Change, Severity
from chalicelib.resources.app_common import (
    MISSING,
    Derive,
    DerivedSpec,
    as_bool,
    as_int,
    changed,
    derived,
    first_block,
    flat,
    live_tags,
    request,
    str_set,
    tag_reverts,
    text,
)
from chalicelib.resources.base import Declared, EventKind, Gone, LiveContext, ManagedResource, ResourcePlugin
from chalicelib.resources.registry import register

ELB = "elasticloadbalancing.amazonaws.com"
_CLASSIC_KEYS = ("loadBalancerName", "loadBalancerNames")


def elb_arns(marker: str, *, report_missing: bool = True) -> Derive:
    """Derive ELBv2 ARNs of one resource type (``:loadbalancer/``, ``:listener/``, ``:targetgroup/``).

    No ARN at all: a Classic Load Balancer call (it names ``loadBalancerName``) is not ours, so
    nothing; otherwise the id is missing or redacted and we say so (``MISSING``)."""

    def derive(found: Any, record: Mapping[str, Any]) -> list[str]:
        arns = [a for a in flat(found) if isinstance(a, str) and a.startswith("arn:")]
        if not arns:
            if any(k in request(record) for k in _CLASSIC_KEYS) or not report_missing:
                return []
            return [MISSING]
        return [a for a in arns if marker in a]

    return derive


def elb_events(
    marker: str,
    modify: tuple[tuple[str, str], ...],
    create: tuple[str, str],
    delete: tuple[str, str],
    *,
    report_missing_tags: bool,
) -> tuple[DerivedSpec, ...]:
    """The event specs of one ELBv2 resource type: modifies, create, delete and the tag calls."""
    specs = [derived(ELB, name, path, elb_arns(marker)) for name, path in modify]
    specs.append(derived(ELB, create[0], create[1], elb_arns(marker), EventKind.CREATE))
    specs.append(derived(ELB, delete[0], delete[1], elb_arns(marker), EventKind.DELETE))
    tag_derive = elb_arns(marker, report_missing=report_missing_tags)
    specs.append(derived(ELB, "AddTags", "requestParameters.resourceArns", tag_derive))
    specs.append(derived(ELB, "RemoveTags", "requestParameters.resourceArns", tag_derive))
    return tuple(specs)


def read_elb_tags(plugin: ResourcePlugin, ctx: LiveContext, arn: str) -> dict[str, str]:
    descs = plugin.call(ctx, "describe_tags", ResourceArns=[arn]).get("TagDescriptions") or []
    return live_tags(descs[0].get("Tags") if descs else None)


def elb_tag_calls(arn: str, changes: list[Change]) -> list[ApiCall]:
    return tag_reverts(changes, "elbv2", arn, {"ResourceArns": [arn]}, add=("AddTags", "Tags"),
                       remove=("RemoveTags", "TagKeys"))


def attribute_map(attributes: list[Mapping[str, Any]] | None) -> dict[str, str]:
    return {a["Key"]: text(a.get("Value")) for a in attributes or [] if "Key" in a}


# Model path -> (ELBv2 attribute key, kind, AWS default when the attribute list omits it; moto omits some).
LB_ATTRIBUTES: dict[str, tuple[str, str, str]] = {
    "enable_deletion_protection": ("deletion_protection.enabled", "bool", "false"),
    "access_logs.enabled": ("access_logs.s3.enabled", "bool", "false"),
    "access_logs.bucket": ("access_logs.s3.bucket", "str", ""),
    "access_logs.prefix": ("access_logs.s3.prefix", "str", ""),
    "drop_invalid_header_fields": ("routing.http.drop_invalid_header_fields.enabled", "bool", "false"),
    "idle_timeout": ("idle_timeout.timeout_seconds", "int", "60"),
    "enable_http2": ("routing.http2.enabled", "bool", "true"),
}
_ALB_ONLY = ("drop_invalid_header_fields", "idle_timeout", "enable_http2")


def _typed(kind: str, value: Any) -> Any:
    if kind == "bool":
        return as_bool(value)
    if kind == "int":
        return as_int(value)
    return text(value)


def _attr_value(kind: str, value: Any) -> str:
    if kind == "bool":
        return "true" if value else "false"
    return text(value)


@register
class AwsLb(ResourcePlugin):
    type = "aws_lb"
    computed = frozenset({"subnets"})
    service = "elbv2"
    object_kind = "elbv2:loadbalancer"
    events = elb_events(
        ":loadbalancer/",
        (("ModifyLoadBalancerAttributes", "requestParameters.loadBalancerArn"),
         ("SetSecurityGroups", "requestParameters.loadBalancerArn"),
         ("SetSubnets", "requestParameters.loadBalancerArn")),
        ("CreateLoadBalancer", "responseElements.loadBalancers[].loadBalancerArn"),
        ("DeleteLoadBalancer", "requestParameters.loadBalancerArn"),
        report_missing_tags=True,
    )
    compared = {
        "enable_deletion_protection": Severity.CRITICAL,
        "access_logs": Severity.HIGH,
        "drop_invalid_header_fields": Severity.MEDIUM,
        "idle_timeout": Severity.MEDIUM,
        "enable_http2": Severity.MEDIUM,
        "security_groups": Severity.MEDIUM,
        "subnets": Severity.MEDIUM,
        "tags": Severity.LOW,
    }
    read_permissions = (
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeLoadBalancerAttributes",
        "elasticloadbalancing:DescribeTags",
    )
    revert_permissions = (
        "elasticloadbalancing:ModifyLoadBalancerAttributes",
        "elasticloadbalancing:SetSecurityGroups",
        "elasticloadbalancing:SetSubnets",
        "elasticloadbalancing:AddTags",
        "elasticloadbalancing:RemoveTags",
    )
    gone_codes = frozenset({"LoadBalancerNotFound"})

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        a = resource.attributes
        model = declared.model
        model["enable_deletion_protection"] = as_bool(a.get("enable_deletion_protection"))
        logs = first_block(a, "access_logs")
        # The provider stores {enabled=false, bucket=""} when the block is absent, and suppresses
        # the diff then: only a block that enables logging or names a bucket declares anything.
        if as_bool(logs.get("enabled")) or logs.get("bucket"):
            model["access_logs.enabled"] = as_bool(logs.get("enabled"))
            model["access_logs.bucket"] = text(logs.get("bucket"))
            model["access_logs.prefix"] = text(logs.get("prefix"))
        if (a.get("load_balancer_type") or "application") == "application":
            if a.get("drop_invalid_header_fields") is not None:
                model["drop_invalid_header_fields"] = as_bool(a.get("drop_invalid_header_fields"))
            if as_int(a.get("idle_timeout")) is not None:
                model["idle_timeout"] = as_int(a.get("idle_timeout"))
            if a.get("enable_http2") is not None:
                model["enable_http2"] = as_bool(a.get("enable_http2"))
        if a.get("security_groups") is not None:
            model["security_groups"] = str_set(a.get("security_groups") or [])
        if a.get("subnets") is not None:
            model["subnets"] = str_set(a.get("subnets") or [])
        model["tags"] = tags_from_state(a)

    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        try:
            lbs = self.call(ctx, "describe_load_balancers", LoadBalancerArns=[object_id]).get("LoadBalancers")
            if not lbs:
                return None
            attrs = attribute_map(self.call(ctx, "describe_load_balancer_attributes",
                                            LoadBalancerArn=object_id).get("Attributes"))
            tags = read_elb_tags(self, ctx, object_id)
        except Gone:
            return None
        lb = lbs[0]
        model: dict[str, Any] = {path: _typed(kind, attrs.get(key, default))
                                 for path, (key, kind, default) in LB_ATTRIBUTES.items()}
        model["security_groups"] = str_set(lb.get("SecurityGroups") or [])
        model["subnets"] = str_set(z.get("SubnetId") for z in lb.get("AvailabilityZones") or [])
        model["tags"] = tags
        return model

    def severity(self, change: RawChange) -> tuple[Severity, str]:
        attr, turned_off = change.attribute, bool(change.declared) and not change.live
        if attr == "enable_deletion_protection":
            return (Severity.CRITICAL, "deletion-protection-off") if turned_off else (
                Severity.MEDIUM, "deletion-protection-changed")
        if attr == "access_logs.enabled" and turned_off:
            return Severity.HIGH, "access-logs-disabled"
        if attr.startswith("access_logs."):
            return Severity.MEDIUM, "access-logs-changed"
        if attr == "drop_invalid_header_fields" and turned_off:
            return Severity.MEDIUM, "invalid-header-dropping-disabled"
        if attr == "tags":
            return Severity.LOW, "tags-changed"
        return self.compared.get(attr, Severity.MEDIUM), f"{self.type}.{attr}"

    def plan_revert(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> tuple[ApiCall, ...]:
        calls: list[ApiCall] = []
        attributes = [
            {"Key": LB_ATTRIBUTES[c.path][0], "Value": _attr_value(LB_ATTRIBUTES[c.path][1], c.declared)}
            for c in changes if c.path in LB_ATTRIBUTES
        ]
        if attributes:
            summary = ", ".join(f"{a['Key']}={a['Value']}" for a in attributes)
            calls.append(ApiCall("elbv2", "ModifyLoadBalancerAttributes",
                                 {"LoadBalancerArn": object_id, "Attributes": attributes},
                                 f"restore {summary} on {object_id}"))
        if changed(changes, "security_groups"):
            groups = sorted(decode_atom(v) for v in declared.model["security_groups"])
            calls.append(ApiCall("elbv2", "SetSecurityGroups",
                                 {"LoadBalancerArn": object_id, "SecurityGroups": groups},
                                 f"set security groups of {object_id} back to {', '.join(groups) or 'none'}"))
        if changed(changes, "subnets"):
            subnets = sorted(decode_atom(v) for v in declared.model["subnets"])
            calls.append(ApiCall("elbv2", "SetSubnets", {"LoadBalancerArn": object_id, "Subnets": subnets},
                                 f"set subnets of {object_id} back to {', '.join(subnets)}"))
        calls.extend(elb_tag_calls(object_id, changes))
        return tuple(calls)

