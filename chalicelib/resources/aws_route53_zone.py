"""aws_route53_zone: a Route 53 hosted zone, keyed by its bare id (``Z0123...``).

Compared: the comment and tags (both LOW: neither changes what the zone answers). Records are
their own type (``aws_route53_record``). Route 53 is a global service: ids carry no region, and the
API answers from us-east-1 whatever the context's region.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.drift.diff import RawChange
from chalicelib.drift.normalize import tags_from_state
from chalicelib.models import ApiCall, Change, Severity
from chalicelib.resources.app_common import MISSING, derived, live_tags, request, tag_reverts, text
from chalicelib.resources.base import Declared, EventKind, Gone, LiveContext, ManagedResource, ResourcePlugin
from chalicelib.resources.registry import register

R53 = "route53.amazonaws.com"


def zone_id(value: Any) -> str | None:
    """``/hostedzone/Z0123`` (as events and some responses carry it) → ``Z0123``."""
    if not isinstance(value, str) or not value.strip() or value.strip() == MISSING:
        return None
    return value.strip().rsplit("/", 1)[-1].upper()


def _zone_ids(found: Any, record: Mapping[str, Any]) -> list[str]:
    zid = zone_id(found)
    return [zid] if zid else [MISSING]


def _tagged_zone(found: Any, record: Mapping[str, Any]) -> list[str]:
    """``ChangeTagsForResource`` names a zone or a health check: only zones are ours."""
    if text(request(record).get("resourceType")).lower() != "hostedzone":
        return []
    return _zone_ids(found, record)


@register
class AwsRoute53Zone(ResourcePlugin):
    type = "aws_route53_zone"
    service = "route53"
    object_kind = "route53:hostedzone"
    global_service = True
    events = (
        derived(R53, "UpdateHostedZoneComment", "requestParameters.id", _zone_ids),
        derived(R53, "ChangeTagsForResource", "requestParameters.resourceId", _tagged_zone),
        derived(R53, "CreateHostedZone", "responseElements.hostedZone.id", _zone_ids, EventKind.CREATE),
        derived(R53, "DeleteHostedZone", "requestParameters.id", _zone_ids, EventKind.DELETE),
    )
    compared = {"comment": Severity.LOW, "tags": Severity.LOW}
    read_permissions = ("route53:GetHostedZone", "route53:ListTagsForResource")
    revert_permissions = ("route53:UpdateHostedZoneComment", "route53:ChangeTagsForResource")
    gone_codes = frozenset({"NoSuchHostedZone"})

    def object_id(self, attrs: Mapping[str, Any]) -> str | None:
        return zone_id(attrs.get("zone_id") or attrs.get("id"))

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        a = resource.attributes
        declared.model["comment"] = text(a.get("comment"))
        declared.model["tags"] = tags_from_state(a)

    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        try:
            zone = self.call(ctx, "get_hosted_zone", Id=object_id).get("HostedZone") or {}
            tags = self.call(ctx, "list_tags_for_resource", ResourceType="hostedzone", ResourceId=object_id)
        except Gone:
            return None
        return {"comment": text((zone.get("Config") or {}).get("Comment")),
                "tags": live_tags((tags.get("ResourceTagSet") or {}).get("Tags"))}

    def severity(self, change: RawChange) -> tuple[Severity, str]:
        return Severity.LOW, "tags-changed" if change.attribute == "tags" else "zone-comment-changed"

    def plan_revert(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> tuple[ApiCall, ...]:
        calls: list[ApiCall] = []
        if any(c.path == "comment" for c in changes):
            comment = declared.model["comment"]
            calls.append(ApiCall("route53", "UpdateHostedZoneComment", {"Id": object_id, "Comment": comment},
                                 f"restore the comment of hosted zone {object_id} to {comment!r}"))
        calls.extend(tag_reverts(changes, "route53", f"hosted zone {object_id}",
                                 {"ResourceType": "hostedzone", "ResourceId": object_id},
                                 add=("ChangeTagsForResource", "AddTags"),
                                 remove=("ChangeTagsForResource", "RemoveTagKeys")))
        return tuple(calls)
