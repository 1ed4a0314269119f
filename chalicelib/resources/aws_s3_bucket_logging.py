"""aws_s3_bucket_logging: server access logging, contributed to the bucket (disabled = HIGH)."""

from __future__ import annotations

from chalicelib.models import Severity
from chalicelib.resources import s3_common as c
from chalicelib.resources.base import Declared, ManagedResource, ResourcePlugin
from chalicelib.resources.registry import register


@register
class AwsS3BucketLogging(ResourcePlugin):
    type = "aws_s3_bucket_logging"
    service = "s3"
    object_kind = c.KIND
    owner = False
    id_attribute = "bucket"
    events = c.LOGGING_EVENTS
    compared = {c.LOGGING: Severity.HIGH}
    read_permissions = ("s3:GetBucketLogging",)
    revert_permissions = ("s3:PutBucketLogging",)

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        logging = c.logging_from_split(resource.attributes)
        if logging:
            declared.model[c.LOGGING] = logging
