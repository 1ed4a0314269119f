"""aws_network_acl_rule: one entry declared outside its ACL, contributing to the ACL's declared entries.

It never reads or reverts by itself: the ACL's owner plugin does, with this entry in the union. When
only rules are managed (the ACL itself is not), entries nobody declares are not drift.
"""

from __future__ import annotations

from chalicelib.models import Severity
from chalicelib.resources.aws_network_acl import ENTRY_EVENTS, KIND, add_entry, entry
from chalicelib.resources.base import Declared, ManagedResource, ResourcePlugin
from chalicelib.resources.ec2_common import as_bool
from chalicelib.resources.registry import register


@register
class AwsNetworkAclRule(ResourcePlugin):
    type = "aws_network_acl_rule"
    service = "ec2"
    object_kind = KIND
    owner = False
    id_attribute = "network_acl_id"
    events = ENTRY_EVENTS
    compared = {"ingress": Severity.HIGH, "egress": Severity.MEDIUM}
    read_permissions = ("ec2:DescribeNetworkAcls",)

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        a = resource.attributes
        direction = "egress" if as_bool(a.get("egress")) else "ingress"
        item = entry(a.get("rule_number"), a.get("rule_action"), a.get("protocol"), a.get("cidr_block"),
                     a.get("ipv6_cidr_block"), a.get("from_port"), a.get("to_port"), a.get("icmp_type"),
                     a.get("icmp_code"))
        add_entry(declared, direction, item)
