"""Shared machinery for the data-store and serverless families (RDS, Lambda, DynamoDB, SQS, SNS, Logs).

Why a helper module: these types compare many plain attributes, so they share one diff with
value-based severity rules, one "all or nothing" revert planner and a few id rewriters.

- ``EventSpec(transform=...)`` rewrites the ids an event names into the form ``object_id()``
  returns (an
  ARN into a name, a subscription ARN into its topic ARN, a mixed-case RDS identifier into the
  lower-case one AWS stores). The JMESPath in ``ids`` still says where the raw id comes from.
- ``DataPlugin.diff`` ignores private model keys (``_arn``, ...: context for plans, never
  compared), applies value rules (``rules``) and marks sensitive paths.
- ``DataPlugin.plan_revert`` is all or nothing: when one change cannot be reverted honestly (a
  secret value would have to be written into the stored plan, AWS cannot undo it, or it would
  delete something), no plan is offered, because a partial revert would be reported as failed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

from chalicelib.drift.diff import RawChange, diff_models
from chalicelib.drift.normalize import canonical_policy, tags_from_aws
from chalicelib.models import ApiCall, Change, Severity
from chalicelib.resources.base import Declared, ManagedResource, NotRevertible, ResourcePlugin

__all__ = [
    "DataPlugin",
    "NotRevertible",
    "Rule",
    "arn_parts",
    "as_bool",
    "as_int",
    "block",
    "canonical_json",
    "is_sensitive",
    "live_tags",
    "mark_sensitive_roots",
    "tag_edits",
]

log = logging.getLogger(__name__)

Rule = Callable[[RawChange], "tuple[Severity, str] | None"]
Transform = Callable[[str, Mapping[str, Any]], "str | None"]


def arn_parts(value: str) -> list[str] | None:
    """``arn:partition:service:region:account:resource...`` split in six, or ``None``."""
    parts = value.split(":", 5)
    return parts if len(parts) == 6 and parts[0] == "arn" else None


def as_bool(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def as_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def block(attrs: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    """A nested block as the state stores it (a list of one object), or ``None`` when absent."""
    value = attrs.get(name)
    if isinstance(value, list) and value and isinstance(value[0], Mapping):
        return value[0]
    if isinstance(value, Mapping):
        return value
    return None


def canonical_json(doc: Any) -> str | None:
    """A JSON document (redrive, delivery, filter policy) in canonical form; empty → ``None``."""
    if doc in (None, "", {}):
        return None
    return canonical_policy(doc)


def live_tags(tags: Any) -> dict[str, str]:
    """Live tags without AWS-managed ``aws:`` keys (never declared, never drift)."""
    return {k: v for k, v in tags_from_aws(tags).items() if not k.startswith("aws:")}


def mark_sensitive_roots(resource: ManagedResource, declared: Declared) -> None:
    """State ``sensitive_attributes`` are full paths (``environment.0.variables.KEY``); our model
    paths differ, so mask the whole top-level attribute: over-masking is safe, leaking is not."""
    for path in resource.sensitive_paths:
        declared.sensitive.add(path.split(".", 1)[0])


def is_sensitive(declared: Declared, path: str, attribute: str) -> bool:
    root = attribute.split(".", 1)[0]
    return any(p in declared.sensitive for p in (path, attribute, root)) or any(
        path.startswith(s + ".") for s in declared.sensitive)


def tag_edits(changes: Iterable[Change]) -> tuple[dict[str, str], list[str]]:
    """Tag changes → (tags to set to their declared value, keys to remove)."""
    to_set: dict[str, str] = {}
    to_remove: list[str] = []
    for ch in changes:
        if not ch.path.startswith("tags."):
            continue
        key = ch.path.split(".", 1)[1]
        if ch.declared is None:
            to_remove.append(key)
        else:
            to_set[key] = ch.declared
    return to_set, sorted(to_remove)


class DataPlugin(ResourcePlugin):
    """A plugin whose model is mostly plain attributes (see the module docstring)."""

    rules: ClassVar[Mapping[str, Rule]] = {}
    # Severity of a "deleted" finding (a managed data store deleted is CRITICAL). NOT read by the
    # pipeline yet, which reports every deletion as HIGH: a one-line core change is requested.
    deleted_severity: ClassVar[Severity] = Severity.HIGH

    def severity(self, change: RawChange) -> tuple[Severity, str]:
        root = change.attribute.split(".", 1)[0]
        rule = self.rules.get(root)
        hit = rule(change) if rule else None
        if hit:
            return hit
        return self.compared.get(root, Severity.MEDIUM), f"{self.type}.{root}"

    def ignore(self, raw: RawChange, declared: Declared, live: Mapping[str, Any]) -> bool:
        """Hook: a difference Terraform itself would not report (e.g. autoscaled storage)."""
        return False

    def diff(self, declared: Declared, live: Mapping[str, Any]) -> list[Change]:
        model = {k: v for k, v in declared.model.items() if not k.startswith("_")}
        out: list[Change] = []
        for raw in diff_models(model, live):
            if self.ignore(raw, declared, live):
                continue
            sev, rule = self.severity(raw)
            out.append(Change(raw.path, raw.declared, raw.live, sev, rule,
                              is_sensitive(declared, raw.path, raw.attribute)))
        return out

    def plan_revert(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> tuple[ApiCall, ...]:
        if any(c.sensitive for c in changes):
            raise NotRevertible("a secret value would have to be written into the revert plan; restore it with "
                                "terraform apply")
        return tuple(self.revert_calls(object_id, changes, declared, live))

    def revert_calls(
        self, object_id: str, changes: list[Change], declared: Declared, live: Mapping[str, Any]
    ) -> list[ApiCall]:
        """The calls for these changes; raise ``NotRevertible`` to offer no plan at all."""
        raise NotRevertible(f"{self.type} has no revert plan")
