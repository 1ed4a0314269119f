"""aws_iam_policy: the owner of a customer-managed policy (id: the policy ARN).

Compared: ``policy`` (the default version's document, canonical JSON; HIGH, CRITICAL when it now
grants ``"*"`` on ``"*"``) and ``tags`` (LOW). ``name``, ``path`` and ``description`` force a new
policy in the provider, so they cannot drift in place.

Revert: ``SetDefaultPolicyVersion`` back to a version whose document equals the declared one; when
none does and the policy has room for another version (IAM keeps at most five), ``CreatePolicyVersion``
with the declared document as default. Versions are never deleted (the executor forbids it), so a
policy already holding five versions, none of them the declared document, gets no plan: a human
must choose which version to delete.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
from chalicelib.resources.iam_common import (
    IAM,
    canonical_iam_policy,
    diff_tags,
    is_admin_document,
    live_tags,
    paged,
    plan_tags,
)
from chalicelib.resources.registry import register

KIND = "iam:policy"
MAX_VERSIONS = 5
_ARN = "requestParameters.policyArn"


@register
class AwsIamPolicy(ResourcePlugin):
    type = "aws_iam_policy"
    service = "iam"
    object_kind = KIND
    id_attribute = "arn"
    global_service = True
    events = (
        EventSpec(IAM, "CreatePolicyVersion", _ARN),
        EventSpec(IAM, "SetDefaultPolicyVersion", _ARN),
        EventSpec(IAM, "DeletePolicyVersion", _ARN, note="cannot delete the default version; compared"),
        EventSpec(IAM, "TagPolicy", _ARN),
        EventSpec(IAM, "UntagPolicy", _ARN),
        EventSpec(IAM, "CreatePolicy", "responseElements.policy.arn", EventKind.CREATE),
        EventSpec(IAM, "DeletePolicy", _ARN, EventKind.DELETE),
    )
    compared = {"policy": Severity.HIGH, "tags": Severity.LOW}
    read_permissions = ("iam:GetPolicy", "iam:ListPolicyVersions", "iam:GetPolicyVersion")
    revert_permissions = ("iam:SetDefaultPolicyVersion", "iam:CreatePolicyVersion", "iam:TagPolicy",
                          "iam:UntagPolicy")
    gone_codes = frozenset({"NoSuchEntity"})

    def object_id(self, attrs: Mapping[str, Any]) -> str | None:
        value = attrs.get("arn") or attrs.get("id")
        return str(value) if value else None

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        a = resource.attributes
        declared.model["policy"] = canonical_iam_policy(a.get("policy"))
        declared.model["tags"] = tags_from_state(a)

    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        try:
            policy = self.call(ctx, "get_policy", PolicyArn=object_id)["Policy"]
            listed = paged(self, ctx, "list_policy_versions", "Versions", PolicyArn=object_id)
            versions: dict[str, str | None] = {}
            for version in listed:
                vid = version["VersionId"]
                got = self.call(ctx, "get_policy_version", PolicyArn=object_id, VersionId=vid)
                versions[vid] = canonical_iam_policy(got["PolicyVersion"]["Document"])
        except Gone:
            return None
        default = policy["DefaultVersionId"]
        return {"policy": versions.get(default), "tags": live_tags(policy.get("Tags")),
                "_default_version": default, "_versions": versions}

    def diff(self, declared: Declared, live: Mapping[str, Any]) -> list[Change]:
        out: list[Change] = []
        want, have = declared.model.get("policy"), live.get("policy")
        if want != have:
            if is_admin_document(have) and not is_admin_document(want):
                out.append(Change("policy", want, have, Severity.CRITICAL, "admin-policy-document"))
            else:
                out.append(Change("policy", want, have, Severity.HIGH, "policy-document-changed"))
        return out + diff_tags(declared, live)

    def plan_revert(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> tuple[ApiCall, ...]:
        calls: list[ApiCall] = []
        if any(c.path == "policy" for c in changes):
            want = declared.model.get("policy")
            versions: dict[str, Any] = live.get("_versions", {})
            match = [v for v, doc in versions.items() if doc == want and v != live.get("_default_version")]
            if match:
                vid = max(match, key=_version_number)  # the newest version holding the declared document
                calls.append(ApiCall("iam", "SetDefaultPolicyVersion",
                                     {"PolicyArn": object_id, "VersionId": vid},
                                     f"make version {vid} (the declared document) default of {object_id}"))
            elif len(versions) < MAX_VERSIONS and want is not None:
                calls.append(ApiCall("iam", "CreatePolicyVersion",
                                     {"PolicyArn": object_id, "PolicyDocument": want, "SetAsDefault": True},
                                     f"add a default version with the declared document to {object_id}"))
            else:
                return ()
        calls += plan_tags("Policy", "PolicyArn", object_id, changes)
        return tuple(calls)


def _version_number(version_id: str) -> int:
    digits = version_id.lstrip("vV")
    return int(digits) if digits.isdigit() else -1
