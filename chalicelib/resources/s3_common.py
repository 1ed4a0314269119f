"""Shared by the S3 bucket family (``aws_s3_bucket`` and its split ``aws_s3_bucket_*`` resources).

Every type in the family describes one AWS object, the bucket (kind ``s3:bucket``, id = bucket
name). This module holds what they share: the CloudTrail events, the bucket model's vocabulary
(the AWS provider's attribute names), and normalization both ways — Terraform state → model,
boto3 response → model, model → boto3 request for reverts — so "equal but spelled differently"
(a reordered policy, ``Days: 0`` vs no days, a canned ACL vs its grants) never looks like drift.

Model keys (the declared and live models share them):

- ``tags``: map; ``policy``: canonical JSON text or ``None`` (no policy);
- ``block_public_acls`` / ``block_public_policy`` / ``ignore_public_acls`` / ``restrict_public_buckets``;
- ``versioning_configuration``: ``{"status", "mfa_delete"?}``;
- ``server_side_encryption_configuration``: ``{"sse_algorithm", "kms_master_key_id", "bucket_key_enabled"?}``;
- ``grant``: frozenset of grant atoms; ``acl``: a canned ACL name (expanded against the live owner);
- ``object_ownership``; ``logging``: ``{"target_bucket", "target_prefix", ...}``;
- ``lifecycle_rule``: rule id → normalized rule; ``transition_default_minimum_object_size``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from chalicelib.drift.normalize import atom, canonical_policy, decode_atom, parse_policy, tags_from_aws
from chalicelib.resources.base import EventKind, EventSpec, Gone, LiveContext, call_aws

__all__ = [
    "BUCKET_ID",
    "KIND",
    "OWNER_TYPE",
    "S3",
]

S3 = "s3.amazonaws.com"
KIND = "s3:bucket"
OWNER_TYPE = "aws_s3_bucket"
# Every S3 bucket-level call names its bucket here (the split resources' ``bucket`` attribute).
BUCKET_ID = "requestParameters.bucketName"


def bucket_event(name: str, kind: EventKind = EventKind.MODIFY, note: str = "") -> EventSpec:
    return EventSpec(S3, name, BUCKET_ID, kind, note=note)


POLICY_EVENTS = (bucket_event("PutBucketPolicy"), bucket_event("DeleteBucketPolicy"))
PUBLIC_ACCESS_BLOCK_EVENTS = (
    bucket_event("PutBucketPublicAccessBlock", note="API PutPublicAccessBlock"),
    bucket_event("DeleteBucketPublicAccessBlock", note="API DeletePublicAccessBlock"),
)
VERSIONING_EVENTS = (bucket_event("PutBucketVersioning"),)
ENCRYPTION_EVENTS = (bucket_event("PutBucketEncryption"), bucket_event("DeleteBucketEncryption"))
ACL_EVENTS = (bucket_event("PutBucketAcl"),)
OWNERSHIP_EVENTS = (bucket_event("PutBucketOwnershipControls"), bucket_event("DeleteBucketOwnershipControls"))
LOGGING_EVENTS = (bucket_event("PutBucketLogging"),)
LIFECYCLE_EVENTS = (
    # CloudTrail records the PutBucketLifecycleConfiguration API as "PutBucketLifecycle" (the corpus
    # records carry the new API's <Filter> shape under that name); the API name is accepted as well.
    bucket_event("PutBucketLifecycle"),
    bucket_event("PutBucketLifecycleConfiguration", note="API name; CloudTrail logs PutBucketLifecycle"),
    bucket_event("DeleteBucketLifecycle"),
)
TAGGING_EVENTS = (bucket_event("PutBucketTagging"), bucket_event("DeleteBucketTagging"))

# --- IAM action names. S3's differ from its API names for several calls (PutBucketEncryption is
# authorized by s3:PutEncryptionConfiguration, GetPublicAccessBlock by s3:GetBucketPublicAccessBlock).
IAM_READ = {
    "get_bucket_policy": "s3:GetBucketPolicy",
    "get_public_access_block": "s3:GetBucketPublicAccessBlock",
    "get_bucket_versioning": "s3:GetBucketVersioning",
    "get_bucket_encryption": "s3:GetEncryptionConfiguration",
    "get_bucket_acl": "s3:GetBucketAcl",
    "get_bucket_ownership_controls": "s3:GetBucketOwnershipControls",
    "get_bucket_logging": "s3:GetBucketLogging",
    "get_bucket_lifecycle_configuration": "s3:GetLifecycleConfiguration",
    "get_bucket_tagging": "s3:GetBucketTagging",
}
IAM_REVERT = {
    "PutBucketPolicy": "s3:PutBucketPolicy",
    "DeleteBucketPolicy": "s3:DeleteBucketPolicy",
    "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "PutBucketVersioning": "s3:PutBucketVersioning",
    "PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "PutBucketAcl": "s3:PutBucketAcl",
    "PutBucketOwnershipControls": "s3:PutBucketOwnershipControls",
    "PutBucketLogging": "s3:PutBucketLogging",
    "PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "PutBucketTagging": "s3:PutBucketTagging",
    "DeleteBucketTagging": "s3:PutBucketTagging",
}

# --- model keys -------------------------------------------------------------------------------------
TAGS = "tags"
POLICY = "policy"
PAB_KEYS = ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
PAB_API = {"block_public_acls": "BlockPublicAcls", "block_public_policy": "BlockPublicPolicy",
           "ignore_public_acls": "IgnorePublicAcls", "restrict_public_buckets": "RestrictPublicBuckets"}
PAB_PRESENT = "public_access_block_present"  # live only: False when the bucket has no block at all
VERSIONING = "versioning_configuration"
SSE = "server_side_encryption_configuration"
GRANT = "grant"
CANNED_ACL = "acl"
ACL_OWNER = "acl_owner"  # live only: the bucket owner's canonical id (to expand canned ACLs)
OWNERSHIP = "object_ownership"
LOGGING = "logging"
LIFECYCLE = "lifecycle_rule"
LIFECYCLE_MIN_SIZE = "transition_default_minimum_object_size"
DEFAULT_MIN_SIZE = "all_storage_classes_128K"

# "Not found" answers that mean "this configuration is absent", not "the bucket is gone".
ABSENT_CODES = frozenset({
    "NoSuchBucketPolicy",
    "NoSuchPublicAccessBlockConfiguration",
    "ServerSideEncryptionConfigurationNotFoundError",
    "OwnershipControlsNotFoundError",
    "NoSuchLifecycleConfiguration",
    "NoSuchTagSet",
})
BUCKET_GONE_CODES = frozenset({"NoSuchBucket"})


def read_optional(ctx: LiveContext, operation: str, **params: Any) -> Any:
    """One S3 read: ``None`` when that configuration is absent; ``Gone`` when the bucket is."""
    try:
        return call_aws(ctx.client("s3"), operation, BUCKET_GONE_CODES | ABSENT_CODES, **params)
    except Gone as exc:
        if exc.args and exc.args[0] in ABSENT_CODES:
            return None
        raise


def first(value: Any) -> dict[str, Any]:
    """The single element of a Terraform ``MaxItems: 1`` block list (``{}`` when empty)."""
    if isinstance(value, list) and value and isinstance(value[0], Mapping):
        return dict(value[0])
    if isinstance(value, Mapping):
        return dict(value)
    return {}


def _int(value: Any) -> int | None:
    """Provider numbers arrive as ints, numeric strings, "" or null across schema versions."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- policy ---------------------------------------------------------------------------------------------
