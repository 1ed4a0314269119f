"""aws_ebs_volume: size, type, IOPS and throughput changed by ``ModifyVolume``, and tags.

Two AWS rules shape the revert. EBS volumes can grow but never shrink, so a grown ``size`` is
reported and never reverted (the configuration has to follow, or the data moved to a new volume).
And EBS accepts one modification per volume every six hours: ``type``/``iops``/``throughput`` are
reverted only once the last modification is complete and six hours old (the scheduled scan picks
it up then); before that the plan leaves them out rather than offering a call AWS would reject.
``iops`` is compared only for io1/io2/gp3 and ``throughput`` only for gp3: elsewhere AWS derives
them from the size, and the provider treats them as computed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
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
    call_aws,
)
from chalicelib.resources.ec2_common import (
    EC2,
    TAG_REVERT_PERMISSIONS,
    live_tags,
    tag_calls,
    tag_events,
    wrapped,
)
from chalicelib.resources.registry import register

KIND = "ec2:volume"
COOLDOWN = timedelta(hours=6)
IOPS_TYPES = frozenset({"io1", "io2", "gp3"})
_BUSY_STATES = frozenset({"modifying", "optimizing"})
_NO_MODIFICATION = frozenset({"InvalidVolumeModification.NotFound"})


def _utcnow() -> datetime:
    return datetime.now(UTC)


@register
class AwsEbsVolume(ResourcePlugin):
    type = "aws_ebs_volume"
    computed = frozenset({"iops", "throughput", "type"})
    service = "ec2"
    object_kind = KIND
    events = (
        EventSpec(EC2, "ModifyVolume", wrapped("ModifyVolume", "VolumeId",
                                               "responseElements.ModifyVolumeResponse.volumeModification.volumeId",
                                               "requestParameters.volumeId")),
        *tag_events("vol-"),
        EventSpec(EC2, "CreateVolume", "responseElements.volumeId", EventKind.CREATE),
        EventSpec(EC2, "DeleteVolume", "requestParameters.volumeId", EventKind.DELETE),
    )
    compared = {"size": Severity.MEDIUM, "type": Severity.MEDIUM, "iops": Severity.LOW,
                "throughput": Severity.LOW, "tags": Severity.LOW}
    read_permissions = ("ec2:DescribeVolumes", "ec2:DescribeVolumesModifications")
    revert_permissions = ("ec2:ModifyVolume", *TAG_REVERT_PERMISSIONS)
    gone_codes = frozenset({"InvalidVolume.NotFound"})
    clock: Callable[[], datetime] = staticmethod(_utcnow)

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        a = resource.attributes
        m = declared.model
        if a.get("size") not in (None, ""):
            m["size"] = int(a["size"])
        vtype = str(a.get("type") or "")
        if vtype:
            m["type"] = vtype
        if vtype in IOPS_TYPES and a.get("iops"):
            m["iops"] = int(a["iops"])
        if vtype == "gp3" and a.get("throughput"):
            m["throughput"] = int(a["throughput"])
        m["tags"] = tags_from_state(a)

    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        try:
            volumes = self.call(ctx, "describe_volumes", VolumeIds=[object_id])["Volumes"]
            if not volumes or volumes[0].get("State") in ("deleting", "deleted"):
                return None
        except Gone:
            return None
        try:  # a never-modified volume answers InvalidVolumeModification.NotFound
            mods = call_aws(ctx.client("ec2"), "describe_volumes_modifications", _NO_MODIFICATION,
                            VolumeIds=[object_id]).get("VolumesModifications")
        except Gone:
            mods = []
        vol = volumes[0]
        last = max(mods or [], key=lambda m: m.get("StartTime") or datetime.min.replace(tzinfo=UTC),
                   default=None)
        return {
            "size": vol.get("Size"),
            "type": vol.get("VolumeType"),
            "iops": vol.get("Iops"),
            "throughput": vol.get("Throughput"),
            "tags": live_tags(vol.get("Tags")),
            "last_modification": {"state": last.get("ModificationState"), "started": last.get("StartTime")}
            if last else None,
        }

    def severity(self, change: RawChange) -> tuple[Severity, str]:
        attr = change.attribute
        if attr == "size":
            return Severity.MEDIUM, ("volume-size-changed (EBS volumes cannot shrink; not reverted: update "
                                     "the configuration or migrate the data)")
        if attr in ("type", "iops", "throughput"):
            sev = Severity.MEDIUM if attr == "type" else Severity.LOW
            return sev, (f"volume-{attr}-changed (EBS allows one modification per 6 hours; "
                         "reverted once that has passed)")
        if attr == "tags":
            return Severity.LOW, "tags-changed"
        return super().severity(change)

    def plan_revert(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> tuple[ApiCall, ...]:
        calls: list[ApiCall] = []
        paths = {c.path for c in changes}
        if paths & {"type", "iops", "throughput"} and self._modifiable(live.get("last_modification")):
            m = declared.model
            params: dict[str, Any] = {"VolumeId": object_id}
            if "type" in m:
                params["VolumeType"] = m["type"]
            if "iops" in m:
                params["Iops"] = m["iops"]
            if "throughput" in m:
                params["Throughput"] = m["throughput"]
            summary = ", ".join(f"{k}={m[k]}" for k in ("type", "iops", "throughput") if k in m)
            calls.append(ApiCall("ec2", "ModifyVolume", params, f"restore {summary} on {object_id}"))
        calls.extend(tag_calls(object_id, changes))
        return tuple(calls)

    def _modifiable(self, last: Mapping[str, Any] | None) -> bool:
        """EBS rejects a new modification while one runs or within six hours of the last one."""
        if not last:
            return True
        if last.get("state") in _BUSY_STATES:
            return False
        started = last.get("started")
        if not isinstance(started, datetime):
            return False
        if started.tzinfo is None:
            started = started.replace(tzinfo=UTC)
        return self.clock() - started >= COOLDOWN
