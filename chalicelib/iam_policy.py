"""Least-privilege IAM policy documents, generated from the plugin registry (DESIGN §3, §6.5).

Two roles, kept apart:

- **detector**: reads. Every plugin's ``read_permissions`` (describe/get on covered types), plus,
  when deployment ``Resources`` are given, read access to the Terraform states and source, its own
  tables and queue, the Slack secret, and ``sts:AssumeRole`` on the member accounts' detector roles.
- **remediator**: writes. Only the ``revert_permissions`` of plugins that can revert (an owner with
  no ``not_revertible`` reason); with ``Resources``, the worker's own plumbing as well. A revert
  re-reads first (compare-and-set), so whoever holds this policy also holds the detector's reads;
  the two stay separate documents so each can be audited on its own.

``infra/generate.py`` writes the registry part into ``infra/generated/`` for Terraform; tests hold
the registry, this module and ``infra/`` to each other; ``policy_document`` is what the CLI prints.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.resources.registry import Registry
from chalicelib.state.locations import StateLocation, parse_locations
from chalicelib.state.source import parse_source_mapping

__all__ = [
    "GLOBAL_PREFIXES",
    "MANAGED_POLICY_LIMIT",
    "ROLES",
    "Resources",
    "app_statements",
    "iam_action",
    "policy_document",
    "policy_size",
    "read_actions",
    "registry_statements",
    "revert_actions",
    "split_document",
]

ROLES = ("detector", "remediator")
VERSION = "2012-10-17"
# IAM counts a managed policy's characters without whitespace; compact JSON is exactly that.
MANAGED_POLICY_LIMIT = 6144
_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9]+\*?$")

# IAM service prefixes whose API lives on one global endpoint (us-east-1 in the aws partition).
# Their statements never get an ``aws:RequestedRegion`` restriction.
GLOBAL_PREFIXES = frozenset({
    "iam", "cloudfront", "route53", "route53domains", "organizations", "globalaccelerator", "waf",
    "shield", "budgets", "ce", "health", "support", "account", "networkmanager",
})

PASS_ROLE = "iam:PassRole"
# boto3 service → the service principal a role is passed to, where it is not <service>.amazonaws.com.
_PASSED_TO = {"ecs": "ecs-tasks.amazonaws.com"}

# botocore signing name → IAM service prefix, where they differ.
_PREFIX = {"monitoring": "cloudwatch", "email": "ses"}

# API operation → IAM action, where the action is not named after the operation (S3 mostly).
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html
_ACTION_FOR_OPERATION = {
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "ListObjectVersions"): "s3:ListBucketVersions",
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "GetBucketEncryption"): "s3:GetEncryptionConfiguration",
    ("s3", "PutBucketEncryption"): "s3:PutEncryptionConfiguration",
    ("s3", "DeleteBucketEncryption"): "s3:PutEncryptionConfiguration",
    ("s3", "GetBucketLifecycle"): "s3:GetLifecycleConfiguration",
    ("s3", "GetBucketLifecycleConfiguration"): "s3:GetLifecycleConfiguration",
    ("s3", "PutBucketLifecycle"): "s3:PutLifecycleConfiguration",
    ("s3", "PutBucketLifecycleConfiguration"): "s3:PutLifecycleConfiguration",
    ("s3", "DeleteBucketLifecycle"): "s3:PutLifecycleConfiguration",
    ("s3", "GetPublicAccessBlock"): "s3:GetBucketPublicAccessBlock",
    ("s3", "PutPublicAccessBlock"): "s3:PutBucketPublicAccessBlock",
    ("s3", "DeletePublicAccessBlock"): "s3:PutBucketPublicAccessBlock",
    ("s3", "DeleteBucketTagging"): "s3:PutBucketTagging",
    ("s3", "DeleteBucketOwnershipControls"): "s3:PutBucketOwnershipControls",
    ("s3", "GetBucketReplication"): "s3:GetReplicationConfiguration",
    ("s3", "PutBucketReplication"): "s3:PutReplicationConfiguration",
    ("s3", "DeleteBucketReplication"): "s3:PutReplicationConfiguration",
    ("s3", "GetBucketCors"): "s3:GetBucketCORS",
    ("s3", "PutBucketCors"): "s3:PutBucketCORS",
    ("s3", "DeleteBucketCors"): "s3:PutBucketCORS",
    ("s3", "GetBucketNotification"): "s3:GetBucketNotification",
    ("s3", "GetBucketNotificationConfiguration"): "s3:GetBucketNotification",
    ("s3", "PutBucketNotification"): "s3:PutBucketNotification",
    ("s3", "PutBucketNotificationConfiguration"): "s3:PutBucketNotification",
    ("s3", "GetBucketAccelerateConfiguration"): "s3:GetAccelerateConfiguration",
    ("s3", "PutBucketAccelerateConfiguration"): "s3:PutAccelerateConfiguration",
    ("s3", "GetBucketAnalyticsConfiguration"): "s3:GetAnalyticsConfiguration",
    ("s3", "GetBucketInventoryConfiguration"): "s3:GetInventoryConfiguration",
    ("s3", "GetBucketMetricsConfiguration"): "s3:GetMetricsConfiguration",
    ("s3", "GetBucketIntelligentTieringConfiguration"): "s3:GetIntelligentTieringConfiguration",
    ("s3", "GetObjectLockConfiguration"): "s3:GetBucketObjectLockConfiguration",
    ("s3", "PutObjectLockConfiguration"): "s3:PutBucketObjectLockConfiguration",
    ("s3", "DeleteBucketWebsite"): "s3:DeleteBucketWebsite",
}
_VERSION_SUFFIX = re.compile(r"(\d{4}_\d{2}_\d{2}|\d{8}(v\d+)?)$")


def iam_action(signing_name: str, operation: str, http_method: str | None = None) -> str:
    """The IAM action that authorizes one API call (``model.service_model.signing_name``, ``model.name``).

    API Gateway's management API is authorized by HTTP verb (``apigateway:GET``), S3 has its own
    names for many operations, CloudFront/Lambda operation names may carry an API version suffix.
    """
    prefix = _PREFIX.get(signing_name, signing_name)
    if prefix == "apigateway" and http_method:
        return f"apigateway:{http_method.upper()}"
    name = _VERSION_SUFFIX.sub("", operation)
    return _ACTION_FOR_OPERATION.get((prefix, name), f"{prefix}:{name}")


def _check(actions: Iterable[str], owner: str) -> list[str]:
    out = sorted(set(actions))
    bad = [a for a in out if not _ACTION.match(a)]
    if bad:
        raise ValueError(f"{owner}: not IAM action names: {bad}")
    return out


def read_actions(registry: Registry) -> list[str]:
    """Every read action any plugin declares (owners read; contributors may declare reads too)."""
    return _check((a for p in registry for a in p.read_permissions), "read_permissions")


def revert_actions(registry: Registry) -> list[str]:
    """Revert actions of plugins that can revert. A type that says why it is not revertible gets
    no write permission at all, whatever it lists."""
    return _check((a for p in registry if p.revertible() for a in p.revert_permissions), "revert_permissions")


def is_global(action: str) -> bool:
    return action.split(":", 1)[0] in GLOBAL_PREFIXES


def registry_statements(role: str, registry: Registry) -> list[dict[str, Any]]:
    """The registry-derived statements of ``role``: ``Resource: *`` because describe/list calls
    rarely support resource-level permissions and the objects are whatever Terraform manages.

    Sids start with ``Regional`` or ``Global``: Terraform adds an ``aws:RequestedRegion`` condition
    to the regional ones when regions are configured."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {ROLES}")
    actions = read_actions(registry) if role == "detector" else revert_actions(registry)
    verb = "Read" if role == "detector" else "Revert"
    passes_role = PASS_ROLE in actions
    actions = [a for a in actions if a != PASS_ROLE]
    out: list[dict[str, Any]] = []
    for scope, chosen in (("Regional", [a for a in actions if not is_global(a)]),
                          ("Global", [a for a in actions if is_global(a)])):
        if chosen:
            out.append({"Sid": f"{scope}{verb}", "Effect": "Allow", "Action": chosen, "Resource": "*"})
    if passes_role:
        # Restoring a declared role (a function's execution role, ...) passes it: only to the
        # services whose plugins need that, never to anything else.
        holders = [p for p in registry if PASS_ROLE in (
            p.read_permissions if role == "detector" else p.revert_permissions if p.revertible() else ())]
        services = sorted({_PASSED_TO.get(p.service, f"{p.service}.amazonaws.com") for p in holders})
        out.append({"Sid": f"GlobalPassRole{verb}", "Effect": "Allow", "Action": [PASS_ROLE], "Resource": "*",
                    "Condition": {"StringEquals": {"iam:PassedToService": services}}})
    return out


