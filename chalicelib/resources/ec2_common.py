"""Shared by the EC2/VPC plugins: tag routing and revert, EC2's boolean shapes, string sets.

EC2 tags every resource kind through one pair of calls (``CreateTags``/``DeleteTags`` naming ids of
any kind), so each owner claims the events for its own id prefix and reverts its own tags the same
way. Not a plugin module (no ``aws_`` prefix): the registry does not load it by itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from chalicelib.drift.normalize import tags_from_aws
from chalicelib.models import ApiCall, Change, Severity
from chalicelib.remediation import executor
from chalicelib.resources.base import Declared, EventSpec, LiveContext, ResourcePlugin

__all__ = [
    "EC2",
    "METADATA_FIELDS",
    "TAG_REVERT_PERMISSIONS",
    "as_bool",
    "attribute_value",
    "changed_paths",
    "declared_metadata",
    "decode_set",
    "describe_by_filter",
    "executor_allows",
    "live_metadata",
    "live_tags",
    "metadata_severity",
    "restrict_metadata",
    "string_set",
    "tag_calls",
    "tag_changes",
    "tag_events",
    "wrapped",
]

EC2 = "ec2.amazonaws.com"
TAG_IDS = "requestParameters.resourcesSet.items[].resourceId"
TAG_REVERT_PERMISSIONS = ("ec2:CreateTags", "ec2:DeleteTags")


def tag_events(prefix: str) -> tuple[EventSpec, EventSpec]:
    """``CreateTags``/``DeleteTags`` restricted to ids starting with ``prefix`` (``i-``, ``vol-``...)."""
    return (EventSpec(EC2, "CreateTags", TAG_IDS, id_prefix=prefix),
            EventSpec(EC2, "DeleteTags", TAG_IDS, id_prefix=prefix))


def wrapped(operation: str, field: str, *fallbacks: str) -> str:
    """JMESPath for the newer EC2 record shape (``requestParameters.<Op>Request.<Field>``), with the
    classic lower-camel shape and any response paths as fallbacks."""
    paths = [f"requestParameters.{operation}Request.{field}", *fallbacks]
    return " || ".join(paths)


def live_tags(tags: Any) -> dict[str, str]:
    """EC2 ``Tags`` as a plain map without the AWS-reserved ``aws:`` keys (never declared)."""
    return {k: v for k, v in tags_from_aws(tags).items() if not k.startswith("aws:")}


def tag_calls(object_id: str, changes: Iterable[Change]) -> list[ApiCall]:
    """The ``CreateTags``/``DeleteTags`` calls that restore every ``tags.<key>`` change."""
    calls: list[ApiCall] = []
    for ch in changes:
        if not ch.path.startswith("tags."):
            continue
        tag = ch.path.split(".", 1)[1]
        if ch.declared is None:
            calls.append(ApiCall("ec2", "DeleteTags", {"Resources": [object_id], "Tags": [{"Key": tag}]},
                                 f"remove tag {tag} from {object_id}"))
        else:
            calls.append(ApiCall("ec2", "CreateTags",
                                 {"Resources": [object_id], "Tags": [{"Key": tag, "Value": ch.declared}]},
                                 f"set tag {tag}={ch.declared} on {object_id}"))
    return calls


def tag_changes(want: Mapping[str, str], have: Mapping[str, str]) -> list[Change]:
    """One LOW change per tag key that differs (for owners with a custom ``diff``)."""
    return [Change(f"tags.{k}", want.get(k), have.get(k), Severity.LOW, "tags-changed")
            for k in sorted(set(want) | set(have)) if want.get(k) != have.get(k)]


def describe_by_filter(plugin: ResourcePlugin, ctx: LiveContext, operation: str, filter_name: str,
                       result_key: str, id_key: str, object_ids: list[str]) -> dict[str, Mapping[str, Any]]:
    """Batched read for the scan: one paginated ``Describe*`` per 200 ids. An id filter (unlike an id
    list) tolerates ids that no longer exist: they are simply absent from the answer."""
    found: dict[str, Mapping[str, Any]] = {}
    for start in range(0, len(object_ids), 200):
        chunk = object_ids[start:start + 200]
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Filters": [{"Name": filter_name, "Values": chunk}]}
            if token:
                kwargs["NextToken"] = token
            answer = plugin.call(ctx, operation, **kwargs)
            for item in answer.get(result_key) or []:
                found[str(item[id_key])] = item
            token = answer.get("NextToken")
            if not token:
                break
    return found


def executor_allows(operation: str) -> bool:
    """Whether the executor's allow-list lets a plan remove one *entry* with ``operation``
    (``DeleteNetworkAclEntry``, ``DeleteRoute``). Until it does, plans leave such removals out and
    say so, rather than offer a call the executor would refuse."""
    return operation in executor.ATTRIBUTE_DELETES


def as_bool(value: Any, default: bool = False) -> bool:
    """State and API booleans arrive as bools, "true"/"false" strings, or not at all."""
    if value is None or value == "":
        return default
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def attribute_value(response: Mapping[str, Any], key: str, default: Any = None) -> Any:
    """``Describe*Attribute`` answers ``{"Key": {"Value": v}}``."""
    holder = response.get(key)
    if isinstance(holder, Mapping):
        return holder.get("Value", default)
    return default


def string_set(values: Iterable[Any] | None) -> frozenset[str]:
    """An unordered set of plain strings in the diff's set vocabulary (canonical JSON atoms)."""
    return frozenset(json.dumps(str(v)) for v in values or () if v not in (None, ""))


