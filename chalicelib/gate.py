"""``driftwarden gate PLAN.json``: stop a ``terraform apply`` that would silently undo a drift decision.

Input is the JSON form of a saved plan (``terraform plan -out=tfplan`` then ``terraform show -json
tfplan``). Findings come from the finding store (the same DynamoDB table or local directory the
responder writes). The gate blocks (exit 1) when the plan would

(a) overwrite an **open** drift (stored state ``open``, status ``drift``, nobody decided yet): the
    plan updates, replaces or deletes the attribute and its planned value is not the live value; or
(b) undo an **accepted** drift (state ``approved``, or ``approve_requested`` while the approval is
    being recorded): the plan's planned value for the attribute is not the accepted live value, so
    the acceptance was never codified. The explanation carries the codify snippet.

Mapping: a finding applies to a plan entry when the finding's address equals the entry's
``address`` (or its ``previous_address`` after a ``moved`` block) **and** the entry's object id
(from ``change.before``, via the plugin's ``object_id``) equals the finding's resource id. The
same address with another id is a different object — another workspace/account with the same
layout, or a replaced resource — and the finding is skipped, not applied. With ``state=URL`` the
caller says which state the plan is for: findings of other states are ignored, and a plan whose
matching addresses all carry other ids is refused (exit 2) as a plan for a different state.

Values are compared in the plugin's vocabulary: the plan's ``before``/``after`` objects have the
shape of state attributes, so the owner plugin's ``declare`` (plus every plan resource of the same
object kind that names the same object, e.g. separate rule resources) normalizes them exactly as
the pipeline normalized the state. Types without a plugin fall back to plain attribute lookups.

Exit codes: 0 clean (or every violation overridden and audited), 1 blocked, 2 usage or input error.
Bad input never passes as clean.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.actions.store import StoredFinding
from chalicelib.audit import AuditError, AuditLog, new_record
from chalicelib.errors import DriftwardenError
from chalicelib.models import MASK, Change, Finding, Status, value_digest
from chalicelib.notify.codify import codify
from chalicelib.resources.base import Declared, ManagedResource, ResourcePlugin
from chalicelib.resources.registry import Registry

__all__ = [
    "ACCEPTED_STATES",
    "EXIT_BLOCKED",
    "EXIT_CLEAN",
    "EXIT_ERROR",
    "PENDING_STATES",
    "GateReport",
    "Plan",
    "PlanError",
    "PlanResource",
    "Violation",
    "ci_identity_from_env",
    "evaluate",
    "load_plan",
    "parse_plan",
    "run_gate",
]

EXIT_CLEAN, EXIT_BLOCKED, EXIT_ERROR = 0, 1, 2
PENDING_STATES = frozenset({"open"})
ACCEPTED_STATES = frozenset({"approved", "approve_requested"})
PENDING, ACCEPTED = "pending-drift", "accepted-drift-not-codified"
_FORMAT = re.compile(r"^1\.\d+$")
_ABSENT = "(absent)"
_UNKNOWN = "(known only after apply)"


class PlanError(DriftwardenError):
    """The plan JSON cannot be used: unreadable, truncated, unsupported, or for another state."""


# --- the plan ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanResource:
    address: str
    type: str
    actions: tuple[str, ...]
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    after_unknown: Any
    before_sensitive: Any
    after_sensitive: Any
    previous_address: str | None = None

    @property
    def action(self) -> str:
        acts = set(self.actions)
        if {"delete", "create"} <= acts:
            return "replace"
        return "+".join(self.actions) or "no-op"


@dataclass(frozen=True)
class Plan:
    path: str
    sha256: str
    format_version: str
    terraform_version: str | None
    timestamp: str | None
    resources: dict[str, PlanResource]

    def find(self, address: str) -> PlanResource | None:
        found = self.resources.get(address)
        if found is not None:
            return found
        return next((r for r in self.resources.values() if r.previous_address == address), None)

    def summary(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "format_version": self.format_version,
                "terraform_version": self.terraform_version, "timestamp": self.timestamp,
                "resource_changes": len(self.resources)}


def parse_plan(text: str | bytes, path: str = "<plan>") -> Plan:
    """Validate and index ``terraform show -json`` output. Raises ``PlanError`` with a clear reason."""
    raw = text.encode() if isinstance(text, str) else bytes(text)
    digest = hashlib.sha256(raw).hexdigest()
    if not raw.strip():
        raise PlanError(f"{path}: empty file (did `terraform show -json` fail?)")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PlanError(f"{path}: not valid JSON, possibly truncated ({exc})") from None
    if not isinstance(doc, Mapping):
        raise PlanError(f"{path}: not a Terraform plan (the top level is not an object)")
    if "format_version" not in doc:
        if doc.get("version") == 4 and "resources" in doc:
            raise PlanError(f"{path}: this is a raw state file, not a plan; run `terraform show -json PLANFILE`")
        raise PlanError(f"{path}: no format_version: not the output of `terraform show -json PLANFILE`")
    version = doc.get("format_version")
    if not isinstance(version, str) or not _FORMAT.match(version):
        raise PlanError(f"{path}: unsupported plan format_version {version!r} (Driftwarden reads 1.x)")
    if "values" in doc and "planned_values" not in doc:
        raise PlanError(f"{path}: this is `terraform show -json` of a state, not of a saved plan")
    if doc.get("errored") is True:
        raise PlanError(f"{path}: Terraform reported errors while planning (errored: true); fix the plan first")
    changes = doc.get("resource_changes")
    if not isinstance(changes, list):
        raise PlanError(f"{path}: no resource_changes list (truncated or not a plan); Terraform writes one "
                        f"whenever the configuration has resources")
    resources: dict[str, PlanResource] = {}
    for i, rc in enumerate(changes):
        where = f"{path}: resource_changes[{i}]"
        if not isinstance(rc, Mapping) or not isinstance(rc.get("address"), str) or not isinstance(rc.get("type"), str):
            raise PlanError(f"{where} has no address/type")
        change = rc.get("change")
        if not isinstance(change, Mapping) or not isinstance(change.get("actions"), list) or \
                not all(isinstance(a, str) for a in change["actions"]):
            raise PlanError(f"{where} ({rc['address']}) has no change.actions list")
        for side in ("before", "after"):
            if change.get(side) is not None and not isinstance(change[side], Mapping):
                raise PlanError(f"{where} ({rc['address']}): change.{side} is not an object")
        if rc.get("mode", "managed") != "managed" or rc.get("deposed"):
            continue  # data sources are read, deposed objects are old replacements being destroyed
        resources[rc["address"]] = PlanResource(
            address=rc["address"], type=rc["type"], actions=tuple(change["actions"]),
            before=change.get("before"), after=change.get("after"), after_unknown=change.get("after_unknown"),
            before_sensitive=change.get("before_sensitive"), after_sensitive=change.get("after_sensitive"),
            previous_address=rc.get("previous_address"),
        )
    tf_version = doc.get("terraform_version")
    return Plan(path, digest, version, tf_version if isinstance(tf_version, str) else None,
                doc.get("timestamp") if isinstance(doc.get("timestamp"), str) else None, resources)


def load_plan(path: str) -> Plan:
    """Read a plan file (``-`` = stdin)."""
    try:
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise PlanError(f"{path}: cannot read the plan file ({exc.strerror or exc})") from None
    return parse_plan(raw, path)


# --- plan values in the plugin's vocabulary -----------------------------------------------------------------


def _contains_true(node: Any) -> bool:
    if node is True:
        return True
    if isinstance(node, Mapping):
        return any(_contains_true(v) for v in node.values())
    if isinstance(node, list):
        return any(_contains_true(v) for v in node)
    return False


def _empty_like(value: Any) -> Any:
    if isinstance(value, frozenset):
        return frozenset()
    if isinstance(value, Mapping):
        return {}
    return None


@dataclass
class _Side:
    raw: Mapping[str, Any]
    values: dict[str, list[Any]] | None = None  # path → values, in the plugin's vocabulary
    model: dict[str, Any] | None = None  # the plugin's declared model of this side


class _PlanView:
    """One finding's object as the plan sees it, before and after, as (path → values)."""

    def __init__(self, registry: Registry | None, plan: Plan, pr: PlanResource, object_id: str) -> None:
        self.plan, self.pr, self.object_id = plan, pr, object_id
        plugin = registry.get(pr.type) if registry is not None else None
        self.owner: ResourcePlugin | None = None
        self.family: list[ResourcePlugin] = []
        if plugin is not None and registry is not None:
            try:
                self.owner = registry.owner(plugin.object_kind)
                self.family = registry.family(plugin.object_kind)
            except DriftwardenError:
                self.owner = None
        self.notes: list[str] = []
        self._sides: dict[str, _Side] = {}

    def side(self, name: str) -> _Side:
        if name not in self._sides:
            self._sides[name] = self._build(name)
        return self._sides[name]

    def _build(self, name: str) -> _Side:
        obj = getattr(self.pr, name)
        if obj is None:
            return _Side({}, {}, {})
        if self.owner is not None:
            try:
                return self._from_plugin(name, obj)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                self.notes.append(f"{self.pr.type} plugin could not read the plan's {name} object ({exc}); "
                                  f"compared attribute by attribute")
        return _Side(obj)

    def _from_plugin(self, name: str, obj: Mapping[str, Any]) -> _Side:
        """The declared model of this side: every plan resource of the object's kind that names the
        same object (the owner and its contributors, e.g. separate rule resources), owner first,
        exactly as the pipeline unions what the states declare."""
        assert self.owner is not None
        plugins = {p.type: p for p in self.family}
        members = [ManagedResource(self.pr.type, self.pr.address, self.plan.path, obj)]
        for other in self.plan.resources.values():
            attrs = getattr(other, name)
            plugin = plugins.get(other.type)
            if other is self.pr or plugin is None or attrs is None or plugin.object_id(attrs) != self.object_id:
                continue
            members.append(ManagedResource(other.type, other.address, self.plan.path, attrs))
        members.sort(key=lambda r: (r.type != self.owner.type, r.address))  # type: ignore[union-attr]
        declared = Declared(self.owner.object_kind, self.object_id, members)
        for res in members:
            plugins[res.type].declare(res, declared)
        empty = {k: _empty_like(v) for k, v in declared.model.items()}
        values: dict[str, list[Any]] = {}
        for ch in self.owner.diff(declared, empty):
            if ch.declared is not None:
                values.setdefault(ch.path, []).append(ch.declared)
        return _Side(obj, values, declared.model)

    def values(self, name: str, path: str) -> list[Any]:
        side = self.side(name)
        if side.values is not None and side.model is not None:
            if path in side.values:
                return side.values[path]
            if path.partition(".")[0] in side.model:
                return []  # the plugin compares this attribute and the plan holds nothing at this path
        return _raw_values(side.raw, path)

    def is_element(self, name: str, path: str) -> bool:
        """True when ``path`` names a set-like attribute whose changes are single elements."""
        side = self.side(name)
        if "." in path:
            return False
        if side.model is not None and path in side.model:
            return isinstance(side.model[path], (frozenset, set, list, Mapping))
        return isinstance(side.raw.get(path), list)

    def unknown(self, path: str) -> bool:
        if self.pr.after is None:
            return False
        attr = path.partition(".")[0]
        unknown = self.pr.after_unknown if isinstance(self.pr.after_unknown, Mapping) else {}
        return _contains_true(unknown.get(attr))

    def sensitive(self, path: str) -> bool:
        attr = path.partition(".")[0]
        for marks in (self.pr.before_sensitive, self.pr.after_sensitive):
            if marks is True or (isinstance(marks, Mapping) and _contains_true(marks.get(attr))):
                return True
        return False


