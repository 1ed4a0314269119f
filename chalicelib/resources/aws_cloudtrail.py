"""aws_cloudtrail: the trail that is Driftwarden's own eyes.

A stopped trail (``StopLogging``) is always CRITICAL (``trail-stopped``): it blinds this responder
and every detection built on CloudTrail. So is logs redirected to another bucket, and event
selectors that stop recording management write events (the defense-evasion variant of stopping).
Narrowing the trail (one region, no global service events, no log-file validation, no encryption,
no CloudWatch Logs delivery) is HIGH.

Trails are indexed by name. Records name a trail by name or by ARN
(``arn:aws:cloudtrail:<region>:<account>:trail/<name>``) as the caller chose; both normalize to the
name. Mutating trail calls must be made in the trail's home region, so the event's region is where
the live read happens. Event selectors follow the provider: AWS's default selector (all management
events, no data events) is what an unset ``event_selector`` means, so it is never drift. A trail
started by hand where the state says ``enable_logging = false`` is reported (LOW) but not reverted:
Driftwarden never stops a trail.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from chalicelib.drift.diff import RawChange
from chalicelib.drift.normalize import atom, decode_atom, tags_from_aws, tags_from_state
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
from chalicelib.resources.registry import register

KIND = "cloudtrail:trail"
CLOUDTRAIL = "cloudtrail.amazonaws.com"
_NAME = "requestParameters.name"
_TRAIL_NAME = "requestParameters.trailName"
_NO_INSIGHTS = frozenset({"InsightNotEnabledException"})

# state attribute -> (GetTrail field, UpdateTrail parameter)
BOOLEANS = {
    "is_multi_region_trail": ("IsMultiRegionTrail", "IsMultiRegionTrail"),
    "include_global_service_events": ("IncludeGlobalServiceEvents", "IncludeGlobalServiceEvents"),
    "enable_log_file_validation": ("LogFileValidationEnabled", "EnableLogFileValidation"),
    "is_organization_trail": ("IsOrganizationTrail", "IsOrganizationTrail"),
}
STRINGS = {
    "s3_bucket_name": ("S3BucketName", "S3BucketName"),
    "s3_key_prefix": ("S3KeyPrefix", "S3KeyPrefix"),
    "sns_topic_name": ("SnsTopicName", "SnsTopicName"),
    "kms_key_id": ("KmsKeyId", "KmsKeyId"),
    "cloud_watch_logs_group_arn": ("CloudWatchLogsLogGroupArn", "CloudWatchLogsLogGroupArn"),
    "cloud_watch_logs_role_arn": ("CloudWatchLogsRoleArn", "CloudWatchLogsRoleArn"),
}
_CWL = ("cloud_watch_logs_group_arn", "cloud_watch_logs_role_arn")  # AWS sets (or clears) them together
_NARROWING = {
    "is_multi_region_trail": "trail-narrowed-to-one-region",
    "include_global_service_events": "trail-global-service-events-excluded",
    "enable_log_file_validation": "log-file-validation-disabled",
    "is_organization_trail": "trail-no-longer-organization-wide",
}
_SELECTORS = ("event_selector", "advanced_event_selector")
_ADVANCED_OPS = ("equals", "starts_with", "ends_with", "not_equals", "not_starts_with", "not_ends_with")


def trail_name(value: str) -> str:
    """``arn:aws:cloudtrail:...:trail/<name>`` → ``<name>``; a name stays as it is."""
    if value.startswith("arn:") and ":trail/" in value:
        return value.rsplit(":trail/", 1)[1]
    return value


def trail_event(source: str, name: str, ids: str, kind: EventKind = EventKind.MODIFY, **kw: Any) -> EventSpec:
    """An event whose ids are trail names or ARNs, normalized to names (the index key)."""
    return EventSpec(source, name, ids, kind, transform=lambda value, _record: trail_name(value), **kw)


# --- event selectors -----------------------------------------------------------------------------
_API_OPS = {op: "".join(p.capitalize() for p in op.split("_")) for op in _ADVANCED_OPS}  # equals -> Equals


def _basic(rw: Any, include: Any, data: Iterable[Mapping[str, Any]], excludes: Any) -> dict[str, Any]:
    resources = [{"type": str(d["type"]), "values": sorted(str(v) for v in d.get("values") or [])}
                 for d in data]
    return {
        "read_write_type": str(rw or "All"),
        "include_management_events": include is not False,
        "data_resource": sorted(resources, key=atom),
        "exclude_management_event_sources": sorted(str(e) for e in excludes or []),
    }


_DEFAULT_SELECTOR = _basic("All", True, [], [])


def _basic_set(selectors: list[dict[str, Any]]) -> frozenset[str]:
    """The provider's rule: AWS's default selector alone is the same as no selector."""
    if selectors == [_DEFAULT_SELECTOR]:
        return frozenset()
    return frozenset(atom(s) for s in selectors)


def state_event_selectors(blocks: Iterable[Mapping[str, Any]] | None) -> frozenset[str]:
    return _basic_set([_basic(b.get("read_write_type"), b.get("include_management_events"),
                              b.get("data_resource") or [], b.get("exclude_management_event_sources"))
                       for b in blocks or []])


def api_event_selectors(selectors: Iterable[Mapping[str, Any]] | None) -> frozenset[str]:
    out = []
    for s in selectors or []:
        data = [{"type": d.get("Type"), "values": d.get("Values")} for d in s.get("DataResources") or []]
        out.append(_basic(s.get("ReadWriteType"), s.get("IncludeManagementEvents"), data,
                          s.get("ExcludeManagementEventSources")))
    return _basic_set(out)


def _advanced(name: Any, fields: list[dict[str, Any]]) -> str:
    return atom({"name": str(name or ""), "field_selector": sorted(fields, key=atom)})


def state_advanced_selectors(blocks: Iterable[Mapping[str, Any]] | None) -> frozenset[str]:
    out = set()
    for b in blocks or []:
        fields = [{"field": str(f.get("field")), **{op: sorted(str(v) for v in f.get(op) or [])
                                                     for op in _ADVANCED_OPS}}
                  for f in b.get("field_selector") or []]
        out.add(_advanced(b.get("name"), fields))
    return frozenset(out)


def api_advanced_selectors(selectors: Iterable[Mapping[str, Any]] | None) -> frozenset[str]:
    out = set()
    for s in selectors or []:
        fields = [{"field": str(f.get("Field")), **{op: sorted(str(v) for v in f.get(api) or [])
                                                     for op, api in _API_OPS.items()}}
                  for f in s.get("FieldSelectors") or []]
        out.add(_advanced(s.get("Name"), fields))
    return frozenset(out)


def records_management_writes(basic: frozenset[str], advanced: frozenset[str]) -> bool:
    """Does the trail record management *write* events (what every drift detection needs)?"""
    if advanced:
        for sel in map(decode_atom, advanced):
            fields = {f["field"]: f for f in sel["field_selector"]}
            category = fields.get("eventCategory") or {"equals": []}
            reads_only = (fields.get("readOnly") or {}).get("equals") == ["true"]
            if "Management" in category["equals"] and not reads_only:
                return True
        return False
    if not basic:
        return True  # AWS's default: all management events
    return any(s["include_management_events"] and s["read_write_type"] in ("All", "WriteOnly")
               for s in map(decode_atom, basic))


def _selector_params(declared: Mapping[str, Any]) -> dict[str, Any]:
    """``PutEventSelectors`` arguments restoring the declared selectors (AWS's default when none)."""
    advanced = [decode_atom(a) for a in sorted(declared.get("advanced_event_selector") or ())]
    if advanced:
        out = []
        for s in advanced:
            fields = [{"Field": f["field"], **{api: f[op] for op, api in _API_OPS.items() if f[op]}}
                      for f in s["field_selector"]]
            out.append({**({"Name": s["name"]} if s["name"] else {}), "FieldSelectors": fields})
        return {"AdvancedEventSelectors": out}
    basic = [decode_atom(a) for a in sorted(declared.get("event_selector") or ())] or [_DEFAULT_SELECTOR]
    return {"EventSelectors": [
        {"ReadWriteType": s["read_write_type"], "IncludeManagementEvents": s["include_management_events"],
         "DataResources": [{"Type": d["type"], "Values": d["values"]} for d in s["data_resource"]],
         "ExcludeManagementEventSources": s["exclude_management_event_sources"]} for s in basic]}


@register
class AwsCloudtrail(ResourcePlugin):
    type = "aws_cloudtrail"
    deleted_severity = Severity.CRITICAL
    service = "cloudtrail"
    object_kind = KIND
    events = (
        trail_event(CLOUDTRAIL, "StopLogging", _NAME),
        trail_event(CLOUDTRAIL, "StartLogging", _NAME),
        trail_event(CLOUDTRAIL, "UpdateTrail", _NAME),
        trail_event(CLOUDTRAIL, "PutEventSelectors", _TRAIL_NAME),
        trail_event(CLOUDTRAIL, "PutInsightSelectors", _TRAIL_NAME),
        trail_event(CLOUDTRAIL, "AddTags", "requestParameters.resourceId"),
        trail_event(CLOUDTRAIL, "RemoveTags", "requestParameters.resourceId"),
        trail_event(CLOUDTRAIL, "DeleteTrail", _NAME, EventKind.DELETE),
        trail_event(CLOUDTRAIL, "CreateTrail", f"responseElements.name || {_NAME}", EventKind.CREATE),
    )
    compared = {
        "enable_logging": Severity.CRITICAL,
        "is_multi_region_trail": Severity.HIGH,
        "include_global_service_events": Severity.HIGH,
        "enable_log_file_validation": Severity.HIGH,
        "is_organization_trail": Severity.HIGH,
        "s3_bucket_name": Severity.CRITICAL,
        "s3_key_prefix": Severity.MEDIUM,
        "sns_topic_name": Severity.LOW,
        "kms_key_id": Severity.HIGH,
        "cloud_watch_logs_group_arn": Severity.HIGH,
        "cloud_watch_logs_role_arn": Severity.HIGH,
        "event_selector": Severity.HIGH,
        "advanced_event_selector": Severity.HIGH,
        "insight_selector": Severity.MEDIUM,
        "tags": Severity.LOW,
    }
    read_permissions = ("cloudtrail:GetTrail", "cloudtrail:GetTrailStatus", "cloudtrail:GetEventSelectors",
                        "cloudtrail:GetInsightSelectors", "cloudtrail:ListTags")
    revert_permissions = ("cloudtrail:StartLogging", "cloudtrail:UpdateTrail",
                          "cloudtrail:PutEventSelectors", "cloudtrail:PutInsightSelectors",
                          "cloudtrail:AddTags", "cloudtrail:RemoveTags")
    gone_codes = frozenset({"TrailNotFoundException"})

    def object_id(self, attrs: Mapping[str, Any]) -> str | None:
        value = attrs.get("name") or attrs.get("arn") or attrs.get("id")
        return trail_name(str(value)) if value else None

    # --- declared -------------------------------------------------------------------------------
    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        a = resource.attributes
        m = declared.model
        m["enable_logging"] = a.get("enable_logging") is not False
        for attr in BOOLEANS:
            if a.get(attr) is not None:
                m[attr] = bool(a[attr])
        for attr in STRINGS:
            m[attr] = str(a[attr]) if a.get(attr) else None
        m["event_selector"] = state_event_selectors(a.get("event_selector"))
        m["advanced_event_selector"] = state_advanced_selectors(a.get("advanced_event_selector"))
        m["insight_selector"] = frozenset(atom({"insight_type": str(b.get("insight_type"))})
                                          for b in a.get("insight_selector") or [])
        m["tags"] = tags_from_state(a)

    # --- live -----------------------------------------------------------------------------------
    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        try:
            trail = self.call(ctx, "get_trail", Name=object_id)["Trail"]
            status = self.call(ctx, "get_trail_status", Name=object_id)
            selectors = self.call(ctx, "get_event_selectors", TrailName=object_id)
            arn = trail.get("TrailARN")
            tag_lists = (self.call(ctx, "list_tags", ResourceIdList=[arn]).get("ResourceTagList")
                         if arn else [])
        except Gone:
            return None
        try:  # a trail without Insights answers InsightNotEnabledException
            insights = call_aws(ctx.client("cloudtrail"), "get_insight_selectors", _NO_INSIGHTS,
                                TrailName=object_id).get("InsightSelectors")
        except Gone:
            insights = []
        live: dict[str, Any] = {"enable_logging": bool(status.get("IsLogging")), "_arn": arn}
        for attr, (field, _) in BOOLEANS.items():
            live[attr] = bool(trail.get(field))
        for attr, (field, _) in STRINGS.items():
            live[attr] = trail.get(field) or None
        live["event_selector"] = api_event_selectors(selectors.get("EventSelectors"))
        live["advanced_event_selector"] = api_advanced_selectors(selectors.get("AdvancedEventSelectors"))
        live["insight_selector"] = frozenset(atom({"insight_type": str(i.get("InsightType"))})
                                             for i in insights or [])
        tags = next((t.get("TagsList") for t in tag_lists or [] if t.get("ResourceId") == arn), None)
        live["tags"] = {k: v for k, v in tags_from_aws(tags).items() if not k.startswith("aws:")}
        return live

    # --- judgment -------------------------------------------------------------------------------
    def diff(self, declared: Declared, live: Mapping[str, Any]) -> list[Change]:
        changes = super().diff(declared, live)
        want = records_management_writes(declared.model.get("event_selector", frozenset()),
                                         declared.model.get("advanced_event_selector", frozenset()))
        have = records_management_writes(live.get("event_selector", frozenset()),
                                         live.get("advanced_event_selector", frozenset()))
        if want and not have:  # the selectors blind the trail: as bad as stopping it
            changes = [replace(c, severity=Severity.CRITICAL, rule="trail-management-events-excluded")
                       if c.path in _SELECTORS else c for c in changes]
        return changes

    def severity(self, change: RawChange) -> tuple[Severity, str]:
        attr, want, have = change.attribute, change.declared, change.live
        if attr == "enable_logging":
            return ((Severity.CRITICAL, "trail-stopped") if want and not have
                    else (Severity.LOW, "trail-started (not reverted: Driftwarden never stops a trail)"))
        if attr in _NARROWING:
            if want and not have:
                return Severity.HIGH, _NARROWING[attr]
            return Severity.LOW, f"{attr.replace('_', '-')}-widened"
        if attr == "s3_bucket_name":
            return Severity.CRITICAL, "trail-logs-redirected"
        if attr == "kms_key_id":
            return ((Severity.HIGH, "trail-encryption-removed") if want and not have
                    else (Severity.MEDIUM, "trail-kms-key-changed"))
        if attr in _CWL:
            return ((Severity.HIGH, "trail-cloudwatch-delivery-removed") if want and not have
                    else (Severity.MEDIUM, "trail-cloudwatch-delivery-changed"))
        if attr in _SELECTORS:
            return Severity.HIGH, "trail-event-selectors-changed"
        if attr == "insight_selector":
            return ((Severity.MEDIUM, "trail-insights-removed") if have is None
                    else (Severity.LOW, "trail-insights-added"))
        if attr == "tags":
            return Severity.LOW, "tags-changed"
        return super().severity(change)

    def plan_revert(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> tuple[ApiCall, ...]:
        m = declared.model
        paths = {c.path for c in changes}
        calls: list[ApiCall] = []
        if "enable_logging" in paths and m.get("enable_logging"):  # first: every second stopped is lost
            calls.append(ApiCall("cloudtrail", "StartLogging", {"Name": object_id},
                                 f"start logging on trail {object_id}"))
        update: dict[str, Any] = {}
        for attr, (_, param) in BOOLEANS.items():
            if attr in paths:
                update[param] = bool(m[attr])
        for attr, (_, param) in STRINGS.items():
            if attr in paths or (attr in _CWL and paths & set(_CWL)):
                update[param] = m.get(attr) or ""
        if update:
            summary = ", ".join(f"{k}={v if v != '' else '(none)'}" for k, v in sorted(update.items()))
            calls.append(ApiCall("cloudtrail", "UpdateTrail", {"Name": object_id, **update},
                                 f"restore {summary} on trail {object_id}"))
        if paths & set(_SELECTORS):
            calls.append(ApiCall("cloudtrail", "PutEventSelectors",
                                 {"TrailName": object_id, **_selector_params(m)},
                                 f"restore the declared event selectors of trail {object_id}"))
        if "insight_selector" in paths:
            insights = [{"InsightType": decode_atom(i)["insight_type"]}
                        for i in sorted(m["insight_selector"])]
            calls.append(ApiCall("cloudtrail", "PutInsightSelectors",
                                 {"TrailName": object_id, "InsightSelectors": insights},
                                 f"restore the declared Insights selectors of trail {object_id}"))
        calls.extend(self._tag_calls(object_id, changes, live.get("_arn")))
        return tuple(calls)

    @staticmethod
    def _tag_calls(object_id: str, changes: list[Change], arn: str | None) -> list[ApiCall]:
        if not arn:
            return []
        calls = []
        for ch in changes:
            if not ch.path.startswith("tags."):
                continue
            tag = ch.path.split(".", 1)[1]
            if ch.declared is None:
                calls.append(ApiCall("cloudtrail", "RemoveTags",
                                     {"ResourceId": arn, "TagsList": [{"Key": tag}]},
                                     f"remove tag {tag} from trail {object_id}"))
            else:
                calls.append(ApiCall("cloudtrail", "AddTags",
                                     {"ResourceId": arn, "TagsList": [{"Key": tag, "Value": ch.declared}]},
                                     f"set tag {tag}={ch.declared} on trail {object_id}"))
        return calls