_ACCOUNT_ID = re.compile(r"^\d{12}$")


def _principal_arns(value: Any) -> Any:
    """S3 stores ``"AWS": "123456789012"`` as the account root ARN; compare them as equal."""
    if isinstance(value, list):
        return [_principal_arns(v) for v in value]
    if isinstance(value, str) and _ACCOUNT_ID.match(value):
        return f"arn:aws:iam::{value}:root"
    return value


def policy_model(doc: Any) -> str | None:
    """Canonical policy text (``None`` for no policy), with S3's own rewrites undone."""
    parsed = parse_policy(doc)
    if parsed is None:
        return None
    if isinstance(parsed, Mapping):
        parsed = dict(parsed)
        stmts = parsed.get("Statement")
        if isinstance(stmts, (list, Mapping)):
            fixed = []
            for stmt in stmts if isinstance(stmts, list) else [stmts]:
                if isinstance(stmt, Mapping):
                    stmt = dict(stmt)
                    for key in ("Principal", "NotPrincipal"):
                        if isinstance(stmt.get(key), Mapping):
                            stmt[key] = {k: _principal_arns(v) for k, v in stmt[key].items()}
                fixed.append(stmt)
            parsed["Statement"] = fixed
    return canonical_policy(parsed)


def policy_display(canonical: str | None) -> Any:
    """The policy as a structure, for findings (readable, not an escaped string)."""
    return parse_policy(canonical) if canonical is not None else None


