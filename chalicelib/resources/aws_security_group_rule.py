"""aws_security_group_rule: one rule (legacy resource) contributing to its group's declared rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.models import Severity
from chalicelib.resources.aws_security_group import KIND, SG_RULE_EVENTS, add_rules, rule_keys
from chalicelib.resources.base import Declared, ManagedResource, ResourcePlugin
from chalicelib.resources.registry import register


@register
class AwsSecurityGroupRule(ResourcePlugin):
    type = "aws_security_group_rule"
    service = "ec2"
    object_kind = KIND
    owner = False
    id_attribute = "security_group_id"
    events = SG_RULE_EVENTS
    compared = {"ingress": Severity.HIGH, "egress": Severity.MEDIUM}
    read_permissions = ("ec2:DescribeSecurityGroups",)

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        a: Mapping[str, Any] = resource.attributes
        direction = "egress" if a.get("type") == "egress" else "ingress"
        gid = str(a.get("security_group_id"))
        peers = [("cidr", c) for c in a.get("cidr_blocks") or []]
        peers += [("ipv6", c) for c in a.get("ipv6_cidr_blocks") or []]
        peers += [("prefix_list", c) for c in a.get("prefix_list_ids") or []]
        if a.get("source_security_group_id"):
            peers.append(("sg", str(a["source_security_group_id"])))
        if a.get("self"):
            peers.append(("sg", gid))
        add_rules(declared, direction, rule_keys(a.get("protocol"), a.get("from_port"), a.get("to_port"), peers),
                  a.get("description"))
