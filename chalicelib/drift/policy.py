"""Drift policy: which changes to ignore, which to revert without a click, how severe, which channel.

The policy is an HCL file (``DRIFTWARDEN_POLICY``: a path or an ``s3://`` URL) of ``rule`` blocks;
docs/POLICY.md is the reference. How a rule wins, in one paragraph:

Every rule is checked against each change of a finding. A rule applies to a change when every
matcher it has matches (the subject's type, address, module, state, account, region, tags, actor
and event; the change's attribute path and built-in rule/severity). For each setting (``action``,
``severity``, ``channel``) **the last applicable rule in the file that sets it wins**, change by
change, as in CODEOWNERS and .gitignore: put broad rules first and exceptions after them. Then:

- a change whose action is ``ignore`` is dropped (only that change);
- the finding reverts without a click only if *every* remaining change's action is ``revert``;
  otherwise it alerts;
- its severity is the highest of its remaining changes' severities (a rule's, else the built-in);
- its channel is the one set by the last rule in the file that applies to any remaining change.

A finding without changes (deleted, unmanaged) is judged by the rules without change matchers.
"""

from __future__ import annotations

import difflib
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.drift.severity import change_severity, is_root
from chalicelib.errors import ConfigError
from chalicelib.models import Actor, Change, Finding, Severity
from chalicelib.resources.base import ManagedResource
from chalicelib.state.hcl import Attr, Block, HclSyntaxError, parse_body, string_value

__all__ = [
    "Decision",
    "Policy",
    "PolicyAction",
    "PolicyError",
    "PolicyStore",
    "Rule",
    "Subject",
    "check_policy_file",
    "glob_match",
]

log = logging.getLogger(__name__)


class PolicyAction(str, Enum):
    IGNORE = "ignore"
    ALERT = "alert"
    REVERT = "revert"


class PolicyError(ConfigError):
    """The policy file is invalid. ``errors`` holds every problem as ``file:line: message``."""

    def __init__(self, errors: Sequence[str]) -> None:
        super().__init__("invalid policy:\n  " + "\n  ".join(errors))
        self.errors = list(errors)


# --- globs --------------------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def _glob_re(pattern: str) -> re.Pattern[str]:
    out = []
    for ch in pattern:
        out.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
    return re.compile("".join(out), re.DOTALL)


def glob_match(value: str | None, pattern: str) -> bool:
    """``*`` is any run of characters (dots and slashes included), ``?`` one character; everything
    else is literal, so ``aws_x.y["a"]`` needs no escaping. Case-sensitive, whole string."""
    return value is not None and _glob_re(pattern).fullmatch(value) is not None


def _path_ancestors(path: str) -> list[str]:
    """``tags.Owner`` → [``tags.Owner``, ``tags``]: a pattern for an attribute covers what is below it."""
    parts = path.split(".")
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]


_KEYS = re.compile(r'\[(?:"[^"]*"|[^\]]*)\]')


def _strip_keys(address: str) -> str:
    return _KEYS.sub("", address)


def _module_prefixes(module: str) -> list[str]:
    """``module.a["x"].module.b`` → both module levels, with and without instance keys."""
    out: list[str] = []
    parts = re.split(r"\.(?=module\.)", module)
    for i in range(1, len(parts) + 1):
        prefix = ".".join(parts[:i])
        out.extend({prefix, _strip_keys(prefix)})
    return out


_SEGMENT = re.compile(r'(?:[^.\["]|\[(?:"[^"]*"|[^\]]*)\])+')


def _module_of(address: str | None) -> str | None:
    """``module.a["x.y"].module.b.aws_x.y[0]`` → ``module.a["x.y"].module.b``; None in the root module."""
    parts = _SEGMENT.findall(address or "")
    i = 0
    while i + 2 < len(parts) and parts[i] == "module":
        i += 2
    return ".".join(parts[:i]) or None


def _state_candidates(url: str) -> list[str]:
    out = [url]
    m = re.match(r"^(s3://[^/]+/)env:/[^/]+/(.+)$", url)
    if m:
        out.append(m.group(1) + m.group(2))
    return out