# --- versioning -------------------------------------------------------------------------------------------
def versioning_from_split(attrs: Mapping[str, Any]) -> dict[str, str]:
    """``aws_s3_bucket_versioning.versioning_configuration``; ``mfa_delete: ""`` means unset."""
    cfg = first(attrs.get("versioning_configuration"))
    out: dict[str, str] = {}
    if cfg.get("status"):
        out["status"] = str(cfg["status"])
    if cfg.get("mfa_delete"):
        out["mfa_delete"] = str(cfg["mfa_delete"])
    return out


def versioning_from_inline(value: Any) -> dict[str, str]:
    """Legacy ``aws_s3_bucket.versioning``. ``enabled = false`` is also what the provider records
    for a never-versioned bucket it merely read, so only ``true`` counts as a declaration."""
    cfg = first(value)
    out: dict[str, str] = {}
    if cfg.get("enabled") is True:
        out["status"] = "Enabled"
    if cfg.get("mfa_delete") is True:
        out["mfa_delete"] = "Enabled"
    return out


def versioning_from_aws(resp: Mapping[str, Any]) -> dict[str, str]:
    return {"status": str(resp.get("Status") or "Disabled"),
            "mfa_delete": str(resp.get("MFADelete") or "Disabled")}


def versioning_status_equal(declared: str, live: str) -> bool:
    """"Disabled" (never enabled) and "Suspended" both mean "not versioning new objects"."""
    off = {"Disabled", "Suspended"}
    return declared == live or (declared in off and live in off)


# --- encryption ---------------------------------------------------------------------------------------------
def encryption_from_rules(rules: Any) -> dict[str, Any] | None:
    """State ``rule`` blocks (split resource, or inside the legacy inline block) → model."""
    rule = first(rules)
    default = first(rule.get("apply_server_side_encryption_by_default"))
    if not default.get("sse_algorithm"):
        return None
    out: dict[str, Any] = {"sse_algorithm": str(default["sse_algorithm"]),
                           "kms_master_key_id": str(default.get("kms_master_key_id") or "")}
    if isinstance(rule.get("bucket_key_enabled"), bool):
        out["bucket_key_enabled"] = rule["bucket_key_enabled"]
    return out


def encryption_from_aws(resp: Mapping[str, Any] | None) -> dict[str, Any] | None:
    rules = ((resp or {}).get("ServerSideEncryptionConfiguration") or {}).get("Rules") or []
    if not rules:
        return None
    rule = rules[0]
    default = rule.get("ApplyServerSideEncryptionByDefault") or {}
    if not default.get("SSEAlgorithm"):
        return None
    return {"sse_algorithm": str(default["SSEAlgorithm"]),
            "kms_master_key_id": str(default.get("KMSMasterKeyID") or ""),
            "bucket_key_enabled": bool(rule.get("BucketKeyEnabled", False))}


