"""Built-in cross-cutting severity: root-user changes are critical; plugin severities otherwise kept.
Root identities are taken from real CloudTrail records in the corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.drift.severity import ROOT_RULE, apply_builtin, builtin_severity, change_severity, is_root
from chalicelib.models import Actor, Change, Severity
from chalicelib.triggers.cloudtrail import parse_event

CLOUDTRAIL = Path(__file__).resolve().parents[1] / "fixtures" / "corpus" / "cloudtrail"
ROOT_EVENTS = sorted(p for p in CLOUDTRAIL.glob("*.json") if '"Root"' in p.read_text())

ROOT = Actor("arn:aws:iam::111122223333:root", "Root", "root", True)
DEV = Actor("arn:aws:sts::111122223333:assumed-role/Developer/alice", "AssumedRole", "Developer/alice", True)
TAG = Change("tags.Owner", "a", "b", Severity.LOW, "tags-changed")
WORLD = Change("ingress", None, {"cidr_blocks": ["0.0.0.0/0"]}, Severity.CRITICAL, "ingress-open-to-world")


def test_the_corpus_has_root_events() -> None:
    assert len(ROOT_EVENTS) >= 3


@pytest.mark.parametrize("path", ROOT_EVENTS, ids=lambda p: p.name)
def test_root_events_from_the_corpus_are_root(path: Path) -> None:
    raw = json.loads(path.read_text())
    for record in raw.get("Records", [raw]) if isinstance(raw, dict) else raw:
        event = parse_event(record)
        if event.actor.type == "Root":
            assert is_root(event.actor)


@pytest.mark.parametrize(("actor", "root"), [
    (ROOT, True),
    (Actor("arn:aws:iam::111122223333:root", None, None, False), True),  # type missing, ARN says root
    (Actor("arn:aws-us-gov:iam::111122223333:root", "Root", None, False), True),
    (Actor(None, "Root", "root", False), True),
    (DEV, False),
    (Actor("arn:aws:iam::111122223333:user/root", "IAMUser", "root", False), False),  # a user named root
    (Actor("arn:aws:sts::111122223333:assumed-role/root/x", "AssumedRole", "root/x", False), False),
    (Actor(None, None, None, False), False),
    (None, False),
])
def test_is_root(actor: Actor | None, root: bool) -> None:
    assert is_root(actor) is root


def test_root_raises_every_change_to_critical_and_keeps_critical_rules() -> None:
    assert change_severity(TAG, ROOT) == (Severity.CRITICAL, ROOT_RULE)
    assert change_severity(WORLD, ROOT) == (Severity.CRITICAL, "ingress-open-to-world")
    assert change_severity(TAG, DEV) == (Severity.LOW, "tags-changed")
    raised = apply_builtin([TAG, WORLD], ROOT)
    assert [(c.severity, c.rule) for c in raised] == [(Severity.CRITICAL, ROOT_RULE),
                                                      (Severity.CRITICAL, "ingress-open-to-world")]
    assert raised[0].digest == TAG.digest and raised[1] is WORLD
    assert apply_builtin(raised, ROOT) == raised  # idempotent
    assert apply_builtin([TAG], DEV) == (TAG,)


def test_finding_severity() -> None:
    assert builtin_severity([TAG], DEV) == (Severity.LOW, "tags-changed")
    assert builtin_severity([TAG, WORLD], DEV) == (Severity.CRITICAL, "ingress-open-to-world")
    assert builtin_severity([TAG], ROOT) == (Severity.CRITICAL, ROOT_RULE)
    assert builtin_severity([], DEV, Severity.HIGH) == (Severity.HIGH, None)
    assert builtin_severity([], ROOT, Severity.HIGH) == (Severity.CRITICAL, ROOT_RULE)
    assert builtin_severity([], ROOT, Severity.INFO) == (Severity.INFO, None)  # nothing to alert on
    assert builtin_severity([], None) == (Severity.INFO, None)
