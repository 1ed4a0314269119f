"""Who may decide: ``DRIFTWARDEN_APPROVERS`` and the optional four-eyes rule.

Format: comma-separated Slack user ids (``U…``/``W…``) and user-group ids (``S…``); then optional
``;severity=ids`` sections that replace the default list for that severity::

    DRIFTWARDEN_APPROVERS="U01PLATFORM,S02PLATFORM;critical=S03SECURITY;high=S03SECURITY,U04LEAD"

Unset means anyone who can see the message may decide (Slack's own channel membership).

Four-eyes (``DRIFTWARDEN_FOUR_EYES=true``): the person who made the change cannot decide on it.
Slack users are mapped to AWS identities by email: the Slack profile email is compared with the
actor's Identity Center session name (which is the user's email), an assumed-role session name,
an IAM user name equal to the email or its local part, or a federated user's name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.errors import ConfigError
from chalicelib.models import Actor, Finding

__all__ = ["ApproverPolicy", "SlackDirectory"]

log = logging.getLogger(__name__)
_SEVERITIES = {"critical", "high", "medium", "low", "info"}


@dataclass
class SlackDirectory:
    """User-group membership and profile emails, from the Slack Web API (cached per instance)."""

    client: Any
    _groups: dict[str, frozenset[str]] = field(default_factory=dict)
    _emails: dict[str, str | None] = field(default_factory=dict)

    def members(self, group_id: str) -> frozenset[str]:
        if group_id not in self._groups:
            resp = self.client.usergroups_users_list(usergroup=group_id)
            self._groups[group_id] = frozenset(resp.get("users") or [])
        return self._groups[group_id]

    def email(self, user_id: str) -> str | None:
        if user_id not in self._emails:
            resp = self.client.users_info(user=user_id)
            self._emails[user_id] = ((resp.get("user") or {}).get("profile") or {}).get("email")
        return self._emails[user_id]


def _ids(text: str) -> frozenset[str]:
    ids = frozenset(t.strip() for t in text.split(",") if t.strip())
    for i in ids:
        if i[:1] not in ("U", "W", "S") or not i.isalnum():
            raise ConfigError(f"DRIFTWARDEN_APPROVERS: {i!r} is not a Slack user (U…/W…) or user-group (S…) id")
    return ids


@dataclass(frozen=True)
class ApproverPolicy:
    default: frozenset[str] | None = None  # None: anyone
    by_severity: tuple[tuple[str, frozenset[str]], ...] = ()
    four_eyes: bool = False

    @classmethod
    def parse(cls, value: str | None, four_eyes: bool = False) -> ApproverPolicy:
        if not value:
            return cls(None, (), four_eyes)
        head, *sections = value.split(";")
        by: list[tuple[str, frozenset[str]]] = []
        for section in sections:
            sev, sep, ids = section.partition("=")
            sev = sev.strip().lower()
            if not sep or sev not in _SEVERITIES:
                raise ConfigError(f"DRIFTWARDEN_APPROVERS: {section!r} is not severity=ids "
                                  f"(severity one of {', '.join(sorted(_SEVERITIES))})")
            by.append((sev, _ids(ids)))
        return cls(_ids(head) if head.strip() else None, tuple(by), four_eyes)

    def required(self, finding: Finding) -> frozenset[str] | None:
        for sev, ids in self.by_severity:
            if sev == finding.severity.value:
                return ids
        return self.default

    def refusal(self, user: str, finding: Finding, directory: Callable[[], SlackDirectory | None]) -> str | None:
        """``None`` if ``user`` may decide on ``finding``; otherwise why not (shown to them)."""
        allowed = self.required(finding)
        if allowed is not None:
            ok = user in allowed
            groups = [g for g in allowed if g.startswith("S")]
            d = directory() if (not ok and groups) else None
            if d is not None:
                try:
                    ok = any(user in d.members(g) for g in groups)
                except Exception as exc:  # Slack unreachable: refuse, never allow by default
                    log.error("cannot read user groups", extra={"error": str(exc)})
                    return "Driftwarden could not check your user-group membership; try again shortly."
            if not ok:
                who = ", ".join(f"<!subteam^{g}>" if g.startswith("S") else f"<@{g}>" for g in sorted(allowed))
                return f"You are not an approver for {finding.severity.value} drift. Approvers: {who}."
        if self.four_eyes:
            d = directory()
            email = None
            if d is not None:
                try:
                    email = d.email(user)
                except Exception as exc:
                    log.error("cannot read user email", extra={"error": str(exc)})
                    return "Driftwarden could not check the four-eyes rule (email lookup failed); try again shortly."
            if email is None:
                return "The four-eyes rule is on and your Slack profile has no email to compare."
            if same_person(email, finding.actor):
                return "Four-eyes rule: you made this change, so someone else must decide."
        return None


def same_person(email: str, actor: Actor) -> bool:
    """Does the Slack email name the AWS actor? (See the module docstring for the mapping.)"""
    email = email.lower()
    local = email.split("@", 1)[0]
    name = (actor.name or "").lower()
    arn = (actor.arn or "").lower()
    session = name.rsplit("/", 1)[-1]
    return email in (name, session) or arn.endswith("/" + email) or (
        actor.type == "IAMUser" and name in (email, local))