def _raw_values(obj: Mapping[str, Any], path: str) -> list[Any]:
    attr, _, key = path.partition(".")
    if key:
        container = obj.get("tags_all") if attr == "tags" and obj.get("tags_all") is not None else obj.get(attr)
        if isinstance(container, list) and len(container) == 1 and isinstance(container[0], Mapping):
            container = container[0]  # a single nested block
        if isinstance(container, Mapping) and container.get(key) is not None:
            return [container[key]]
        return []
    value = obj.get(attr)
    if isinstance(value, list):
        return list(value)
    return [] if value is None else [value]


def _agrees(values: Sequence[Any], change: Change, element: bool) -> bool | None:
    """Does the plan's side hold the finding's live value at this path? ``None``: cannot tell."""
    digests = {value_digest(v) for v in values}
    if element:
        if change.live is not None:
            return change.digest in digests
        if change.declared is None or change.declared == MASK:
            return None
        return value_digest(change.declared) not in digests
    return value_digest(values[0] if values else None) == change.digest


# --- evaluation ---------------------------------------------------------------------------------------------


@dataclass
class Violation:
    kind: str
    finding: Finding
    stored_state: str
    address: str
    action: str
    attributes: list[dict[str, Any]]
    changes: list[Change]
    decision: dict[str, Any] | None = None
    codify: str | None = None
    overridden: bool = False
    audit_seq: int | None = None

    @property
    def finding_id(self) -> str:
        return self.finding.id

    def to_dict(self) -> dict[str, Any]:
        f = self.finding
        return {
            "kind": self.kind, "finding_id": f.id, "state": self.stored_state, "address": self.address,
            "resource_id": f.resource.id if f.resource else None, "severity": f.severity.value,
            "plan_action": self.action, "attributes": self.attributes,
            "changed_by": {**f.actor.to_dict(), "event_name": f.event_name, "event_time": f.event_time},
            "decision": self.decision, "codify": self.codify, "overridden": self.overridden,
            "audit_seq": self.audit_seq,
        }


