"""aws_secretsmanager_secret: a Secrets Manager secret, keyed by its full ARN (the provider's id).

Secret *values* are never read, compared or shown: no ``GetSecretValue`` (it is not even in the
read permissions), and ``PutSecretValue`` is a NOOP here. ``UpdateSecret`` is judged only on the
metadata it can change (description, KMS key); its ``SecretString`` is ignored (CloudTrail
redacts it anyway, and nothing in a finding is taken from request parameters).

Ids: CloudTrail names the secret by whatever the caller passed (name, partial or full ARN) but
answers with the full ARN (``arn``, sometimes spelled ``aRN``); that ARN is the key. A call that
names the secret only by name and carries no ARN cannot be resolved safely (names repeat across
regions) and is reported as such.

Compared: description (LOW), KMS key (HIGH: who can decrypt changed), resource policy when one is
declared (CRITICAL when it grants ``Principal: "*"`` without conditions), tags (LOW), and - from
states written by provider v3/v4, which kept rotation on this type - rotation (disabled is HIGH).
Provider v5+ declares rotation in ``aws_secretsmanager_secret_rotation``, which is not this type.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from chalicelib.drift.diff import RawChange
from chalicelib.drift.normalize import canonical_policy, policy_grants_public, tags_from_state
from chalicelib.models import ApiCall, Change, Severity
from chalicelib.resources.app_common import (
    DerivedSpec,
    as_bool,
    as_int,
    derived,
    first_block,
    live_tags,
    request,
    response,
    tag_reverts,
    text,
)
from chalicelib.resources.base import Declared, EventKind, Gone, LiveContext, ManagedResource, ResourcePlugin
from chalicelib.resources.registry import register

SM = "secretsmanager.amazonaws.com"
# A full secret ARN ends with "-" and six random characters; partial ARNs and names do not.
_FULL_ARN = re.compile(r"^arn:aws[\w-]*:secretsmanager:[\w-]+:\d{12}:secret:.+-[A-Za-z0-9]{6}$")
DEFAULT_KEY = "alias/aws/secretsmanager"


def is_full_arn(value: Any) -> bool:
    return isinstance(value, str) and bool(_FULL_ARN.match(value))


def secret_ids(found: Any, record: Mapping[str, Any]) -> list[str]:
    """The full ARN from the response (any key case), else the request's ``secretId`` if it is one."""
    resp = response(record)
    for key, value in resp.items():
        if str(key).lower() == "arn" and is_full_arn(value):
            return [str(value)]
    sid = request(record).get("secretId")
    return [str(sid)] if is_full_arn(sid) else []


def kms_key(value: Any) -> str:
    """The default key is the same key whether named, aliased or left out."""
    key = text(value)
    return "" if key == DEFAULT_KEY or key.endswith(":" + DEFAULT_KEY) else key


_IDS = "responseElements.arn || responseElements.aRN || responseElements.ARN || requestParameters.secretId"


def _spec(name: str, kind: EventKind = EventKind.MODIFY, note: str = "") -> DerivedSpec:
    return derived(SM, name, _IDS, secret_ids, kind, note, always_names=True)


