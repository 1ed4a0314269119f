"""aws_subnet: the launch-time switches ``ModifySubnetAttribute`` changes, and tags.

``map_public_ip_on_launch`` turned on where the configuration keeps it off is HIGH: every instance
launched into the subnet afterwards gets a public address. Booleans AWS leaves out of the answer
are false (that is what AWS means by leaving them out).
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
    describe_by_filter,
    live_tags,
    tag_calls,
    tag_events,
)
from chalicelib.resources.registry import register

KIND = "ec2:subnet"
# state attribute -> ModifySubnetAttribute parameter (boolean ones take {"Value": bool})
BOOLEANS = {
    "map_public_ip_on_launch": "MapPublicIpOnLaunch",
    "assign_ipv6_address_on_creation": "AssignIpv6AddressOnCreation",
    "enable_dns64": "EnableDns64",
    "enable_resource_name_dns_a_record_on_launch": "EnableResourceNameDnsARecordOnLaunch",
    "enable_resource_name_dns_aaaa_record_on_launch": "EnableResourceNameDnsAAAARecordOnLaunch",
}
HOSTNAME_TYPE = "private_dns_hostname_type_on_launch"


@register
class AwsSubnet(ResourcePlugin):
    type = "aws_subnet"
    service = "ec2"
    object_kind = KIND
    events = (
        EventSpec(EC2, "ModifySubnetAttribute", "requestParameters.subnetId"),
        *tag_events("subnet-"),
        EventSpec(EC2, "CreateSubnet", "responseElements.subnet.subnetId", EventKind.CREATE),
        EventSpec(EC2, "DeleteSubnet", "requestParameters.subnetId", EventKind.DELETE),
    )
    compared = {"map_public_ip_on_launch": Severity.HIGH, "assign_ipv6_address_on_creation": Severity.MEDIUM,
                "enable_dns64": Severity.LOW, "enable_resource_name_dns_a_record_on_launch": Severity.LOW,
                "enable_resource_name_dns_aaaa_record_on_launch": Severity.LOW, HOSTNAME_TYPE: Severity.LOW,
                "tags": Severity.LOW}
    read_permissions = ("ec2:DescribeSubnets",)
    revert_permissions = ("ec2:ModifySubnetAttribute", *TAG_REVERT_PERMISSIONS)
    gone_codes = frozenset({"InvalidSubnetID.NotFound"})

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        a = resource.attributes
        for attr in BOOLEANS:
            if a.get(attr) is not None:
                declared.model[attr] = as_bool(a[attr])
        if a.get(HOSTNAME_TYPE):
            declared.model[HOSTNAME_TYPE] = str(a[HOSTNAME_TYPE])
        declared.model["tags"] = tags_from_state(a)

    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        try:
            subnets = self.call(ctx, "describe_subnets", SubnetIds=[object_id])["Subnets"]
        except Gone:
            return None
        return self.live_model(subnets[0]) if subnets else None

    def read_live_many(self, ctx: LiveContext, object_ids: list[str]) -> dict[str, dict[str, Any] | None]:
        found = describe_by_filter(self, ctx, "describe_subnets", "subnet-id", "Subnets", "SubnetId",
                                   object_ids)
        return {oid: self.live_model(found[oid]) if oid in found else None for oid in object_ids}

    @staticmethod
    def live_model(s: Mapping[str, Any]) -> dict[str, Any]:
        dns = s.get("PrivateDnsNameOptionsOnLaunch") or {}
        return {
            "map_public_ip_on_launch": as_bool(s.get("MapPublicIpOnLaunch")),
            "assign_ipv6_address_on_creation": as_bool(s.get("AssignIpv6AddressOnCreation")),
            "enable_dns64": as_bool(s.get("EnableDns64")),
            "enable_resource_name_dns_a_record_on_launch": as_bool(
                dns.get("EnableResourceNameDnsARecord")),
            "enable_resource_name_dns_aaaa_record_on_launch": as_bool(
                dns.get("EnableResourceNameDnsAAAARecord")),
            HOSTNAME_TYPE: dns.get("HostnameType"),
            "tags": live_tags(s.get("Tags")),
        }

    def severity(self, change: RawChange) -> tuple[Severity, str]:
        attr, want, have = change.attribute, change.declared, change.live
        if attr == "map_public_ip_on_launch":
            return ((Severity.HIGH, "subnet-assigns-public-ips") if have and not want
                    else (Severity.LOW, "subnet-stops-assigning-public-ips"))
        if attr == "assign_ipv6_address_on_creation":
            return ((Severity.MEDIUM, "subnet-assigns-ipv6-addresses") if have and not want
                    else (Severity.LOW, "subnet-stops-assigning-ipv6-addresses"))
        if attr == "tags":
            return Severity.LOW, "tags-changed"
        return Severity.LOW, f"subnet-{attr.replace('_', '-')}-changed"

    def plan_revert(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> tuple[ApiCall, ...]:
        paths = {c.path for c in changes}
        calls: list[ApiCall] = []
        for attr, api in BOOLEANS.items():
            if attr in paths:
                value = bool(declared.model[attr])
                calls.append(ApiCall("ec2", "ModifySubnetAttribute",
                                     {"SubnetId": object_id, api: {"Value": value}},
                                     f"set {attr}={str(value).lower()} on {object_id}"))
        if HOSTNAME_TYPE in paths:
            value = declared.model[HOSTNAME_TYPE]
            calls.append(ApiCall("ec2", "ModifySubnetAttribute",
                                 {"SubnetId": object_id, "PrivateDnsHostnameTypeOnLaunch": value},
                                 f"set {HOSTNAME_TYPE}={value} on {object_id}"))
        calls.extend(tag_calls(object_id, changes))
        return tuple(calls)