# --- the subject ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """What a finding is about and who caused it: what the policy's subject matchers look at."""

    tf_type: str | None = None
    address: str | None = None
    module: str | None = None  # module.payments (state form); derived from address when None
    state_url: str | None = None
    account: str | None = None
    region: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)  # declared tags (tags_all from the state)
    actor_arn: str | None = None
    actor_arns: tuple[str, ...] = ()  # also the role/user behind a session (CloudTrailEvent.principal_arns)
    actor_type: str | None = None  # CloudTrail userIdentity.type; "Root" makes changes critical
    event_name: str | None = None

    @property
    def module_path(self) -> str | None:
        return self.module if self.module is not None else _module_of(self.address)

    @property
    def actor(self) -> Actor:
        return Actor(self.actor_arn, self.actor_type, None, False)

    @classmethod
    def from_finding(cls, finding: Finding, managed: ManagedResource | None = None,
                     principal_arns: Iterable[str] = ()) -> Subject:
        """Build from a finding (and the managed resource behind it, for module and tags)."""
        res = finding.resource
        tags: dict[str, str] = {}
        if managed is not None:
            raw = managed.attributes.get("tags_all") or managed.attributes.get("tags") or {}
            if isinstance(raw, Mapping):
                tags = {str(k): str(v) for k, v in raw.items() if v is not None}
        return cls(
            tf_type=res.type if res else None,
            address=res.address if res else None,
            module=managed.module if managed is not None else None,
            state_url=res.state if res else None,
            account=finding.account,
            region=finding.region,
            tags=tags,
            actor_arn=finding.actor.arn,
            actor_arns=tuple(principal_arns),
            actor_type=finding.actor.type,
            event_name=finding.event_name,
        )


# --- rules ---------------------------------------------------------------------------------------------

SUBJECT_MATCHERS = ("type", "address", "module", "state", "account", "region", "tag", "actor", "event")
CHANGE_MATCHERS = ("attribute", "builtin_rule", "builtin_severity")
MATCHERS = SUBJECT_MATCHERS + CHANGE_MATCHERS
SETTINGS = ("action", "severity", "channel")
RULE_KEYS = (*SETTINGS, "description")


@dataclass(frozen=True)
class Rule:
    name: str
    line: int
    action: PolicyAction | None = None
    severity: Severity | None = None
    channel: str | None = None
    description: str | None = None
    match: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # matcher → any-of patterns
    tags: tuple[tuple[str, str], ...] = ()  # every key must be present with a value matching its glob

    @property
    def change_scoped(self) -> bool:
        return any(k in self.match for k in CHANGE_MATCHERS)

    def setting(self, name: str) -> Any:
        return getattr(self, name)

    def matches_subject(self, s: Subject) -> bool:
        m = self.match
        if "type" in m and not _any(s.tf_type, m["type"]):
            return False
        if "address" in m and not (s.address and any(
                glob_match(s.address, p) or glob_match(_strip_keys(s.address), p) for p in m["address"])):
            return False
        if "module" in m:
            module = s.module_path
            if not module or not any(glob_match(prefix, p) for prefix in _module_prefixes(module)
                                     for p in m["module"]):
                return False
        if "state" in m and not (s.state_url and any(
                glob_match(u, p) for u in _state_candidates(s.state_url) for p in m["state"])):
            return False
        if "account" in m and not _any(s.account, m["account"]):
            return False
        if "region" in m and not _any(s.region, m["region"]):
            return False
        if "event" in m and not _any(s.event_name, m["event"]):
            return False
        if "actor" in m:
            arns = [a for a in (s.actor_arn, *s.actor_arns) if a]
            if not any(glob_match(a, p) for a in arns for p in m["actor"]):
                return False
        return all(key in s.tags and glob_match(s.tags[key], value) for key, value in self.tags)

    def matches_change(self, change: Change, builtin: tuple[Severity, str]) -> bool:
        m = self.match
        if "attribute" in m and not any(glob_match(a, p) for a in _path_ancestors(change.path)
                                        for p in m["attribute"]):
            return False
        if "builtin_rule" in m and not any(glob_match(r, p) for r in {change.rule, builtin[1]}
                                           for p in m["builtin_rule"]):
            return False
        return "builtin_severity" not in m or builtin[0].value in m["builtin_severity"]


def _any(value: str | None, patterns: Iterable[str]) -> bool:
    return value is not None and any(glob_match(value, p) for p in patterns)


