"""aws_s3_bucket: the owner of the S3 bucket object (reads, compares and reverts it for the family).

The declared side is the union of this resource and every split ``aws_s3_bucket_*`` resource naming
the bucket. What counts as *declared* on the bucket resource itself:

- ``tags`` (``tags_all``, so provider ``default_tags`` are declared too), when the state records them.
- The legacy inline blocks (``versioning``, ``server_side_encryption_configuration``, ``acl``/``grant``,
  ``policy``, ``logging``, ``lifecycle_rule``) only when no split resource manages that aspect: with
  one, the inline attribute is a computed mirror and comparing it would report the change twice.
- In provider v4+ states (recognizable by ``object_lock_enabled``, absent before v4) the inline
  blocks are Optional+Computed: the state records whatever the last refresh read, including what
  AWS put there by itself. A value equal to what AWS gives every new bucket is therefore not a
  declaration: versioning ``enabled = false``, SSE-S3 (``AES256``, no key; applied to every bucket
  since January 2023), and the owner-only FULL_CONTROL grant. Anything else the state records is.
- Two absences are declared whenever the bucket itself is managed, because they are what keeps a
  bucket private: no bucket policy beyond the declared one (an added policy is drift; revert deletes
  it), and no ACL grant to AllUsers/AuthenticatedUsers beyond declared grants.

Public access blocks, ownership controls and lifecycle are compared only when declared: AWS's own
defaults for them (all four blocks on, BucketOwnerEnforced since April 2023) are never drift.
``mfa_delete`` changes are reported but not reverted: only the root user with its MFA device can
change it, so no plan is offered for a finding that contains one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.drift.normalize import decode_atom, policy_grants_public, tags_from_aws, tags_from_state
from chalicelib.models import ApiCall, Change, Severity
from chalicelib.resources import s3_common as c
from chalicelib.resources.base import Declared, EventKind, Gone, LiveContext, ManagedResource, ResourcePlugin
from chalicelib.resources.registry import register

# The split resource that takes over each legacy inline aspect.
SPLIT = {
    "policy": "aws_s3_bucket_policy",
    "versioning": "aws_s3_bucket_versioning",
    "encryption": "aws_s3_bucket_server_side_encryption_configuration",
    "acl": "aws_s3_bucket_acl",
    "logging": "aws_s3_bucket_logging",
    "lifecycle": "aws_s3_bucket_lifecycle_configuration",
}


def is_legacy_schema(attrs: Mapping[str, Any]) -> bool:
    """Provider < v4 states: inline blocks were plain arguments, so what the state holds was declared."""
    return "object_lock_enabled" not in attrs


@register
class AwsS3Bucket(ResourcePlugin):
    type = "aws_s3_bucket"
    deleted_severity = Severity.CRITICAL
    service = "s3"
    object_kind = c.KIND
    id_attribute = "bucket"
    events = (
        *c.POLICY_EVENTS,
        *c.PUBLIC_ACCESS_BLOCK_EVENTS,
        *c.VERSIONING_EVENTS,
        *c.ENCRYPTION_EVENTS,
        *c.ACL_EVENTS,
        *c.OWNERSHIP_EVENTS,
        *c.LOGGING_EVENTS,
        *c.LIFECYCLE_EVENTS,
        *c.TAGGING_EVENTS,
        c.bucket_event("CreateBucket", EventKind.CREATE),
        c.bucket_event("DeleteBucket", EventKind.DELETE),
    )
    compared = {
        c.TAGS: Severity.LOW,
        c.POLICY: Severity.HIGH,  # CRITICAL when the live policy makes the bucket public
        **{k: Severity.CRITICAL for k in c.PAB_KEYS},
        c.VERSIONING: Severity.HIGH,
        c.SSE: Severity.HIGH,
        c.GRANT: Severity.HIGH,  # CRITICAL for a grant to AllUsers / AuthenticatedUsers
        c.CANNED_ACL: Severity.HIGH,
        c.OWNERSHIP: Severity.HIGH,
        c.LOGGING: Severity.HIGH,
        c.LIFECYCLE: Severity.MEDIUM,
        c.LIFECYCLE_MIN_SIZE: Severity.MEDIUM,
    }
    read_permissions = tuple(c.IAM_READ.values())
    revert_permissions = tuple(sorted(set(c.IAM_REVERT.values())))
    gone_codes = c.BUCKET_GONE_CODES

    def object_id(self, attrs: Mapping[str, Any]) -> str | None:
        value = attrs.get("bucket") or attrs.get("id")
        return str(value) if value else None

    # --- declared side -------------------------------------------------------------------------------
    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        a = resource.attributes
        split = {r.type for r in declared.resources}
        legacy = is_legacy_schema(a)
        m = declared.model
        if "tags_all" in a or "tags" in a:  # a partial (errored) state may not record them at all
            m[c.TAGS] = tags_from_state(a)
        if SPLIT["policy"] not in split and "policy" in a:
            m[c.POLICY] = c.policy_model(a.get("policy"))
        if SPLIT["versioning"] not in split:
            versioning = c.versioning_from_inline(a.get("versioning"))
            if versioning:
                m[c.VERSIONING] = versioning
        if SPLIT["encryption"] not in split:
            sse = c.encryption_from_rules(c.first(a.get("server_side_encryption_configuration")).get("rule"))
            if sse and (legacy or not c.is_default_encryption(sse)):
                m[c.SSE] = sse
        if SPLIT["acl"] not in split:
            grants = c.grants_from_inline(a.get("grant"))
            if a.get("acl"):
                m[c.CANNED_ACL] = str(a["acl"])
            elif grants and (legacy or not c.is_default_grants(grants)):
                m[c.GRANT] = grants
        if SPLIT["logging"] not in split:
            logging = c.logging_from_inline(a.get("logging"))
            if logging:
                m[c.LOGGING] = logging
        if SPLIT["lifecycle"] not in split:
            rules = c.lifecycle_from_inline(a.get("lifecycle_rule"))
            if rules:
                m[c.LIFECYCLE] = rules

    # --- live side -------------------------------------------------------------------------------------
    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        b = {"Bucket": object_id}
        try:
            versioning = c.read_optional(ctx, "get_bucket_versioning", **b) or {}
            acl = c.read_optional(ctx, "get_bucket_acl", **b) or {}
            policy = c.read_optional(ctx, "get_bucket_policy", **b)
            pab = c.read_optional(ctx, "get_public_access_block", **b)
            encryption = c.read_optional(ctx, "get_bucket_encryption", **b)
            ownership = c.read_optional(ctx, "get_bucket_ownership_controls", **b)
            logging = c.read_optional(ctx, "get_bucket_logging", **b) or {}
            lifecycle = c.read_optional(ctx, "get_bucket_lifecycle_configuration", **b)
            tagging = c.read_optional(ctx, "get_bucket_tagging", **b)
        except Gone:
            return None
        return self.live_model(versioning=versioning, acl=acl, policy=policy, pab=pab, encryption=encryption,
                               ownership=ownership, logging=logging, lifecycle=lifecycle, tagging=tagging)

    @staticmethod
    def live_model(*, versioning: Mapping[str, Any], acl: Mapping[str, Any], policy: Mapping[str, Any] | None,
                   pab: Mapping[str, Any] | None, encryption: Mapping[str, Any] | None,
                   ownership: Mapping[str, Any] | None, logging: Mapping[str, Any],
                   lifecycle: Mapping[str, Any] | None, tagging: Mapping[str, Any] | None) -> dict[str, Any]:
        """boto3 responses (``None`` where the configuration is absent) → the bucket model."""
        block = (pab or {}).get("PublicAccessBlockConfiguration") or {}
        model: dict[str, Any] = {
            c.TAGS: {k: v for k, v in tags_from_aws((tagging or {}).get("TagSet")).items()
                     if not k.startswith("aws:")},
            c.POLICY: c.policy_model((policy or {}).get("Policy")),
            **{k: bool(block.get(api)) for k, api in c.PAB_API.items()},
            c.PAB_PRESENT: pab is not None,
            c.VERSIONING: c.versioning_from_aws(versioning),
            c.SSE: c.encryption_from_aws(encryption),
            c.GRANT: c.grants_from_aws(acl.get("Grants")),
            c.ACL_OWNER: (acl.get("Owner") or {}).get("ID"),
            c.OWNERSHIP: c.ownership_from_aws(ownership),
            c.LOGGING: c.logging_from_aws(logging),
            c.LIFECYCLE: c.lifecycle_from_aws((lifecycle or {}).get("Rules")),
            c.LIFECYCLE_MIN_SIZE: ((lifecycle or {}).get("TransitionDefaultMinimumObjectSize")
                                   or c.DEFAULT_MIN_SIZE),
        }
        return model

    # --- judgment --------------------------------------------------------------------------------------
    def diff(self, declared: Declared, live: Mapping[str, Any]) -> list[Change]:
        m = declared.model
        owner_managed = declared.owned_by(self.type)
        return [
            *_diff_policy(m, live),
            *_diff_acl(m, live, owner_managed),
            *_diff_ownership(m, live),
            *_diff_public_access_block(m, live),
            *_diff_encryption(m, live),
            *_diff_versioning(m, live),
            *_diff_logging(m, live),
            *_diff_lifecycle(m, live),
            *(_diff_tags(m, live) if owner_managed else []),
        ]

    def plan_revert(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> tuple[ApiCall, ...]:
        paths = {ch.path for ch in changes}
        if f"{c.VERSIONING}.mfa_delete" in paths:
            return ()  # MFA delete can only be changed by the root user with its MFA code
        m = declared.model
        b = {"Bucket": object_id}
        calls: list[ApiCall] = []

        def touched(prefix: str) -> bool:
            return any(p == prefix or p.startswith(prefix + ".") for p in paths)

        if touched(c.POLICY):
            if m.get(c.POLICY) is None:
                calls.append(ApiCall("s3", "DeleteBucketPolicy", dict(b),
                                     f"remove the undeclared bucket policy from {object_id}"))
            else:
                calls.append(ApiCall("s3", "PutBucketPolicy", {**b, "Policy": m[c.POLICY]},
                                     f"restore the declared bucket policy on {object_id}"))
        if touched(c.GRANT):
            calls.append(_acl_call(object_id, m, live))
        if touched(c.OWNERSHIP):
            calls.append(ApiCall("s3", "PutBucketOwnershipControls",
                                 {**b, "OwnershipControls": {"Rules": [{"ObjectOwnership": m[c.OWNERSHIP]}]}},
                                 f"set object ownership {m[c.OWNERSHIP]} on {object_id}"))
        if any(touched(k) for k in c.PAB_KEYS):
            cfg = {api: bool(m.get(k, False)) for k, api in c.PAB_API.items()}
            calls.append(ApiCall("s3", "PutPublicAccessBlock", {**b, "PublicAccessBlockConfiguration": cfg},
                                 f"restore the declared public access block on {object_id}"))
        if touched(c.SSE):
            calls.append(ApiCall("s3", "PutBucketEncryption",
                                 {**b, "ServerSideEncryptionConfiguration": c.encryption_to_aws(m[c.SSE])},
                                 f"restore {m[c.SSE]['sse_algorithm']} default encryption on {object_id}"))
        if touched(f"{c.VERSIONING}.status"):
            status = "Enabled" if m[c.VERSIONING]["status"] == "Enabled" else "Suspended"
            calls.append(ApiCall("s3", "PutBucketVersioning",
                                 {**b, "VersioningConfiguration": {"Status": status}},
                                 f"set versioning {status} on {object_id}"))
        if touched(c.LOGGING):
            calls.append(ApiCall("s3", "PutBucketLogging",
                                 {**b, "BucketLoggingStatus": c.logging_to_aws(m[c.LOGGING])},
                                 f"restore access logging to {m[c.LOGGING]['target_bucket']} on {object_id}"))
        if touched(c.LIFECYCLE) or touched(c.LIFECYCLE_MIN_SIZE):
            rules = m.get(c.LIFECYCLE, {})
            params: dict[str, Any] = {**b, "LifecycleConfiguration": {"Rules": c.lifecycle_to_aws(rules)}}
            if m.get(c.LIFECYCLE_MIN_SIZE):
                params["TransitionDefaultMinimumObjectSize"] = m[c.LIFECYCLE_MIN_SIZE]
            calls.append(ApiCall("s3", "PutBucketLifecycleConfiguration", params,
                                 f"restore the {len(rules)} declared lifecycle rule(s) on {object_id}"))
        if touched(c.TAGS):
            tags = m[c.TAGS]
            if tags:
                tag_set = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
                calls.append(ApiCall("s3", "PutBucketTagging", {**b, "Tagging": {"TagSet": tag_set}},
                                     f"restore the {len(tags)} declared tag(s) on {object_id}"))
            else:
                calls.append(ApiCall("s3", "DeleteBucketTagging", dict(b),
                                     f"remove undeclared tags from {object_id}"))
        return tuple(calls)


# --- per-aspect comparisons (each returns the changes for one configuration) --------------------------------
def _diff_policy(m: Mapping[str, Any], live: Mapping[str, Any]) -> list[Change]:
    if c.POLICY not in m:
        return []
    want, have = m[c.POLICY], live.get(c.POLICY)
    if want == have:
        return []
    if have is not None and policy_grants_public(have) and not (want and policy_grants_public(want)):
        sev, rule = Severity.CRITICAL, "bucket-policy-public"
    elif have is None:
        sev, rule = Severity.HIGH, "bucket-policy-deleted"
    elif want is None:
        sev, rule = Severity.HIGH, "bucket-policy-added"
    else:
        sev, rule = Severity.HIGH, "bucket-policy-changed"
    return [Change(c.POLICY, c.policy_display(want), c.policy_display(have), sev, rule)]


def _declared_grants(m: Mapping[str, Any], live: Mapping[str, Any]) -> frozenset[str] | None:
    if c.CANNED_ACL in m:
        return c.canned_grants(m[c.CANNED_ACL], live.get(c.ACL_OWNER))
    return m.get(c.GRANT)


def _diff_acl(m: Mapping[str, Any], live: Mapping[str, Any], owner_managed: bool) -> list[Change]:
    have: frozenset[str] = live.get(c.GRANT) or frozenset()
    want = _declared_grants(m, live)
    out: list[Change] = []
    if want is None:
        if not (owner_managed or c.CANNED_ACL in m):
            return []
        # Nothing declares the grants exactly: the bucket's declared privacy still excludes public grants.
        for text in sorted(have):
            grant = decode_atom(text)
            if c.is_public_grant(grant):
                out.append(Change(c.GRANT, None, grant, Severity.CRITICAL, "bucket-acl-public"))
        return out
    for text in sorted(have - want):
        grant = decode_atom(text)
        if c.is_public_grant(grant):
            out.append(Change(c.GRANT, None, grant, Severity.CRITICAL, "bucket-acl-public"))
        else:
            out.append(Change(c.GRANT, None, grant, Severity.HIGH, "bucket-acl-grant-added"))
    for text in sorted(want - have):
        out.append(Change(c.GRANT, decode_atom(text), None, Severity.MEDIUM, "bucket-acl-grant-removed"))
    return out


def _acl_call(bucket: str, m: Mapping[str, Any], live: Mapping[str, Any]) -> ApiCall:
    if c.CANNED_ACL in m and _declared_grants(m, live) is not None:
        return ApiCall("s3", "PutBucketAcl", {"Bucket": bucket, "ACL": m[c.CANNED_ACL]},
                       f"restore the canned ACL {m[c.CANNED_ACL]} on {bucket}")
    grants = _declared_grants(m, live)
    if grants is None:  # only the "no public grants" rule applies: keep every other live grant
        grants = frozenset(g for g in live.get(c.GRANT) or () if not c.is_public_grant(decode_atom(g)))
        summary = f"remove public ACL grants from {bucket}"
    else:
        summary = f"restore the {len(grants)} declared ACL grant(s) on {bucket}"
    policy = {"Owner": {"ID": live.get(c.ACL_OWNER)}, "Grants": c.grants_to_aws(grants)}
    return ApiCall("s3", "PutBucketAcl", {"Bucket": bucket, "AccessControlPolicy": policy}, summary)


def _diff_ownership(m: Mapping[str, Any], live: Mapping[str, Any]) -> list[Change]:
    if c.OWNERSHIP not in m or m[c.OWNERSHIP] == live.get(c.OWNERSHIP):
        return []
    if m[c.OWNERSHIP] == "BucketOwnerEnforced":
        sev, rule = Severity.HIGH, "bucket-acls-re-enabled"
    else:
        sev, rule = Severity.MEDIUM, "bucket-ownership-changed"
    return [Change(c.OWNERSHIP, m[c.OWNERSHIP], live.get(c.OWNERSHIP), sev, rule)]


def _diff_public_access_block(m: Mapping[str, Any], live: Mapping[str, Any]) -> list[Change]:
    out: list[Change] = []
    for key in c.PAB_KEYS:
        if key not in m:
            continue
        want, have = bool(m[key]), bool(live.get(key))
        if want == have:
            continue
        if want:
            rule = ("bucket-public-access-block-relaxed" if live.get(c.PAB_PRESENT)
                    else "bucket-public-access-block-removed")
            out.append(Change(key, want, have, Severity.CRITICAL, rule))
        else:
            out.append(Change(key, want, have, Severity.LOW, "bucket-public-access-block-tightened"))
    return out


def _diff_encryption(m: Mapping[str, Any], live: Mapping[str, Any]) -> list[Change]:
    want = m.get(c.SSE)
    if not want:
        return []
    have = live.get(c.SSE)
    if have is None:
        return [Change(c.SSE, dict(want), None, Severity.HIGH, "bucket-encryption-removed")]
    out: list[Change] = []
    for key in ("sse_algorithm", "kms_master_key_id", "bucket_key_enabled"):
        if key in want and want[key] != have.get(key):
            sev, rule = ((Severity.MEDIUM, "bucket-key-changed") if key == "bucket_key_enabled"
                         else (Severity.HIGH, "bucket-encryption-changed"))
            out.append(Change(f"{c.SSE}.{key}", want[key], have.get(key), sev, rule))
    return out


def _diff_versioning(m: Mapping[str, Any], live: Mapping[str, Any]) -> list[Change]:
    want = m.get(c.VERSIONING) or {}
    have = live.get(c.VERSIONING) or {}
    out: list[Change] = []
    if "status" in want and not c.versioning_status_equal(want["status"], have.get("status", "Disabled")):
        sev, rule = ((Severity.HIGH, "bucket-versioning-suspended") if want["status"] == "Enabled"
                     else (Severity.MEDIUM, "bucket-versioning-enabled"))
        out.append(Change(f"{c.VERSIONING}.status", want["status"], have.get("status"), sev, rule))
    if "mfa_delete" in want and want["mfa_delete"] != have.get("mfa_delete", "Disabled"):
        sev, rule = ((Severity.HIGH, "bucket-mfa-delete-disabled") if want["mfa_delete"] == "Enabled"
                     else (Severity.LOW, "bucket-mfa-delete-enabled"))
        path = f"{c.VERSIONING}.mfa_delete"
        out.append(Change(path, want["mfa_delete"], have.get("mfa_delete"), sev, rule))
    return out


def _diff_logging(m: Mapping[str, Any], live: Mapping[str, Any]) -> list[Change]:
    want = m.get(c.LOGGING)
    if not want:
        return []
    have = live.get(c.LOGGING)
    if have is None:
        return [Change(c.LOGGING, dict(want), None, Severity.HIGH, "bucket-logging-disabled")]
    out: list[Change] = []
    for key in sorted(want):
        if want[key] != have.get(key):
            sev, rule = ((Severity.HIGH, "bucket-logging-retargeted") if key == "target_bucket"
                         else (Severity.MEDIUM, "bucket-logging-changed"))
            out.append(Change(f"{c.LOGGING}.{key}", want[key], have.get(key), sev, rule))
    return out


def _diff_lifecycle(m: Mapping[str, Any], live: Mapping[str, Any]) -> list[Change]:
    out: list[Change] = []
    if c.LIFECYCLE in m:
        want: Mapping[str, Any] = m[c.LIFECYCLE]
        have: Mapping[str, Any] = live.get(c.LIFECYCLE) or {}
        for rid in sorted(set(want) | set(have)):
            w, h = want.get(rid), have.get(rid)
            if w == h:
                continue
            rule = ("bucket-lifecycle-rule-removed" if h is None else
                    "bucket-lifecycle-rule-added" if w is None else "bucket-lifecycle-rule-changed")
            out.append(Change(f"{c.LIFECYCLE}.{rid}", w, h, Severity.MEDIUM, rule))
    if m.get(c.LIFECYCLE_MIN_SIZE) and m[c.LIFECYCLE_MIN_SIZE] != live.get(c.LIFECYCLE_MIN_SIZE):
        out.append(Change(c.LIFECYCLE_MIN_SIZE, m[c.LIFECYCLE_MIN_SIZE], live.get(c.LIFECYCLE_MIN_SIZE),
                          Severity.MEDIUM, "bucket-lifecycle-changed"))
    return out


def _diff_tags(m: Mapping[str, Any], live: Mapping[str, Any]) -> list[Change]:
    if c.TAGS not in m:
        return []
    want, have = m[c.TAGS], live.get(c.TAGS) or {}
    return [Change(f"tags.{k}", want.get(k), have.get(k), Severity.LOW, "bucket-tags-changed")
            for k in sorted(set(want) | set(have)) if want.get(k) != have.get(k)]