# --- deployment resources (the part of the policy that is not the registry) -----------------------


@dataclass(frozen=True)
class Resources:
    """What one deployment's functions touch besides the covered resource types. Lists of ARNs,
    except ``state``/``source`` (``s3://`` locations) whose ARNs are derived here."""

    partition: str = "aws"
    state: tuple[StateLocation, ...] = ()
    source: tuple[StateLocation, ...] = ()  # the source prefixes of DRIFTWARDEN_SOURCE (s3:// only)
    policy: tuple[StateLocation, ...] = ()  # DRIFTWARDEN_POLICY when it is an s3:// object
    findings_table_arns: tuple[str, ...] = ()
    audit_table_arns: tuple[str, ...] = ()
    idempotency_table_arns: tuple[str, ...] = ()
    send_queue_arns: tuple[str, ...] = ()
    consume_queue_arns: tuple[str, ...] = ()
    failure_queue_arns: tuple[str, ...] = ()
    secret_arns: tuple[str, ...] = ()
    kms_key_arns: tuple[str, ...] = ()
    member_role_arns: tuple[str, ...] = ()
    log_group_arns: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str], role: str = "detector", *, partition: str = "aws",
                 account: str = "*", region: str = "*") -> Resources:
        """From a deployment's environment (the variables Terraform sets on ``role``'s functions).
        Unknown account/region become ``*`` in ARNs; the queue URL carries its own. The detector
        sends to the revert queue, the remediator (the worker) consumes it."""

        def table(name: str | None) -> tuple[str, ...]:
            return (f"arn:{partition}:dynamodb:{region}:{account}:table/{name}",) if name else ()

        def queue(url: str | None) -> tuple[str, ...]:
            m = re.match(r"^https://sqs\.([a-z0-9-]+)\.[^/]+/(\d{12})/([^/]+)$", url or "")
            return (f"arn:{partition}:sqs:{m.group(1)}:{m.group(2)}:{m.group(3)}",) if m else ()

        # The decision queue: the detector side sends, the worker consumes. Other queues (deferred
        # events): whoever judges sends.
        decisions = queue(env.get("DRIFTWARDEN_QUEUE_URL"))
        others = tuple(a for k, v in sorted(env.items()) if k.endswith("_QUEUE_URL")
                       and k != "DRIFTWARDEN_QUEUE_URL" for a in queue(v))
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; expected one of {ROLES}")
        member_role = env.get("DRIFTWARDEN_MEMBER_ROLE") or ""
        return cls(
            partition=partition,
            state=tuple(loc for loc in parse_locations(env.get("DRIFTWARDEN_STATE")) if loc.scheme == "s3"),
            source=tuple(loc for m in parse_source_mapping(env.get("DRIFTWARDEN_SOURCE"))
                         for loc in parse_locations(m.source) if loc.scheme == "s3"),
            policy=tuple(loc for loc in parse_locations(env.get("DRIFTWARDEN_POLICY") or "")
                         if loc.scheme == "s3"),
            findings_table_arns=table(env.get("DRIFTWARDEN_TABLE")),
            audit_table_arns=table(env.get("DRIFTWARDEN_AUDIT_TABLE")),
            idempotency_table_arns=table(env.get("DRIFTWARDEN_IDEMPOTENCY_TABLE")),
            send_queue_arns=(decisions if role == "detector" else ()) + others,
            consume_queue_arns=decisions if role == "remediator" else (),
            secret_arns=tuple(filter(None, [env.get("DRIFTWARDEN_SLACK_SECRET_ARN")])),
            member_role_arns=(member_role.replace("{account}", "*"),) if member_role else (),
        )