# --- decisions -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """What the policy decided for one finding.

    ``action`` is None when no rule set one (keep the pipeline's default), ``ignore`` when every
    change was ignored (or, for a finding without changes, a rule ignores it). ``kept`` are the
    remaining changes with their final severity and rule (``policy:<name>`` when a rule set it);
    ``ignored`` pairs each dropped change with the rule that dropped it. ``rules`` names the rule
    behind each setting; ``rule_name`` is the one to cite (action, else severity, else channel).
    """

    action: PolicyAction | None
    severity: Severity
    channel: str | None
    rule_name: str | None
    kept: tuple[Change, ...] = ()
    ignored: tuple[tuple[Change, str], ...] = ()
    rules: Mapping[str, str] = field(default_factory=dict)
    reason: str = ""


POLICY_RULE_PREFIX = "policy:"


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]
    source_name: str = "<policy>"

    # --- loading ----------------------------------------------------------------------------------
    @classmethod
    def load(cls, text: str, source_name: str = "<policy>") -> Policy:
        """Parse and validate. Raises PolicyError listing every problem as ``file:line: message``."""
        rules, errors = _load(text, source_name)
        if errors:
            raise PolicyError(errors)
        return cls(tuple(rules), source_name)

    @classmethod
    def empty(cls) -> Policy:
        return cls((), "<no policy>")

    # --- evaluation --------------------------------------------------------------------------------
    def _winners(self, subject: Subject, change: Change | None,
                 builtin: tuple[Severity, str] | None) -> dict[str, tuple[int, Rule]]:
        """For each setting, the last applicable rule that sets it (with its position)."""
        out: dict[str, tuple[int, Rule]] = {}
        for pos, rule in enumerate(self.rules):
            if change is None:
                if rule.change_scoped:
                    continue
            elif not rule.matches_change(change, builtin or (change.severity, change.rule)):
                continue
            if not rule.matches_subject(subject):
                continue
            for name in SETTINGS:
                if rule.setting(name) is not None:
                    out[name] = (pos, rule)
        return out

    def filter(self, subject: Subject,
               changes: Iterable[Change]) -> tuple[list[Change], list[tuple[Change, str]]]:
        """Split changes into kept and ignored (with the name of the ignoring rule)."""
        kept: list[Change] = []
        ignored: list[tuple[Change, str]] = []
        actor = subject.actor
        for change in changes:
            action = self._winners(subject, change, change_severity(change, actor)).get("action")
            if action is not None and action[1].action is PolicyAction.IGNORE:
                ignored.append((change, action[1].name))
            else:
                kept.append(change)
        return kept, ignored

    def decide(self, subject: Subject, changes: Sequence[Change],
               builtin_severity: Severity = Severity.INFO) -> Decision:
        """Apply the policy to one finding's changes (plugin values; the root rule is applied
        here). ``builtin_severity`` is the pipeline's severity for a finding without changes."""
        actor = subject.actor
        if not changes:
            return self._decide_changeless(subject, builtin_severity, actor)
        kept: list[Change] = []
        ignored: list[tuple[Change, str]] = []
        actions: list[tuple[PolicyAction | None, int, Rule | None]] = []
        channel: tuple[int, Rule] | None = None
        for change in changes:
            builtin = change_severity(change, actor)
            won = self._winners(subject, change, builtin)
            act = won.get("action")
            if act is not None and act[1].action is PolicyAction.IGNORE:
                ignored.append((change, act[1].name))
                continue
            actions.append((act[1].action, act[0], act[1]) if act else (None, -1, None))
            sev = won.get("severity")
            if sev is not None:
                assert sev[1].severity is not None
                severity, rule = sev[1].severity, POLICY_RULE_PREFIX + sev[1].name
            else:
                severity, rule = builtin
            kept.append(change if (severity, rule) == (change.severity, change.rule) else
                        Change(change.path, change.declared, change.live, severity, rule, change.sensitive,
                               change.digest))
            chan = won.get("channel")
            if chan is not None and (channel is None or chan[0] > channel[0]):
                channel = chan
        if not kept:
            names = sorted({name for _, name in ignored})
            top, _ = _highest(changes, actor)
            return Decision(PolicyAction.IGNORE, top, None, ", ".join(names), (), tuple(ignored),
                            {"action": ", ".join(names)},
                            f"every change is ignored by policy rule(s) {', '.join(names)}")
        severity = Severity.highest([c.severity for c in kept])
        top_change = next(c for c in kept if c.severity is severity)
        rules: dict[str, str] = {}
        if top_change.rule.startswith(POLICY_RULE_PREFIX):
            rules["severity"] = top_change.rule[len(POLICY_RULE_PREFIX):]
        if channel is not None:
            rules["channel"] = channel[1].name
        action, action_rule, why = _aggregate_actions(actions)
        if action_rule is not None:
            rules["action"] = action_rule
        reason = why
        if ignored:
            names = sorted({name for _, name in ignored})
            reason += f"; {len(ignored)} change(s) ignored by policy rule(s) {', '.join(names)}"
        rule_name = rules.get("action") or rules.get("severity") or rules.get("channel")
        return Decision(action, severity, channel[1].channel if channel else None, rule_name, tuple(kept),
                        tuple(ignored), rules, reason)

    def _decide_changeless(self, subject: Subject, builtin_severity: Severity, actor: Actor) -> Decision:
        won = self._winners(subject, None, None)
        rules = {name: rule.name for name, (_, rule) in won.items()}
        act = won.get("action")
        sev = won.get("severity")
        chan = won.get("channel")
        severity = sev[1].severity if sev and sev[1].severity else builtin_severity
        if sev is None and is_root(actor) and builtin_severity not in (Severity.INFO, Severity.CRITICAL):
            severity = Severity.CRITICAL
        action = act[1].action if act else None
        reason = "no policy rule sets an action"
        if act and action:
            reason = f"policy rule {act[1].name} says {action.value}"
        return Decision(action, severity, chan[1].channel if chan else None,
                        rules.get("action") or rules.get("severity") or rules.get("channel"), (), (), rules,
                        reason)