def is_default_encryption(model: Mapping[str, Any]) -> bool:
    """SSE-S3 with no key: what AWS applies to every bucket since January 2023."""
    return (model.get("sse_algorithm") == "AES256" and not model.get("kms_master_key_id")
            and not model.get("bucket_key_enabled"))


def encryption_to_aws(model: Mapping[str, Any]) -> dict[str, Any]:
    default: dict[str, Any] = {"SSEAlgorithm": model["sse_algorithm"]}
    if model.get("kms_master_key_id"):
        default["KMSMasterKeyID"] = model["kms_master_key_id"]
    rule: dict[str, Any] = {"ApplyServerSideEncryptionByDefault": default}
    if "bucket_key_enabled" in model:
        rule["BucketKeyEnabled"] = bool(model["bucket_key_enabled"])
    return {"Rules": [rule]}


# --- ACL grants ---------------------------------------------------------------------------------------------
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"
PUBLIC_GROUPS = frozenset({ALL_USERS, AUTHENTICATED_USERS})


def grant_atom(grantee_type: Any, grantee_id: Any, uri: Any, email: Any, permission: Any) -> str:
    """One (grantee, permission) pair in the provider's ``grant`` vocabulary, as a set atom."""
    out: dict[str, Any] = {"type": str(grantee_type or ""), "permission": str(permission or "")}
    if grantee_id:
        out["id"] = str(grantee_id)
    if uri:
        out["uri"] = str(uri)
    if email and not grantee_id:
        out["email_address"] = str(email)
    return atom(out)


def grants_from_inline(value: Any) -> frozenset[str]:
    """Legacy ``aws_s3_bucket.grant``: one block per grantee with a ``permissions`` set."""
    out: set[str] = set()
    for block in value or []:
        if not isinstance(block, Mapping):
            continue
        for perm in block.get("permissions") or []:
            out.add(grant_atom(block.get("type"), block.get("id"), block.get("uri"), None, perm))
    return frozenset(out)


def grants_from_acp(value: Any) -> frozenset[str]:
    """``aws_s3_bucket_acl.access_control_policy[0].grant``."""
    out: set[str] = set()
    for block in first(value).get("grant") or []:
        if not isinstance(block, Mapping):
            continue
        out.add(_state_grant(block))
    return frozenset(out)


def _state_grant(block: Mapping[str, Any]) -> str:
    """A ``{grantee = [{type, id, uri, email_address}], permission}`` block as an atom."""
    who = first(block.get("grantee"))
    return grant_atom(who.get("type"), who.get("id"), who.get("uri"), who.get("email_address"),
                      block.get("permission"))


def grants_from_aws(grants: Iterable[Mapping[str, Any]] | None) -> frozenset[str]:
    out: set[str] = set()
    for g in grants or []:
        who = g.get("Grantee") or {}
        out.add(grant_atom(who.get("Type"), who.get("ID"), who.get("URI"), who.get("EmailAddress"),
                           g.get("Permission")))
    return frozenset(out)


def is_default_grants(grants: frozenset[str]) -> bool:
    """A single canonical user with FULL_CONTROL: the owner-only ACL every new bucket has."""
    if len(grants) != 1:
        return False
    g = decode_atom(next(iter(grants)))
    return g.get("type") == "CanonicalUser" and g.get("permission") == "FULL_CONTROL"


def is_public_grant(grant: Mapping[str, Any]) -> bool:
    return grant.get("type") == "Group" and grant.get("uri") in PUBLIC_GROUPS


