"""aws_s3_bucket_public_access_block: the four public-access switches, contributed to the bucket.

A declared ``true`` turned off (or the whole block deleted) makes the bucket eligible to go public:
CRITICAL. Only a declared block is compared; AWS's default block on new buckets is never drift.
"""

from __future__ import annotations

from chalicelib.models import Severity
from chalicelib.resources import s3_common as c
from chalicelib.resources.base import Declared, ManagedResource, ResourcePlugin
from chalicelib.resources.registry import register


@register
class AwsS3BucketPublicAccessBlock(ResourcePlugin):
    type = "aws_s3_bucket_public_access_block"
    service = "s3"
    object_kind = c.KIND
    owner = False
    id_attribute = "bucket"
    events = c.PUBLIC_ACCESS_BLOCK_EVENTS
    compared = {k: Severity.CRITICAL for k in c.PAB_KEYS}  # LOW when a declared false was turned on
    read_permissions = ("s3:GetBucketPublicAccessBlock",)
    revert_permissions = ("s3:PutBucketPublicAccessBlock",)

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        for key in c.PAB_KEYS:
            declared.model[key] = resource.attributes.get(key) is True
