"""aws_s3_bucket_acl: the bucket ACL, contributed to the bucket object.

A canned ``acl`` is the declaration (its ``access_control_policy`` is then computed) and is expanded
against the live owner at comparison time; otherwise the declared grants are compared as a set.
"""

from __future__ import annotations

from chalicelib.models import Severity
from chalicelib.resources import s3_common as c
from chalicelib.resources.base import Declared, ManagedResource, ResourcePlugin
from chalicelib.resources.registry import register


@register
class AwsS3BucketAcl(ResourcePlugin):
    type = "aws_s3_bucket_acl"
    service = "s3"
    object_kind = c.KIND
    owner = False
    id_attribute = "bucket"  # the resource id is "bucket,acl" or "bucket,owner,acl"
    events = c.ACL_EVENTS
    compared = {c.GRANT: Severity.HIGH}  # CRITICAL for a grant to AllUsers / AuthenticatedUsers
    read_permissions = ("s3:GetBucketAcl",)
    revert_permissions = ("s3:PutBucketAcl",)

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        attrs = resource.attributes
        if attrs.get("acl"):
            declared.model[c.CANNED_ACL] = str(attrs["acl"])
            declared.model.pop(c.GRANT, None)
        else:
            declared.model[c.GRANT] = c.grants_from_acp(attrs.get("access_control_policy"))
            declared.model.pop(c.CANNED_ACL, None)
