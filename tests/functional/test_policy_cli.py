"""``driftwarden policy check`` and what a broken ``DRIFTWARDEN_POLICY`` does at run time.

The check is what CI runs before a policy ships: every shipped example passes (exit 0, ``FILE: ok``);
a malformed file fails (exit 1) with every problem as ``file:line: message``, in line order. At run
time a policy that cannot be read or parsed must never mute drift: the finding stays drift with the
built-in severity, and its reason says the policy file was unreadable and built-in rules applied
(the pipeline runs end to end on moto through the wiring the Lambda uses).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib import wiring
from chalicelib.cli import main
from chalicelib.models import Finding, Severity, Status
from tests.harness.events import ACCOUNT, cloudtrail_event
from tests.harness.tfstate import StateBuilder

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples" / "policy").glob("*.hcl"))
STATE_BUCKET = "noise-policy-cli-states"
REGION = "us-east-1"


def check(capsys: pytest.CaptureFixture[str], *files: Path | str) -> tuple[int, list[str]]:
    code = main(["policy", "check", *map(str, files)])
    return code, capsys.readouterr().out.splitlines()


# === driftwarden policy check ===============================================================================
def test_there_are_shipped_examples() -> None:
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_shipped_example_passes(capsys: pytest.CaptureFixture[str], path: Path) -> None:
    assert check(capsys, path) == (0, [f"{path}: ok"])


def test_all_examples_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = check(capsys, *EXAMPLES)
    assert code == 0 and lines == [f"{p}: ok" for p in EXAMPLES]


DOCS_EXAMPLE = """\
rule "asg" {
  match {
    type = "aws_autoscaling_group"
    typ  = "aws_autoscaling_group"
  }

  action = "revrt"
}

rule "payments" {
  channel = "C0PAYMENTS"
}
rule "payments" {
  channel = "C0OTHER"
}
"""


def test_the_error_format_documented_in_policy_md(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """docs/POLICY.md shows three errors at lines 4, 7 and 12: this file has them at 4, 7 and 13."""
    path = tmp_path / "policy.hcl"
    path.write_text(DOCS_EXAMPLE)
    code, lines = check(capsys, path)
    assert code == 1
    assert [line.split(":", 2)[:2] for line in lines] == [[str(path), n] for n in ("4", "7", "13")]
    assert lines[0].startswith(f'{path}:4: unknown matcher typ in match block of rule "asg" (did you mean '
                               "type?); expected one of: type, address, module")
    assert lines[1] == (f"{path}:7: action 'revrt' of rule \"asg\" is not one of: ignore, alert, revert "
                        "(did you mean revert?)")
    assert lines[2] == f'{path}:13: duplicate rule name "payments" (first on line 10)'
    assert f"{path}: ok" not in lines


def _mark(text: str) -> tuple[str, list[int]]:
    """Strip ``  # <-`` markers; return the text and the (1-based) lines that carried them."""
    out, marked = [], []
    for n, line in enumerate(text.splitlines(), 1):
        if line.endswith("  # <-"):
            marked.append(n)
            line = line[: -len("  # <-")]
        out.append(line)
    return "\n".join(out) + "\n", marked


