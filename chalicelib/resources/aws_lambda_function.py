"""aws_lambda_function: the owner of the Lambda function object (config, code, policy, URL).

The object id is the function name, or ``name:qualifier`` for an alias/version (the policy and URL
of an alias are separate objects in AWS). Events name functions by name, ARN or partial ARN;
they are all rewritten to that id. ``aws_lambda_permission`` and ``aws_lambda_function_url``
contribute the function's resource-policy statements (by ``statement_id``) and URL config.

Judgment notes:
- ``environment`` values are compared but never shown (the whole attribute is sensitive). Because
  a revert plan is stored and shown, a plan that would write secret values is never offered.
- Code is compared by ``code_sha256`` (the live ``CodeSha256``; older states only have
  ``source_code_hash``) or ``image_uri``. Driftwarden does not hold the deployment package, so code
  is reverted only for container images and for S3 packages pinned to an object version.
- On a managed function, a policy statement or a function URL nothing declares is drift (the
  stratus "backdoor Lambda" technique). Removing a hand-made URL would need
  ``DeleteFunctionUrlConfig``, which the executor does not allow: reported, not reverted.
- A role change is CRITICAL; a URL with ``AuthType NONE`` or a statement granting ``*`` without
  conditions is CRITICAL; reserved concurrency 0 (function switched off) is HIGH.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from chalicelib.drift.diff import RawChange
from chalicelib.drift.normalize import parse_policy, policy_grants_public, tags_from_state
from chalicelib.models import ApiCall, Change, Severity
from chalicelib.resources.base import Declared, EventKind, EventSpec, Gone, LiveContext, ManagedResource
from chalicelib.resources.data_common import (
    DataPlugin,
    NotRevertible,
    arn_parts,
    as_int,
    block,
    live_tags,
    mark_sensitive_roots,
    tag_edits,
)
from chalicelib.resources.registry import register

KIND = "lambda:function"
LAMBDA = "lambda.amazonaws.com"
_FN = "requestParameters.functionName"


def split_function(value: str) -> tuple[str, str]:
    """A name, ``name:qualifier``, full ARN or partial ARN (``123456789012:function:name``) →
    (name, qualifier); ``$LATEST`` is the unqualified function."""
    parts = arn_parts(value)
    if parts:
        rest = parts[5]
    elif ":function:" in value:
        rest = "function:" + value.split(":function:", 1)[1]
    else:
        rest = value
    if rest.startswith("function:"):
        rest = rest[len("function:"):]
    name, _, qualifier = rest.partition(":")
    return name, "" if qualifier in ("", "$LATEST") else qualifier


def function_id(name_or_arn: str, qualifier: Any = None) -> str:
    name, qual = split_function(name_or_arn)
    qual = str(qualifier) if qualifier not in (None, "", "$LATEST") else qual
    return f"{name}:{qual}" if qual else name


def event_function_id(value: str, record: Mapping[str, Any]) -> str | None:
    """The id an event names: ``functionName`` plus ``qualifier`` when the call has one."""
    if arn_parts(value) and ":function:" not in value:
        return None  # a layer, event-source mapping or code-signing ARN: not a function
    return function_id(value, (record.get("requestParameters") or {}).get("qualifier"))


def lambda_events(*names: str, kind: EventKind = EventKind.MODIFY,
                  ids: str = _FN) -> tuple[EventSpec, ...]:
    return tuple(EventSpec(LAMBDA, n, ids, kind, transform=event_function_id) for n in names)


# --- resource policy statements, in aws_lambda_permission's vocabulary ------------------------------
_CONDITIONS = {
    "AWS:SourceArn": "source_arn",
    "AWS:SourceAccount": "source_account",
    "lambda:EventSourceToken": "event_source_token",
    "aws:PrincipalOrgID": "principal_org_id",
    "lambda:FunctionUrlAuthType": "function_url_auth_type",
}
_PERMISSION_PARAMS = (("source_arn", "SourceArn"), ("source_account", "SourceAccount"),
                      ("event_source_token", "EventSourceToken"), ("principal_org_id", "PrincipalOrgID"),
                      ("function_url_auth_type", "FunctionUrlAuthType"))
PERMISSION_FIELDS = ("action", "principal", "source_arn", "source_account", "event_source_token",
                     "principal_org_id", "function_url_auth_type")


def _principal(value: Any) -> str:
    if isinstance(value, Mapping):
        value = value.get("Service") or value.get("AWS") or value.get("Federated") or json.dumps(value)
    if isinstance(value, list):
        value = value[0] if len(value) == 1 else json.dumps(sorted(value))
    text = str(value)
    if text.startswith("arn:") and text.endswith(":root") and ":iam::" in text:
        return text.split(":iam::", 1)[1].split(":", 1)[0]  # account root → account id, as declared
    return text


def statement_to_permission(stmt: Mapping[str, Any]) -> dict[str, Any]:
    """One live policy statement as an ``aws_lambda_permission`` (only the fields that are set)."""
    action = stmt.get("Action")
    out: dict[str, Any] = {"action": action[0] if isinstance(action, list) and len(action) == 1 else action,
                           "principal": _principal(stmt.get("Principal"))}
    for cond in (stmt.get("Condition") or {}).values():
        for key, value in (cond or {}).items():
            field = next((f for k, f in _CONDITIONS.items() if k.lower() == str(key).lower()), None)
            if field:
                out[field] = value[0] if isinstance(value, list) and len(value) == 1 else value
    if stmt.get("FunctionUrlAuthType"):  # moto's shape; AWS puts it in a condition
        out["function_url_auth_type"] = stmt["FunctionUrlAuthType"]
    if stmt.get("Effect") == "Deny":
        out["effect"] = "Deny"
    return out


def permission_from_state(attrs: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in PERMISSION_FIELDS:
        value = attrs.get(field)
        if value not in (None, ""):
            out[field] = str(value)
    return out


def is_public_permission(value: Any) -> bool:
    """Does this permission, as a policy statement, grant ``*`` without conditions?"""
    if not isinstance(value, Mapping):
        return False
    conditions = {f: value[f] for f in PERMISSION_FIELDS[2:] if value.get(f)}
    stmt: dict[str, Any] = {"Effect": value.get("effect", "Allow"), "Principal": value.get("principal"),
                            "Action": value.get("action")}
    if conditions:
        stmt["Condition"] = {"StringEquals": conditions}
    return policy_grants_public({"Statement": [stmt]})


# --- function URL config ------------------------------------------------------------------------------
def cors_from_state(cors: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not cors:
        return None
    out = {
        "allow_credentials": bool(cors.get("allow_credentials")),
        "allow_headers": sorted(cors.get("allow_headers") or []),
        "allow_methods": sorted(cors.get("allow_methods") or []),
        "allow_origins": sorted(cors.get("allow_origins") or []),
        "expose_headers": sorted(cors.get("expose_headers") or []),
        "max_age": int(cors.get("max_age") or 0),
    }
    return out


def cors_from_aws(cors: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not cors:
        return None
    return cors_from_state({
        "allow_credentials": cors.get("AllowCredentials"), "allow_headers": cors.get("AllowHeaders"),
        "allow_methods": cors.get("AllowMethods"), "allow_origins": cors.get("AllowOrigins"),
        "expose_headers": cors.get("ExposeHeaders"), "max_age": cors.get("MaxAge")})


def cors_to_aws(cors: Mapping[str, Any] | None) -> dict[str, Any]:
    if not cors:
        return {}
    return {"AllowCredentials": cors["allow_credentials"], "AllowHeaders": cors["allow_headers"],
            "AllowMethods": cors["allow_methods"], "AllowOrigins": cors["allow_origins"],
            "ExposeHeaders": cors["expose_headers"], "MaxAge": cors["max_age"]}


# --- severity rules ------------------------------------------------------------------------------------
def _concurrency(ch: RawChange) -> tuple[Severity, str] | None:
    return (Severity.HIGH, "lambda-function-throttled-to-zero") if ch.live == 0 else None


def _permissions(ch: RawChange) -> tuple[Severity, str] | None:
    if is_public_permission(ch.live):
        return Severity.CRITICAL, "lambda-policy-grants-public"
    if ch.live is None:
        return Severity.MEDIUM, "lambda-permission-removed"
    if ch.declared is None:
        return Severity.HIGH, "lambda-permission-added"
    return Severity.HIGH, "lambda-permission-changed"


def _url(ch: RawChange) -> tuple[Severity, str] | None:
    if ch.path == "function_url" and isinstance(ch.live, Mapping):  # a URL nothing declares
        if ch.live.get("authorization_type") == "NONE":
            return Severity.CRITICAL, "lambda-function-url-public"
        return Severity.HIGH, "lambda-function-url-added"
    if ch.live is None:
        return Severity.MEDIUM, "lambda-function-url-removed"
    if ch.path.endswith(".authorization_type"):
        if ch.live == "NONE":
            return Severity.CRITICAL, "lambda-function-url-public"
        return Severity.HIGH, "lambda-function-url-auth-changed"
    return Severity.MEDIUM, "lambda-function-url-changed"


_CONFIG = {  # Terraform attribute → UpdateFunctionConfiguration parameter
    "timeout": "Timeout",
    "memory_size": "MemorySize",
    "role": "Role",
    "handler": "Handler",
    "runtime": "Runtime",
    "description": "Description",
    "kms_key_arn": "KMSKeyArn",
    "layers": "Layers",
}


@register
class AwsLambdaFunction(DataPlugin):
    type = "aws_lambda_function"
    service = "lambda"
    object_kind = KIND
    id_attribute = "function_name"
    events = (
        *lambda_events("UpdateFunctionConfiguration", "UpdateFunctionCode", "PutFunctionConcurrency",
                       "DeleteFunctionConcurrency"),
        *lambda_events("DeleteFunction", kind=EventKind.DELETE),
        *lambda_events("CreateFunction", kind=EventKind.CREATE,
                       ids=f"responseElements.functionName || {_FN}"),
        *lambda_events("PublishVersion", kind=EventKind.NOOP),
        EventSpec(LAMBDA, "TagResource", "requestParameters.resource", id_prefix="arn:",
                        transform=event_function_id),
        EventSpec(LAMBDA, "UntagResource", "requestParameters.resource", id_prefix="arn:",
                        transform=event_function_id),
    )
    compared = {
        "role": Severity.CRITICAL,
        "handler": Severity.HIGH,
        "runtime": Severity.MEDIUM,
        "timeout": Severity.MEDIUM,
        "memory_size": Severity.MEDIUM,
        "layers": Severity.HIGH,
        "vpc_config": Severity.MEDIUM,
        "environment": Severity.MEDIUM,
        "kms_key_arn": Severity.HIGH,
        "source_code_hash": Severity.HIGH,
        "image_uri": Severity.HIGH,
        "reserved_concurrent_executions": Severity.MEDIUM,
        "description": Severity.LOW,
        "tags": Severity.LOW,
        "permissions": Severity.HIGH,
        "function_url": Severity.HIGH,
    }
    rules = {"reserved_concurrent_executions": _concurrency, "permissions": _permissions,
             "function_url": _url}
    read_permissions = ("lambda:GetFunction", "lambda:ListTags", "lambda:GetFunctionConcurrency",
                        "lambda:GetPolicy", "lambda:GetFunctionUrlConfig")
    revert_permissions = (
        "lambda:UpdateFunctionConfiguration",
        "lambda:UpdateFunctionCode",
        "lambda:PutFunctionConcurrency",
        "lambda:DeleteFunctionConcurrency",
        "lambda:TagResource",
        "lambda:UntagResource",
        "lambda:AddPermission",
        "lambda:RemovePermission",
        "lambda:CreateFunctionUrlConfig",
        "lambda:UpdateFunctionUrlConfig",
        "iam:PassRole",
    )
    gone_codes = frozenset({"ResourceNotFoundException"})

    def object_id(self, attrs: Mapping[str, Any]) -> str | None:
        name = attrs.get("function_name") or attrs.get("id")
        return function_id(str(name)) if name else None

    def declare(self, resource: ManagedResource, declared: Declared) -> None:
        attrs, model = resource.attributes, declared.model
        for key in ("timeout", "memory_size"):
            if as_int(attrs.get(key)) is not None:
                model[key] = as_int(attrs.get(key))
        for key in ("role", "handler", "runtime"):
            if attrs.get(key):
                model[key] = str(attrs[key])
        model["description"] = str(attrs.get("description") or "")
        model["kms_key_arn"] = str(attrs.get("kms_key_arn") or "")
        model["layers"] = list(attrs.get("layers") or [])
        vpc = block(attrs, "vpc_config") or {}
        model["vpc_config.subnet_ids"] = sorted(vpc.get("subnet_ids") or [])
        model["vpc_config.security_group_ids"] = sorted(vpc.get("security_group_ids") or [])
        env = block(attrs, "environment") or {}
        model["environment"] = {str(k): str(v) for k, v in (env.get("variables") or {}).items()}
        declared.sensitive.add("environment")
        if str(attrs.get("package_type") or "Zip") == "Image" or attrs.get("image_uri"):
            model["image_uri"] = str(attrs.get("image_uri"))
        elif attrs.get("code_sha256") or attrs.get("source_code_hash"):
            model["source_code_hash"] = str(attrs.get("code_sha256") or attrs.get("source_code_hash"))
        if attrs.get("s3_bucket") and attrs.get("s3_key") and attrs.get("s3_object_version"):
            model["_s3_code"] = {"S3Bucket": attrs["s3_bucket"], "S3Key": attrs["s3_key"],
                                 "S3ObjectVersion": attrs["s3_object_version"]}
        rce = as_int(attrs.get("reserved_concurrent_executions"))
        model["reserved_concurrent_executions"] = -1 if rce is None else rce
        model["tags"] = tags_from_state(attrs)
        model.setdefault("permissions", {})
        model.setdefault("function_url", None)
        mark_sensitive_roots(resource, declared)

    # --- live ------------------------------------------------------------------------------------
    def read_live(self, ctx: LiveContext, object_id: str) -> dict[str, Any] | None:
        name, _, qualifier = object_id.partition(":")
        where: dict[str, Any] = {"FunctionName": name, **({"Qualifier": qualifier} if qualifier else {})}
        try:
            fn = self.call(ctx, "get_function", **where)
            # GetFunction omits a reserved concurrency of 0 in some implementations: ask directly
            conc = None if qualifier else self.call(ctx, "get_function_concurrency", FunctionName=name)
        except Gone:
            return None
        model = {} if qualifier else self.config_model(fn, (conc or {}).get("ReservedConcurrentExecutions"))
        model["permissions"] = self._permissions(ctx, where)
        model["function_url"] = self._url(ctx, where)
        return model

    @staticmethod
    def config_model(fn: Mapping[str, Any], conc: int | None) -> dict[str, Any]:
        cfg = fn.get("Configuration") or {}
        vpc = cfg.get("VpcConfig") or {}
        return {
            "timeout": cfg.get("Timeout"),
            "memory_size": cfg.get("MemorySize"),
            "role": cfg.get("Role"),
            "handler": cfg.get("Handler") or "",
            "runtime": cfg.get("Runtime") or "",
            "description": cfg.get("Description") or "",
            "kms_key_arn": cfg.get("KMSKeyArn") or "",
            "layers": [layer["Arn"] for layer in cfg.get("Layers") or []],
            "vpc_config.subnet_ids": sorted(vpc.get("SubnetIds") or []),
            "vpc_config.security_group_ids": sorted(vpc.get("SecurityGroupIds") or []),
            "environment": dict((cfg.get("Environment") or {}).get("Variables") or {}),
            "source_code_hash": cfg.get("CodeSha256"),
            "image_uri": (fn.get("Code") or {}).get("ImageUri"),
            "reserved_concurrent_executions": -1 if conc is None else conc,
            "tags": live_tags(fn.get("Tags")),
            "_arn": cfg.get("FunctionArn"),
        }

    def _permissions(self, ctx: LiveContext, where: Mapping[str, Any]) -> dict[str, Any]:
        try:
            policy = parse_policy(self.call(ctx, "get_policy", **where).get("Policy"))
        except Gone:
            return {}  # no resource policy at all
        stmts = policy.get("Statement") if isinstance(policy, Mapping) else None
        stmts = stmts if isinstance(stmts, list) else [stmts] if stmts else []
        return {str(s.get("Sid", "")): statement_to_permission(s) for s in stmts if isinstance(s, Mapping)}

    def _url(self, ctx: LiveContext, where: Mapping[str, Any]) -> dict[str, Any] | None:
        try:
            url = self.call(ctx, "get_function_url_config", **where)
        except Gone:
            return None
        return {"authorization_type": str(url.get("AuthType") or "").upper(),
                "cors": cors_from_aws(url.get("Cors")),
                "invoke_mode": str(url.get("InvokeMode") or "BUFFERED").upper()}

    # --- judgment --------------------------------------------------------------------------------
    def ignore(self, raw: RawChange, declared: Declared, live: Mapping[str, Any]) -> bool:
        if raw.attribute == "permissions" and raw.declared is None:
            return not declared.owned_by(self.type)  # only the function itself says "no other statements"
        return False

    # --- revert ----------------------------------------------------------------------------------
    def revert_calls(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> list[ApiCall]:
        name, _, qualifier = object_id.partition(":")
        qual: dict[str, Any] = {"Qualifier": qualifier} if qualifier else {}
        config: dict[str, Any] = {}
        calls: list[ApiCall] = []
        later: list[ApiCall] = []
        for ch in changes:
            path = ch.path
            if path in _CONFIG:
                config[_CONFIG[path]] = ch.declared
            elif path.startswith("vpc_config."):
                model = declared.model
                config["VpcConfig"] = {"SubnetIds": model.get("vpc_config.subnet_ids", []),
                                       "SecurityGroupIds": model.get("vpc_config.security_group_ids", [])}
            elif path == "reserved_concurrent_executions":
                later.append(self._concurrency_call(name, ch.declared))
            elif path in ("source_code_hash", "image_uri"):
                later.append(self._code_call(name, path, declared))
            elif path.startswith("permissions."):
                later += self._permission_calls(name, qual, path.split(".", 1)[1], ch)
            elif path == "function_url" or path.startswith("function_url."):
                want, have = declared.model.get("function_url"), live.get("function_url")
                later.append(self._url_call(name, qual, want, have))
            elif not path.startswith("tags."):
                raise NotRevertible(f"{path} cannot be restored by Driftwarden")
        if config:
            calls.append(ApiCall("lambda", "UpdateFunctionConfiguration", {"FunctionName": name, **config},
                                 f"restore {', '.join(sorted(config))} of function {name}"))
        calls += later
        calls += self._tag_calls(live, name, changes)
        # url/permission changes on one object can appear twice (several paths): keep one of each
        unique: list[ApiCall] = []
        for call in calls:
            if call not in unique:
                unique.append(call)
        return unique

    @staticmethod
    def _concurrency_call(name: str, declared: Any) -> ApiCall:
        if declared in (None, -1):
            return ApiCall("lambda", "DeleteFunctionConcurrency", {"FunctionName": name},
                           f"remove the reserved concurrency of function {name} (unreserved, as declared)")
        return ApiCall("lambda", "PutFunctionConcurrency",
                       {"FunctionName": name, "ReservedConcurrentExecutions": declared},
                       f"set reserved concurrency of function {name} to {declared}")

    @staticmethod
    def _code_call(name: str, path: str, declared: Declared) -> ApiCall:
        if path == "image_uri":
            uri = declared.model.get("image_uri")
            return ApiCall("lambda", "UpdateFunctionCode", {"FunctionName": name, "ImageUri": uri},
                           f"redeploy function {name} from its declared image {uri}")
        s3 = declared.model.get("_s3_code")
        if not s3:
            raise NotRevertible("the declared package is not a versioned S3 object Driftwarden can redeploy")
        return ApiCall("lambda", "UpdateFunctionCode", {"FunctionName": name, **s3},
                       f"redeploy function {name} from s3://{s3['S3Bucket']}/{s3['S3Key']} "
                       f"(version {s3['S3ObjectVersion']})")

    @staticmethod
    def _permission_calls(name: str, qual: dict[str, Any], sid: str, ch: Change) -> list[ApiCall]:
        calls: list[ApiCall] = []
        if ch.live is not None:
            where = {"FunctionName": name, "StatementId": sid, **qual}
            calls.append(ApiCall("lambda", "RemovePermission", where,
                                 f"remove statement {sid} from function {name}"))
        if ch.declared is not None:
            want = ch.declared
            params: dict[str, Any] = {"FunctionName": name, "StatementId": sid, "Action": want["action"],
                                      "Principal": want["principal"], **qual}
            for field, param in _PERMISSION_PARAMS:
                if want.get(field):
                    params[param] = want[field]
            calls.append(ApiCall("lambda", "AddPermission", params,
                                 f"add declared statement {sid} ({want['principal']}) to function {name}"))
        return calls

    @staticmethod
    def _url_call(name: str, qual: dict[str, Any], want: Any, have: Any) -> ApiCall:
        if not want:
            raise NotRevertible("removing a URL needs DeleteFunctionUrlConfig, which reverts never call")
        params = {"FunctionName": name, **qual, "AuthType": want["authorization_type"],
                  "Cors": cors_to_aws(want.get("cors")), "InvokeMode": want.get("invoke_mode") or "BUFFERED"}
        if have is None:
            return ApiCall("lambda", "CreateFunctionUrlConfig", params,
                           f"recreate the declared function URL of {name} (AWS assigns a new URL)")
        return ApiCall("lambda", "UpdateFunctionUrlConfig", params,
                       f"restore the function URL of {name} (auth {want['authorization_type']})")

    @staticmethod
    def _tag_calls(live: Mapping[str, Any], name: str, changes: list[Change]) -> list[ApiCall]:
        to_set, to_remove = tag_edits(changes)
        arn = live.get("_arn")
        if (to_set or to_remove) and not arn:
            raise NotRevertible("the live function ARN is unknown, so tags cannot be restored")
        calls = []
        if to_set:
            calls.append(ApiCall("lambda", "TagResource", {"Resource": arn, "Tags": to_set},
                                 f"set tag(s) {', '.join(sorted(to_set))} on function {name}"))
        if to_remove:
            calls.append(ApiCall("lambda", "UntagResource", {"Resource": arn, "TagKeys": to_remove},
                                 f"remove tag(s) {', '.join(to_remove)} from function {name}"))
        return calls
