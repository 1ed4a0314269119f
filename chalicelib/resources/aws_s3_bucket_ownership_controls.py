"""aws_s3_bucket_ownership_controls: object ownership, contributed to the bucket.

Leaving BucketOwnerEnforced turns ACLs back on (HIGH); only a declared setting is compared.
"""

from __future__ import annotations

from chalicelib.models import Severity
from chalicelib.resources import s3_common as c
from chalicelib.resources.base import Declared, ManagedResource, ResourcePlugin
from chalicelib.resources.registry import register


@register
class AwsS3BucketOwnershipControls(ResourcePlugin):
    type = "aws_s3_bucket_ownership_controls"
    service = "s3"
    object_kind = c.KIND
    owner = False
    id_attribute = "bucket"
    events = c.OWNERSHIP_EVENTS
    compared = {c.OWNERSHIP: Severity.HIGH}
    read_permissions = ("s3:GetBucketOwnershipControls",)
    revert_permissions = ("s3:PutBucketOwnershipControls",)

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        ownership = c.ownership_from_split(resource.attributes)
        if ownership:
            declared.model[c.OWNERSHIP] = ownership