MALFORMED = {
    "several-mistakes-in-a-real-looking-file": ("""\
# Platform team policy
rule "default-channel" {
  channel = "#platform alerts"  # <-
}

rule "ignore-asg" {
  match {
    type      = "aws_autoscaling_group"
    attribute = desired_capacity  # <-
  }
  action = "ignore"
}

rule "prod" {
  match {
    account = ["1111-2222-3333"]  # <-
    actor   = "Developer"  # <-
  }
  severity = "urgent"  # <-
}
""", ["is not a Slack channel id", "must be a quoted string or a list of them",
      "is not a 12-digit account id", "is not an ARN glob", "'urgent' of rule \"prod\" is not one of"]),
    "hcl-syntax-error-with-column": ("""\
rule "a" {
  channel = "C0A"
}

rule "b" {
  severity = "high"
  match {
    type = "aws_s3_bucket"
  }
  action =  # <-
}
""", [":10:11: unexpected '}'"]),  # a syntax error also gives the column
    "matcher-outside-match": ("""\
rule "revert-sg" {
  type   = "aws_security_group"  # <-
  action = "revert"
}
""", ["put it inside match"]),
    "ignore-that-also-sets-a-channel": ("""\
rule "mute-tags" {  # <-
  match {
    attribute = ["tags"]
  }
  action  = "ignore"
  channel = "C0TAGS"
}
""", ["ignores changes, so its severity/channel would never apply"]),
    "not-a-policy-file": ("""\
resource "aws_s3_bucket" "b" {  # <-
  bucket = "b"
}
""", ["unexpected block resource"]),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_files_fail_with_line_numbered_messages(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          name: str) -> None:
    text, messages = MALFORMED[name]
    clean, lines = _mark(text)
    path = tmp_path / f"{name}.hcl"
    path.write_text(clean)
    code, out = check(capsys, path)
    assert code == 1
    assert len(out) == len(lines) == len(messages), out
    for got, line, message in zip(out, lines, messages, strict=True):
        assert got.startswith(f"{path}:{line}:"), (got, line)
        assert message in got, (got, message)


def test_a_bad_file_fails_the_run_and_good_ones_still_say_ok(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.hcl"
    bad.write_text('rule "x" {\n  action = "revrt"\n}\n')
    missing = tmp_path / "missing.hcl"
    code, out = check(capsys, EXAMPLES[0], bad, missing, EXAMPLES[1])
    assert code == 1
    assert out[0] == f"{EXAMPLES[0]}: ok" and out[-1] == f"{EXAMPLES[1]}: ok"
    assert out[1].startswith(f"{bad}:2: action 'revrt'")
    assert out[2].startswith(f"{missing}: cannot read policy")


# === a broken policy at run time never mutes drift ==========================================================
@pytest.fixture(scope="module")
def account(aws_module: boto3.session.Session) -> Iterator[boto3.session.Session]:
    aws_module.client("s3").create_bucket(Bucket=STATE_BUCKET)
    yield aws_module


def managed_queue(account: boto3.session.Session) -> tuple[str, str]:
    """A queue and its state (the state prefix is returned for DRIFTWARDEN_STATE)."""
    sqs = account.client("sqs")
    url = sqs.create_queue(QueueName=f"orders-{uuid.uuid4().hex[:8]}", tags={"team": "orders"},
                           Attributes={"MaximumMessageSize": "262144"})["QueueUrl"]
    name = url.rsplit("/", 1)[-1]
    prefix = f"{name}/"
    StateBuilder().add("aws_sqs_queue", "orders", {
        "arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}", "content_based_deduplication": False,
        "deduplication_scope": "", "delay_seconds": 0, "fifo_queue": False, "fifo_throughput_limit": "",
        "id": url, "kms_data_key_reuse_period_seconds": 300, "kms_master_key_id": "",
        "max_message_size": 262144, "message_retention_seconds": 345600, "name": name, "name_prefix": "",
        "policy": "", "receive_wait_time_seconds": 0, "redrive_allow_policy": "", "redrive_policy": "",
        "sqs_managed_sse_enabled": True, "tags": {"team": "orders"}, "tags_all": {"team": "orders"},
        "url": url, "visibility_timeout_seconds": 30}).put(account.client("s3"), STATE_BUCKET,
                                                           prefix + "terraform.tfstate")
    return url, f"s3://{STATE_BUCKET}/{prefix}"


def tag_drift(account: boto3.session.Session, url: str) -> dict[str, Any]:
    account.client("sqs").tag_queue(QueueUrl=url, Tags={"team": "someone-else"})
    return cloudtrail_event("TagQueue", "sqs.amazonaws.com",
                            {"queueUrl": url, "tags": {"team": "someone-else"}})


def judged(event: dict[str, Any]) -> Finding:
    [finding] = wiring.pipeline().process_event(event)
    return finding


MUTE = 'rule "mute-team-tag" {\n  match {\n    attribute = ["tags.team"]\n  }\n  action = "ignore"\n}\n'


def test_a_valid_policy_would_have_ignored_it(account: boto3.session.Session, env: Any,
                                              tmp_path: Path) -> None:
    """The control for the tests below: with this rule readable, the change is ignored."""
    url, state = managed_queue(account)
    policy = tmp_path / "policy.hcl"
    policy.write_text(MUTE)
    env(DRIFTWARDEN_STATE=state, DRIFTWARDEN_POLICY=str(policy))
    finding = judged(tag_drift(account, url))
    assert finding.status is Status.IGNORED
    assert finding.reason == "every difference is ignored by policy rule mute-team-tag"


BROKEN = {
    # the same ignore rule, then a typo further down: nothing in the file may apply
    "invalid": (MUTE + '\nrule "later" {\n  severity = "hihg"\n}\n', "policy.hcl:9: severity 'hihg'"),
    "syntax-error": (MUTE[:-2], "policy.hcl"),  # the closing brace is missing
    "not-utf8": ("\udcff", "not UTF-8 text"),
}


@pytest.mark.parametrize("kind", list(BROKEN))
def test_a_broken_policy_file_never_mutes_drift(account: boto3.session.Session, env: Any, tmp_path: Path,
                                                kind: str) -> None:
    url, state = managed_queue(account)
    text, detail = BROKEN[kind]
    policy = tmp_path / "policy.hcl"
    policy.write_bytes(text.encode("utf-8", "surrogateescape"))
    env(DRIFTWARDEN_STATE=state, DRIFTWARDEN_POLICY=str(policy))
    finding = judged(tag_drift(account, url))
    assert finding.status is Status.DRIFT and finding.severity is Severity.LOW
    assert [(c.path, c.declared, c.live) for c in finding.changes] == [
        ("tags.team", "orders", "someone-else")]
    assert "policy file unreadable (" in finding.reason, finding.reason
    assert detail in finding.reason, finding.reason
    assert finding.reason.endswith("built-in rules applied"), finding.reason


@pytest.mark.parametrize("location", ["local-missing", "s3-missing"])
def test_an_unreadable_policy_location_never_mutes_drift(account: boto3.session.Session, env: Any,
                                                         tmp_path: Path, location: str) -> None:
    url, state = managed_queue(account)
    where = {"local-missing": str(tmp_path / "nowhere.hcl"),
             "s3-missing": f"s3://{STATE_BUCKET}/no/such/policy.hcl"}[location]
    env(DRIFTWARDEN_STATE=state, DRIFTWARDEN_POLICY=where)
    finding = judged(tag_drift(account, url))
    assert finding.status is Status.DRIFT and finding.severity is Severity.LOW
    assert f"policy file unreadable ({where}: cannot read policy" in finding.reason, finding.reason
    assert finding.reason.endswith("built-in rules applied"), finding.reason


def test_replay_prints_the_drift_and_why_the_policy_did_not_apply(
        account: boto3.session.Session, env: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url, state = managed_queue(account)
    policy = tmp_path / "policy.hcl"
    policy.write_text('rule "mute" {\n  acton = "ignore"\n}\n')
    env(DRIFTWARDEN_STATE=state, DRIFTWARDEN_POLICY=str(policy))
    path = tmp_path / "event.json"
    path.write_text(json.dumps(tag_drift(account, url)))
    assert main(["replay", str(path)]) == 0
    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert line["status"] == "drift" and line["severity"] == "low"
    assert "; policy file unreadable (invalid policy:; " in line["reason"] and "\n" not in line["reason"]
    assert f"{policy}:2: unknown key acton in rule \"mute\" (did you mean action?)" in line["reason"]
    assert line["reason"].endswith("built-in rules applied")
