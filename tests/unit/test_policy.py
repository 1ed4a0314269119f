"""Drift policy: every matcher, the precedence rules (last applicable rule per setting, ignore per
change, revert only when every change says revert), line-numbered errors, the shipped examples,
and the runtime store (local and S3, cached by version, never silently empty)."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from chalicelib.drift.policy import (
    Policy,
    PolicyAction,
    PolicyError,
    PolicyStore,
    Subject,
    check_policy_file,
    glob_match,
)
from chalicelib.errors import ConfigError
from chalicelib.models import Action, Actor, Change, Finding, ResourceInfo, Severity, Status
from chalicelib.resources.base import ManagedResource

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples" / "policy").glob("*.hcl"))

DEV_SESSION = "arn:aws:sts::111122223333:assumed-role/Developer/alice"
DEV_ROLE = "arn:aws:iam::111122223333:role/Developer"

SG = Subject(tf_type="aws_security_group", address='module.payments["eu"].aws_security_group.web',
             module='module.payments["eu"]', state_url="s3://tfstate/env:/prod/payments/terraform.tfstate",
             account="111122223333", region="eu-west-1", tags={"Team": "payments", "Env": "prod"},
             actor_arn=DEV_SESSION, actor_arns=(DEV_SESSION, DEV_ROLE), actor_type="AssumedRole",
             event_name="AuthorizeSecurityGroupIngress")
WORLD_22 = Change("ingress", None, {"from_port": 22, "cidr_blocks": ["0.0.0.0/0"]}, Severity.CRITICAL,
                  "ingress-open-to-world")
OWNER_TAG = Change("tags.Owner", "a", "b", Severity.LOW, "tags-changed")
DESCRIPTION = Change("description", "x", "y", Severity.MEDIUM, "attribute-changed")


def policy(text: str) -> Policy:
    return Policy.load(textwrap.dedent(text), "test.hcl")


def rule(name: str, match: str = "", **settings: str) -> str:
    body = "".join(f'  {k} = "{v}"\n' for k, v in settings.items())
    return f'rule "{name}" {{\n  match {{\n{textwrap.indent(match, "    ")}\n  }}\n{body}}}\n'


# --- globs --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "pattern", "expected"), [
    ("module.payments.aws_x.y", "module.payments.*", True),
    ('aws_x.y["a"]', 'aws_x.y["a"]', True),  # brackets are literal, not character classes
    ('aws_x.y["b"]', 'aws_x.y["a"]', False),
    ("arn:aws:sts::1:assumed-role/Developer/alice", "arn:aws:sts::*:assumed-role/Developer/*", True),
    ("eu-west-1", "eu-????-1", True),
    ("eu-west-1", "eu-*", True),
    ("us-east-1", "eu-*", False),
    ("AWS_X", "aws_x", False),  # case-sensitive
    (None, "*", False),
])
def test_glob(value: str | None, pattern: str, expected: bool) -> None:
    assert glob_match(value, pattern) is expected


# --- every matcher ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("match", "hit"), [
    ('type = "aws_security_group"', True),
    ('type = ["aws_s3_bucket", "aws_security_*"]', True),
    ('type = "aws_s3_bucket"', False),
    ('address = "module.payments.*"', True),  # matched with and without instance keys
    ('address = "module.payments[\\"us\\"].*"', False),
    ('address = "module.payments*"', True),
    ('address = "module.payments.aws_security_group.web"', True),  # instance keys may be left out
    ('address = "module.payments[\\"eu\\"].aws_security_group.web"', True),
    ('address = "aws_security_group.web"', False),
    ('module = "module.payments"', True),
    ('module = "module.pay*"', True),
    ('module = "module.payments.module.db"', False),
    ('state = "s3://tfstate/payments/*"', True),  # workspaces match like their default-workspace key
    ('state = "s3://tfstate/env:/prod/*"', True),
    ('state = "s3://tfstate/network/*"', False),
    ('account = "111122223333"', True),
    ('account = ["444455556666"]', False),
    ('account = "1111222233??"', True),
    ('region = "eu-*"', True),
    ('region = "us-east-1"', False),
    ('tag = { Team = "payments" }', True),
    ('tag = { Team = "pay*", Env = "prod" }', True),
    ('tag = { Team = "payments", Env = "dev" }', False),
    ('tag = { Owner = "*" }', False),  # the key must be present
    ('actor = "arn:aws:sts::*:assumed-role/Developer/*"', True),
    ('actor = "arn:aws:iam::*:role/Developer"', True),  # the role behind the session
    ('actor = "arn:aws:iam::*:user/*"', False),
    ('event = "Authorize*"', True),
    ('event = "RevokeSecurityGroupIngress"', False),
])
def test_every_subject_matcher(match: str, hit: bool) -> None:
    p = policy(rule("r", match, channel="C0HIT"))
    assert p.decide(SG, [DESCRIPTION]).channel == ("C0HIT" if hit else None)
    assert p.decide(SG, []).channel == ("C0HIT" if hit else None)


def test_nested_modules_match_their_parents() -> None:
    nested = Subject(address="module.payments.module.db.aws_db_instance.main",
                     module="module.payments.module.db")
    derived = Subject(address='module.payments.module.db["x"].aws_db_instance.main')
    root = Subject(address="aws_db_instance.main")
    p = policy(rule("r", 'module = "module.payments"', channel="C0PAY"))
    assert p.decide(nested, []).channel == "C0PAY"
    assert derived.module_path == 'module.payments.module.db["x"]'
    assert p.decide(derived, []).channel == "C0PAY"
    assert root.module_path is None and p.decide(root, []).channel is None
    inner = policy(rule("r", 'module = "module.payments.module.db"', channel="C"))
    assert inner.decide(derived, []).channel == "C"


@pytest.mark.parametrize(("match", "hits"), [
    ('attribute = "tags"', {"tags.Owner"}),  # a path covers what is below it
    ('attribute = "tags.*"', {"tags.Owner"}),
    ('attribute = ["ingress", "description"]', {"ingress", "description"}),
    ('attribute = "tags.Own"', set()),
    ('builtin_rule = "ingress-open-*"', {"ingress"}),
    ('builtin_rule = "tags-changed"', {"tags.Owner"}),
    ('builtin_severity = ["critical", "medium"]', {"ingress", "description"}),
    ('builtin_severity = "low"', {"tags.Owner"}),
])
def test_every_change_matcher(match: str, hits: set[str]) -> None:
    p = policy(rule("r", match, action="ignore"))
    kept, ignored = p.filter(SG, [WORLD_22, OWNER_TAG, DESCRIPTION])
    assert {c.path for c, name in ignored} == hits and all(name == "r" for _, name in ignored)
    assert {c.path for c in kept} == {"ingress", "tags.Owner", "description"} - hits


def test_root_user_is_visible_to_change_matchers() -> None:
    root = Subject(tf_type="aws_s3_bucket", actor_arn="arn:aws:iam::111122223333:root", actor_type="Root")
    p = policy(rule("root", 'builtin_rule = "root-user-change"', channel="C0ROOT")
               + rule("crit", 'builtin_severity = "critical"', severity="high"))
    d = p.decide(root, [OWNER_TAG])
    assert d.channel == "C0ROOT" and d.severity is Severity.HIGH
    assert d.rules == {"channel": "root", "severity": "crit"}
    assert p.decide(SG, [OWNER_TAG]).channel is None


def test_a_rule_with_change_matchers_never_applies_to_a_finding_without_changes() -> None:
    p = policy(rule("attr", 'attribute = "*"', action="ignore") + rule("sev", 'builtin_severity = "high"',
                                                                       channel="C0X"))
    d = p.decide(SG, [], Severity.HIGH)
    assert (d.action, d.channel, d.severity) == (None, None, Severity.HIGH)


# --- precedence -----------------------------------------------------------------------------------------

PRECEDENCE = policy("""
    rule "default" {
      channel = "C0PLATFORM"
    }
    rule "payments" {
      match {
        module = "module.payments"
      }
      channel  = "C0PAYMENTS"
      severity = "medium"
    }
    rule "ignore-owner-tag" {
      match {
        attribute = "tags.Owner"
      }
      action = "ignore"
    }
    rule "revert-world" {
      match {
        builtin_rule = "ingress-open-to-world"
      }
      action   = "revert"
      severity = "critical"
      channel  = "C0SECURITY"
    }
    rule "descriptions-alert" {
      match {
        attribute = "description"
      }
      action = "alert"
    }
    rule "prod-tags-matter" {
      match {
        attribute = "tags.Owner"
        account   = "111122223333"
        region    = "us-*"
      }
      action = "alert"
    }
