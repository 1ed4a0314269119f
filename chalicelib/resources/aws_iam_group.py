"""aws_iam_group: the owner of the IAM group object (id: the group name).

Compared: ``path`` (MEDIUM), the group's policies from ``aws_iam_group_policy_attachment`` /
``aws_iam_group_policy`` (``managed_policy_arns``, ``inline_policy.<name>``; admin CRITICAL, other
HIGH; extra ones only when the group itself is managed), and ``users`` when an
``aws_iam_group_membership`` (exclusive in the provider) manages the group: a user added by hand is
HIGH, CRITICAL when the group grants admin; a declared user removed is MEDIUM.

An extra inline group policy is reverted with ``DeleteGroupPolicy`` (an attribute-level delete the
executor allows): the policy goes, the group stays.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
from chalicelib.resources.iam_common import (
    ADMIN_ARNS,
    ARNS,
    GROUP,
    IAM,
    INLINE,
    diff_policies,
    diff_scalar,
    is_admin_document,
    plan_policies,
    read_policies,
)
from chalicelib.resources.registry import register

KIND = "iam:group"
_GN = GROUP.trail_key
MEMBERSHIP_EVENTS_BY_GROUP = (EventSpec(IAM, "AddUserToGroup", _GN),
                              EventSpec(IAM, "RemoveUserFromGroup", _GN))


@register
class AwsIamGroup(ResourcePlugin):
    type = "aws_iam_group"
    service = "iam"
    object_kind = KIND
    global_service = True
    events = (
        *GROUP.policy_events(),
        *MEMBERSHIP_EVENTS_BY_GROUP,
        EventSpec(IAM, "UpdateGroup", _GN, note="a rename makes the managed name disappear: deleted"),
        EventSpec(IAM, "CreateGroup", _GN, EventKind.CREATE),
        EventSpec(IAM, "DeleteGroup", _GN, EventKind.DELETE),
    )
    compared = {"path": Severity.MEDIUM, ARNS: Severity.HIGH, INLINE: Severity.HIGH, "users": Severity.HIGH}
    read_permissions = ("iam:GetGroup", *GROUP.policy_read_permissions)
    revert_permissions = ("iam:UpdateGroup", "iam:AddUserToGroup", "iam:RemoveUserFromGroup",
                          *GROUP.policy_revert_permissions)
    gone_codes = frozenset({"NoSuchEntity"})

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        declared.model.setdefault(ARNS, frozenset())
        declared.model.setdefault(INLINE, {})
        declared.model["path"] = resource.attributes.get("path") or "/"

    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        try:
            params: dict[str, Any] = {"GroupName": object_id}
            page = self.call(ctx, "get_group", **params)
            group, users = page["Group"], list(page.get("Users") or [])
            while page.get("IsTruncated") and page.get("Marker"):
                page = self.call(ctx, "get_group", **params, Marker=page["Marker"])
                users.extend(page.get("Users") or [])
            policies = read_policies(self, ctx, GROUP, object_id)
        except Gone:
            return None
        return {"path": group.get("Path") or "/", "users": frozenset(u["UserName"] for u in users),
                **policies}

    def diff(self, declared: Declared, live: Mapping[str, Any]) -> list[Change]:
        managed = declared.owned_by(self.type)
        out = diff_scalar(declared, live, "path", Severity.MEDIUM, "path-changed")
        out += diff_policies(declared, live, managed)
        if "users" in declared.model:
            want, have = declared.model["users"], live.get("users", frozenset())
            if live.get(ADMIN_ARNS) or any(is_admin_document(d) for d in live.get(INLINE, {}).values()):
                added = (Severity.CRITICAL, "user-added-to-admin-group")
            else:
                added = (Severity.HIGH, "user-added-to-group")
            out += [Change("users", None, u, *added) for u in sorted(have - want)]
            out += [Change("users", u, None, Severity.MEDIUM, "user-removed-from-group")
                    for u in sorted(want - have)]
        return out

    def plan_revert(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> tuple[ApiCall, ...]:
        policies = plan_policies(GROUP, object_id, changes)
        if policies is None:
            return ()
        calls = policies
        for ch in changes:
            if ch.path == "path":
                calls.append(ApiCall("iam", "UpdateGroup", {"GroupName": object_id, "NewPath": ch.declared},
                                     f"restore path {ch.declared} of group {object_id}"))
            elif ch.path == "users" and ch.declared is None:
                calls.append(ApiCall("iam", "RemoveUserFromGroup",
                                     {"GroupName": object_id, "UserName": ch.live},
                                     f"remove undeclared user {ch.live} from group {object_id}"))
            elif ch.path == "users":
                calls.append(ApiCall("iam", "AddUserToGroup",
                                     {"GroupName": object_id, "UserName": ch.declared},
                                     f"add declared user {ch.declared} back to group {object_id}"))
        return tuple(calls)
