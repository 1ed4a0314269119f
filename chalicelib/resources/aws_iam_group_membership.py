"""aws_iam_group_membership: the exclusive list of a group's users, declaring the group's ``users``
(a user added to the group by hand is drift; see ``aws_iam_group``)."""

from __future__ import annotations

from chalicelib.models import Severity
from chalicelib.resources.aws_iam_group import KIND, MEMBERSHIP_EVENTS_BY_GROUP
from chalicelib.resources.base import Declared, ManagedResource, ResourcePlugin
from chalicelib.resources.registry import register


@register
class AwsIamGroupMembership(ResourcePlugin):
    type = "aws_iam_group_membership"
    service = "iam"
    object_kind = KIND
    owner = False
    id_attribute = "group"
    global_service = True
    events = MEMBERSHIP_EVENTS_BY_GROUP
    compared = {"users": Severity.HIGH}
    read_permissions = ("iam:GetGroup",)

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        users = frozenset(str(u) for u in resource.attributes.get("users") or [] if u)
        declared.model["users"] = frozenset(declared.model.get("users", frozenset())) | users