def s3_bucket_arn(partition: str, loc: StateLocation) -> str:
    return f"arn:{partition}:s3:::{loc.bucket}"


def s3_object_arns(partition: str, loc: StateLocation, workspaces: bool = True) -> list[str]:
    """The objects a location covers; for states, workspace copies (``env:/<ws>/<key>``) too."""
    suffix = "*" if loc.is_prefix else ""
    out = [f"arn:{partition}:s3:::{loc.bucket}/{loc.key}{suffix}"]
    if workspaces:
        out.append(f"arn:{partition}:s3:::{loc.bucket}/env:/*/{loc.key}{suffix}")
    return out


def s3_list_prefixes(locs: Iterable[StateLocation], workspaces: bool = True) -> list[str] | None:
    """``s3:prefix`` values a location is listed with (its own prefix; for states also ``env:/``);
    ``None`` when a location is a whole bucket (a list without a prefix carries no condition key)."""
    out: set[str] = set()
    for loc in locs:
        if loc.is_prefix and loc.key == "":
            return None
        out.add(f"{loc.key}*" if loc.is_prefix else loc.key)
        if workspaces:
            out.add("env:/*")
    return sorted(out)


# Actions of the non-registry statements, by Sid, in order. infra/iam.tf writes the same Sids and
# actions (tests/functional/test_infra.py holds them together).
APP_ACTIONS: dict[str, tuple[str, ...]] = {
    "StateList": ("s3:ListBucket",),
    "StateRead": ("s3:GetObject",),
    "SourceList": ("s3:ListBucket",),
    "SourceRead": ("s3:GetObject",),
    "PolicyRead": ("s3:GetObject",),
    "FindingsTable": ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Scan"),
    "AuditTable": ("dynamodb:PutItem", "dynamodb:Query"),  # append-only: no update, no delete
    "IdempotencyTable": ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                         "dynamodb:DeleteItem"),
    "QueueSend": ("sqs:SendMessage",),
    "QueueConsume": ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                     "sqs:GetQueueAttributes"),
    "FailureDestination": ("sqs:SendMessage",),
    "SlackSecret": ("secretsmanager:GetSecretValue",),
    "Decrypt": ("kms:Decrypt",),
    "AssumeMemberRoles": ("sts:AssumeRole",),
    "Logs": ("logs:CreateLogStream", "logs:PutLogEvents"),
}
def app_statements(role: str, res: Resources) -> list[dict[str, Any]]:
    """Statements for a deployment's own resources; a statement with nothing to grant is left out."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {ROLES}")
    p = res.partition
    state_prefixes = s3_list_prefixes(res.state)
    source_prefixes = s3_list_prefixes(res.source, workspaces=False)
    resources: dict[str, tuple[list[str], dict[str, Any] | None]] = {
        "StateList": (sorted({s3_bucket_arn(p, loc) for loc in res.state}),
                      {"StringLike": {"s3:prefix": state_prefixes}} if state_prefixes else None),
        "StateRead": (sorted({a for loc in res.state for a in s3_object_arns(p, loc)}), None),
        "SourceList": (sorted({s3_bucket_arn(p, loc) for loc in res.source}),
                       {"StringLike": {"s3:prefix": source_prefixes}} if source_prefixes else None),
        "SourceRead": (sorted({a for loc in res.source for a in s3_object_arns(p, loc, workspaces=False)}),
                       None),
        "PolicyRead": (sorted(f"arn:{p}:s3:::{loc.bucket}/{loc.key}" for loc in res.policy), None),
        "FindingsTable": (sorted(res.findings_table_arns), None),
        "AuditTable": (sorted(res.audit_table_arns), None),
        "IdempotencyTable": (sorted(res.idempotency_table_arns), None),
        "QueueSend": (sorted(res.send_queue_arns), None),
        "QueueConsume": (sorted(res.consume_queue_arns), None),
        "FailureDestination": (sorted(res.failure_queue_arns), None),
        "SlackSecret": (sorted(res.secret_arns), None),
        "Decrypt": (sorted(res.kms_key_arns), None),
        "AssumeMemberRoles": (sorted(res.member_role_arns), None),
        "Logs": (sorted(f"{arn}:*" for arn in res.log_group_arns), None),
    }
    out = []
    for sid in APP_ACTIONS:
        arns, condition = resources[sid]
        if not arns:
            continue
        stmt: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": list(APP_ACTIONS[sid]),
                                "Resource": arns}
        if condition:
            stmt["Condition"] = condition
        out.append(stmt)
    return out


def policy_document(role: str, registry: Registry, resources: Resources | None = None) -> dict[str, Any]:
    """The IAM policy document for ``role`` ("detector" or "remediator").

    Without ``resources``: the registry part only, exactly what a member account's role needs and
    what ``infra/generated/`` holds. With ``resources``: plus the deployment's own statements (what
    the central Lambda role needs)."""
    statements = registry_statements(role, registry)
    if resources is not None:
        statements += app_statements(role, resources)
    return {"Version": VERSION, "Statement": statements}


def policy_size(doc: Mapping[str, Any]) -> int:
    return len(json.dumps(doc, separators=(",", ":")))


def split_document(doc: Mapping[str, Any], limit: int = MANAGED_POLICY_LIMIT) -> list[dict[str, Any]]:
    """Split a document into several, each at most ``limit`` characters, by spreading the actions
    of its statements (same Sid, effect and resources) over as few documents as fit."""
    docs: list[dict[str, Any]] = []
    current: dict[str, Any] = {"Version": doc.get("Version", VERSION), "Statement": []}

    def close() -> None:
        nonlocal current
        if current["Statement"]:
            docs.append(current)
        current = {"Version": doc.get("Version", VERSION), "Statement": []}

    for stmt in doc.get("Statement", []):
        actions = stmt["Action"] if isinstance(stmt["Action"], list) else [stmt["Action"]]
        part: dict[str, Any] | None = None
        for action in actions:
            if part is None:
                part = {**stmt, "Action": []}
                current["Statement"].append(part)
            part["Action"].append(action)
            if policy_size(current) > limit:
                part["Action"].pop()
                if not part["Action"]:
                    current["Statement"].pop()
                if not current["Statement"]:
                    raise ValueError(f"statement {stmt.get('Sid')!r} cannot fit in {limit} characters")
                close()
                part = {**stmt, "Action": [action]}
                current["Statement"].append(part)
                if policy_size(current) > limit:
                    raise ValueError(f"statement {stmt.get('Sid')!r} cannot fit in {limit} characters")
    close()
    return docs