@register
class AwsSecretsmanagerSecret(ResourcePlugin):
    type = "aws_secretsmanager_secret"
    service = "secretsmanager"
    object_kind = "secretsmanager:secret"
    events = (
        _spec("UpdateSecret"),
        _spec("PutResourcePolicy"),
        _spec("DeleteResourcePolicy"),
        _spec("RotateSecret"),
        _spec("CancelRotateSecret"),
        _spec("TagResource"),
        _spec("UntagResource"),
        _spec("CreateSecret", EventKind.CREATE),
        _spec("DeleteSecret", EventKind.DELETE),
        _spec("PutSecretValue", EventKind.NOOP, "secret values are never compared"),
    )
    compared = {"description": Severity.LOW, "kms_key_id": Severity.HIGH, "policy": Severity.HIGH,
                "rotation_enabled": Severity.HIGH, "rotation_lambda_arn": Severity.MEDIUM,
                "rotation_rules": Severity.MEDIUM, "tags": Severity.LOW}
    read_permissions = ("secretsmanager:DescribeSecret", "secretsmanager:GetResourcePolicy")
    revert_permissions = ("secretsmanager:UpdateSecret", "secretsmanager:PutResourcePolicy",
                          "secretsmanager:RotateSecret", "secretsmanager:TagResource",
                          "secretsmanager:UntagResource")
    gone_codes = frozenset({"ResourceNotFoundException"})

    def object_id(self, attrs: Mapping[str, Any]) -> str | None:
        arn = attrs.get("arn") or attrs.get("id")
        return text(arn) if is_full_arn(arn) else None

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        a = resource.attributes
        m = declared.model
        m["description"] = text(a.get("description"))
        m["kms_key_id"] = kms_key(a.get("kms_key_id"))
        # ``policy`` is optional+computed: "" in state only means nobody declared one.
        if a.get("policy"):
            m["policy"] = canonical_policy(a["policy"])
        if a.get("rotation_lambda_arn"):  # provider v3/v4 states only
            m["rotation_enabled"] = True
            m["rotation_lambda_arn"] = text(a["rotation_lambda_arn"])
            days = as_int(first_block(a, "rotation_rules").get("automatically_after_days"))
            if days is not None:
                m["rotation_rules.automatically_after_days"] = days
        m["tags"] = tags_from_state(a)

    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        try:
            secret = self.call(ctx, "describe_secret", SecretId=object_id)
            if secret.get("DeletedDate"):
                return None  # scheduled for deletion: gone as far as the configuration is concerned
            policy = self.call(ctx, "get_resource_policy", SecretId=object_id)
        except Gone:
            return None
        rules = secret.get("RotationRules") or {}
        return {
            "description": text(secret.get("Description")),
            "kms_key_id": kms_key(secret.get("KmsKeyId")),
            "policy": canonical_policy(policy.get("ResourcePolicy")),
            "rotation_enabled": as_bool(secret.get("RotationEnabled")),
            "rotation_lambda_arn": text(secret.get("RotationLambdaARN")),
            "rotation_rules.automatically_after_days": as_int(rules.get("AutomaticallyAfterDays")),
            "tags": live_tags(secret.get("Tags")),
        }

    def severity(self, change: RawChange) -> tuple[Severity, str]:
        attr = change.attribute
        if attr == "policy":
            if change.live and policy_grants_public(change.live):
                return Severity.CRITICAL, "policy-grants-public"
            return (Severity.MEDIUM, "resource-policy-removed") if change.live is None else (
                Severity.HIGH, "resource-policy-changed")
        if attr == "kms_key_id":
            return Severity.HIGH, "encryption-key-changed"
        if attr == "rotation_enabled" and change.declared and not change.live:
            return Severity.HIGH, "rotation-disabled"
        if attr in ("description", "tags"):
            return Severity.LOW, f"{attr}-changed"
        return Severity.MEDIUM, f"{self.type}.{attr}"

    def plan_revert(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> tuple[ApiCall, ...]:
        m = declared.model
        paths = {c.path for c in changes}
        calls: list[ApiCall] = []
        update: dict[str, Any] = {}
        if "description" in paths:
            update["Description"] = m["description"]
        if "kms_key_id" in paths:
            update["KmsKeyId"] = m["kms_key_id"] or DEFAULT_KEY
        if update:
            calls.append(ApiCall("secretsmanager", "UpdateSecret", {"SecretId": object_id, **update},
                                 f"restore {' and '.join(sorted(update))} of {object_id} "
                                 "(no secret value is sent)"))
        if "policy" in paths and m.get("policy"):
            calls.append(ApiCall("secretsmanager", "PutResourcePolicy",
                                 {"SecretId": object_id, "ResourcePolicy": m["policy"]},
                                 f"restore the declared resource policy of {object_id}"))
        if paths & {"rotation_enabled", "rotation_lambda_arn", "rotation_rules.automatically_after_days"}:
            rotate: dict[str, Any] = {"SecretId": object_id, "RotationLambdaARN": m["rotation_lambda_arn"],
                                      "RotateImmediately": False}
            days = m.get("rotation_rules.automatically_after_days")
            if days is not None:
                rotate["RotationRules"] = {"AutomaticallyAfterDays": days}
            calls.append(ApiCall("secretsmanager", "RotateSecret", rotate,
                                 f"re-enable the declared rotation of {object_id} without rotating now"))
        calls.extend(tag_reverts(changes, "secretsmanager", object_id, {"SecretId": object_id}))
        return tuple(calls)
