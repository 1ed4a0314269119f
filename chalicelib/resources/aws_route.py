"""aws_route: one route declared outside its table, contributing to the table's declared routes.

The table's owner plugin reads, compares and reverts. When only routes are managed (for example a
route added to a table some other stack owns), routes nobody declares are not drift.
"""

from __future__ import annotations

from chalicelib.models import Severity
from chalicelib.resources.aws_route_table import KIND, ROUTE_EVENTS, TARGETS, add_route, route
from chalicelib.resources.base import Declared, ManagedResource, ResourcePlugin
from chalicelib.resources.registry import register


@register
class AwsRoute(ResourcePlugin):
    type = "aws_route"
    service = "ec2"
    object_kind = KIND
    owner = False
    id_attribute = "route_table_id"
    events = ROUTE_EVENTS
    compared = {"route": Severity.HIGH}
    read_permissions = ("ec2:DescribeRouteTables",)

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        a = resource.attributes
        destinations = {"cidr_block": a.get("destination_cidr_block"),
                        "ipv6_cidr_block": a.get("destination_ipv6_cidr_block"),
                        "destination_prefix_list_id": a.get("destination_prefix_list_id")}
        add_route(declared, route(destinations, {t: a.get(t) for t in TARGETS}))
