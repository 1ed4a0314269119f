"""Shared by the IAM plugins: policy canonicalization, admin detection, and the attached/inline
policy machinery that roles, users and groups have in common.

Vocabulary (the provider's, used for every IAM principal so findings read the same):
- ``managed_policy_arns``: the set of attached managed policy ARNs (``aws_iam_*_policy_attachment``);
- ``inline_policy.<name>``: one inline policy document (``aws_iam_*_policy``), canonical JSON;
- ``permissions_boundary``: the boundary policy ARN, ``None`` when there is none;
- ``tags.<key>``: one tag.

Extra live attachments and inline policies are drift only when the principal's own resource
(``aws_iam_role`` / ``aws_iam_user`` / ``aws_iam_group``) is managed: a state that manages only an
attachment says nothing about the principal's other policies.

IAM is global: the plugins set ``global_service`` and events arrive with ``awsRegion`` us-east-1.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.drift.normalize import canonical_policy, parse_policy, tags_from_aws
from chalicelib.models import ApiCall, Change, Severity
from chalicelib.remediation.executor import ATTRIBUTE_DELETES
from chalicelib.resources.base import Declared, EventSpec, Gone, LiveContext, ResourcePlugin

__all__ = [
    "ADMIN_ARNS",
    "ARNS",
    "GROUP",
    "IAM",
    "INLINE",
    "ROLE",
    "USER",
    "PrincipalApi",
    "canonical_iam_policy",
    "declare_attachment",
    "declare_inline",
    "diff_boundary",
    "diff_policies",
    "diff_scalar",
    "diff_tags",
    "is_admin_arn",
    "is_admin_document",
    "live_tags",
    "paged",
    "plan_boundary",
    "plan_policies",
    "plan_tags",
    "read_policies",
    "state_boundary",
]

IAM = "iam.amazonaws.com"
ARNS = "managed_policy_arns"
INLINE = "inline_policy"
ADMIN_ARNS = "_admin_arns"  # live-only: attached ARNs whose document grants "*" on "*" (never compared)

_ADMIN_ARN = re.compile(r"^arn:aws[\w-]*:iam::aws:policy/AdministratorAccess$")
_AWS_MANAGED = re.compile(r"^arn:aws[\w-]*:iam::aws:policy/")
_ACCOUNT_ID = re.compile(r"^\d{12}$")


# --- documents --------------------------------------------------------------------------------------
def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def canonical_iam_policy(doc: Any) -> str | None:
    """``normalize.canonical_policy`` plus IAM's own rewrite: a bare account id principal
    (``"AWS": "123456789012"``) is stored by IAM as ``arn:aws:iam::123456789012:root``. The provider
    treats the two as equal, so do we."""
    parsed = parse_policy(doc)
    if not isinstance(parsed, Mapping):
        return canonical_policy(parsed)
    parsed = copy.deepcopy(dict(parsed))
    for stmt in _as_list(parsed.get("Statement")):
        if not isinstance(stmt, dict):
            continue
        for key in ("Principal", "NotPrincipal"):
            principal = stmt.get(key)
            if isinstance(principal, Mapping) and "AWS" in principal:
                values = [f"arn:aws:iam::{v}:root" if isinstance(v, str) and _ACCOUNT_ID.match(v) else v
                          for v in _as_list(principal["AWS"])]
                stmt[key] = {**principal, "AWS": values}
    return canonical_policy(parsed)


def is_admin_document(doc: Any) -> bool:
    """True when an Allow statement grants every action (``*`` / ``*:*``) on every resource."""
    parsed = parse_policy(doc)
    if not isinstance(parsed, Mapping):
        return False
    for stmt in _as_list(parsed.get("Statement")):
        if not isinstance(stmt, Mapping) or stmt.get("Effect") != "Allow":
            continue
        actions = {str(a) for a in _as_list(stmt.get("Action"))}
        resources = {str(r) for r in _as_list(stmt.get("Resource"))}
        if actions & {"*", "*:*"} and "*" in resources:
            return True
    return False


def is_admin_arn(arn: str) -> bool:
    return bool(_ADMIN_ARN.match(arn))


# --- AWS reads ----------------------------------------------------------------------------------------
def paged(plugin: ResourcePlugin, ctx: LiveContext, operation: str, key: str, **params: Any) -> list[Any]:
    """Every item of a Marker/IsTruncated-paged IAM list call."""
    items: list[Any] = []
    while True:
        page = plugin.call(ctx, operation, **params)
        items.extend(page.get(key) or [])
        if not page.get("IsTruncated") or not page.get("Marker"):
            return items
        params["Marker"] = page["Marker"]


def default_document(plugin: ResourcePlugin, ctx: LiveContext, arn: str) -> Any:
    """The default version's document of a managed policy (``Gone`` when the policy is gone)."""
    version = plugin.call(ctx, "get_policy", PolicyArn=arn)["Policy"]["DefaultVersionId"]
    got = plugin.call(ctx, "get_policy_version", PolicyArn=arn, VersionId=version)
    return got["PolicyVersion"]["Document"]