@dataclass
class GateReport:
    plan: Plan
    violations: list[Violation] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    considered: int = 0
    checked: int = 0
    notes: list[str] = field(default_factory=list)


def _shown(value: Any, masked: bool) -> Any:
    return MASK if masked and value is not None else value


def _object_id(registry: Registry | None, pr: PlanResource) -> str | None:
    assert pr.before is not None
    plugin = registry.get(pr.type) if registry is not None else None
    if plugin is not None:
        return plugin.object_id(pr.before)
    value = pr.before.get("id")
    return str(value) if value not in (None, "") else None


def evaluate(plan: Plan, stored: Iterable[StoredFinding], registry: Registry | None, *,
             state: str | None = None) -> GateReport:
    """Every open or accepted drift finding the plan would overwrite or undo."""
    report = GateReport(plan)
    in_state_matches = in_state_mismatches = 0
    for item in stored:
        f = item.finding
        if f.status is not Status.DRIFT or f.resource is None or not f.resource.address:
            continue
        if item.state in PENDING_STATES:
            kind = PENDING
        elif item.state in ACCEPTED_STATES:
            kind = ACCEPTED
        else:
            continue
        if state is not None and f.resource.state != state:
            continue
        report.considered += 1
        pr = plan.find(f.resource.address)
        if pr is None:
            continue
        skip = {"finding_id": f.id, "address": f.resource.address, "state": item.state}
        if "forget" in pr.actions or "read" in pr.actions:
            report.skipped.append({**skip, "reason": f"plan action {pr.action} does not change the live object"})
            continue
        if pr.before is None:
            report.skipped.append({**skip, "reason": "the plan creates a new object at this address"})
            continue
        plan_id = _object_id(registry, pr)
        if plan_id is not None and plan_id != f.resource.id:
            in_state_mismatches += 1
            report.skipped.append({**skip, "reason": f"the plan's object at this address is {plan_id}, the "
                                                     f"finding's is {f.resource.id} (another state, or replaced)"})
            continue
        in_state_matches += 1
        report.checked += 1
        violation = _judge(registry, plan, pr, item, kind, plan_id or f.resource.id, report.notes)
        if violation is not None:
            report.violations.append(violation)
    report.violations.sort(key=lambda v: (v.kind != PENDING, v.address, v.finding_id))
    if state is not None and in_state_mismatches and not in_state_matches:
        raise PlanError(f"{plan.path}: this plan is not for state {state}: {in_state_mismatches} finding "
                        f"address(es) match, but every object id differs")
    return report