def _highest(changes: Iterable[Change], actor: Actor) -> tuple[Severity, str]:
    rated = [change_severity(c, actor) for c in changes]
    top = Severity.highest([s for s, _ in rated])
    return top, next(r for s, r in rated if s is top)


def _aggregate_actions(actions: Sequence[tuple[PolicyAction | None, int, Rule | None]],
                       ) -> tuple[PolicyAction | None, str | None, str]:
    """Revert only when every kept change says revert; any alert (or unruled change) alerts."""
    if all(a is None for a, _, _ in actions):
        return None, None, "no policy rule sets an action"
    if all(a is PolicyAction.REVERT for a, _, _ in actions):
        last = max(actions, key=lambda t: t[1])[2]
        assert last is not None
        return PolicyAction.REVERT, last.name, f"policy rule {last.name} reverts every remaining change"
    alerts = [(pos, rule) for a, pos, rule in actions if a is PolicyAction.ALERT and rule is not None]
    reverts = sorted({rule.name for a, _, rule in actions if a is PolicyAction.REVERT and rule is not None})
    if alerts:
        rule = max(alerts, key=lambda t: t[0])[1]
        why = f"policy rule {rule.name} says alert"
        if reverts:
            why += f" for some changes, so {', '.join(reverts)} does not revert automatically"
        return PolicyAction.ALERT, rule.name, why
    return PolicyAction.ALERT, None, (f"policy rule(s) {', '.join(reverts)} revert only some of the changes; "
                                      "alerting for a person to decide")


# --- loading and validation ------------------------------------------------------------------------