_CANNED: dict[str, tuple[tuple[str, str], ...]] = {
    "private": (),
    "bucket-owner-read": (),
    "bucket-owner-full-control": (),
    "public-read": ((ALL_USERS, "READ"),),
    "public-read-write": ((ALL_USERS, "READ"), (ALL_USERS, "WRITE")),
    "authenticated-read": ((AUTHENTICATED_USERS, "READ"),),
    "log-delivery-write": ((LOG_DELIVERY, "WRITE"), (LOG_DELIVERY, "READ_ACP")),
}


def canned_grants(canned: str, owner_id: str | None) -> frozenset[str] | None:
    """The grants a canned ACL produces for this owner; ``None`` for one we cannot expand."""
    if canned not in _CANNED or not owner_id:
        return None
    out = {grant_atom("CanonicalUser", owner_id, None, None, "FULL_CONTROL")}
    out.update(grant_atom("Group", None, uri, None, perm) for uri, perm in _CANNED[canned])
    return frozenset(out)


def grants_to_aws(grants: Iterable[str]) -> list[dict[str, Any]]:
    out = []
    for text in sorted(grants):
        g = decode_atom(text)
        grantee: dict[str, Any] = {"Type": g["type"]}
        if g.get("id"):
            grantee["ID"] = g["id"]
        if g.get("uri"):
            grantee["URI"] = g["uri"]
        if g.get("email_address"):
            grantee["EmailAddress"] = g["email_address"]
        out.append({"Grantee": grantee, "Permission": g["permission"]})
    return out


# --- ownership controls ------------------------------------------------------------------------------
def ownership_from_split(attrs: Mapping[str, Any]) -> str | None:
    value = first(attrs.get("rule")).get("object_ownership")
    return str(value) if value else None


def ownership_from_aws(resp: Mapping[str, Any] | None) -> str | None:
    rules = ((resp or {}).get("OwnershipControls") or {}).get("Rules") or []
    return str(rules[0]["ObjectOwnership"]) if rules and rules[0].get("ObjectOwnership") else None


# --- logging -----------------------------------------------------------------------------------------
def _key_format_from_state(value: Any) -> str | None:
    fmt = first(value)
    if not fmt:
        return None
    partitioned = first(fmt.get("partitioned_prefix"))
    if partitioned:
        return f"partitioned_prefix:{partitioned.get('partition_date_source') or 'EventTime'}"
    if isinstance(fmt.get("simple_prefix"), list) and fmt["simple_prefix"]:
        return "simple_prefix"
    return None


def _key_format_from_aws(value: Mapping[str, Any] | None) -> str | None:
    if not value:
        return None
    if "PartitionedPrefix" in value:
        source = (value["PartitionedPrefix"] or {}).get("PartitionDateSource") or "EventTime"
        return f"partitioned_prefix:{source}"
    if "SimplePrefix" in value:
        return "simple_prefix"
    return None


def _sorted_grants(atoms: frozenset[str]) -> list[dict[str, Any]]:
    return [decode_atom(a) for a in sorted(atoms)]


def logging_from_split(attrs: Mapping[str, Any]) -> dict[str, Any] | None:
    if not attrs.get("target_bucket"):
        return None
    out: dict[str, Any] = {"target_bucket": str(attrs["target_bucket"]),
                           "target_prefix": str(attrs.get("target_prefix") or "")}
    grants = frozenset(_state_grant(g) for g in attrs.get("target_grant") or [] if isinstance(g, Mapping))
    if grants:
        out["target_grant"] = _sorted_grants(grants)
    fmt = _key_format_from_state(attrs.get("target_object_key_format"))
    if fmt:
        out["target_object_key_format"] = fmt
    return out


def logging_from_inline(value: Any) -> dict[str, Any] | None:
    cfg = first(value)
    if not cfg.get("target_bucket"):
        return None
    return {"target_bucket": str(cfg["target_bucket"]), "target_prefix": str(cfg.get("target_prefix") or "")}