def _judge(registry: Registry | None, plan: Plan, pr: PlanResource, item: StoredFinding, kind: str,
           object_id: str, notes: list[str]) -> Violation | None:
    f = item.finding
    view = _PlanView(registry, plan, pr, object_id)
    destroyed = pr.after is None  # a pure delete
    replaced = "delete" in pr.actions and not destroyed
    bad_changes: list[Change] = []
    attributes: list[dict[str, Any]] = []
    for ch in f.changes:
        masked = ch.sensitive or view.sensitive(ch.path)
        element = view.is_element("after", ch.path) or view.is_element("before", ch.path)
        after_values = view.values("after", ch.path)
        unknown = view.unknown(ch.path)
        agrees = None if unknown else _agrees(after_values, ch, element)
        if kind == PENDING:
            if destroyed:
                planned: Any = "(destroyed with the resource)"
            else:
                before_values = view.values("before", ch.path)
                touched = replaced or unknown or \
                    sorted(map(value_digest, before_values)) != sorted(map(value_digest, after_values))
                if not touched or agrees is True:
                    continue
                planned = _UNKNOWN if unknown else _planned(after_values, ch, element, masked)
        else:
            if destroyed or agrees is True:
                continue
            if unknown:
                planned = _UNKNOWN
            elif agrees is None:
                planned = "(cannot compare: the value is masked)"
            else:
                planned = _planned(after_values, ch, element, masked)
        bad_changes.append(ch)
        shown = ch.to_dict()
        attributes.append({"path": ch.path, "live": _shown(shown["live"], masked),
                           "declared_at_detection": _shown(shown["declared"], masked), "after_apply": planned})
    notes.extend(n for n in view.notes if n not in notes)
    if not bad_changes:
        return None
    snippet = None
    if kind == ACCEPTED:
        snippet = codify(f.with_(changes=tuple(bad_changes))).snippet
    return Violation(kind, f, item.state, pr.address, "delete" if destroyed else pr.action, attributes,
                     bad_changes, item.decision, snippet)


