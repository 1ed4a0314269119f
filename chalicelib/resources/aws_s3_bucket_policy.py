"""aws_s3_bucket_policy: the bucket policy, contributed to the bucket object (compared as canonical JSON)."""

from __future__ import annotations

from chalicelib.models import Severity
from chalicelib.resources import s3_common as c
from chalicelib.resources.base import Declared, ManagedResource, ResourcePlugin
from chalicelib.resources.registry import register


@register
class AwsS3BucketPolicy(ResourcePlugin):
    type = "aws_s3_bucket_policy"
    service = "s3"
    object_kind = c.KIND
    owner = False
    id_attribute = "bucket"
    events = c.POLICY_EVENTS
    compared = {c.POLICY: Severity.HIGH}  # CRITICAL when the live policy grants Principal "*" unconditionally
    read_permissions = ("s3:GetBucketPolicy",)
    revert_permissions = ("s3:PutBucketPolicy",)

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        declared.model[c.POLICY] = c.policy_model(resource.attributes.get("policy"))