def logging_from_aws(resp: Mapping[str, Any]) -> dict[str, Any] | None:
    enabled = resp.get("LoggingEnabled")
    if not enabled or not enabled.get("TargetBucket"):
        return None
    out: dict[str, Any] = {"target_bucket": enabled["TargetBucket"],
                           "target_prefix": enabled.get("TargetPrefix") or ""}
    out["target_grant"] = _sorted_grants(grants_from_aws(enabled.get("TargetGrants")))
    out["target_object_key_format"] = _key_format_from_aws(enabled.get("TargetObjectKeyFormat"))
    return out


def logging_to_aws(model: Mapping[str, Any]) -> dict[str, Any]:
    enabled: dict[str, Any] = {"TargetBucket": model["target_bucket"],
                               "TargetPrefix": model.get("target_prefix") or ""}
    if model.get("target_grant"):
        enabled["TargetGrants"] = grants_to_aws(atom(g) for g in model["target_grant"])
    fmt = model.get("target_object_key_format")
    if fmt == "simple_prefix":
        enabled["TargetObjectKeyFormat"] = {"SimplePrefix": {}}
    elif isinstance(fmt, str) and fmt.startswith("partitioned_prefix:"):
        source = fmt.split(":", 1)[1]
        enabled["TargetObjectKeyFormat"] = {"PartitionedPrefix": {"PartitionDateSource": source}}
    return {"LoggingEnabled": enabled}


# --- lifecycle ---------------------------------------------------------------------------------------
def _date(value: Any) -> str | None:
    """Lifecycle dates are midnight UTC; compare the calendar date only."""
    if isinstance(value, (datetime, date)):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, str) and len(value) >= 10:
        return value[:10]
    return None


def _clean(d: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v not in (None, "", {}, [], False)}


def _filter(prefix: Any, tags: Mapping[str, Any] | None, gt: Any, lt: Any) -> dict[str, Any]:
    gt_i, lt_i = _int(gt), _int(lt)
    return _clean({"prefix": str(prefix or ""), "tags": {str(k): str(v) for k, v in (tags or {}).items()},
                   "object_size_greater_than": gt_i or None, "object_size_less_than": lt_i or None})


