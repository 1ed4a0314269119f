"""aws_vpc: the DNS and usage-metrics switches ``ModifyVpcAttribute`` changes, and tags.

Read with ``DescribeVpcAttribute`` (one attribute per call, as the API requires). Revert sets one
attribute per call too, ordered so that DNS hostnames is never on while DNS support is off (AWS
refuses that combination).
"""

from __future__ import annotations

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
    TAG_REVERT_PERMISSIONS,
    as_bool,
    attribute_value,
    live_tags,
    tag_calls,
    tag_events,
)
from chalicelib.resources.registry import register

KIND = "ec2:vpc"
# state attribute -> DescribeVpcAttribute/ModifyVpcAttribute name (revert order matters: support first)
ATTRIBUTES = {
    "enable_dns_support": "EnableDnsSupport",
    "enable_dns_hostnames": "EnableDnsHostnames",
    "enable_network_address_usage_metrics": "EnableNetworkAddressUsageMetrics",
}


@register
class AwsVpc(ResourcePlugin):
    type = "aws_vpc"
    computed = frozenset({"enable_dns_hostnames"})
    service = "ec2"
    object_kind = KIND
    events = (
        EventSpec(EC2, "ModifyVpcAttribute", "requestParameters.vpcId"),
        *tag_events("vpc-"),
        EventSpec(EC2, "CreateVpc", "responseElements.vpc.vpcId", EventKind.CREATE),
        EventSpec(EC2, "DeleteVpc", "requestParameters.vpcId", EventKind.DELETE),
    )
    compared = {"enable_dns_support": Severity.MEDIUM, "enable_dns_hostnames": Severity.MEDIUM,
                "enable_network_address_usage_metrics": Severity.LOW, "tags": Severity.LOW}
    read_permissions = ("ec2:DescribeVpcs", "ec2:DescribeVpcAttribute")
    revert_permissions = ("ec2:ModifyVpcAttribute", *TAG_REVERT_PERMISSIONS)
    gone_codes = frozenset({"InvalidVpcID.NotFound"})

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        a = resource.attributes
        for attr in ATTRIBUTES:
            if a.get(attr) is not None:
                declared.model[attr] = as_bool(a[attr])
        declared.model["tags"] = tags_from_state(a)

    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        try:
            vpcs = self.call(ctx, "describe_vpcs", VpcIds=[object_id])["Vpcs"]
            if not vpcs:
                return None
            model: dict[str, Any] = {"tags": live_tags(vpcs[0].get("Tags"))}
            for attr, api in ATTRIBUTES.items():
                name = api[0].lower() + api[1:]
                answer = self.call(ctx, "describe_vpc_attribute", VpcId=object_id, Attribute=name)
                model[attr] = as_bool(attribute_value(answer, api))
        except Gone:
            return None
        return model

    def severity(self, change: RawChange) -> tuple[Severity, str]:
        attr, want, have = change.attribute, change.declared, change.live
        if attr == "enable_dns_support":
            return ((Severity.MEDIUM, "vpc-dns-resolution-disabled") if want and not have
                    else (Severity.LOW, "vpc-dns-resolution-enabled"))
        if attr == "enable_dns_hostnames":
            return ((Severity.MEDIUM, "vpc-dns-hostnames-disabled") if want and not have
                    else (Severity.LOW, "vpc-dns-hostnames-enabled"))
        if attr == "tags":
            return Severity.LOW, "tags-changed"
        return Severity.LOW, f"vpc-{attr.replace('_', '-')}-changed"

    def plan_revert(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> tuple[ApiCall, ...]:
        paths = {c.path for c in changes}
        calls: list[ApiCall] = []
        order = list(ATTRIBUTES)
        if declared.model.get("enable_dns_support") is False:  # hostnames must go off before support
            order[0], order[1] = order[1], order[0]
        for attr in order:
            api = ATTRIBUTES[attr]
            if attr in paths:
                value = bool(declared.model[attr])
                calls.append(ApiCall("ec2", "ModifyVpcAttribute", {"VpcId": object_id, api: {"Value": value}},
                                     f"set {attr}={str(value).lower()} on {object_id}"))
        calls.extend(tag_calls(object_id, changes))
        return tuple(calls)
