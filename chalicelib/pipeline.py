"""The one pipeline (DESIGN §1, §4): event → refs → declared → live → normalized diff → Finding.

The Lambda handlers, the CLI (``replay``, ``scan``) and the demo all call this, so what is tested
locally is what runs in AWS. Nothing here raises for bad input: every outcome is a Finding with a
status and a one-sentence reason.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.drift.policy import Policy, PolicyAction, Subject
from chalicelib.drift.severity import apply_builtin
from chalicelib.errors import DriftwardenError, EventError, LiveReadError, RemediationError, StateError
from chalicelib.models import (
    Action,
    Actor,
    Change,
    Finding,
    Remediation,
    RemediationStatus,
    ResourceInfo,
    Severity,
    Status,
)
from chalicelib.remediation.executor import execute
from chalicelib.resources.base import Declared, EventKind, LiveContext, ManagedResource, NotRevertible
from chalicelib.resources.registry import Registry
from chalicelib.state.index import StateIndex
from chalicelib.state.source import SourceError, SourceIndex
from chalicelib.triggers.cloudtrail import (
    CloudTrailEvent,
    Ref,
    iter_records,
    parse_event,
    principal_matches,
    resolve_refs,
)

__all__ = ["Pipeline"]

log = logging.getLogger(__name__)

_NO_ACTOR = Actor(None, None, None, False)


TERRAFORM_UA = re.compile(r"Terraform/|HashiCorp/", re.IGNORECASE)


@dataclass
class Pipeline:
    registry: Registry
    index: StateIndex
    contexts: Callable[[str | None, str | None], LiveContext]
    iac_principals: tuple[str, ...] = ()
    self_principals: tuple[str, ...] = ()
    source: SourceIndex | None = None
    policy: Callable[[], Policy] | None = None
    #: Called with (raw event, state serials) to re-check a Terraform-agent event later. None: judge now.
    defer: Callable[[Mapping[str, Any], dict[str, int]], None] | None = None

    # --- entry points ----------------------------------------------------------------------------
    def process_payload(self, payload: Any) -> list[Finding]:
        """Any accepted input shape (EventBridge event, record, list, CloudTrail log file)."""
        try:
            records = list(iter_records(payload))
        except EventError as exc:
            return [self._bare(Status.ERROR, f"unreadable input: {exc}")]
        findings: list[Finding] = []
        for raw in records:
            findings.extend(self.process_event(raw))
        return findings

    def process_event(self, raw: Mapping[str, Any], *, recheck: dict[str, int] | None = None) -> list[Finding]:
        """Judge one event. ``recheck`` (state URL → serial when first seen) marks the delayed
        re-check of an event made by a Terraform agent outside the IaC principals."""
        try:
            event = parse_event(raw)
        except EventError as exc:
            return [self._bare(Status.ERROR, f"malformed event: {exc}")]
        try:
            if recheck is not None:
                return [self._terraform_verdict(f, recheck) for f in self._process(event)]
            return self._process(event, raw=raw)
        except Exception as exc:  # a bug must not crash the batch or lose the event: say so, loudly
            log.exception("pipeline failed", extra={"event_id": event.event_id})
            return [self._finding(event, None, Status.ERROR, f"internal error while judging this event: {exc!r}")]

    def _process(self, event: CloudTrailEvent, raw: Mapping[str, Any] | None = None) -> list[Finding]:
        if event.error_code:
            return [self._finding(event, None, Status.SKIPPED, f"failed call (errorCode {event.error_code}): "
                                                               "nothing changed")]
        if event.read_only:
            return [self._finding(event, None, Status.SKIPPED, "read-only call: nothing changed")]
        if event.event_type and event.event_type not in ("AwsApiCall", "AwsServiceEvent"):
            return [self._finding(event, None, Status.SKIPPED, f"{event.event_type} is not an API call")]
        own = principal_matches(event, self.self_principals)
        if own:
            return [self._finding(event, None, Status.IGNORED, f"Driftwarden's own change (principal matches {own})")]
        iac = principal_matches(event, self.iac_principals)
        if iac:
            return [self._finding(event, None, Status.IGNORED,
                                  f"made by an IaC principal (matches {iac}): Terraform's own change")]
        if not self.registry.claims(event.source, event.name):
            return [self._finding(event, None, Status.UNSUPPORTED,
                                  f"no plugin handles {event.source} {event.name}")]
        if raw is not None and self.defer is not None and self._is_terraform_agent(event):
            self.defer(raw, self.state_serials(event))
            return [self._finding(event, None, Status.SKIPPED,
                                  "made by a Terraform agent outside the IaC principals: deferred, and re-checked "
                                  "once the state has had time to record the apply")]
        refs = resolve_refs(self.registry, event)
        if not refs:
            return [self._finding(event, None, Status.UNSUPPORTED,
                                  f"{event.name} names no resource of a covered type")]
        return [self.judge(ref, event) for ref in refs]

    # --- Terraform's own applies ----------------------------------------------------------------------
    @staticmethod
    def _is_terraform_agent(event: CloudTrailEvent) -> bool:
        return bool(event.actor.user_agent and TERRAFORM_UA.search(event.actor.user_agent))

    def state_serials(self, event: CloudTrailEvent | Mapping[str, Any]) -> dict[str, int]:
        """Serials of the states that manage what this event names (to tell later whether they moved)."""
        parsed = event if isinstance(event, CloudTrailEvent) else parse_event(event)
        self.index.ensure_fresh()
        out: dict[str, int] = {}
        for ref in resolve_refs(self.registry, parsed):
            for res in self.index.lookup(ref.object_kind, ref.object_id or "", ref.account):
                doc = self.index.doc(res.state_url)
                if doc is not None:
                    out[res.state_url] = doc.serial
        return out

    def _terraform_verdict(self, finding: Finding, before: dict[str, int]) -> Finding:
        state = finding.resource.state if finding.resource else None
        doc = self.index.doc(state) if state else None
        moved = doc is not None and state in before and doc.serial != before[state]
        ua = finding.actor.user_agent or "a Terraform agent"
        if finding.status is Status.IN_SYNC and moved:
            return finding.with_(reason=f"a Terraform apply outside the pipeline ({ua}); the state caught up "
                                        f"(serial {before[state or '']} → {doc.serial if doc else '?'}) and declares "
                                        "the live value")
        if finding.status is Status.DRIFT and not moved:
            return finding.with_(reason=f"Terraform was run outside the pipeline ({ua}) and no state recorded it: "
                                        + finding.reason)
        return finding

    # --- judgment --------------------------------------------------------------------------------
    def judge(self, ref: Ref, event: CloudTrailEvent | None, *, live_cache: Mapping[str, Any] | None = None) -> Finding:
        """Decide one reference. ``live_cache`` (object id → live model or None) comes from a batched read."""
        owner = self.registry.owner(ref.object_kind)
        if ref.object_id is None:
            return self._finding(event, None, Status.ERROR,
                                 f"cannot tell which {ref.object_kind} changed: {ref.note or 'no resource id'}",
                                 kind=ref.object_kind)
        if ref.event_kind is EventKind.NOOP:
            return self._finding(event, ResourceInfo(owner.type, None, ref.object_id, None), Status.SKIPPED,
                                 f"{event.name if event else 'this call'} does not change declared attributes",
                                 kind=ref.object_kind)
        self.index.ensure_fresh()
        if not self.index.covers_account(ref.account):
            return self._finding(event, ResourceInfo(owner.type, None, ref.object_id, None), Status.UNSUPPORTED,
                                 f"no Terraform state is mapped to account {ref.account}", kind=ref.object_kind)
        try:
            managed = self.index.lookup(ref.object_kind, ref.object_id, ref.account)
        except StateError as exc:
            return self._finding(event, ResourceInfo(owner.type, None, ref.object_id, None), Status.ERROR,
                                 f"cannot read the state index ({exc}); will not guess whether it is managed",
                                 kind=ref.object_kind)
        if ref.region and not owner.global_service:
            # name-keyed objects (ECR repositories, EventBridge rules) may exist in several regions
            managed = [r for r in managed if r.region in (None, ref.region)]
        if not managed:
            return self._unmanaged(ref, event, owner.type)
        declared = self.declared(ref.object_kind, ref.object_id, managed)
        source_notes = self._read_source(declared)
        primary = declared.primary(owner.type)
        info = ResourceInfo(primary.type, primary.address, ref.object_id, primary.state_url)
        ctx = self.contexts(ref.account or primary.account, ref.region or primary.region)
        try:
            if live_cache is not None and ref.object_id in live_cache:
                live = live_cache[ref.object_id]
            else:
                live = owner.read_live(ctx, ref.object_id)
        except LiveReadError as exc:
            return self._finding(event, info, Status.ERROR,
                                 f"could not read the live {ref.object_kind} ({exc}); will not guess",
                                 kind=ref.object_kind)
        if live is None:
            return self._finding(event, info, Status.DELETED,
                                 f"{primary.address} no longer exists in AWS (severity {owner.deleted_severity.value} "
                                 f"by rule {owner.type}.deleted)", severity=owner.deleted_severity,
                                 action=Action.ALERT, kind=ref.object_kind)
        changes = owner.diff(declared, live)
        if not changes:
            return self._finding(event, info, Status.IN_SYNC,
                                 f"live {ref.object_kind} matches what {len(managed)} managed resource(s) declare"
                                 + _suffix(source_notes), kind=ref.object_kind)
        changes, why_quiet = self._apply_source(declared, owner.type, changes)
        if not changes:
            status = Status.IGNORED if why_quiet.startswith("lifecycle") else Status.IN_SYNC
            return self._finding(event, info, status, why_quiet + _suffix(source_notes),
                                 kind=ref.object_kind)
        policy = self._policy(source_notes)  # may add a note: read the notes only after this
        actor = event.actor if event else _NO_ACTOR
        subject = Subject(tf_type=primary.type, address=primary.address, module=primary.module,
                          state_url=primary.state_url, account=ref.account or primary.account,
                          region=ref.region or primary.region,
                          tags=_tags(declared.model.get("tags")),
                          actor_arn=actor.arn, actor_arns=event.principal_arns if event else (),
                          actor_type=actor.type, event_name=event.name if event else None)
        action, channel, rule_name = Action.ALERT, None, None
        if policy is not None:
            decision = policy.decide(subject, changes)
            if not decision.kept:
                rules = ", ".join(sorted({r for _, r in decision.ignored}))
                return self._finding(event, info, Status.IGNORED,
                                     f"every difference is ignored by policy rule {rules}" + _suffix(source_notes),
                                     kind=ref.object_kind)
            changes = list(decision.kept)
            channel, rule_name = decision.channel, decision.rule_name
            if decision.action is PolicyAction.REVERT:
                action = Action.REVERT
        else:
            changes = list(apply_builtin(changes, actor))
        severity = Severity.highest([c.severity for c in changes])
        top = _closest(event.name if event else None, [c for c in changes if c.severity is severity])
        not_revertible = owner.not_revertible
        plan: tuple[Any, ...] = ()
        if not not_revertible:
            try:
                plan = owner.plan_revert(ref.object_id, changes, declared, live)
            except NotRevertible as exc:
                not_revertible = str(exc)
        if action is Action.REVERT and not plan:
            action = Action.ALERT
        reason = (f"{len(changes)} attribute change(s) differ from {primary.address}; "
                  f"severity {severity.value} by rule {top.rule} ({top.path})")
        if rule_name:
            reason += f"; policy rule {rule_name}" + (" asks for revert" if action is Action.REVERT else "")
        extra = {k: v for k, v in (("channel", channel), ("policy_rule", rule_name)) if v}
        return self._finding(event, info, Status.DRIFT, reason + _suffix(source_notes), severity=severity,
                             action=action,
                             changes=tuple(changes), plan=plan, not_revertible=not_revertible,
                             kind=ref.object_kind, extra=extra)

    # --- the .tf source and the policy file ---------------------------------------------------------
    def _read_source(self, declared: Declared) -> list[str]:
        """Look up each resource's block; record what it configures and ignores on ``declared``."""
        if self.source is None:
            return []
        notes: list[str] = []
        for res in declared.resources:
            try:
                found = self.source.lookup(res.state_url, res.address)
            except SourceError as exc:
                log.error("source unreadable", extra={"address": res.address, "error": str(exc)})
                note = f"source unreadable ({exc}); judged from the state only"
                if note not in notes:
                    notes.append(note)
                continue
            if found is not None:
                declared.sources[res.address] = found
        return notes

    def _apply_source(self, declared: Declared, owner_type: str, changes: list[Change]) -> tuple[list[Change], str]:
        """Drop what Terraform would not report: ``lifecycle.ignore_changes`` (the owner's, and a
        contributor's ``all``), and Optional+Computed attributes (``plugin.computed``) the owner's
        block does not set, unless another managed resource contributes them."""
        if not declared.sources:
            return changes, ""
        owner = next((r for r in declared.resources if r.type == owner_type), None)
        owner_src = declared.sources.get(owner.address) if owner else None
        computed = self.registry.owner(declared.object_kind).computed
        contributed: set[str] = set()
        for res in declared.resources:
            plugin = self.registry.get(res.type)
            if res.type != owner_type and plugin is not None:
                src = declared.sources.get(res.address)
                if src is not None and src.ignore_changes == "all":
                    changes = [c for c in changes if c.path.split(".", 1)[0] not in plugin.compared]
                contributed.update(plugin.compared)
        kept, ignored, unset = [], [], []
        for change in changes:
            top = change.path.split(".", 1)[0]
            if owner_src is not None and owner_src.ignores(change.path):
                ignored.append(change.path)
            elif (owner_src is not None and top in computed and top not in owner_src.configured
                  and top not in contributed):
                unset.append(change.path)
            else:
                kept.append(change)
        if kept:
            return kept, ""
        if ignored and owner_src is not None:
            what = "all" if owner_src.ignore_changes == "all" else ", ".join(sorted(set(ignored)))
            return [], f"lifecycle.ignore_changes ({what}) on {owner_src.address} at {owner_src.where}"
        if unset and owner_src is not None:
            return [], (f"differs only in attributes the configuration at {owner_src.where} does not set "
                        f"({', '.join(sorted(set(unset)))}): Terraform would not report them")
        return [], "every difference was ignored by a contributor's lifecycle.ignore_changes = all"

    def _policy(self, notes: list[str]) -> Policy | None:
        if self.policy is None:
            return None
        try:
            return self.policy()
        except DriftwardenError as exc:  # never mute drift because the policy file is broken
            log.error("policy unreadable; built-in rules apply", extra={"error": str(exc)})
            one_line = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
            notes.append(f"policy file unreadable ({one_line}); built-in rules applied")
            return None

    def declared(self, kind: str, object_id: str, managed: list[ManagedResource]) -> Declared:
        declared = Declared(kind, object_id, list(managed))
        for res in sorted(managed, key=lambda r: (r.type != self.registry.owner(kind).type, r.address)):
            plugin = self.registry.get(res.type)
            assert plugin is not None
            plugin.declare(res, declared)
            declared.sensitive.update(res.sensitive_paths)
        return declared

    def _unmanaged(self, ref: Ref, event: CloudTrailEvent | None, owner_type: str) -> Finding:
        info = ResourceInfo(owner_type, None, ref.object_id or "", None)
        if self.index.errors:
            broken = "; ".join(sorted(self.index.errors.values())[:3])
            return self._finding(event, info, Status.ERROR,
                                 f"{ref.object_id} is in no readable state, but {len(self.index.errors)} state(s) "
                                 f"could not be read, so it may be managed: {broken}", kind=ref.object_kind)
        verb = {EventKind.CREATE: "was created outside Terraform",
                EventKind.DELETE: "was deleted, and no Terraform state manages it"}.get(
            ref.event_kind, "is not managed by any Terraform state")
        return self._finding(event, info, Status.UNMANAGED, f"{ref.object_id} {verb}",
                             severity=Severity.LOW if ref.event_kind is EventKind.DELETE else Severity.MEDIUM,
                             action=Action.ALERT if ref.event_kind is EventKind.CREATE else Action.NONE,
                             kind=ref.object_kind)

    # --- revert (compare-and-set) ----------------------------------------------------------------
    def rejudge(self, finding: Finding) -> Finding:
        """Judge the same object again, now (no event): the basis of compare-and-set."""
        assert finding.resource is not None and finding.object_kind is not None
        ref = Ref(finding.object_kind, finding.resource.id, EventKind.MODIFY, finding.account, finding.region)
        return self.judge(ref, None)

    def revert(self, finding: Finding) -> Remediation:
        """Re-read; refuse if live moved since the alert; run the plan; verify the declared value is back."""
        if finding.status is not Status.DRIFT:
            return Remediation(RemediationStatus.NOT_NEEDED, (), f"finding is {finding.status.value}, not drift")
        if finding.not_revertible or not finding.plan:
            reason = finding.not_revertible or "no revert plan for this change"
            return Remediation(RemediationStatus.REFUSED, (), reason)
        now = self.rejudge(finding)
        if now.status is Status.IN_SYNC:
            return Remediation(RemediationStatus.NOT_NEEDED, (), "live already matches the declaration")
        if now.status is not Status.DRIFT:
            return Remediation(RemediationStatus.REFUSED, (), f"refused: the resource is now {now.status.value}: "
                                                              f"{now.reason}")
        if now.fingerprint != finding.fingerprint:
            return Remediation(RemediationStatus.REFUSED, (),
                               "refused: live changed again since the alert; a new alert shows the current state")
        ctx = self.contexts(finding.account, finding.region)
        try:
            execute(finding.plan, ctx)
        except RemediationError as exc:
            return Remediation(RemediationStatus.FAILED, finding.plan, str(exc))
        after = self.rejudge(finding)
        if after.status is Status.IN_SYNC:
            return Remediation(RemediationStatus.REVERTED, finding.plan,
                               f"restored the declared value ({len(finding.plan)} call(s)); verified in sync")
        remaining = {c.path for c in after.changes} & {c.path for c in finding.changes}
        if after.status is Status.DRIFT and not remaining:
            return Remediation(RemediationStatus.REVERTED, finding.plan,
                               "restored the alerted attributes; other drift remains and is reported separately")
        alerted = {c.path for c in finding.changes}
        if after.status is Status.DRIFT and remaining < alerted and {c.path for c in after.changes} <= alerted:
            still = sorted(remaining)
            rules = sorted({c.rule for c in after.changes if c.path in remaining})
            return Remediation(RemediationStatus.REVERTED, finding.plan,
                               f"restored {len(alerted) - len(remaining)} of {len(alerted)} change(s); still differs "
                               f"(Driftwarden does not revert these: {', '.join(rules)}): {', '.join(still)}")
        return Remediation(RemediationStatus.FAILED, finding.plan,
                           f"ran the plan but live still differs: {after.reason}")

    # --- finding construction ----------------------------------------------------------------------
    def _finding(
        self,
        event: CloudTrailEvent | None,
        resource: ResourceInfo | None,
        status: Status,
        reason: str,
        *,
        severity: Severity = Severity.INFO,
        action: Action = Action.NONE,
        changes: tuple[Change, ...] = (),
        plan: tuple[Any, ...] = (),
        not_revertible: str | None = None,
        kind: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Finding:
        return Finding(
            event_id=event.event_id if event else None,
            event_name=event.name if event else None,
            event_source=event.source if event else None,
            event_time=event.time if event else None,
            account=event.account if event else None,
            region=event.region if event else None,
            actor=event.actor if event else _NO_ACTOR,
            status=status,
            resource=resource,
            changes=changes,
            severity=severity,
            action=action,
            reason=reason,
            plan=tuple(plan),
            not_revertible=not_revertible,
            object_kind=kind,
            extra=extra or {},
        )

    def _bare(self, status: Status, reason: str) -> Finding:
        return self._finding(None, None, status, reason)


def _suffix(notes: list[str]) -> str:
    """Notes (unreadable source or policy) appended to a reason; read after every note is added."""
    return ("; " + "; ".join(notes)) if notes else ""


def _words(text: str) -> set[str]:
    return {w[:5] for w in re.split(r"[^a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text).lower()) if w}


def _closest(event_name: str | None, changes: list[Change]) -> Change:
    """Of equally severe changes, the one whose rule is closest to the call that was made (so
    ScheduleKeyDeletion is explained by key-scheduled-for-deletion, not by the key it also disabled)."""
    if not event_name or len(changes) == 1:
        return changes[0]
    called = _words(event_name)
    return max(changes, key=lambda c: len(_words(c.rule) & called))


def _tags(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, Mapping) else {}


def summarize(findings: Iterable[Finding]) -> dict[str, int]:
    out: dict[str, int] = {}
    for f in findings:
        out[f.status.value] = out.get(f.status.value, 0) + 1
    return out
