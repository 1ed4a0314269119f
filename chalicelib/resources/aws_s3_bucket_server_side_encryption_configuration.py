"""aws_s3_bucket_server_side_encryption_configuration: default encryption, contributed to the bucket."""

from __future__ import annotations

from chalicelib.models import Severity
from chalicelib.resources import s3_common as c
from chalicelib.resources.base import Declared, ManagedResource, ResourcePlugin
from chalicelib.resources.registry import register


@register
class AwsS3BucketServerSideEncryptionConfiguration(ResourcePlugin):
    type = "aws_s3_bucket_server_side_encryption_configuration"
    service = "s3"
    object_kind = c.KIND
    owner = False
    id_attribute = "bucket"
    events = c.ENCRYPTION_EVENTS
    compared = {c.SSE: Severity.HIGH}
    read_permissions = ("s3:GetEncryptionConfiguration",)
    revert_permissions = ("s3:PutEncryptionConfiguration",)

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        sse = c.encryption_from_rules(resource.attributes.get("rule"))
        if sse:
            declared.model[c.SSE] = sse
