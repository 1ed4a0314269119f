"""aws_launch_template: the default version, and the content of the latest version.

The provider reads a launch template's attributes from its *latest* version, so a version created by
hand is drift in what it changes (an AMI, user data, an SSH key, security groups, an instance
profile, IMDS options), and a default version moved by hand is drift in ``default_version``
(Auto Scaling groups on ``$Default`` launch from it). Versions are immutable, so the revert of
content creates a new version copied from the declared latest one (``SourceVersion``), as Terraform
itself would; the revert of the default moves it back. Nothing is deleted. ``user_data`` is
compared as a digest and masked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from chalicelib.drift.diff import RawChange
from chalicelib.drift.normalize import tags_from_state
from chalicelib.models import ApiCall, Change, Severity
from chalicelib.resources.base import (
    Declared,
    EventKind,
    EventSpec,
    Gone,
    LiveContext,
    ManagedResource,
    ResourcePlugin,
)
from chalicelib.resources.ec2_common import (
    EC2,
    METADATA_FIELDS,
    TAG_REVERT_PERMISSIONS,
    declared_metadata,
    decode_set,
    live_metadata,
    live_tags,
    metadata_severity,
    restrict_metadata,
    string_set,
    tag_calls,
    tag_events,
    wrapped,
)
from chalicelib.resources.registry import register

KIND = "ec2:launch-template"
CONTENT = ("image_id", "instance_type", "key_name", "user_data", "vpc_security_group_ids",
           "iam_instance_profile", "metadata_options")


def _profile_name(value: Any) -> str | None:
    """An instance profile by name, whether given as a name or an ARN (``...:instance-profile/path/name``)."""
    if not value:
        return None
    return str(value).rsplit("/", 1)[-1]


@register
class AwsLaunchTemplate(ResourcePlugin):
    type = "aws_launch_template"
    service = "ec2"
    object_kind = KIND
    events = (
        EventSpec(EC2, "CreateLaunchTemplateVersion", wrapped(
            "CreateLaunchTemplateVersion", "LaunchTemplateId",
            "responseElements.CreateLaunchTemplateVersionResponse.launchTemplateVersion.launchTemplateId")),
        EventSpec(EC2, "ModifyLaunchTemplate", wrapped(
            "ModifyLaunchTemplate", "LaunchTemplateId",
            "responseElements.ModifyLaunchTemplateResponse.launchTemplate.launchTemplateId")),
        *tag_events("lt-"),
        EventSpec(EC2, "CreateLaunchTemplate",
                  "responseElements.CreateLaunchTemplateResponse.launchTemplate.launchTemplateId",
                  EventKind.CREATE),
        EventSpec(EC2, "DeleteLaunchTemplate",
                  wrapped("DeleteLaunchTemplate", "LaunchTemplateId",
                          "responseElements.DeleteLaunchTemplateResponse.launchTemplate.launchTemplateId"),
                  EventKind.DELETE),
    )
    compared = {"default_version": Severity.HIGH, "image_id": Severity.HIGH, "instance_type": Severity.MEDIUM,
                "key_name": Severity.HIGH, "user_data": Severity.HIGH,
                "vpc_security_group_ids": Severity.HIGH, "iam_instance_profile": Severity.HIGH,
                "metadata_options": Severity.MEDIUM, "tags": Severity.LOW}
    read_permissions = ("ec2:DescribeLaunchTemplates", "ec2:DescribeLaunchTemplateVersions")
    revert_permissions = ("ec2:ModifyLaunchTemplate", "ec2:CreateLaunchTemplateVersion",
                          *TAG_REVERT_PERMISSIONS)
    gone_codes = frozenset({"InvalidLaunchTemplateId.NotFound",
                            "InvalidLaunchTemplateName.NotFoundException"})

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        a = resource.attributes
        m = declared.model
        if a.get("default_version") not in (None, ""):
            m["default_version"] = int(a["default_version"])
        for key in ("image_id", "instance_type", "key_name", "user_data"):
            m[key] = str(a[key]) if a.get(key) else None
        declared.sensitive.add("user_data")
        m["vpc_security_group_ids"] = string_set(a.get("vpc_security_group_ids"))
        profiles = a.get("iam_instance_profile") or []
        profile = profiles[0] if profiles and isinstance(profiles[0], Mapping) else {}
        m["iam_instance_profile"] = _profile_name(profile.get("name") or profile.get("arn"))
        blocks = a.get("metadata_options") or []
        has_block = bool(blocks) and isinstance(blocks[0], Mapping)
        m["metadata_options"] = declared_metadata(blocks[0]) if has_block else {}
        m["tags"] = tags_from_state(a)
        # The version the declared content lives in: the source of a content revert.
        m["_latest_version"] = int(a["latest_version"]) if a.get("latest_version") else None

    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        try:
            templates = self.call(ctx, "describe_launch_templates",
                                  LaunchTemplateIds=[object_id])["LaunchTemplates"]
            if not templates:
                return None
            lt = templates[0]
            latest = str(lt.get("LatestVersionNumber"))
            versions = self.call(ctx, "describe_launch_template_versions", LaunchTemplateId=object_id,
                                 Versions=[latest])["LaunchTemplateVersions"]
        except Gone:
            return None
        data = versions[0].get("LaunchTemplateData", {}) if versions else {}
        profile = data.get("IamInstanceProfile") or {}
        return {
            "default_version": lt.get("DefaultVersionNumber"),
            "image_id": data.get("ImageId") or None,
            "instance_type": data.get("InstanceType") or None,
            "key_name": data.get("KeyName") or None,
            "user_data": data.get("UserData") or None,
            "vpc_security_group_ids": string_set(data.get("SecurityGroupIds")),
            "iam_instance_profile": _profile_name(profile.get("Name") or profile.get("Arn")),
            "metadata_options": live_metadata(data.get("MetadataOptions") or {}),
            "tags": live_tags(lt.get("Tags")),
            "_latest_version": lt.get("LatestVersionNumber"),
        }

    def diff(self, declared: Declared, live: Mapping[str, Any]) -> list[Change]:
        model = {k: v for k, v in declared.model.items() if not k.startswith("_")}
        return super().diff(replace(declared, model=model), restrict_metadata(declared, live))

    def severity(self, change: RawChange) -> tuple[Severity, str]:
        attr, want, have = change.attribute, change.declared, change.live
        if attr == "default_version":
            return Severity.HIGH, "default-version-changed"
        if attr == "metadata_options":
            return metadata_severity(change.path.split(".", 1)[-1], want, have)
        if attr == "key_name":
            return ((Severity.LOW, "ssh-key-removed") if have is None
                    else (Severity.HIGH, "ssh-key-added-or-changed"))
        if attr == "vpc_security_group_ids":
            return ((Severity.HIGH, "security-group-added") if want is None
                    else (Severity.MEDIUM, "security-group-removed"))
        if attr == "tags":
            return Severity.LOW, "tags-changed"
        rules = {"image_id": "ami-changed", "instance_type": "instance-type-changed",
                 "user_data": "user-data-changed", "iam_instance_profile": "instance-profile-changed"}
        return self.compared.get(attr, Severity.MEDIUM), rules.get(attr, f"{attr}-changed")

    def plan_revert(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> tuple[ApiCall, ...]:
        calls: list[ApiCall] = []
        m = declared.model
        attrs = {c.path.split(".", 1)[0] for c in changes}
        source = m.get("_latest_version")
        if attrs & set(CONTENT) and source:
            calls.append(ApiCall("ec2", "CreateLaunchTemplateVersion",
                                 {"LaunchTemplateId": object_id, "SourceVersion": str(source),
                                  "VersionDescription": f"Driftwarden: restore declared version {source}",
                                  "LaunchTemplateData": _override_data(m)},
                                 f"create a new latest version of {object_id} copied from declared "
                                 f"version {source}"))
        if "default_version" in attrs:
            calls.append(ApiCall("ec2", "ModifyLaunchTemplate",
                                 {"LaunchTemplateId": object_id, "DefaultVersion": str(m["default_version"])},
                                 f"set the default version of {object_id} back to {m['default_version']}"))
        calls.extend(tag_calls(object_id, changes))
        return tuple(calls)


def _override_data(m: Mapping[str, Any]) -> dict[str, Any]:
    """The declared, non-secret content restated over the copied source version (user data comes from the
    copy, so it never appears in a plan)."""
    data: dict[str, Any] = {}
    if m.get("image_id"):
        data["ImageId"] = m["image_id"]
    if m.get("instance_type"):
        data["InstanceType"] = m["instance_type"]
    if m.get("key_name"):
        data["KeyName"] = m["key_name"]
    groups = sorted(decode_set(m.get("vpc_security_group_ids") or frozenset()))
    if groups:
        data["SecurityGroupIds"] = groups
    if m.get("metadata_options"):
        data["MetadataOptions"] = {api: m["metadata_options"][k] for k, api in METADATA_FIELDS.items()
                                   if k in m["metadata_options"]}
    return data