def _planned(values: Sequence[Any], ch: Change, element: bool, masked: bool) -> Any:
    if element:
        target = ch.live if ch.live is not None else ch.declared
        present = value_digest(target) in {value_digest(v) for v in values}
        return {"element": _shown(target, masked), "present": present}
    return _ABSENT if not values else _shown(values[0], masked)


# --- identity, output, the command -------------------------------------------------------------------------


def ci_identity_from_env(env: Mapping[str, str]) -> dict[str, Any] | None:
    """Who runs this pipeline, from the CI's own variables (GitHub Actions, GitLab CI)."""
    if env.get("GITHUB_ACTOR") or env.get("GITHUB_ACTIONS") == "true":
        repo, run = env.get("GITHUB_REPOSITORY"), env.get("GITHUB_RUN_ID")
        out = {"system": "github", "actor": env.get("GITHUB_ACTOR"), "run_id": run, "repository": repo,
               "workflow": env.get("GITHUB_WORKFLOW"), "ref": env.get("GITHUB_REF")}
        if repo and run:
            out["run_url"] = f"{env.get('GITHUB_SERVER_URL') or 'https://github.com'}/{repo}/actions/runs/{run}"
    elif env.get("GITLAB_USER_LOGIN") or env.get("GITLAB_CI") == "true":
        out = {"system": "gitlab", "actor": env.get("GITLAB_USER_LOGIN"), "pipeline_id": env.get("CI_PIPELINE_ID"),
               "project": env.get("CI_PROJECT_PATH"), "pipeline_url": env.get("CI_PIPELINE_URL"),
               "ref": env.get("CI_COMMIT_REF_NAME")}
    else:
        return None
    return {k: v for k, v in out.items() if v}


