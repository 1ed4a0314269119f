"""aws_s3_bucket_versioning: versioning status and MFA delete, contributed to the bucket.

``mfa_delete`` is compared but never reverted (only the root user with its MFA code can change it).
"""

from __future__ import annotations

from chalicelib.models import Severity
from chalicelib.resources import s3_common as c
from chalicelib.resources.base import Declared, ManagedResource, ResourcePlugin
from chalicelib.resources.registry import register


@register
class AwsS3BucketVersioning(ResourcePlugin):
    type = "aws_s3_bucket_versioning"
    service = "s3"
    object_kind = c.KIND
    owner = False
    id_attribute = "bucket"
    events = c.VERSIONING_EVENTS
    compared = {c.VERSIONING: Severity.HIGH}
    read_permissions = ("s3:GetBucketVersioning",)
    revert_permissions = ("s3:PutBucketVersioning",)

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        versioning = c.versioning_from_split(resource.attributes)
        if versioning:
            declared.model[c.VERSIONING] = versioning