_FIELD_SYNTAX: dict[str, tuple[re.Pattern[str], str]] = {
    "type": (re.compile(r"^[a-z0-9_*?]+$"), "a Terraform type such as aws_security_group (wildcards * ?)"),
    "account": (re.compile(r"^[0-9*?]+$"), "a 12-digit account id (wildcards * ?)"),
    "region": (re.compile(r"^[a-z0-9*?-]+$"), "a region such as eu-west-1 (wildcards * ?)"),
    "event": (re.compile(r"^[A-Za-z0-9*?]+$"), "a CloudTrail event name such as PutBucketPolicy"),
    "builtin_rule": (re.compile(r"^[a-z0-9*?-]+$"), "a built-in rule name such as ingress-open-to-world"),
    "module": (re.compile(r"^(module\.|\*)\S*$"), "a module address such as module.payments (wildcards * ?)"),
    "actor": (re.compile(r"^(arn:|\*)\S*$"), "an ARN glob such as arn:aws:sts::*:assumed-role/Developer/*"),
    "attribute": (re.compile(r"^[^\s\[\]\"]+$"), "a dotted change path such as tags.Owner or ingress"),
    "address": (re.compile(r"^\S+$"), "a resource address glob such as module.payments.*"),
    "state": (re.compile(r"^\S+$"), "a state URL glob such as s3://tfstate/prod/*"),
}
_SEVERITIES = [s.value for s in Severity]
_ACTIONS = [a.value for a in PolicyAction]
_CHANNEL = re.compile(r"^[#@]?[A-Za-z0-9._-]+$")
_RULE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")


class _Errors:
    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[tuple[int, str]] = []

    def add(self, line: int | None, message: str) -> None:
        self.items.append((line or 0, message))

    def render(self) -> list[str]:
        return [f"{self.source}:{line}: {msg}" if line else f"{self.source}: {msg}"
                for line, msg in sorted(self.items, key=lambda t: t[0])]


