"""aws_vpc_security_group_ingress_rule: one ingress rule contributing to its group's declared rules."""

from __future__ import annotations

from chalicelib.models import Severity
from chalicelib.resources.aws_security_group import KIND, SG_RULE_EVENTS
from chalicelib.resources.base import Declared, ManagedResource, ResourcePlugin
from chalicelib.resources.registry import register
from chalicelib.resources.vpc_rule import declare_vpc_rule


@register
class AwsVpcSecurityGroupIngressRule(ResourcePlugin):
    type = "aws_vpc_security_group_ingress_rule"
    service = "ec2"
    object_kind = KIND
    owner = False
    id_attribute = "security_group_id"
    events = SG_RULE_EVENTS
    compared = {"ingress": Severity.HIGH}
    read_permissions = ("ec2:DescribeSecurityGroups",)

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        declare_vpc_rule("ingress", resource, declared)
