"""Built-in severity rules that cut across resource types (a policy file may override them).

Plugins rate each change by its value (``ingress-open-to-world`` is critical, ``tags-changed`` is
low). What they cannot see is *who* made it: a change made with the account's root user is
critical whatever it changed, because nobody should be using root for day-to-day changes and the
usual guard rails (SCPs, permission boundaries) do not apply to it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from chalicelib.models import Actor, Change, Severity

__all__ = ["ROOT_RULE", "apply_builtin", "builtin_severity", "change_severity", "is_root"]

ROOT_RULE = "root-user-change"
_ROOT_ARN = re.compile(r"^arn:aws[\w-]*:(iam|sts)::\d{12}:root$")


def is_root(actor: Actor | None) -> bool:
    """CloudTrail's ``userIdentity.type == "Root"`` (also AssumeRoot sessions) or a root ARN."""
    if actor is None:
        return False
    return actor.type == "Root" or bool(actor.arn and _ROOT_ARN.match(actor.arn))


def change_severity(change: Change, actor: Actor | None) -> tuple[Severity, str]:
    """The built-in severity and rule of one change: the plugin's, raised to critical for root.
    A change the plugin already rates critical keeps its own (more specific) rule name."""
    if is_root(actor) and change.severity is not Severity.CRITICAL:
        return Severity.CRITICAL, ROOT_RULE
    return change.severity, change.rule


def apply_builtin(changes: Iterable[Change], actor: Actor | None) -> tuple[Change, ...]:
    """The changes with the cross-cutting rules applied (idempotent)."""
    out: list[Change] = []
    for change in changes:
        severity, rule = change_severity(change, actor)
        if (severity, rule) == (change.severity, change.rule):
            out.append(change)
        else:
            out.append(Change(change.path, change.declared, change.live, severity, rule, change.sensitive,
                              change.digest))
    return tuple(out)


def builtin_severity(changes: Iterable[Change], actor: Actor | None,
                     default: Severity = Severity.INFO) -> tuple[Severity, str | None]:
    """The finding's built-in severity and the rule that decided it: the highest change severity
    (root raised to critical). A finding without changes gets ``default`` (the pipeline's own, e.g.
    high for a deleted resource), raised to critical when root did it unless it is ``info`` (nothing
    to alert on)."""
    rated = [change_severity(c, actor) for c in changes]
    if not rated:
        if is_root(actor) and default not in (Severity.CRITICAL, Severity.INFO):
            return Severity.CRITICAL, ROOT_RULE
        return default, None
    top = Severity.highest([s for s, _ in rated])
    return top, next(rule for s, rule in rated if s is top)