def _hint(key: str, allowed: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def _duplicates(attrs: Sequence[Attr], errors: _Errors, where: str) -> None:
    seen: dict[str, int] = {}
    for attr in attrs:
        if attr.name in seen:
            errors.add(attr.line, f"{attr.name} is set twice in {where} (first on line {seen[attr.name]})")
        seen.setdefault(attr.name, attr.line)


def _text(attr: Attr, errors: _Errors, what: str) -> str | None:
    value = string_value(attr.value)
    if value is None:
        shown = attr.value if isinstance(attr.value, str) else repr(attr.value)
        errors.add(attr.line, f'{what} must be a quoted string, not {shown} (write {attr.name} = "...")')
    return value


def _strings(attr: Attr, errors: _Errors, what: str) -> list[str] | None:
    values = attr.value if isinstance(attr.value, list) else [attr.value]
    if not values:
        errors.add(attr.line, f"{what} is an empty list, which would match nothing")
        return None
    out: list[str] = []
    for raw in values:
        text = string_value(raw)
        if text is None:
            errors.add(attr.line, f"{what} must be a quoted string or a list of them, not {raw!r}")
            return None
        out.append(text)
    return out


def _check_glob(field_name: str, pattern: str, line: int, errors: _Errors, what: str) -> bool:
    if pattern == "":
        errors.add(line, f"{what} has an empty pattern")
        return False
    if pattern != pattern.strip():
        errors.add(line, f"{what} pattern {pattern!r} has leading or trailing spaces")
        return False
    if "[" in pattern and field_name not in ("address", "state"):
        errors.add(line, f"{what} pattern {pattern!r}: character classes are not supported; only * and ? "
                         "are wildcards")
        return False
    syntax, explain = _FIELD_SYNTAX[field_name]
    if not syntax.match(pattern):
        errors.add(line, f"{what} pattern {pattern!r} is not {explain}")
        return False
    if field_name == "account" and "*" not in pattern and "?" not in pattern and len(pattern) != 12:
        errors.add(line, f"{what} {pattern!r} is not a 12-digit account id")
        return False
    return True


def _load_match(block: Block, rule_name: str, errors: _Errors) -> tuple[dict[str, tuple[str, ...]],
                                                                         tuple[tuple[str, str], ...]]:
    where = f'match block of rule "{rule_name}"'
    _duplicates(block.attrs, errors, where)
    for sub in block.blocks:
        hint = " (write tag = { Key = \"value\" })" if sub.type == "tag" else ""
        errors.add(sub.line, f"unexpected block {sub.type} in {where}{hint}")
    match: dict[str, tuple[str, ...]] = {}
    tags: list[tuple[str, str]] = []
    for attr in block.attrs:
        what = f"match.{attr.name} of rule \"{rule_name}\""
        if attr.name not in MATCHERS:
            errors.add(attr.line, f"unknown matcher {attr.name} in {where}{_hint(attr.name, MATCHERS)}; "
                                  f"expected one of: {', '.join(MATCHERS)}")
            continue
        if attr.name == "tag":
            if not isinstance(attr.value, dict) or not attr.value:
                errors.add(attr.line, f'{what} must be an object such as {{ Team = "payments" }}')
                continue
            for raw_key, raw_value in attr.value.items():
                key = string_value(raw_key) if str(raw_key).startswith('"') else str(raw_key)
                value = string_value(raw_value)
                if not key or value is None:
                    errors.add(attr.line, f"{what}: {raw_key} = {raw_value!r} must be a tag key and a quoted "
                                          "value glob")
                    continue
                if value != value.strip():
                    errors.add(attr.line, f"{what}: value {value!r} has leading or trailing spaces")
                    continue
                tags.append((key, value))
            continue
        values = _strings(attr, errors, what)
        if values is None:
            continue
        if attr.name == "builtin_severity":
            bad = [v for v in values if v not in _SEVERITIES]
            if bad:
                errors.add(attr.line, f"{what}: {', '.join(map(repr, bad))} is not a severity; expected one "
                                      f"of: {', '.join(_SEVERITIES)}")
                continue
        elif not all([_check_glob(attr.name, v, attr.line, errors, what) for v in values]):
            continue
        match[attr.name] = tuple(values)
    return match, tuple(tags)


def _load_rule(block: Block, errors: _Errors) -> Rule | None:
    if len(block.labels) != 1:
        errors.add(block.line, f'a rule needs exactly one name: rule "name" {{ ... }} '
                               f"(got {len(block.labels)})")
        return None
    name = block.labels[0]
    if not _RULE_NAME.match(name):
        errors.add(block.line, f"rule name {name!r} must start with a letter or digit and use only letters, "
                               "digits, - _ . :")
    where = f'rule "{name}"'
    _duplicates(block.attrs, errors, where)
    settings: dict[str, Any] = {}
    for attr in block.attrs:
        if attr.name not in RULE_KEYS:
            hint = _hint(attr.name, (*RULE_KEYS, *MATCHERS))
            if attr.name in MATCHERS:
                hint = f" ({attr.name} is a matcher: put it inside match {{ ... }})"
            errors.add(attr.line, f"unknown key {attr.name} in {where}{hint}; expected one of: "
                                  f"{', '.join(RULE_KEYS)} and a match block")
            continue
        text = _text(attr, errors, f"{attr.name} of {where}")
        if text is None:
            continue
        if attr.name == "action":
            if text not in _ACTIONS:
                errors.add(attr.line, f"action {text!r} of {where} is not one of: {', '.join(_ACTIONS)}"
                                      f"{_hint(text, _ACTIONS)}")
                continue
            settings["action"] = PolicyAction(text)
        elif attr.name == "severity":
            if text not in _SEVERITIES:
                errors.add(attr.line, f"severity {text!r} of {where} is not one of: {', '.join(_SEVERITIES)}"
                                      f"{_hint(text, _SEVERITIES)}")
                continue
            settings["severity"] = Severity(text)
        elif attr.name == "channel":
            if not _CHANNEL.match(text):
                errors.add(attr.line, f"channel {text!r} of {where} is not a Slack channel id (C0123ABC) or "
                                      "#name")
                continue
            settings["channel"] = text
        else:
            settings["description"] = text
    match: dict[str, tuple[str, ...]] = {}
    tags: tuple[tuple[str, str], ...] = ()
    matches = list(block.children("match"))
    for extra in matches[1:]:
        errors.add(extra.line, f"{where} has more than one match block (use a list for any-of, or a "
                               "second rule)")
    if matches:
        if matches[0].labels:
            errors.add(matches[0].line, f"the match block of {where} takes no label")
        match, tags = _load_match(matches[0], name, errors)
    for sub in block.blocks:
        if sub.type != "match":
            errors.add(sub.line, f"unexpected block {sub.type} in {where}{_hint(sub.type, ['match'])}; "
                                 "only a match block is allowed")
    if not any(k in settings for k in SETTINGS) and not any(a.name in SETTINGS for a in block.attrs):
        errors.add(block.line, f"{where} sets nothing: give it an action, a severity or a channel")
    if settings.get("action") is PolicyAction.IGNORE and ("severity" in settings or "channel" in settings):
        errors.add(block.line, f"{where} ignores changes, so its severity/channel would never apply: "
                               "move them to another rule")
    return Rule(name, block.line, settings.get("action"), settings.get("severity"), settings.get("channel"),
                settings.get("description"), match, tags)


def _load(text: str, source_name: str) -> tuple[list[Rule], list[str]]:
    errors = _Errors(source_name)
    try:
        root = parse_body(text, source_name)
    except HclSyntaxError as exc:
        return [], [str(exc)]
    for attr in root.attrs:
        errors.add(attr.line, f"unexpected {attr.name} = ... at the top level; a policy file holds only "
                              'rule "name" { ... } blocks')
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for block in root.blocks:
        if block.type != "rule":
            errors.add(block.line, f"unexpected block {block.type}{_hint(block.type, ['rule'])}; a policy "
                                   'file holds only rule "name" { ... } blocks')
            continue
        rule = _load_rule(block, errors)
        if rule is None:
            continue
        if rule.name in seen:
            errors.add(block.line, f'duplicate rule name "{rule.name}" (first on line {seen[rule.name]})')
            continue
        seen[rule.name] = block.line
        rules.append(rule)
    return rules, errors.render()


# --- files and the runtime store ------------------------------------------------------------------


def _read(location: str, s3: Callable[[], Any] | None) -> tuple[bytes, str]:
    """(body, version) of a local path or s3:// URL; version is the ETag or mtime:size."""
    if location.startswith("s3://"):
        if s3 is None:
            raise ConfigError(f"{location}: an S3 client is required for an s3:// policy")
        bucket, _, key = location[len("s3://"):].partition("/")
        try:
            obj = s3().get_object(Bucket=bucket, Key=key)
            return obj["Body"].read(), str(obj.get("ETag", ""))
        except (ClientError, BotoCoreError) as exc:
            raise ConfigError(f"{location}: cannot read policy: {exc}") from None
    path = Path(location)
    try:
        st = path.stat()
        return path.read_bytes(), f"{st.st_mtime_ns}:{st.st_size}"
    except OSError as exc:
        raise ConfigError(f"{location}: cannot read policy: {exc.strerror or exc}") from None


def check_policy_file(path: str, s3: Callable[[], Any] | None = None) -> list[str]:
    """``driftwarden policy check FILE``: every problem as ``file:line: message``; empty = valid."""
    try:
        body, _ = _read(path, s3)
    except ConfigError as exc:
        return [str(exc)]
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [f"{path}: not UTF-8 text: {exc}"]
    return _load(text, path)[1]


@dataclass
class PolicyStore:
    """``DRIFTWARDEN_POLICY`` for a warm Lambda: re-checked at most every ``ttl_seconds`` and
    re-parsed only when the object's ETag (or the file's mtime and size) changed. Raises
    PolicyError/ConfigError when the policy is invalid or unreadable: never a silent empty policy."""

    location: str | None
    s3: Callable[[], Any] | None = None
    ttl_seconds: float = 60.0
    clock: Callable[[], float] = time.monotonic
    loads: int = 0
    _version: str | None = None
    _result: Policy | ConfigError | None = None
    _checked_at: float | None = None

    def get(self) -> Policy:
        if not self.location:
            return Policy.empty()
        fresh = self._checked_at is not None and self.clock() - self._checked_at < self.ttl_seconds
        if not fresh or self._result is None:
            self._refresh(self.location)
        if isinstance(self._result, ConfigError):
            raise self._result
        assert self._result is not None
        return self._result

    def _refresh(self, location: str) -> None:
        try:
            body, version = _read(location, self.s3)
        except ConfigError as exc:
            self._result, self._version, self._checked_at = exc, None, self.clock()
            return
        self._checked_at = self.clock()
        if self._result is not None and version == self._version:
            return
        self.loads += 1
        self._version = version
        try:
            self._result = Policy.load(body.decode("utf-8"), location)
            log.info("policy loaded", extra={"policy": location, "rules": len(self._result.rules)})
        except UnicodeDecodeError as exc:
            self._result = PolicyError([f"{location}: not UTF-8 text: {exc}"])
        except PolicyError as exc:
            log.error("policy invalid", extra={"policy": location, "errors": exc.errors})
            self._result = exc
