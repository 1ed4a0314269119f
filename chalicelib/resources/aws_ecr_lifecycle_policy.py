"""aws_ecr_lifecycle_policy: the repository's image lifecycle rules, contributing ``lifecycle_policy``
to the repository object (``aws_ecr_repository`` reads, compares and reverts it).

Compared as canonical JSON with rules in priority order. Removing the policy is MEDIUM: images stop
expiring (cost), nothing becomes reachable that was not.
"""

from __future__ import annotations

from chalicelib.models import Severity
from chalicelib.resources.aws_ecr_repository import ECR, KIND, lifecycle_text
from chalicelib.resources.base import Declared, EventSpec, ManagedResource, ResourcePlugin
from chalicelib.resources.registry import register


@register
class AwsEcrLifecyclePolicy(ResourcePlugin):
    type = "aws_ecr_lifecycle_policy"
    service = "ecr"
    object_kind = KIND
    owner = False
    id_attribute = "repository"
    events = (
        EventSpec(ECR, "PutLifecyclePolicy", "requestParameters.repositoryName"),
        EventSpec(ECR, "DeleteLifecyclePolicy", "requestParameters.repositoryName"),
    )
    compared = {"lifecycle_policy": Severity.MEDIUM}
    read_permissions = ("ecr:GetLifecyclePolicy",)

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        declared.model["lifecycle_policy"] = lifecycle_text(resource.attributes.get("policy")) or None
