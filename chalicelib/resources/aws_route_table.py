"""aws_route_table: the owner of the route-table object; routes compared as a set keyed by destination.

A route is identified by its destination (IPv4 CIDR, IPv6 CIDR or prefix list), as AWS identifies
it: the same destination with another target is one *changed* route (``ReplaceRoute``), a destination
only one side has is an added or removed route. The declared side is the union of the table's
``route`` blocks and every ``aws_route`` naming the table. Routes AWS manages are never drift, as
in the provider: the ``local`` route, routes propagated from a virtual private gateway, and the
prefix-list routes a gateway VPC endpoint installs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.drift.normalize import WORLD_CIDRS, tags_from_state
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
    describe_by_filter,
    executor_allows,
    live_tags,
    tag_calls,
    tag_changes,
    tag_events,
)
from chalicelib.resources.registry import register

KIND = "ec2:route-table"
_RTB_ID = "requestParameters.routeTableId"
ROUTE_EVENTS: tuple[EventSpec, ...] = (
    EventSpec(EC2, "CreateRoute", _RTB_ID),
    EventSpec(EC2, "ReplaceRoute", _RTB_ID),
    EventSpec(EC2, "DeleteRoute", _RTB_ID),
)
WORLD = WORLD_CIDRS
ROUTE_DELETE = "DeleteRoute"  # removes one route, never the table

# Target attribute (provider vocabulary) -> API parameter/field. Order decides which target names a
# route when AWS reports two (an instance route also names its network interface).
TARGETS: dict[str, str] = {
    "carrier_gateway_id": "CarrierGatewayId",
    "core_network_arn": "CoreNetworkArn",
    "egress_only_gateway_id": "EgressOnlyInternetGatewayId",
    "gateway_id": "GatewayId",
    "local_gateway_id": "LocalGatewayId",
    "nat_gateway_id": "NatGatewayId",
    "transit_gateway_id": "TransitGatewayId",
    "vpc_endpoint_id": "VpcEndpointId",
    "vpc_peering_connection_id": "VpcPeeringConnectionId",
    "network_interface_id": "NetworkInterfaceId",
    "instance_id": "InstanceId",
}
# Destination attribute (route-table vocabulary) -> API parameter/field.
DESTINATIONS: dict[str, str] = {
    "cidr_block": "DestinationCidrBlock",
    "ipv6_cidr_block": "DestinationIpv6CidrBlock",
    "destination_prefix_list_id": "DestinationPrefixListId",
}

Route = dict[str, str]


def route(destinations: Mapping[str, Any], targets: Mapping[str, Any]) -> Route | None:
    """A route as ``{<destination attr>: value, <target attr>: value}``; ``None`` without a destination."""
    out: Route = {}
    for attr in DESTINATIONS:
        if destinations.get(attr):
            out[attr] = str(destinations[attr])
            break
    if not out:
        return None
    for attr in TARGETS:
        if targets.get(attr):
            out[attr] = str(targets[attr])
            break
    return out


def route_key(item: Route) -> str:
    attr = next(a for a in DESTINATIONS if a in item)
    return f"{attr}={item[attr]}"


def add_route(declared: Declared, item: Route | None) -> None:
    if item is not None:
        declared.model.setdefault("route", {})[route_key(item)] = item


def api_route(r: Mapping[str, Any]) -> Route | None:
    """A ``DescribeRouteTables`` route in the provider vocabulary; ``None`` for AWS-managed routes."""
    gateway = str(r.get("GatewayId") or "")
    if gateway == "local" or r.get("Origin") == "EnableVgwRoutePropagation":
        return None
    if r.get("DestinationPrefixListId") and gateway.startswith("vpce-"):
        return None  # installed by a gateway VPC endpoint association
    dest = {attr: r.get(api) for attr, api in DESTINATIONS.items()}
    targets = {attr: r.get(api) for attr, api in TARGETS.items()}
    if gateway.startswith("vpce-"):  # the provider reports a GWLB endpoint target as vpc_endpoint_id
        targets["gateway_id"], targets["vpc_endpoint_id"] = None, gateway
    return route(dest, targets)


def route_params(table_id: str, item: Route, with_target: bool = True) -> dict[str, Any]:
    params: dict[str, Any] = {"RouteTableId": table_id}
    for attr, api in DESTINATIONS.items():
        if attr in item:
            params[api] = item[attr]
    if with_target:
        for attr, api in TARGETS.items():
            if attr in item:
                params[api] = item[attr]
    return params


def describe_route(item: Route) -> str:
    """``0.0.0.0/0 -> igw-123``: one route in a line."""
    dest = next((item[a] for a in DESTINATIONS if a in item), "?")
    target = next((item[a] for a in TARGETS if a in item), "no target")
    return f"{dest} -> {target}"


@register
class AwsRouteTable(ResourcePlugin):
    type = "aws_route_table"
    service = "ec2"
    object_kind = KIND
    events = (
        *ROUTE_EVENTS,
        *tag_events("rtb-"),
        EventSpec(EC2, "CreateRouteTable", "responseElements.routeTable.routeTableId", EventKind.CREATE),
        EventSpec(EC2, "DeleteRouteTable", _RTB_ID, EventKind.DELETE),
    )
    compared = {"route": Severity.HIGH, "tags": Severity.LOW}
    read_permissions = ("ec2:DescribeRouteTables",)
    revert_permissions = ("ec2:CreateRoute", "ec2:ReplaceRoute", *TAG_REVERT_PERMISSIONS,
                          *(("ec2:" + ROUTE_DELETE,) if executor_allows(ROUTE_DELETE) else ()))
    gone_codes = frozenset({"InvalidRouteTableID.NotFound"})

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        a = resource.attributes
        declared.model.setdefault("route", {})
        for block in a.get("route") or []:
            add_route(declared, route(block, block))
        declared.model["tags"] = tags_from_state(a)

    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        try:
            tables = self.call(ctx, "describe_route_tables", RouteTableIds=[object_id])["RouteTables"]
        except Gone:
            return None
        return self.live_model(tables[0]) if tables else None

    def read_live_many(self, ctx: LiveContext, object_ids: list[str]) -> dict[str, dict[str, Any] | None]:
        found = describe_by_filter(self, ctx, "describe_route_tables", "route-table-id", "RouteTables",
                                   "RouteTableId", object_ids)
        return {oid: self.live_model(found[oid]) if oid in found else None for oid in object_ids}

    @staticmethod
    def live_model(table: Mapping[str, Any]) -> dict[str, Any]:
        routes: dict[str, Route] = {}
        for r in table.get("Routes") or []:
            item = api_route(r)
            if item is not None:
                routes[route_key(item)] = item
        return {"route": routes, "tags": live_tags(table.get("Tags"))}

    def diff(self, declared: Declared, live: Mapping[str, Any]) -> list[Change]:
        out: list[Change] = []
        owner_managed = declared.owned_by(self.type)
        want: dict[str, Route] = declared.model.get("route", {})
        have: dict[str, Route] = live.get("route", {})
        for key in sorted(set(have) - set(want)):
            if owner_managed:  # only the table's own resource declares "no other routes"
                sev, rule = _added_severity(have[key])
                if not executor_allows(ROUTE_DELETE):
                    rule += f" (not reverted automatically: the executor does not allow {ROUTE_DELETE})"
                out.append(Change("route", None, have[key], sev, rule))
        for key in sorted(set(want) - set(have)):
            out.append(Change("route", want[key], None, Severity.MEDIUM, "route-removed"))
        for key in sorted(set(want) & set(have)):
            if want[key] != have[key]:
                out.append(Change("route", want[key], have[key], Severity.HIGH, "route-target-changed"))
        if owner_managed:
            out.extend(tag_changes(declared.model.get("tags", {}), live.get("tags", {})))
        return out

    def plan_revert(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> tuple[ApiCall, ...]:
        calls: list[ApiCall] = []
        for ch in changes:
            if ch.path != "route":
                continue
            if ch.declared is None:
                if not executor_allows(ROUTE_DELETE):
                    continue  # said in the change's rule
                calls.append(ApiCall("ec2", ROUTE_DELETE,
                                     route_params(object_id, ch.live, with_target=False),
                                     f"remove route {describe_route(ch.live)} from {object_id}"))
            elif ch.live is None:
                calls.append(ApiCall("ec2", "CreateRoute", route_params(object_id, ch.declared),
                                     f"restore route {describe_route(ch.declared)} on {object_id}"))
            else:
                calls.append(ApiCall("ec2", "ReplaceRoute", route_params(object_id, ch.declared),
                                     f"restore route {describe_route(ch.declared)} on {object_id} "
                                     f"(was {describe_route(ch.live)})"))
        calls.extend(tag_calls(object_id, changes))
        return tuple(calls)


def _added_severity(item: Route) -> tuple[Severity, str]:
    dest = item.get("cidr_block") or item.get("ipv6_cidr_block")
    target = item.get("gateway_id", "") or item.get("egress_only_gateway_id", "")
    if dest in WORLD and target.startswith(("igw-", "eigw-")):
        return Severity.HIGH, "default-route-to-internet-added"
    if dest in WORLD:
        return Severity.HIGH, "default-route-added"
    return Severity.MEDIUM, "route-added"