def live_tags(tags: Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    return {k: v for k, v in tags_from_aws(tags).items() if not k.startswith("aws:")}


@dataclass(frozen=True)
class PrincipalApi:
    """The IAM API names for one principal kind (``Role``, ``User``, ``Group``)."""

    noun: str

    @property
    def param(self) -> str:
        return f"{self.noun}Name"

    @property
    def trail_key(self) -> str:
        return f"requestParameters.{self.noun.lower()}Name"

    def op(self, verb: str, suffix: str = "Policy") -> str:
        return f"{verb}{self.noun}{suffix}"

    def method(self, verb: str, suffix: str = "policy") -> str:
        return f"{verb}_{self.noun.lower()}_{suffix}"

    def policy_events(self) -> tuple[EventSpec, ...]:
        return self.attachment_events() + self.inline_events()

    def attachment_events(self) -> tuple[EventSpec, ...]:
        return tuple(EventSpec(IAM, self.op(verb), self.trail_key) for verb in ("Attach", "Detach"))

    def inline_events(self) -> tuple[EventSpec, ...]:
        return tuple(EventSpec(IAM, self.op(verb), self.trail_key) for verb in ("Put", "Delete"))

    @property
    def policy_read_permissions(self) -> tuple[str, ...]:
        n = self.noun
        return (f"iam:ListAttached{n}Policies", f"iam:List{n}Policies", f"iam:Get{n}Policy",
                "iam:GetPolicy", "iam:GetPolicyVersion")

    @property
    def policy_revert_permissions(self) -> tuple[str, ...]:
        ops = [self.op("Attach"), self.op("Detach"), self.op("Put")]
        if self.op("Delete") in ATTRIBUTE_DELETES:
            ops.append(self.op("Delete"))
        return tuple(f"iam:{op}" for op in ops)


ROLE, USER, GROUP = PrincipalApi("Role"), PrincipalApi("User"), PrincipalApi("Group")


def read_policies(plugin: ResourcePlugin, ctx: LiveContext, api: PrincipalApi, name: str) -> dict[str, Any]:
    """Attached ARNs, inline documents (canonical) and which attached ARNs are admin.

    Raises ``Gone`` when the principal itself is gone. A policy deleted between the list and the
    get is skipped (it is no longer there)."""
    who = {api.param: name}
    attached = paged(plugin, ctx, api.method("list_attached", "policies"), "AttachedPolicies", **who)
    arns = frozenset(p["PolicyArn"] for p in attached)
    inline: dict[str, str | None] = {}
    for policy_name in paged(plugin, ctx, api.method("list", "policies"), "PolicyNames", **who):
        try:
            doc = plugin.call(ctx, api.method("get"), **who, PolicyName=policy_name)["PolicyDocument"]
        except Gone:
            continue
        inline[policy_name] = canonical_iam_policy(doc)
    admin: set[str] = set()
    for arn in arns:
        if is_admin_arn(arn):
            admin.add(arn)
        elif not _AWS_MANAGED.match(arn):
            try:
                if is_admin_document(default_document(plugin, ctx, arn)):
                    admin.add(arn)
            except Gone:
                continue
    return {ARNS: arns, INLINE: inline, ADMIN_ARNS: frozenset(admin)}


# --- declared side ------------------------------------------------------------------------------------
def declare_attachment(declared: Declared, arn: Any) -> None:
    if arn:
        declared.model[ARNS] = frozenset(declared.model.get(ARNS, frozenset())) | {str(arn)}


def declare_inline(declared: Declared, name: Any, doc: Any) -> None:
    """One inline policy; the provider's empty placeholder block (``name: ""``) declares nothing."""
    if name:
        declared.model.setdefault(INLINE, {})[str(name)] = canonical_iam_policy(doc)


def state_boundary(attrs: Mapping[str, Any]) -> str | None:
    value = attrs.get("permissions_boundary")
    return str(value) if value else None


# --- diff ---------------------------------------------------------------------------------------------
def diff_policies(declared: Declared, live: Mapping[str, Any], owner_managed: bool) -> list[Change]:
    """Attachments and inline policies. Extra live ones count only when ``owner_managed``."""
    out: list[Change] = []
    admin = live.get(ADMIN_ARNS, frozenset())
    if ARNS in declared.model:
        want, have = declared.model[ARNS], live.get(ARNS, frozenset())
        if owner_managed:
            for arn in sorted(have - want):
                if arn in admin:
                    out.append(Change(ARNS, None, arn, Severity.CRITICAL, "admin-policy-attached"))
                else:
                    out.append(Change(ARNS, None, arn, Severity.HIGH, "policy-attached"))
        for arn in sorted(want - have):
            out.append(Change(ARNS, arn, None, Severity.HIGH, "policy-detached"))
    if INLINE in declared.model:
        want_docs: dict[str, Any] = declared.model[INLINE]
        have_docs: dict[str, Any] = live.get(INLINE, {})
        names = set(want_docs) | (set(have_docs) if owner_managed else set())
        for name in sorted(names):
            w, h = want_docs.get(name), have_docs.get(name)
            if name not in have_docs:
                out.append(Change(f"{INLINE}.{name}", w, None, Severity.HIGH, "inline-policy-removed"))
            elif w != h:
                if is_admin_document(h) and not is_admin_document(w):
                    sev, rule = Severity.CRITICAL, "admin-policy-attached"
                elif name not in want_docs:
                    sev, rule = Severity.HIGH, "inline-policy-added"
                else:
                    sev, rule = Severity.HIGH, "inline-policy-changed"
                out.append(Change(f"{INLINE}.{name}", w, h, sev, rule))
    return out


def diff_scalar(declared: Declared, live: Mapping[str, Any], attr: str, severity: Severity,
                rule: str) -> list[Change]:
    if attr not in declared.model or declared.model[attr] == live.get(attr):
        return []
    return [Change(attr, declared.model[attr], live.get(attr), severity, rule)]


def diff_boundary(declared: Declared, live: Mapping[str, Any]) -> list[Change]:
    """Removing a boundary lifts a ceiling on permissions (HIGH); adding one only narrows them."""
    if "permissions_boundary" not in declared.model:
        return []
    want, have = declared.model["permissions_boundary"], live.get("permissions_boundary")
    if want == have:
        return []
    if have is None:
        sev, rule = Severity.HIGH, "permissions-boundary-removed"
    elif want is None:
        sev, rule = Severity.MEDIUM, "permissions-boundary-added"
    else:
        sev, rule = Severity.HIGH, "permissions-boundary-changed"
    return [Change("permissions_boundary", want, have, sev, rule)]


def diff_tags(declared: Declared, live: Mapping[str, Any]) -> list[Change]:
    if "tags" not in declared.model:
        return []
    want, have = declared.model["tags"], live.get("tags", {})
    return [Change(f"tags.{k}", want.get(k), have.get(k), Severity.LOW, "tags-changed")
            for k in sorted(set(want) | set(have)) if want.get(k) != have.get(k)]


# --- revert plans -------------------------------------------------------------------------------------
def plan_policies(api: PrincipalApi, name: str, changes: Iterable[Change]) -> list[ApiCall] | None:
    """Calls restoring attachments and inline policies; ``None`` when one of them cannot be
    restored by an allowed call (the executor refuses a ``Delete*`` it does not list)."""
    calls: list[ApiCall] = []
    who = f"{api.noun.lower()} {name}"
    for ch in changes:
        if ch.path == ARNS:
            if ch.declared is None:
                calls.append(ApiCall("iam", api.op("Detach"), {api.param: name, "PolicyArn": ch.live},
                                     f"detach {ch.live} from {who}"))
            else:
                calls.append(ApiCall("iam", api.op("Attach"), {api.param: name, "PolicyArn": ch.declared},
                                     f"attach {ch.declared} to {who}"))
        elif ch.path.startswith(f"{INLINE}."):
            policy_name = ch.path.split(".", 1)[1]
            if ch.declared is None:
                if api.op("Delete") not in ATTRIBUTE_DELETES:
                    return None
                calls.append(ApiCall("iam", api.op("Delete"), {api.param: name, "PolicyName": policy_name},
                                     f"delete undeclared inline policy {policy_name} from {who}"))
            else:
                calls.append(ApiCall("iam", api.op("Put"), {api.param: name, "PolicyName": policy_name,
                                                            "PolicyDocument": ch.declared},
                                     f"restore inline policy {policy_name} on {who}"))
    return calls


def plan_boundary(api: PrincipalApi, name: str, changes: Iterable[Change]) -> list[ApiCall] | None:
    for ch in changes:
        if ch.path != "permissions_boundary":
            continue
        who = f"{api.noun.lower()} {name}"
        if ch.declared is None:
            op = api.op("Delete", "PermissionsBoundary")
            if op not in ATTRIBUTE_DELETES:
                return None
            return [ApiCall("iam", op, {api.param: name}, f"remove the undeclared boundary of {who}")]
        return [ApiCall("iam", api.op("Put", "PermissionsBoundary"),
                        {api.param: name, "PermissionsBoundary": ch.declared},
                        f"restore permissions boundary {ch.declared} on {who}")]
    return []


def plan_tags(noun: str, id_param: str, object_id: str, changes: Iterable[Change]) -> list[ApiCall]:
    """One ``Tag<Noun>`` for declared values and one ``Untag<Noun>`` for undeclared keys."""
    put, remove = [], []
    for ch in changes:
        if not ch.path.startswith("tags."):
            continue
        key = ch.path.split(".", 1)[1]
        if ch.declared is None:
            remove.append(key)
        else:
            put.append({"Key": key, "Value": ch.declared})
    calls = []
    if put:
        calls.append(ApiCall("iam", f"Tag{noun}", {id_param: object_id, "Tags": put},
                             f"set tag(s) {', '.join(t['Key'] for t in put)} on {noun.lower()} {object_id}"))
    if remove:
        calls.append(ApiCall("iam", f"Untag{noun}", {id_param: object_id, "TagKeys": remove},
                             f"remove tag(s) {', '.join(remove)} from {noun.lower()} {object_id}"))
    return calls
