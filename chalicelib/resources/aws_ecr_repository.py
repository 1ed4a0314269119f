"""aws_ecr_repository: the owner of the ECR repository object, keyed by repository name.

The repository's policy and lifecycle policy are separate Terraform types
(``aws_ecr_repository_policy``, ``aws_ecr_lifecycle_policy``) that contribute ``policy`` and
``lifecycle_policy`` to this object's declared model; this plugin reads, compares and reverts all of
it. Only what some managed resource declares is compared: a policy set on a repository whose policy
no state manages is not drift (Terraform would not report it either).

Compared here: tag mutability (IMMUTABLE → MUTABLE is HIGH: a pushed tag can be silently replaced),
scan on push, tags. Pushing or deleting images never changes a declared attribute (NOOP).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from chalicelib.drift.diff import RawChange
from chalicelib.drift.normalize import canonical_policy, policy_grants_public, tags_from_state
from chalicelib.models import ApiCall, Change, Severity
from chalicelib.resources.app_common import (
    MISSING,
    arn_resource,
    as_bool,
    as_int,
    call_optional,
    canonical_json,
    derived,
    first_block,
    live_tags,
    tag_reverts,
    text,
)
from chalicelib.resources.base import (
    Declared,
    EventKind,
    EventSpec,
    Gone,
    LiveContext,
    ManagedResource,
    ResourcePlugin,
)
from chalicelib.resources.registry import register

KIND = "ecr:repository"
ECR = "ecr.amazonaws.com"
_NAME = "requestParameters.repositoryName"


def _repo_from_arn(found: Any, record: Mapping[str, Any]) -> list[str]:
    resource = arn_resource(found)
    if resource is None:
        return [MISSING]
    kind, _, name = resource.partition("/")
    return [name] if kind == "repository" and name else []


def lifecycle_text(doc: Any) -> str:
    """A lifecycle policy compares as JSON with its rules in priority order (their list order is
    not meaningful) and tag prefix/pattern lists as sets."""
    text_doc = canonical_json(doc)
    if not text_doc.startswith("{"):
        return text_doc
    parsed = json.loads(text_doc)
    rules = parsed.get("rules")
    if isinstance(rules, list):
        for rule in rules:
            sel = rule.get("selection") if isinstance(rule, Mapping) else None
            if isinstance(sel, dict):
                for key in ("tagPrefixList", "tagPatternList"):
                    if isinstance(sel.get(key), list):
                        sel[key] = sorted(sel[key])
        parsed["rules"] = sorted(rules, key=lambda r: as_int(r.get("rulePriority")) or 0
                                 if isinstance(r, Mapping) else 0)
    return canonical_json(parsed)


@register
class AwsEcrRepository(ResourcePlugin):
    type = "aws_ecr_repository"
    service = "ecr"
    object_kind = KIND
    events = (
        EventSpec(ECR, "PutImageTagMutability", _NAME),
        EventSpec(ECR, "PutImageScanningConfiguration", _NAME),
        derived(ECR, "TagResource", "requestParameters.resourceArn", _repo_from_arn),
        derived(ECR, "UntagResource", "requestParameters.resourceArn", _repo_from_arn),
        EventSpec(ECR, "CreateRepository", "responseElements.repository.repositoryName", EventKind.CREATE),
        EventSpec(ECR, "DeleteRepository", _NAME, EventKind.DELETE),
        EventSpec(ECR, "PutImage", _NAME, EventKind.NOOP, note="images are not Terraform-managed"),
        EventSpec(ECR, "BatchDeleteImage", _NAME, EventKind.NOOP, note="images are not Terraform-managed"),
    )
    compared = {"image_tag_mutability": Severity.MEDIUM, "image_scanning_configuration": Severity.MEDIUM,
                "tags": Severity.LOW, "policy": Severity.HIGH, "lifecycle_policy": Severity.MEDIUM}
    read_permissions = ("ecr:DescribeRepositories", "ecr:GetRepositoryPolicy", "ecr:GetLifecyclePolicy",
                        "ecr:ListTagsForResource")
    revert_permissions = ("ecr:PutImageTagMutability", "ecr:PutImageScanningConfiguration",
                          "ecr:SetRepositoryPolicy", "ecr:PutLifecyclePolicy", "ecr:TagResource",
                          "ecr:UntagResource")
    gone_codes = frozenset({"RepositoryNotFoundException"})

    def object_id(self, attrs: Mapping[str, Any]) -> str | None:
        return text(attrs.get("name") or attrs.get("id")) or None

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        a = resource.attributes
        m = declared.model
        if a.get("image_tag_mutability"):
            m["image_tag_mutability"] = text(a["image_tag_mutability"]).upper()
        scanning = first_block(a, "image_scanning_configuration")
        if scanning:
            m["image_scanning_configuration.scan_on_push"] = as_bool(scanning.get("scan_on_push"))
        m["tags"] = tags_from_state(a)

    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        try:
            repos = self.call(ctx, "describe_repositories", repositoryNames=[object_id]).get("repositories")
            if not repos:
                return None
            repo = repos[0]
            policy = call_optional(self, ctx, "get_repository_policy", {"RepositoryPolicyNotFoundException"},
                                   repositoryName=object_id)
            lifecycle = call_optional(self, ctx, "get_lifecycle_policy", {"LifecyclePolicyNotFoundException"},
                                      repositoryName=object_id)
            tags = self.call(ctx, "list_tags_for_resource", resourceArn=repo["repositoryArn"]).get("tags")
        except Gone:
            return None
        return {
            "image_tag_mutability": text(repo.get("imageTagMutability")).upper(),
            "image_scanning_configuration.scan_on_push": as_bool(
                (repo.get("imageScanningConfiguration") or {}).get("scanOnPush")),
            "tags": live_tags(tags),
            "policy": canonical_policy((policy or {}).get("policyText")),
            "lifecycle_policy": lifecycle_text((lifecycle or {}).get("lifecyclePolicyText")) or None,
            "_arn": repo.get("repositoryArn"),  # never declared, so never compared: the tag reverts' target
        }

    def severity(self, change: RawChange) -> tuple[Severity, str]:
        attr = change.attribute
        if attr == "policy":
            if change.live and policy_grants_public(change.live):
                return Severity.CRITICAL, "policy-grants-public"
            return (Severity.MEDIUM, "repository-policy-removed") if change.live is None else (
                Severity.HIGH, "repository-policy-changed")
        if attr == "image_tag_mutability" and text(change.declared).startswith("IMMUTABLE") \
                and text(change.live).startswith("MUTABLE"):
            return Severity.HIGH, "tag-immutability-disabled"
        if attr == "image_scanning_configuration.scan_on_push" and change.declared and not change.live:
            return Severity.MEDIUM, "scan-on-push-disabled"
        if attr == "lifecycle_policy":
            return Severity.MEDIUM, ("lifecycle-policy-removed" if change.live is None
                                     else "lifecycle-policy-changed")
        if attr == "tags":
            return Severity.LOW, "tags-changed"
        return Severity.MEDIUM, f"{self.type}.{attr}"

    def plan_revert(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> tuple[ApiCall, ...]:
        m = declared.model
        paths = {c.path for c in changes}
        calls: list[ApiCall] = []
        if "image_tag_mutability" in paths:
            mutability = m["image_tag_mutability"]
            params: dict[str, Any] = {"repositoryName": object_id, "imageTagMutability": mutability}
            if "EXCLUSION" in m["image_tag_mutability"]:
                repo = declared.primary(self.type).attributes
                filters = [f for f in repo.get("image_tag_mutability_exclusion_filter") or []
                           if isinstance(f, Mapping)]
                params["imageTagMutabilityExclusionFilters"] = [
                    {"filterType": text(f.get("filter_type")), "filter": text(f.get("filter"))}
                    for f in filters]
            calls.append(ApiCall("ecr", "PutImageTagMutability", params,
                                 f"set tag mutability of {object_id} back to {m['image_tag_mutability']}"))
        if "image_scanning_configuration.scan_on_push" in paths:
            scan = bool(m["image_scanning_configuration.scan_on_push"])
            calls.append(ApiCall("ecr", "PutImageScanningConfiguration", {
                "repositoryName": object_id, "imageScanningConfiguration": {"scanOnPush": scan}},
                f"turn scan on push {'on' if scan else 'off'} again for {object_id}"))
        if "policy" in paths and m.get("policy"):
            calls.append(ApiCall("ecr", "SetRepositoryPolicy", {"repositoryName": object_id,
                                                                "policyText": m["policy"]},
                                 f"restore the declared repository policy of {object_id}"))
        if "lifecycle_policy" in paths and m.get("lifecycle_policy"):
            calls.append(ApiCall("ecr", "PutLifecyclePolicy", {"repositoryName": object_id,
                                                               "lifecyclePolicyText": m["lifecycle_policy"]},
                                 f"restore the declared lifecycle policy of {object_id}"))
        arn = live.get("_arn")
        if arn:
            calls.extend(tag_reverts(changes, "ecr", object_id, {"resourceArn": arn},
                                     add=("TagResource", "tags"), remove=("UntagResource", "tagKeys")))
        return tuple(calls)
