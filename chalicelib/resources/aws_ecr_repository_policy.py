"""aws_ecr_repository_policy: the repository's access policy, contributing ``policy`` to the
repository object (``aws_ecr_repository`` reads, compares and reverts it).

Compared as canonical JSON (statement/action order and whitespace never matter). A live policy
granting ``Principal: "*"`` without conditions is CRITICAL: anyone can pull (or push) images.
"""

from __future__ import annotations

from chalicelib.drift.normalize import canonical_policy
from chalicelib.models import Severity
from chalicelib.resources.aws_ecr_repository import ECR, KIND
from chalicelib.resources.base import Declared, EventSpec, ManagedResource, ResourcePlugin
from chalicelib.resources.registry import register


@register
class AwsEcrRepositoryPolicy(ResourcePlugin):
    type = "aws_ecr_repository_policy"
    service = "ecr"
    object_kind = KIND
    owner = False
    id_attribute = "repository"
    events = (
        EventSpec(ECR, "SetRepositoryPolicy", "requestParameters.repositoryName"),
        EventSpec(ECR, "DeleteRepositoryPolicy", "requestParameters.repositoryName"),
    )
    compared = {"policy": Severity.HIGH}
    read_permissions = ("ecr:GetRepositoryPolicy",)

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        declared.model["policy"] = canonical_policy(resource.attributes.get("policy"))