def _sorted(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(items, key=lambda d: json.dumps(d, sort_keys=True))


def _transition(days: Any, when: Any, storage_class: Any) -> dict[str, Any]:
    d = _date(when)
    return {"date": d, "storage_class": str(storage_class)} if d else {
        "days": _int(days) or 0, "storage_class": str(storage_class)}


def _nvt(days: Any, storage_class: Any, newer: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"noncurrent_days": _int(days) or 0, "storage_class": str(storage_class)}
    if _int(newer):
        out["newer_noncurrent_versions"] = _int(newer)
    return out


def _rule(rule_id: Any, status: Any, filt: dict[str, Any], expiration: dict[str, Any],
          transitions: list[dict[str, Any]], nve: dict[str, Any], nvts: list[dict[str, Any]],
          abort_days: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": str(rule_id or ""), "status": str(status or "Enabled"), "filter": filt}
    if expiration:
        out["expiration"] = expiration
    if transitions:
        out["transition"] = _sorted(transitions)
    if nve:
        out["noncurrent_version_expiration"] = nve
    if nvts:
        out["noncurrent_version_transition"] = _sorted(nvts)
    if abort_days:
        out["abort_incomplete_multipart_upload"] = {"days_after_initiation": abort_days}
    return out


def _keyed(rules: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for i, rule in enumerate(rules):
        out[rule["id"] or f"#{i}"] = rule
    return out


def lifecycle_from_split(rules: Any) -> dict[str, dict[str, Any]]:
    """``aws_s3_bucket_lifecycle_configuration.rule`` (SDKv2-era and framework-era states)."""
    out = []
    for r in rules or []:
        if not isinstance(r, Mapping):
            continue
        f = first(r.get("filter"))
        both = first(f.get("and"))
        tag = first(f.get("tag"))
        tags = {tag["key"]: tag.get("value", "")} if tag.get("key") else dict(both.get("tags") or {})
        filt = _filter(f.get("prefix") or both.get("prefix") or r.get("prefix"), tags,
                       _int(f.get("object_size_greater_than")) or _int(both.get("object_size_greater_than")),
                       _int(f.get("object_size_less_than")) or _int(both.get("object_size_less_than")))
        exp = first(r.get("expiration"))
        expiration = _clean({"date": _date(exp.get("date")), "days": _int(exp.get("days")) or None,
                             "expired_object_delete_marker": exp.get("expired_object_delete_marker") is True})
        transitions = [_transition(t.get("days"), t.get("date"), t.get("storage_class"))
                       for t in r.get("transition") or [] if isinstance(t, Mapping)]
        nve_raw = first(r.get("noncurrent_version_expiration"))
        nve = _clean({"noncurrent_days": _int(nve_raw.get("noncurrent_days")),
                      "newer_noncurrent_versions": _int(nve_raw.get("newer_noncurrent_versions"))})
        nvts = [_nvt(t.get("noncurrent_days"), t.get("storage_class"), t.get("newer_noncurrent_versions"))
                for t in r.get("noncurrent_version_transition") or [] if isinstance(t, Mapping)]
        abort = _int(first(r.get("abort_incomplete_multipart_upload")).get("days_after_initiation"))
        out.append(_rule(r.get("id"), r.get("status"), filt, expiration, transitions, nve, nvts, abort))
    return _keyed(out)


def lifecycle_from_inline(rules: Any) -> dict[str, dict[str, Any]]:
    """Legacy ``aws_s3_bucket.lifecycle_rule`` (``enabled``, ``prefix``/``tags``, flat day counts)."""
    out = []
    for r in rules or []:
        if not isinstance(r, Mapping):
            continue
        exp = first(r.get("expiration"))
        expiration = _clean({"date": _date(exp.get("date")), "days": _int(exp.get("days")) or None,
                             "expired_object_delete_marker": exp.get("expired_object_delete_marker") is True})
        transitions = [_transition(t.get("days"), t.get("date"), t.get("storage_class"))
                       for t in r.get("transition") or [] if isinstance(t, Mapping)]
        nve_days = _int(first(r.get("noncurrent_version_expiration")).get("days"))
        nve = {"noncurrent_days": nve_days} if nve_days else {}
        nvts = [_nvt(t.get("days"), t.get("storage_class"), None)
                for t in r.get("noncurrent_version_transition") or [] if isinstance(t, Mapping)]
        status = "Enabled" if r.get("enabled", True) else "Disabled"
        filt = _filter(r.get("prefix"), r.get("tags"), None, None)
        abort = _int(r.get("abort_incomplete_multipart_upload_days"))
        out.append(_rule(r.get("id"), status, filt, expiration, transitions, nve, nvts, abort))
    return _keyed(out)


def lifecycle_from_aws(rules: Iterable[Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    out = []
    for r in rules or []:
        f = r.get("Filter") or {}
        both = f.get("And") or {}
        tag = f.get("Tag") or {}
        tags = {tag["Key"]: tag.get("Value", "")} if tag.get("Key") else tags_from_aws(both.get("Tags"))
        filt = _filter(f.get("Prefix") or both.get("Prefix") or r.get("Prefix"), tags,
                       f.get("ObjectSizeGreaterThan") or both.get("ObjectSizeGreaterThan"),
                       f.get("ObjectSizeLessThan") or both.get("ObjectSizeLessThan"))
        exp = r.get("Expiration") or {}
        expiration = _clean({"date": _date(exp.get("Date")), "days": _int(exp.get("Days")) or None,
                             "expired_object_delete_marker": exp.get("ExpiredObjectDeleteMarker") is True})
        transitions = [_transition(t.get("Days"), t.get("Date"), t.get("StorageClass"))
                       for t in r.get("Transitions") or []]
        nve_raw = r.get("NoncurrentVersionExpiration") or {}
        nve = _clean({"noncurrent_days": _int(nve_raw.get("NoncurrentDays")),
                      "newer_noncurrent_versions": _int(nve_raw.get("NewerNoncurrentVersions"))})
        nvts = [_nvt(t.get("NoncurrentDays"), t.get("StorageClass"), t.get("NewerNoncurrentVersions"))
                for t in r.get("NoncurrentVersionTransitions") or []]
        abort = _int((r.get("AbortIncompleteMultipartUpload") or {}).get("DaysAfterInitiation"))
        out.append(_rule(r.get("ID"), r.get("Status"), filt, expiration, transitions, nve, nvts, abort))
    return _keyed(out)


def _filter_to_aws(filt: Mapping[str, Any]) -> dict[str, Any]:
    tags = filt.get("tags") or {}
    sizes = ("object_size_greater_than", "object_size_less_than")
    conditions = sum(1 for k in ("prefix", *sizes) if filt.get(k)) + len(tags)
    if conditions > 1:
        both: dict[str, Any] = {}
        if filt.get("prefix"):
            both["Prefix"] = filt["prefix"]
        if tags:
            both["Tags"] = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
        if filt.get("object_size_greater_than"):
            both["ObjectSizeGreaterThan"] = filt["object_size_greater_than"]
        if filt.get("object_size_less_than"):
            both["ObjectSizeLessThan"] = filt["object_size_less_than"]
        return {"And": both}
    if tags:
        (k, v), = tags.items()
        return {"Tag": {"Key": k, "Value": v}}
    if filt.get("object_size_greater_than"):
        return {"ObjectSizeGreaterThan": filt["object_size_greater_than"]}
    if filt.get("object_size_less_than"):
        return {"ObjectSizeLessThan": filt["object_size_less_than"]}
    return {"Prefix": filt.get("prefix") or ""}


def _when(item: Mapping[str, Any], days_key: str = "days") -> dict[str, Any]:
    if item.get("date"):
        return {"Date": f"{item['date']}T00:00:00Z"}
    return {"Days": item.get(days_key, 0)}


def lifecycle_to_aws(rules: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The declared rules as one ``PutBucketLifecycleConfiguration`` document (it replaces all rules)."""
    out = []
    for key in sorted(rules):
        r = rules[key]
        rule: dict[str, Any] = {"Status": r["status"], "Filter": _filter_to_aws(r.get("filter") or {})}
        if r.get("id"):
            rule["ID"] = r["id"]
        exp = r.get("expiration") or {}
        if exp:
            e: dict[str, Any] = {}
            if exp.get("date"):
                e["Date"] = f"{exp['date']}T00:00:00Z"
            if exp.get("days"):
                e["Days"] = exp["days"]
            if exp.get("expired_object_delete_marker"):
                e["ExpiredObjectDeleteMarker"] = True
            rule["Expiration"] = e
        if r.get("transition"):
            rule["Transitions"] = [{**_when(t), "StorageClass": t["storage_class"]} for t in r["transition"]]
        nve = r.get("noncurrent_version_expiration") or {}
        if nve:
            rule["NoncurrentVersionExpiration"] = _clean({
                "NoncurrentDays": nve.get("noncurrent_days"),
                "NewerNoncurrentVersions": nve.get("newer_noncurrent_versions")})
        if r.get("noncurrent_version_transition"):
            rule["NoncurrentVersionTransitions"] = [
                {"NoncurrentDays": t.get("noncurrent_days", 0), "StorageClass": t["storage_class"],
                 **({"NewerNoncurrentVersions": t["newer_noncurrent_versions"]}
                    if t.get("newer_noncurrent_versions") else {})}
                for t in r["noncurrent_version_transition"]]
        abort = r.get("abort_incomplete_multipart_upload") or {}
        if abort:
            rule["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": abort["days_after_initiation"]}
        out.append(rule)
    return out
