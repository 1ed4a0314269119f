"""aws_s3_bucket_lifecycle_configuration: lifecycle rules, contributed to the bucket (per rule id)."""

from __future__ import annotations

from chalicelib.models import Severity
from chalicelib.resources import s3_common as c
from chalicelib.resources.base import Declared, ManagedResource, ResourcePlugin
from chalicelib.resources.registry import register


@register
class AwsS3BucketLifecycleConfiguration(ResourcePlugin):
    type = "aws_s3_bucket_lifecycle_configuration"
    service = "s3"
    object_kind = c.KIND
    owner = False
    id_attribute = "bucket"
    events = c.LIFECYCLE_EVENTS
    compared = {c.LIFECYCLE: Severity.MEDIUM, c.LIFECYCLE_MIN_SIZE: Severity.MEDIUM}
    read_permissions = ("s3:GetLifecycleConfiguration",)
    revert_permissions = ("s3:PutLifecycleConfiguration",)

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        attrs = resource.attributes
        declared.model[c.LIFECYCLE] = c.lifecycle_from_split(attrs.get("rule"))
        if attrs.get(c.LIFECYCLE_MIN_SIZE):
            declared.model[c.LIFECYCLE_MIN_SIZE] = str(attrs[c.LIFECYCLE_MIN_SIZE])