def resolve_identity(explicit: str | None, env: Mapping[str, str]) -> dict[str, Any]:
    ident = ci_identity_from_env(env) or {"system": "local"}
    if explicit:
        ident["actor"] = explicit
    if not ident.get("actor"):
        try:
            ident["actor"] = getpass.getuser()
        except (KeyError, OSError):
            ident["actor"] = "unknown"
    return ident


def _v(value: Any) -> str:
    if isinstance(value, str) and value.startswith("("):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _explain(v: Violation) -> list[str]:
    f = v.finding
    a = f.actor
    who = a.name or a.arn or "unknown principal"
    via = " via the console" if a.via_console else ""
    title = "OPEN DRIFT (undecided)" if v.kind == PENDING else "ACCEPTED DRIFT NOT CODIFIED"
    mark = "~ overridden" if v.overridden else "✗"
    lines = [f"{mark} {title}: {v.address}  [finding {f.id}, {f.severity.value}, plan action: {v.action}]"]
    for attr in v.attributes:
        after = attr["after_apply"]
        if isinstance(after, Mapping) and "present" in after:
            if attr["live"] is not None:
                lines.append(f"    {attr['path']}: live element {_v(attr['live'])} would be "
                             f"{'kept' if after['present'] else 'REMOVED by the apply'}")
            else:
                lines.append(f"    {attr['path']}: element {_v(after['element'])} (removed in AWS) would be "
                             f"{'RE-CREATED by the apply' if after['present'] else 'left removed'}")
        else:
            verb = "the apply would overwrite live" if v.kind == PENDING else "accepted live value"
            lines.append(f"    {attr['path']}: {verb} {_v(attr['live'])} → after apply: {_v(after)}")
    arn = f" ({a.arn})" if a.arn and a.arn != who else ""
    lines.append(f"    changed by {who}{arn}{via} at {f.event_time or 'unknown time'}"
                 f" ({f.event_name or 'scan'})")
    if v.kind == PENDING:
        lines.append("    decide it first: Approve (then codify) or Revert in Slack; or override with "
                     f"--allow {f.id} --reason \"...\"")
    else:
        d = v.decision or {}
        lines.append(f"    accepted by {d.get('user') or 'unknown'} at {d.get('at') or 'unknown time'}; "
                     f"codify it before applying:")
        lines += [f"      {ln}" if ln else "" for ln in (v.codify or "").rstrip("\n").splitlines()]
    if v.overridden:
        lines.append(f"    overridden (audit record seq {v.audit_seq})")
    return lines


def _emit(report: GateReport, code: int, fmt: str, out: TextIO, unused: list[str]) -> None:
    blocked = [v for v in report.violations if not v.overridden]
    overridden = [v for v in report.violations if v.overridden]
    result = "blocked" if blocked else ("passed-with-overrides" if overridden else "clean")
    if fmt == "json":
        print(json.dumps({
            "result": result, "exit_code": code, "plan": report.plan.summary(),
            "blocked": [v.to_dict() for v in blocked], "overridden": [v.to_dict() for v in overridden],
            "skipped": report.skipped, "notes": report.notes, "unused_allow": unused,
            "findings_considered": report.considered,
            "findings_checked": report.checked,
        }, indent=1, default=str), file=out)
        return
    p = report.plan
    pending = sum(1 for v in blocked if v.kind == PENDING)
    accepted = len(blocked) - pending
    if blocked:
        parts = ([f"overwrite {pending} open (undecided) drift finding(s)"] if pending else []) + \
                ([f"undo {accepted} accepted drift(s) that were never codified"] if accepted else [])
        print(f"driftwarden gate: BLOCKED — this plan would {' and '.join(parts)}.", file=out)
    elif overridden:
        print(f"driftwarden gate: PASSED WITH {len(overridden)} OVERRIDE(S) (recorded in the audit trail).", file=out)
    else:
        print("driftwarden gate: clean — the plan touches no open or accepted drift.", file=out)
    print(f"plan {p.path}: Terraform {p.terraform_version or '?'}, format {p.format_version}, "
          f"{len(p.resources)} resource change(s), sha256 {p.sha256[:12]}; {report.checked} of "
          f"{report.considered} open/accepted finding(s) map to it", file=out)
    for v in blocked + overridden:
        print("", file=out)
        for line in _explain(v):
            print(line, file=out)
    for s in report.skipped:
        print(f"  note: finding {s['finding_id']} ({s['address']}) not applied: {s['reason']}", file=out)
    for fid in unused:
        print(f"  note: --allow {fid}: that finding does not block this plan; nothing was overridden", file=out)
    for note in report.notes:
        print(f"  note: {note}", file=out)