""")
US = replace(SG, region="us-east-1")
OTHER = Subject(tf_type="aws_s3_bucket", address="aws_s3_bucket.logs", account="999988887777")
ACL = Change("acl", "private", "public-read", Severity.HIGH, "bucket-acl-changed")


@pytest.mark.parametrize(("subject", "changes", "expected"), [
    # every change ignored: the finding is ignored, by the rule that ignored it
    (SG, [OWNER_TAG], (PolicyAction.IGNORE, Severity.LOW, None, "ignore-owner-tag", [], ["tags.Owner"])),
    # ignore removes only the matching change; the payments severity applies to what is left
    (SG, [OWNER_TAG, DESCRIPTION],
     (PolicyAction.ALERT, Severity.MEDIUM, "C0PAYMENTS", "descriptions-alert", ["description"],
      ["tags.Owner"])),
    # revert only when every remaining change says revert; the later rule's channel wins
    (SG, [WORLD_22], (PolicyAction.REVERT, Severity.CRITICAL, "C0SECURITY", "revert-world", ["ingress"], [])),
    (SG, [WORLD_22, OWNER_TAG],
     (PolicyAction.REVERT, Severity.CRITICAL, "C0SECURITY", "revert-world", ["ingress"], ["tags.Owner"])),
    (SG, [WORLD_22, DESCRIPTION],
     (PolicyAction.ALERT, Severity.CRITICAL, "C0SECURITY", "descriptions-alert", ["ingress", "description"],
      [])),
    # a later rule un-ignores: the last rule that sets action for that change wins
    (US, [OWNER_TAG],
     (PolicyAction.ALERT, Severity.MEDIUM, "C0PAYMENTS", "prod-tags-matter", ["tags.Owner"], [])),
    # no rule sets an action: None (keep the pipeline's default); built-in severity; default channel
    (OTHER, [ACL], (None, Severity.HIGH, "C0PLATFORM", "default", ["acl"], [])),
    (OTHER, [DESCRIPTION], (PolicyAction.ALERT, Severity.MEDIUM, "C0PLATFORM", "descriptions-alert",
                            ["description"], [])),
    # a change no revert rule covers keeps the finding on alert (without naming an alert rule)
    (OTHER, [WORLD_22, ACL],
     (PolicyAction.ALERT, Severity.CRITICAL, "C0SECURITY", "revert-world", ["ingress", "acl"], [])),
])
def test_precedence_table(subject: Subject, changes: list[Change], expected: tuple[object, ...]) -> None:
    d = PRECEDENCE.decide(subject, changes)
    got = (d.action, d.severity, d.channel, d.rule_name, [c.path for c in d.kept],
           [c.path for c, _ in d.ignored])
    assert got == expected
    assert d.reason


def test_kept_changes_carry_the_severity_and_rule_that_decided_them() -> None:
    d = PRECEDENCE.decide(SG, [WORLD_22, DESCRIPTION])
    by_path = {c.path: c for c in d.kept}
    ingress, description = by_path["ingress"], by_path["description"]
    assert (ingress.severity, ingress.rule) == (Severity.CRITICAL, "policy:revert-world")
    assert (description.severity, description.rule) == (Severity.MEDIUM, "policy:payments")
    assert by_path["ingress"].digest == WORLD_22.digest  # the fingerprint of the drift is unchanged
    assert d.rules == {"action": "descriptions-alert", "severity": "revert-world", "channel": "revert-world"}
    assert "revert-world does not revert automatically" in d.reason


def test_partial_revert_without_an_alert_rule_says_why() -> None:
    d = PRECEDENCE.decide(OTHER, [WORLD_22, ACL])
    assert "revert only some of the changes" in d.reason and "action" not in d.rules


def test_severity_set_by_a_rule_can_lower_a_builtin_one_and_the_highest_change_wins() -> None:
    p = policy(rule("calm", 'type = "aws_security_group"', severity="low"))
    d = p.decide(SG, [WORLD_22, OWNER_TAG])
    assert d.severity is Severity.LOW and {c.rule for c in d.kept} == {"policy:calm"}
    d = policy(rule("calm", 'attribute = "tags"', severity="info")).decide(SG, [WORLD_22, OWNER_TAG])
    assert d.severity is Severity.CRITICAL and d.rule_name is None and "severity" not in d.rules


def test_root_changes_are_critical_unless_a_rule_says_otherwise() -> None:
    root = Subject(tf_type="aws_s3_bucket", actor_arn="arn:aws:iam::111122223333:root", actor_type="Root")
    d = Policy.empty().decide(root, [OWNER_TAG])
    assert d.severity is Severity.CRITICAL and d.kept[0].rule == "root-user-change" and d.action is None
    assert Policy.empty().decide(root, [], Severity.HIGH).severity is Severity.CRITICAL
    assert Policy.empty().decide(root, [], Severity.INFO).severity is Severity.INFO
    d = policy(rule("root-ok", 'actor = "arn:aws:iam::*:root"', severity="medium")).decide(root, [OWNER_TAG])
    assert d.severity is Severity.MEDIUM


def test_changeless_findings_use_subject_rules_last_wins() -> None:
    p = policy(rule("sandbox", 'account = "999988887777"', action="ignore")
               + rule("a", 'type = "aws_s3_bucket"', channel="C0A", severity="low")
               + rule("b", 'address = "aws_s3_bucket.*"', channel="C0B"))
    d = p.decide(OTHER, [], Severity.HIGH)
    assert (d.action, d.severity, d.channel) == (PolicyAction.IGNORE, Severity.LOW, "C0B")
    assert d.rule_name == "sandbox"
    d = Policy.empty().decide(OTHER, [], Severity.HIGH)
    assert (d.action, d.severity, d.channel, d.rule_name) == (None, Severity.HIGH, None, None)


def test_subject_from_finding() -> None:
    finding = Finding(event_id="e", event_name="PutBucketTagging", event_source="s3.amazonaws.com",
                      event_time=None, account="111122223333", region="eu-west-1",
                      actor=Actor(DEV_SESSION, "AssumedRole", "Developer/alice", True), status=Status.DRIFT,
                      resource=ResourceInfo("aws_s3_bucket", "module.data.aws_s3_bucket.logs", "logs",
                                            "s3://tfstate/data.tfstate"),
                      changes=(), severity=Severity.LOW, action=Action.ALERT, reason="")
    managed = ManagedResource("aws_s3_bucket", "module.data.aws_s3_bucket.logs", "s3://tfstate/data.tfstate",
                              {"tags": {"Team": "data"}, "tags_all": {"Team": "data", "Org": "acme"}},
                              module="module.data")
    s = Subject.from_finding(finding, managed, (DEV_SESSION, DEV_ROLE))
    assert s == Subject("aws_s3_bucket", "module.data.aws_s3_bucket.logs", "module.data", "s3://tfstate/data.tfstate",
                        "111122223333", "eu-west-1", {"Team": "data", "Org": "acme"}, DEV_SESSION,
                        (DEV_SESSION, DEV_ROLE), "AssumedRole", "PutBucketTagging")
    assert Subject.from_finding(finding).module_path == "module.data"


# --- errors -------------------------------------------------------------------------------------------------

def in_match(text: str) -> str:
    """A rule whose match block holds ``text`` on line 3."""
    return 'rule "a" {\n  match {\n    ' + text.replace("\n", "\n    ") + '\n  }\n  channel = "C"\n}\n'


MALFORMED = [
    ('rule "a" {\n  action = "ignore"\n  match {\n    typo = "x"\n  }\n}\n', 4, "unknown matcher typo"),
    ('rule "a" {\n  match {\n    type = "aws_x"\n  }\n  acton = "alert"\n}\n', 5, "did you mean action?"),
    ('rule "a" {\n  action = "revrt"\n}\n', 2, "'revrt' of rule \"a\" is not one of: ignore, alert, revert"),
    ('rule "a" {\n  action = ignore\n}\n', 2, "must be a quoted string"),
    ('rule "a" {\n  severity = "urgent"\n}\n', 2, "is not one of: critical, high, medium, low, info"),
    ('rule "a" {\n  channel = "#has space"\n}\n', 2, "is not a Slack channel"),
    ('rule "a" {\n  channel = "C1"\n}\n\nrule "a" {\n  channel = "C2"\n}\n', 5,
     'duplicate rule name "a" (first on line 1)'),
    (in_match('account = "12345"'), 3, "not a 12-digit account id"),
    (in_match('region = "EU West"'), 3, "is not a region"),
    (in_match('type = "aws_[xy]"'), 3, "character classes"),
    (in_match('actor = "Developer"'), 3, "is not an ARN glob"),
    (in_match('event = ""'), 3, "empty pattern"),
    (in_match('type = []'), 3, "empty list"),
    (in_match('type = " aws_x"'), 3, "leading or trailing spaces"),
    (in_match('type = var.t'), 3, "quoted string"),
    (in_match('type = "aws_${x}"'), 3, "quoted string"),
    (in_match('attribute = "tags[\\"a\\"]"'), 3, "character classes"),
    (in_match('module = "payments"'), 3, "module address"),
    (in_match('tag = "Team"'), 3, "must be an object"),
    (in_match('tag {\n      Team = "x"\n    }'), 3, "write tag = {"),
    (in_match('builtin_severity = "severe"'), 3, "is not a severity"),
    ('rule "a" {\n  match {\n    type = "a"\n    type = "b"\n  }\n  channel = "C"\n}\n', 4,
     "type is set twice"),
    ('rule "a" {\n  match {}\n  match {}\n  channel = "C"\n}\n', 3, "more than one match block"),
    ('rule "a" {\n  type = "aws_x"\n  channel = "C"\n}\n', 2, "put it inside match"),
    ('\n\nrule "a" {\n  description = "nothing"\n}\n', 3, "sets nothing"),
    ('rule "a" {\n  action = "ignore"\n  channel = "C0X"\n}\n', 1, "ignores changes, so its"),
    ('rule {\n  channel = "C"\n}\n', 1, "exactly one name"),
    ('rule "has space" {\n  channel = "C"\n}\n', 1, "rule name"),
    ('rules "a" {\n  channel = "C"\n}\n', 1, "did you mean rule?"),
    ('channel = "C"\n', 1, "at the top level"),
    ('rule "a" {\n  match {\n    type = "x"\n  }\n  exclude {}\n  channel = "C"\n}\n', 5,
     "unexpected block exclude"),
    ('rule "a" {\n  channel = "C"\n', None, "unexpected end of file"),
    ('rule "a" {\n  channel = "C"\n  severity = \n}\n', 3, "unexpected"),
]


@pytest.mark.parametrize(("text", "line", "message"), MALFORMED, ids=[m[2][:40] for m in MALFORMED])
def test_malformed_policies_report_file_and_line(tmp_path: Path, text: str, line: int | None,
                                                 message: str) -> None:
    path = tmp_path / "bad.hcl"
    path.write_text(text)
    errors = check_policy_file(str(path))
    assert errors, "expected an error"
    hit = [e for e in errors if message in e]
    assert hit, errors
    if line is not None:
        assert hit[0].startswith(f"{path}:{line}:"), hit[0]
    with pytest.raises(PolicyError) as err:
        Policy.load(text, str(path))
    assert err.value.errors == errors


def test_every_problem_is_reported_at_once_in_line_order() -> None:
    text = 'rule "a" {\n  action = "nope"\n  severity = "loud"\n  match {\n    region = "X"\n  }\n}\n'
    with pytest.raises(PolicyError) as err:
        Policy.load(text, "p.hcl")
    assert [e.split(":")[1] for e in err.value.errors] == ["2", "3", "5"]
    assert str(err.value).startswith("invalid policy:\n  p.hcl:2:")


def test_unreadable_policy_file() -> None:
    errors = check_policy_file("/nonexistent/policy.hcl")
    assert errors[0].startswith("/nonexistent/policy.hcl: cannot read policy")


ISSUE_RULES = ["ignore-autoscaling-capacity", "payments-team", "auto-revert-public-sg"]


def test_lead_example_from_the_issue_is_valid() -> None:
    """The three rules quoted in the issue, written the way the issue writes them."""
    p = policy("""
        rule "ignore-autoscaling-capacity" {
          match { type = "aws_autoscaling_group"  attribute = ["desired_capacity"] }
          action = "ignore"
        }
        rule "payments-team" {
          match { address = "module.payments.*"  account = ["111122223333"] }
          severity = "high"
          channel  = "C0PAYMENTS"
        }
        rule "auto-revert-public-sg" {
          match { type = "aws_security_group"  attribute = ["ingress"]  actor = "arn:aws:sts::*:assumed-role/Developer/*" }
          action = "revert"
        }
    """)  # noqa: E501
    assert [r.name for r in p.rules] == ISSUE_RULES
    d = p.decide(SG, [WORLD_22])
    assert d.action is PolicyAction.REVERT


# --- the examples ----------------------------------------------------------------------------------------


def test_there_are_examples() -> None:
    assert {p.name for p in EXAMPLES} >= {"security-strict.hcl", "platform-teams.hcl",
                                          "noisy-autoscaling.hcl", "auto-revert-world-open.hcl"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_are_valid(path: Path) -> None:
    assert check_policy_file(str(path)) == []
    assert Policy.load(path.read_text(), str(path)).rules


def load_example(name: str) -> Policy:
    path = ROOT / "examples" / "policy" / name
    return Policy.load(path.read_text(), str(path))


def test_example_noisy_autoscaling() -> None:
    p = load_example("noisy-autoscaling.hcl")
    asg = Subject(tf_type="aws_autoscaling_group", address="aws_autoscaling_group.web", actor_arn=DEV_SESSION)
    cap = Change("desired_capacity", 2, 5, Severity.MEDIUM)
    maxsize = Change("max_size", 4, 10, Severity.MEDIUM)
    d = p.decide(asg, [cap, maxsize])
    assert [c.path for c in d.kept] == ["max_size"] and d.ignored == ((cap, "ignore-autoscaling-capacity"),)
    scanner = Subject(tf_type="aws_instance", actor_arn="arn:aws:sts::1:assumed-role/inventory-scanner/run")
    tagged = Change("tags.LastScanned", None, "2024-05-01", Severity.LOW, "tags-changed")
    assert p.decide(scanner, [tagged]).action is PolicyAction.IGNORE
    assert p.decide(Subject(tf_type="aws_instance", actor_arn=DEV_SESSION), [tagged]).action is None


def test_example_auto_revert_world_open() -> None:
    p = load_example("auto-revert-world-open.hcl")
    assert p.decide(SG, [WORLD_22]).action is PolicyAction.REVERT
    assert p.decide(SG, [WORLD_22, DESCRIPTION]).action is PolicyAction.ALERT
    glass = replace(SG, actor_arn="arn:aws:sts::1:assumed-role/BreakGlass/bob", actor_arns=())
    d = p.decide(glass, [WORLD_22])
    assert (d.action, d.rule_name, d.channel) == (PolicyAction.ALERT, "break-glass-is-alerted-not-reverted",
                                                  "C0SECURITY")


def test_example_platform_teams() -> None:
    p = load_example("platform-teams.hcl")
    assert p.decide(SG, [DESCRIPTION]).channel == "C0PAYMENTS"
    data = Subject(tf_type="aws_s3_bucket", state_url="s3://acme-tfstate/data/lake/terraform.tfstate")
    assert p.decide(data, [DESCRIPTION]).channel == "C0DATA"
    search = Subject(tf_type="aws_instance", tags={"Team": "search"}, account="999988887777")
    d = p.decide(search, [WORLD_22])
    assert (d.channel, d.severity) == ("C0SEARCH", Severity.LOW)
    assert p.decide(Subject(tf_type="aws_sqs_queue"), []).channel == "C0PLATFORM"


def test_example_security_strict() -> None:
    p = load_example("security-strict.hcl")
    assert p.decide(SG, [OWNER_TAG]).severity is Severity.HIGH
    assert p.decide(SG, [WORLD_22]).severity is Severity.CRITICAL
    sso = replace(SG, actor_arn="arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_1/bob",
                  actor_arns=())
    assert p.decide(sso, [OWNER_TAG]).channel == "C0SECONCALL"
    assert p.decide(Subject(account="000000000000"), [OWNER_TAG]).channel == "C0SECURITY"
    assert not any(r.action is PolicyAction.IGNORE for r in p.rules)


# --- the runtime store --------------------------------------------------------------------------------------


def test_store_reads_once_per_version_and_never_goes_silently_empty(tmp_path: Path) -> None:
    path = tmp_path / "policy.hcl"
    path.write_text(rule("a", 'type = "aws_x"', channel="C0A"))
    now = [0.0]
    store = PolicyStore(str(path), ttl_seconds=60, clock=lambda: now[0])
    assert store.get().rules[0].channel == "C0A"
    assert store.get() is store.get() and store.loads == 1
    path.write_text(rule("a", 'type = "aws_x"', channel="C0B") + "\n")
    assert store.get().rules[0].channel == "C0A"  # within the TTL
    now[0] = 61
    assert store.get().rules[0].channel == "C0B" and store.loads == 2
    path.write_text('rule "a" {\n  channel = "bad channel"\n}\n')
    now[0] = 200
    for _ in range(2):  # the error is kept for the TTL, not replaced by the old policy
        with pytest.raises(PolicyError, match=r"policy\.hcl:2"):
            store.get()
    path.unlink()
    now[0] = 300
    with pytest.raises(ConfigError, match="cannot read policy"):
        store.get()
    assert PolicyStore(None).get().rules == () and PolicyStore("").get().rules == ()


def test_store_from_s3_by_etag(aws) -> None:  # type: ignore[no-untyped-def]
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="cfg")
    s3.put_object(Bucket="cfg", Key="policy.hcl", Body=rule("a", 'type = "aws_x"', channel="C0A").encode())
    now = [0.0]
    store = PolicyStore("s3://cfg/policy.hcl", lambda: s3, ttl_seconds=10, clock=lambda: now[0])
    assert store.get().rules[0].channel == "C0A"
    now[0] = 11
    assert store.get().rules[0].channel == "C0A" and store.loads == 1  # same ETag: not re-parsed
    s3.put_object(Bucket="cfg", Key="policy.hcl", Body=rule("a", 'type = "aws_x"', channel="C0B").encode())
    now[0] = 22
    assert store.get().rules[0].channel == "C0B" and store.loads == 2
    assert check_policy_file("s3://cfg/policy.hcl", lambda: s3) == []
    assert "cannot read policy" in check_policy_file("s3://cfg/missing.hcl", lambda: s3)[0]
    assert "S3 client is required" in check_policy_file("s3://cfg/policy.hcl")[0]


def test_the_policy_doc_examples_are_the_tested_ones() -> None:
    """docs/POLICY.md shows the issue's example and the precedence table's policy: both load, and the
    worked example is exactly the policy test_precedence_table runs."""
    doc = (ROOT / "docs" / "POLICY.md").read_text()
    blocks = doc.split("```hcl\n")[1:]
    first = Policy.load(blocks[0].split("```")[0], "POLICY.md")
    assert [r.name for r in first.rules] == ISSUE_RULES
    worked = doc.split("### Worked example")[1].split("```hcl\n")[1].split("```")[0]
    assert [replace(r, line=0) for r in Policy.load(worked, "POLICY.md").rules] == [
        replace(r, line=0) for r in PRECEDENCE.rules]
