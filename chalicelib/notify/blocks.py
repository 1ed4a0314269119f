"""Block Kit builders. Pure functions of a finding: no I/O, easy to test and to preview.

Values of sensitive changes arrive here already masked (``Change.to_dict``).
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.models import Finding, Status

__all__ = ["APPROVE", "REVERT", "alert_blocks", "alert_text", "outcome_blocks", "render_value"]

APPROVE = "driftwarden_approve"
REVERT = "driftwarden_revert"
_EMOJI = {"critical": ":rotating_light:", "high": ":warning:", "medium": ":large_orange_diamond:",
          "low": ":small_blue_diamond:", "info": ":information_source:"}
_MAX_TEXT = 2900


def render_value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict):
        return ", ".join(f"{k}={render_value(v) if isinstance(v, (dict, list)) else v}" for k, v in value.items())
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _clip(text: str, limit: int = _MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 20] + "\n… (truncated)"


def actor_line(finding: Finding) -> str:
    a = finding.actor
    how = "console" if a.via_console else "CLI/SDK"
    who = a.name or a.arn or "unknown principal"
    parts = [f"*{who}*", f"({a.type or 'unknown type'}, {how})"]
    if a.invoked_by:
        parts.append(f"via {a.invoked_by}")
    if a.source_ip:
        parts.append(f"from {a.source_ip}")
    return " ".join(parts)


def alert_text(finding: Finding) -> str:
    res = finding.resource
    where = res.address or res.id if res else "unknown resource"
    return f"{finding.severity.value.upper()} drift on {where}: {finding.reason}"


def alert_blocks(finding: Finding, *, with_buttons: bool = True, note: str | None = None) -> list[dict[str, Any]]:
    res = finding.resource
    title = f"{_EMOJI[finding.severity.value]} {finding.status.value.replace('_', ' ').title()} · " \
            f"{finding.severity.value} · {res.address or res.id if res else 'unknown resource'}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150], "emoji": True}},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*Who*\n{actor_line(finding)}"},
            {"type": "mrkdwn", "text": f"*When*\n{finding.event_time or 'unknown'} · `{finding.event_name}`"},
            {"type": "mrkdwn", "text": f"*Where*\naccount `{finding.account}` · `{finding.region}`"},
            {"type": "mrkdwn", "text": f"*Resource*\n`{res.address if res else '—'}`\n`{res.id if res else '—'}`"},
        ]},
    ]
    if res and res.state:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"state: `{res.state}`"}]})
    if finding.changes:
        lines = ["*What changed* (declared → live)"]
        for change in finding.changes:
            c = change.to_dict()
            lines.append(f"• `{c['path']}`: {render_value(c['declared'])} → *{render_value(c['live'])}*"
                         f"  _({change.severity.value}, {change.rule})_")
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip("\n".join(lines))}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(finding.reason, 2000)}]})
    if note:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(note, 2000)}]})
    if finding.status is Status.DRIFT:
        if finding.revertible:
            plan = "\n".join(f"• {call.summary}" for call in finding.plan)
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(f"*Revert will*\n{plan}")}})
        elif finding.not_revertible:
            blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                       "text": f"*Not revertible:* {finding.not_revertible}"}})
    if with_buttons and finding.status is Status.DRIFT:
        elements: list[dict[str, Any]] = [
            {"type": "button", "action_id": APPROVE, "style": "primary", "value": finding.id,
             "text": {"type": "plain_text", "text": "Approve"}},
        ]
        if finding.revertible:
            elements.append({
                "type": "button", "action_id": REVERT, "style": "danger", "value": finding.id,
                "text": {"type": "plain_text", "text": "Revert"},
                "confirm": {"title": {"type": "plain_text", "text": "Revert this change?"},
                            "text": {"type": "mrkdwn", "text": "Driftwarden re-reads the resource first and "
                                                               "refuses if it changed again."},
                            "confirm": {"type": "plain_text", "text": "Revert"},
                            "deny": {"type": "plain_text", "text": "Cancel"}},
            })
        blocks.append({"type": "actions", "block_id": f"dw:{finding.id}", "elements": elements})
    return blocks


def outcome_blocks(finding: Finding, outcome: str, user: str | None, detail: str, at: str) -> list[dict[str, Any]]:
    """The alert, buttons replaced by what happened, who asked and when."""
    icon = {"reverted": ":white_check_mark:", "approved": ":ballot_box_with_check:", "refused": ":no_entry:",
            "failed": ":x:", "not_needed": ":white_check_mark:", "expired": ":hourglass:"}.get(outcome, ":memo:")
    who = f"<@{user}>" if user else "Driftwarden"
    blocks = alert_blocks(finding, with_buttons=False)
    blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                               "text": _clip(f"{icon} *{outcome.replace('_', ' ')}* by {who} at "
                                                             f"{at}\n{detail}")}})
    return blocks