def _fail(msg: str, fmt: str, out: TextIO, err: TextIO) -> int:
    if fmt == "json":
        print(json.dumps({"result": "error", "exit_code": EXIT_ERROR, "error": msg}), file=out)
    print(f"driftwarden gate: error: {msg}", file=err)
    return EXIT_ERROR


def _all_findings(store: Any) -> list[StoredFinding]:
    lister = getattr(store, "all", None)
    if lister is None:
        raise PlanError(f"{type(store).__name__} cannot list findings")
    return list(lister())


def run_gate(plan_path: str, store: Any, audit: AuditLog | None, *, allow: Sequence[str] = (),
             reason: str | None = None, fmt: str = "text", ci_identity: str | None = None,
             out: TextIO | None = None, err: TextIO | None = None, state: str | None = None,
             registry: Registry | None = None, env: Mapping[str, str] | None = None) -> int:
    """``driftwarden gate PLAN.json [--allow ID --reason TEXT]... [--format json] [--state URL]``."""
    out = out or sys.stdout
    err = err or sys.stderr
    env = os.environ if env is None else env
    if fmt not in ("text", "json"):
        return _fail(f"unknown --format {fmt!r} (text or json)", "text", out, err)
    allow = [a.strip() for a in allow or () if a and a.strip()]
    if allow and not (reason and reason.strip()):
        return _fail("--allow needs --reason: every override is recorded with its reason", fmt, out, err)
    if registry is None:
        from chalicelib.resources.registry import default_registry

        registry = default_registry()
    try:
        plan = load_plan(plan_path)
        stored = _all_findings(store)
    except PlanError as exc:
        return _fail(str(exc), fmt, out, err)
    except (ClientError, BotoCoreError, OSError, ValueError, KeyError) as exc:
        return _fail(f"cannot read the findings store ({exc}); refusing to pass the plan unchecked", fmt, out, err)
    known = {s.finding.id for s in stored}
    missing = [a for a in allow if a not in known]
    if missing:
        return _fail(f"--allow names no stored finding: {', '.join(missing)}", fmt, out, err)
    try:
        report = evaluate(plan, stored, registry, state=state)
    except PlanError as exc:
        return _fail(str(exc), fmt, out, err)
    if not stored:
        report.notes.append("the findings store is empty: check DRIFTWARDEN_TABLE / DRIFTWARDEN_STORE_DIR point at "
                            "the store the responder writes")
    to_override = [v for v in report.violations if v.finding_id in allow]
    if to_override:
        if audit is None:
            return _fail("overrides are recorded in the audit trail, and none is configured", fmt, out, err)
        identity = resolve_identity(ci_identity, env)
        for v in to_override:
            detail = {"reason": reason, "kind": v.kind, "plan": plan.summary(), "plan_action": v.action,
                      "attributes": [a["path"] for a in v.attributes]}
            try:
                rec = audit.append(new_record("gate-override", v.finding, ci_identity=identity, detail=detail,
                                              changes=v.changes, resource=v.address))
            except (AuditError, ClientError, BotoCoreError, OSError) as exc:
                return _fail(f"could not record the override of {v.finding_id} in the audit trail ({exc}); "
                             f"not overriding", fmt, out, err)
            v.overridden, v.audit_seq = True, rec.seq
    blocking = [v for v in report.violations if not v.overridden]
    code = EXIT_BLOCKED if blocking else EXIT_CLEAN
    used = {v.finding_id for v in report.violations}
    _emit(report, code, fmt, out, [a for a in allow if a not in used])
    return code
