"""The one pipeline (DESIGN §1, §4): event → refs → declared → live → normalized diff → Finding.

The Lambda handlers, the CLI (``replay``, ``scan``) and the demo all call this, so what is tested
locally is what runs in AWS. Nothing here raises for bad input: every outcome is a Finding with a
status and a one-sentence reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.errors import EventError, LiveReadError, RemediationError
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
from chalicelib.resources.base import Declared, EventKind, LiveContext, ManagedResource
from chalicelib.resources.registry import Registry
from chalicelib.state.index import StateIndex
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


@dataclass
class Pipeline:
    registry: Registry
    index: StateIndex
    contexts: Callable[[str | None, str | None], LiveContext]
    iac_principals: tuple[str, ...] = ()
    self_principals: tuple[str, ...] = ()

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

    def process_event(self, raw: Mapping[str, Any]) -> list[Finding]:
        try:
            event = parse_event(raw)
        except EventError as exc:
            return [self._bare(Status.ERROR, f"malformed event: {exc}")]
        try:
            return self._process(event)
        except Exception as exc:  # a bug must not crash the batch or lose the event: say so, loudly
            log.exception("pipeline failed", extra={"event_id": event.event_id})
            return [self._finding(event, None, Status.ERROR, f"internal error while judging this event: {exc!r}")]

    def _process(self, event: CloudTrailEvent) -> list[Finding]:
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
        refs = resolve_refs(self.registry, event)
        if not refs:
            return [self._finding(event, None, Status.UNSUPPORTED,
                                  f"{event.name} names no resource of a covered type")]
        return [self.judge(ref, event) for ref in refs]

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
        managed = self.index.lookup(ref.object_kind, ref.object_id, ref.account)
        if not managed:
            return self._unmanaged(ref, event, owner.type)
        declared = self.declared(ref.object_kind, ref.object_id, managed)
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
                                 f"{primary.address} no longer exists in AWS", severity=Severity.HIGH,
                                 action=Action.ALERT, kind=ref.object_kind)
        changes = owner.diff(declared, live)
        if not changes:
            return self._finding(event, info, Status.IN_SYNC,
                                 f"live {ref.object_kind} matches what {len(managed)} managed resource(s) declare",
                                 kind=ref.object_kind)
        severity = Severity.highest([c.severity for c in changes])
        top = next(c for c in changes if c.severity is severity)
        plan = () if owner.not_revertible else owner.plan_revert(ref.object_id, changes, declared, live)
        reason = (f"{len(changes)} attribute change(s) differ from {primary.address}; "
                  f"severity {severity.value} by rule {top.rule} ({top.path})")
        return self._finding(event, info, Status.DRIFT, reason, severity=severity, action=Action.ALERT,
                             changes=tuple(changes), plan=plan, not_revertible=owner.not_revertible,
                             kind=ref.object_kind)

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
        )

    def _bare(self, status: Status, reason: str) -> Finding:
        return self._finding(None, None, status, reason)


def summarize(findings: Iterable[Finding]) -> dict[str, int]:
    out: dict[str, int] = {}
    for f in findings:
        out[f.status.value] = out.get(f.status.value, 0) + 1
    return out
