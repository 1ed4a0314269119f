"""Shared by aws_vpc_security_group_ingress_rule and aws_vpc_security_group_egress_rule."""

from __future__ import annotations

from chalicelib.resources.aws_security_group import add_rules, rule_keys
from chalicelib.resources.base import Declared, ManagedResource


def declare_vpc_rule(direction: str, resource: ManagedResource, declared: Declared) -> None:
    a = resource.attributes
    peers = []
    for field, peer_type in (("cidr_ipv4", "cidr"), ("cidr_ipv6", "ipv6"), ("prefix_list_id", "prefix_list"),
                             ("referenced_security_group_id", "sg")):
        if a.get(field):
            peers.append((peer_type, str(a[field])))
    add_rules(declared, direction, rule_keys(a.get("ip_protocol"), a.get("from_port"), a.get("to_port"), peers),
              a.get("description"))