def decode_set(values: Iterable[str]) -> set[str]:
    """The plain strings of a ``string_set``."""
    return {json.loads(v) for v in values}


def changed_paths(changes: Iterable[Change]) -> set[str]:
    return {ch.path for ch in changes}


# --- instance metadata service options (aws_instance, aws_launch_template) ---------------------------
METADATA_FIELDS = {  # state key -> ModifyInstanceMetadataOptions / Describe* key
    "http_endpoint": "HttpEndpoint",
    "http_tokens": "HttpTokens",
    "http_put_response_hop_limit": "HttpPutResponseHopLimit",
    "http_protocol_ipv6": "HttpProtocolIpv6",
    "instance_metadata_tags": "InstanceMetadataTags",
}


def _metadata_value(key: str, value: Any) -> Any:
    return int(value) if key == "http_put_response_hop_limit" else str(value)


def declared_metadata(block: Mapping[str, Any]) -> dict[str, Any]:
    """A state ``metadata_options`` block; unset fields (null, "", hop limit 0) are not declared."""
    return {k: _metadata_value(k, block[k]) for k in METADATA_FIELDS if block.get(k) not in (None, "", 0)}


def live_metadata(options: Mapping[str, Any]) -> dict[str, Any]:
    """``MetadataOptions`` from DescribeInstances / a launch template version, in state vocabulary."""
    return {k: _metadata_value(k, options[api]) for k, api in METADATA_FIELDS.items()
            if options.get(api) is not None}


def restrict_metadata(declared: Declared, live: Mapping[str, Any]) -> Mapping[str, Any]:
    """Only the metadata options the state sets are compared (the rest are provider defaults)."""
    if "metadata_options" not in live:
        return live
    keys = declared.model.get("metadata_options") or {}
    return {**live, "metadata_options": {k: v for k, v in live["metadata_options"].items() if k in keys}}


def metadata_severity(key: str, want: Any, have: Any) -> tuple[Severity, str]:
    """IMDSv1 coming back (tokens no longer required) is what credential theft needs: HIGH."""
    if key == "http_tokens" and want == "required" and have != "required":
        return Severity.HIGH, "imdsv1-re-enabled"
    if key == "http_endpoint" and want == "disabled" and have == "enabled":
        return Severity.MEDIUM, "imds-endpoint-enabled"
    raised = isinstance(want, int) and isinstance(have, int) and have > want
    if key == "http_put_response_hop_limit" and raised:
        return Severity.MEDIUM, "imds-hop-limit-raised"
    if key == "instance_metadata_tags" and have == "enabled":
        return Severity.LOW, "imds-tags-exposed"
    return Severity.LOW, f"metadata-{key.replace('_', '-')}-changed"
