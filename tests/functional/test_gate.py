"""``driftwarden gate``: a saved plan (``terraform show -json``) against the finding store.

The fixture ``tests/fixtures/plans/prod-update.plan.json`` is hand-written to the shape Terraform
1.9 emits (format_version 1.2, resource_drift, module addresses, before/after/after_unknown and
sensitivity markers, prior_state, configuration, relevant_attributes, timestamp/applyable/
complete/errored); values are invented. Its story: someone opened SSH to the world on
``module.net.aws_security_group.web`` and changed its ``Owner`` tag, someone turned off deletion
protection on ``aws_db_instance.orders``; the plan (refreshed) would put all three back while adding
a ``CostCenter`` tag and raising backup retention.
"""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import hcl2
import pytest

from chalicelib.actions.store import Put, dynamo_store, file_store
from chalicelib.audit import FileAuditLog
from chalicelib.gate import parse_plan, run_gate
from chalicelib.models import MASK, Action, Actor, Change, Finding, ResourceInfo, Severity, Status
from chalicelib.resources.aws_security_group import key_to_rule

PLAN = Path(__file__).resolve().parents[1] / "fixtures" / "plans" / "prod-update.plan.json"
GID = "sg-0f6e2d1c3b4a59687"
SG = "module.net.aws_security_group.web"
DB = "aws_db_instance.orders"
STATE = "s3://acme-tfstate/prod/app.tfstate"
SSH = key_to_rule(("tcp", 22, 22, "cidr", "0.0.0.0/0"), "")
HTTPS = key_to_rule(("tcp", 443, 443, "cidr", "0.0.0.0/0"), "https")
GITHUB = {"GITHUB_ACTIONS": "true", "GITHUB_ACTOR": "octo-deployer", "GITHUB_RUN_ID": "9876543210",
          "GITHUB_REPOSITORY": "acme/infra", "GITHUB_SERVER_URL": "https://github.com"}


def finding(address: str, tf_type: str, rid: str, changes: list[Change], event: str, who: str,
            event_id: str) -> Finding:
    return Finding(
        event_id=event_id, event_name=event, event_source="ec2.amazonaws.com", event_time="2024-06-02T16:41:09Z",
        account="123456789012", region="eu-west-1",
        actor=Actor(f"arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0a1b/{who}", "AssumedRole", who,
                    True, "203.0.113.7"),
        status=Status.DRIFT, resource=ResourceInfo(tf_type, address, rid, STATE), changes=tuple(changes),
        severity=Severity.highest([c.severity for c in changes]), action=Action.ALERT, reason="drift")


OPEN_SSH = finding(SG, "aws_security_group", GID, [Change("ingress", None, SSH, Severity.CRITICAL,
                                                          "ingress-open-to-world")],
                   "AuthorizeSecurityGroupIngress", "alice", "ev-ssh")
OWNER_TAG = finding(SG, "aws_security_group", GID, [Change("tags.Owner", "platform", "payments", Severity.LOW,
                                                           "tags-changed")], "CreateTags", "bob", "ev-tag")
DB_PROTECTION = finding(DB, "aws_db_instance", "orders",
                        [Change("deletion_protection", True, False, Severity.HIGH, "deletion-protection-off")],
                        "ModifyDBInstance", "carol", "ev-db")
ELSEWHERE = finding("module.edge.aws_security_group.lb", "aws_security_group", "sg-0aaaaaaaaaaaaaaaa",
                    [Change("ingress", None, SSH, Severity.CRITICAL)], "AuthorizeSecurityGroupIngress", "dave", "ev-x")


def plan_doc() -> dict[str, Any]:
    return json.loads(PLAN.read_text())


def write_plan(tmp_path: Path, doc: Any, name: str = "plan.json") -> str:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return str(path)


def change_of(doc: dict[str, Any], address: str) -> dict[str, Any]:
    return next(rc["change"] for rc in doc["resource_changes"] if rc["address"] == address)


def store_with(tmp_path: Path, open_: list[Finding] = (), approved: list[Finding] = (),
               other: list[tuple[Finding, str]] = ()):
    store = file_store(tmp_path / "findings")
    for f in open_:
        assert store.put(f)[0] is Put.NEW
    for f in approved:
        assert store.put(f)[0] is Put.NEW
        assert store.decide(f.id, {"action": "approve", "user": "U0APPROVER", "at": "2024-06-02T17:03:00Z"})
        store.finish(f.id, "approved", {"user": "U0APPROVER"})
    for f, state in other:
        assert store.put(f)[0] is Put.NEW
        store.finish(f.id, state, {})
    return store


def gate(plan_path: str, store, audit=None, **kw) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    kw.setdefault("allow", [])
    kw.setdefault("reason", None)
    kw.setdefault("fmt", "text")
    kw.setdefault("ci_identity", None)
    kw.setdefault("env", {})
    code = run_gate(plan_path, store, audit, out=out, err=err, **kw)
    return code, out.getvalue(), err.getvalue()


def test_fixture_parses_as_a_terraform_plan():
    plan = parse_plan(PLAN.read_bytes(), str(PLAN))
    assert plan.format_version == "1.2" and plan.terraform_version == "1.9.8"
    assert set(plan.resources) == {SG, DB, "aws_s3_bucket.logs"}
    assert plan.resources[SG].action == "update" and plan.resources["aws_s3_bucket.logs"].action == "no-op"


def test_plan_overwriting_an_open_drift_is_blocked(tmp_path):
    store = store_with(tmp_path, open_=[OPEN_SSH, ELSEWHERE])
    code, out, _ = gate(str(PLAN), store)
    assert code == 1, out
    assert "BLOCKED" in out and "overwrite 1 open (undecided) drift" in out
    assert f"OPEN DRIFT (undecided): {SG}" in out and OPEN_SSH.id in out
    assert '"cidr_blocks": ["0.0.0.0/0"]' in out and "REMOVED by the apply" in out
    assert "changed by alice" in out and "via the console at 2024-06-02T16:41:09Z" in out
    assert "AuthorizeSecurityGroupIngress" in out and f"--allow {OPEN_SSH.id}" in out
    assert ELSEWHERE.id not in out, "a finding on a resource the plan does not touch is not reported"


def test_json_output_names_finding_attribute_live_value_and_actor(tmp_path):
    store = store_with(tmp_path, open_=[OPEN_SSH])
    code, out, _ = gate(str(PLAN), store, fmt="json")
    assert code == 1
    doc = json.loads(out)
    assert doc["result"] == "blocked" and doc["exit_code"] == 1
    assert doc["plan"]["terraform_version"] == "1.9.8" and len(doc["plan"]["sha256"]) == 64
    [v] = doc["blocked"]
    assert v["kind"] == "pending-drift" and v["finding_id"] == OPEN_SSH.id and v["address"] == SG
    assert v["attributes"] == [{"path": "ingress", "live": SSH, "declared_at_detection": None,
                                "after_apply": {"element": SSH, "present": False}}]
    assert v["changed_by"]["name"] == "alice" and v["changed_by"]["event_time"] == "2024-06-02T16:41:09Z"
    assert v["plan_action"] == "update"


def test_plan_undoing_an_accepted_drift_is_blocked_with_the_codify_snippet(tmp_path):
    store = store_with(tmp_path, approved=[OWNER_TAG, DB_PROTECTION])
    code, out, _ = gate(str(PLAN), store)
    assert code == 1, out
    assert "undo 2 accepted drift(s) that were never codified" in out
    assert "tags.Owner: accepted live value \"payments\" → after apply: \"platform\"" in out
    assert "accepted by U0APPROVER at 2024-06-02T17:03:00Z" in out
    assert 'Owner = "payments"' in out and "deletion_protection = false" in out
    code, out, _ = gate(str(PLAN), store, fmt="json")
    for v in json.loads(out)["blocked"]:
        assert v["kind"] == "accepted-drift-not-codified"
        hcl2.loads(v["codify"])  # the snippet is valid HCL
    tags = next(v for v in json.loads(out)["blocked"] if v["address"] == SG)
    assert 'resource "aws_security_group" "web"' in tags["codify"]


def test_codified_acceptance_passes(tmp_path):
    doc = plan_doc()
    sg = change_of(doc, SG)
    for side in ("before", "after"):
        sg[side]["tags"]["Owner"] = "payments"
        sg[side]["tags_all"]["Owner"] = "payments"
    db = change_of(doc, DB)
    db["after"]["deletion_protection"] = False
    store = store_with(tmp_path, approved=[OWNER_TAG, DB_PROTECTION])
    code, out, _ = gate(write_plan(tmp_path, doc), store)
    assert code == 0, out
    assert "clean" in out


def test_plan_that_codifies_the_open_drift_is_not_blocked(tmp_path):
    """The PR adds the SSH rule to the configuration: the apply keeps the live value."""
    doc = plan_doc()
    sg = change_of(doc, SG)
    sg["after"]["ingress"] = copy.deepcopy(sg["before"]["ingress"])
    code, out, _ = gate(write_plan(tmp_path, doc), store_with(tmp_path, open_=[OPEN_SSH]))
    assert code == 0, out


def test_plan_touching_unrelated_resources_is_clean(tmp_path):
    doc = plan_doc()
    doc["resource_changes"] = [rc for rc in doc["resource_changes"] if rc["address"] == "aws_s3_bucket.logs"]
    logs = doc["resource_changes"][0]
    logs["change"]["actions"] = ["update"]
    logs["change"]["after"]["tags"]["Retention"] = "90d"
    store = store_with(tmp_path, open_=[OPEN_SSH], approved=[OWNER_TAG, DB_PROTECTION])
    code, out, _ = gate(write_plan(tmp_path, doc), store)
    assert code == 0, out
    assert "0 of 3 open/accepted finding(s) map to it" in out


def test_open_drift_on_an_attribute_the_plan_leaves_alone_is_not_blocked(tmp_path):
    """A plan made with -refresh=false: before is the stored state, ingress is not changed, so the
    apply does not touch the live rule (only the tag is added)."""
    doc = plan_doc()
    sg = change_of(doc, SG)
    sg["before"]["ingress"] = copy.deepcopy(sg["after"]["ingress"])
    code, out, _ = gate(write_plan(tmp_path, doc), store_with(tmp_path, open_=[OPEN_SSH]))
    assert code == 0, out


def test_decided_findings_do_not_block(tmp_path):
    store = store_with(tmp_path, other=[(OPEN_SSH, "reverted"), (DB_PROTECTION, "expired")])
    code, out, _ = gate(str(PLAN), store)
    assert code == 0, out


def test_deleting_a_resource_with_an_open_drift_is_blocked(tmp_path):
    doc = plan_doc()
    sg = change_of(doc, SG)
    sg["actions"], sg["after"], sg["after_sensitive"] = ["delete"], None, False
    code, out, _ = gate(write_plan(tmp_path, doc), store_with(tmp_path, open_=[OPEN_SSH]), fmt="json")
    assert code == 1
    [v] = json.loads(out)["blocked"]
    assert v["plan_action"] == "delete" and v["attributes"][0]["after_apply"] == "(destroyed with the resource)"


def test_unknown_planned_value_blocks_an_open_drift(tmp_path):
    doc = plan_doc()
    db = change_of(doc, DB)
    del db["after"]["deletion_protection"]
    db["after_unknown"] = {"deletion_protection": True}
    pending = finding(DB, "aws_db_instance", "orders", [Change("deletion_protection", True, False)],
                      "ModifyDBInstance", "carol", "ev-db2")
    code, out, _ = gate(write_plan(tmp_path, doc), store_with(tmp_path, open_=[pending]))
    assert code == 1 and "(known only after apply)" in out


def test_sensitive_values_are_never_printed(tmp_path):
    doc = plan_doc()
    db = change_of(doc, DB)
    db["after"]["password"] = "a-brand-new-password"
    secret = finding(DB, "aws_db_instance", "orders",
                     [Change("password", "correct-horse-battery-staple", "rotated-by-hand", sensitive=True)],
                     "ModifyDBInstance", "carol", "ev-pw")
    code, out, _ = gate(write_plan(tmp_path, doc), store_with(tmp_path, open_=[secret]), fmt="json")
    assert code == 1
    for plaintext in ("a-brand-new-password", "correct-horse-battery-staple", "rotated-by-hand"):
        assert plaintext not in out
    [v] = json.loads(out)["blocked"]
    assert v["attributes"][0]["live"] == MASK and v["attributes"][0]["after_apply"] == MASK


def test_override_passes_and_is_audited(tmp_path):
    audit = FileAuditLog(tmp_path / "audit.jsonl")
    store = store_with(tmp_path, open_=[OPEN_SSH])
    code, out, _ = gate(str(PLAN), store, audit, allow=[OPEN_SSH.id], reason="break-glass: INC-4711", env=GITHUB)
    assert code == 0, out
    assert "PASSED WITH 1 OVERRIDE" in out and "overridden (audit record seq 1)" in out
    [rec] = list(audit.iter())
    assert rec.event == "gate-override" and rec.finding_id == OPEN_SSH.id and rec.resource == SG
    assert rec.ci_identity["system"] == "github" and rec.ci_identity["actor"] == "octo-deployer"
    assert rec.ci_identity["run_url"] == "https://github.com/acme/infra/actions/runs/9876543210"
    assert rec.detail["reason"] == "break-glass: INC-4711"
    assert rec.detail["plan"]["sha256"] == parse_plan(PLAN.read_bytes()).sha256
    assert rec.changes == [{"path": "ingress", "declared": None, "live": SSH}]
    assert rec.aws_actor["name"] == "alice"
    assert audit.verify() == []


def test_override_of_one_finding_leaves_the_others_blocking(tmp_path):
    audit = FileAuditLog(tmp_path / "audit.jsonl")
    store = store_with(tmp_path, open_=[OPEN_SSH], approved=[DB_PROTECTION])
    env = {"GITLAB_CI": "true", "GITLAB_USER_LOGIN": "gl-user", "CI_PIPELINE_ID": "4242"}
    code, out, _ = gate(str(PLAN), store, audit, allow=[DB_PROTECTION.id], reason="decommissioning", env=env,
                        fmt="json")
    assert code == 1
    doc = json.loads(out)
    assert [v["finding_id"] for v in doc["blocked"]] == [OPEN_SSH.id]
    assert [v["finding_id"] for v in doc["overridden"]] == [DB_PROTECTION.id]
    [rec] = list(audit.iter())
    assert rec.ci_identity == {"system": "gitlab", "actor": "gl-user", "pipeline_id": "4242"}


def test_ci_identity_argument_wins_and_unneeded_allow_is_reported(tmp_path):
    audit = FileAuditLog(tmp_path / "audit.jsonl")
    store = store_with(tmp_path, open_=[OPEN_SSH, ELSEWHERE])
    code, out, _ = gate(str(PLAN), store, audit, allow=[OPEN_SSH.id, ELSEWHERE.id], reason="ok",
                        ci_identity="release-bot")
    assert code == 0
    assert f"--allow {ELSEWHERE.id}: that finding does not block this plan" in out
    [rec] = list(audit.iter())
    assert rec.ci_identity["actor"] == "release-bot"


@pytest.mark.parametrize("allow, reason, fragment", [
    (["x"], None, "--allow needs --reason"),
    (["0123456789abcdef0123"], "typo", "--allow names no stored finding"),
])
def test_override_usage_errors(tmp_path, allow, reason, fragment):
    code, out, err = gate(str(PLAN), store_with(tmp_path, open_=[OPEN_SSH]), FileAuditLog(tmp_path / "a.jsonl"),
                          allow=allow, reason=reason)
    assert code == 2 and fragment in err and out == ""


def test_override_without_an_audit_trail_is_refused(tmp_path):
    code, _, err = gate(str(PLAN), store_with(tmp_path, open_=[OPEN_SSH]), None, allow=[OPEN_SSH.id], reason="x")
    assert code == 2 and "audit trail" in err


def _truncated() -> str:
    return PLAN.read_text()[:5000]


@pytest.mark.parametrize("content, fragment", [
    (_truncated, "not valid JSON"),
    ("", "empty file"),
    ("[1, 2]", "top level is not an object"),
    ('{"terraform_version": "1.9.8", "resource_changes": []}', "no format_version"),
    ('{"format_version": "2.0", "resource_changes": []}', "unsupported plan format_version '2.0'"),
    ('{"format_version": 1.2, "resource_changes": []}', "unsupported plan format_version 1.2"),
    ('{"format_version": "1.2", "planned_values": {}}', "no resource_changes list"),
    ('{"format_version": "1.2", "resource_changes": {}}', "no resource_changes list"),
    ('{"format_version": "1.2", "resource_changes": [{"address": "a.b", "type": "a", "change": {}}]}',
     "has no change.actions list"),
    ('{"format_version": "1.0", "values": {"root_module": {}}}', "of a state, not of a saved plan"),
    ('{"version": 4, "serial": 3, "resources": []}', "raw state file"),
    ('{"format_version": "1.2", "errored": true, "resource_changes": []}', "errored"),
])
def test_bad_plan_input_is_exit_2(tmp_path, content, fragment):
    text = content() if callable(content) else content
    store = store_with(tmp_path, open_=[OPEN_SSH])
    code, out, err = gate(write_plan(tmp_path, text), store)
    assert code == 2, out
    assert fragment in err
    code, out, _ = gate(write_plan(tmp_path, text), store, fmt="json")
    assert code == 2 and json.loads(out)["result"] == "error"


def test_empty_store_passes_with_a_warning(tmp_path):
    code, out, _ = gate(str(PLAN), store_with(tmp_path))
    assert code == 0 and "the findings store is empty" in out


def test_missing_plan_file_is_exit_2(tmp_path):
    code, _, err = gate(str(tmp_path / "nope.json"), store_with(tmp_path))
    assert code == 2 and "cannot read the plan file" in err


def test_same_address_in_another_state_is_not_applied(tmp_path):
    doc = plan_doc()
    sg = change_of(doc, SG)
    for side in ("before", "after"):
        sg[side]["id"] = "sg-0bbbbbbbbbbbbbbbb"
    store = store_with(tmp_path, open_=[OPEN_SSH])
    code, out, _ = gate(write_plan(tmp_path, doc), store)
    assert code == 0, out
    assert "not applied: the plan's object at this address is sg-0bbbbbbbbbbbbbbbb" in out
    code, _, err = gate(write_plan(tmp_path, doc), store, state=STATE)
    assert code == 2 and f"this plan is not for state {STATE}" in err
    code, _, _ = gate(str(PLAN), store, state=STATE)
    assert code == 1, "the real plan is for that state"
    code, _, _ = gate(str(PLAN), store, state="s3://acme-tfstate/staging/app.tfstate")
    assert code == 0, "findings of other states are ignored"


def test_moved_resource_is_matched_by_previous_address(tmp_path):
    doc = plan_doc()
    rc = next(rc for rc in doc["resource_changes"] if rc["address"] == SG)
    rc["address"], rc["previous_address"] = "module.network.aws_security_group.web", SG
    code, out, _ = gate(write_plan(tmp_path, doc), store_with(tmp_path, open_=[OPEN_SSH]))
    assert code == 1 and "module.network.aws_security_group.web" in out


def test_dynamodb_store_is_listed_with_a_scan(aws, tmp_path):
    table = aws.resource("dynamodb").create_table(
        TableName="driftwarden-findings", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    store = dynamo_store(table)
    assert store.put(OPEN_SSH)[0] is Put.NEW and store.put(OWNER_TAG)[0] is Put.NEW
    assert store.decide(OWNER_TAG.id, {"action": "approve", "user": "U1", "at": "2024-06-02T17:00:00Z"})
    store.finish(OWNER_TAG.id, "approved", {"user": "U1"})
    assert {s.finding.id: s.state for s in store.all()} == {OPEN_SSH.id: "open", OWNER_TAG.id: "approved"}
    code, out, _ = gate(str(PLAN), store, fmt="json")
    assert code == 1
    assert {v["kind"] for v in json.loads(out)["blocked"]} == {"pending-drift", "accepted-drift-not-codified"}
    broken = dynamo_store(aws.resource("dynamodb").Table("no-such-table"))
    code, _, err = gate(str(PLAN), broken)
    assert code == 2 and "cannot read the findings store" in err


def test_finding_from_the_pipeline_blocks_the_plan_that_would_revert_it(aws, tmp_path):
    """End to end: a console change found by the real pipeline (moto), stored, then gated."""
    from tests.conftest import make_pipeline
    from tests.harness.events import sg_rule_event
    from tests.harness.tfstate import StateBuilder, sg_attributes, sg_rule_block

    ec2, s3 = aws.client("ec2"), aws.client("s3")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    gid = ec2.create_security_group(GroupName="web", Description="web tier", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0",
                                                                             "Description": "https"}]}])
    group = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]
    s3.create_bucket(Bucket="acme-tfstate")
    StateBuilder().add("aws_security_group", "web", sg_attributes(
        group, ingress=[sg_rule_block("tcp", 443, 443, ["0.0.0.0/0"], "https")], egress=[]),
        module="module.net").put(s3, "acme-tfstate", "prod/app.tfstate")
    world_ssh = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=world_ssh)
    [found] = make_pipeline(aws, "s3://acme-tfstate/prod/").process_event(
        sg_rule_event("AuthorizeSecurityGroupIngress", gid, world_ssh))
    assert found.status is Status.DRIFT
    store = file_store(tmp_path / "findings")
    assert store.put(found)[0] is Put.NEW
    plan_text = PLAN.read_text().replace(GID, gid)
    code, out, _ = gate(write_plan(tmp_path, plan_text), store, fmt="json")
    assert code == 1, out
    [v] = json.loads(out)["blocked"]
    assert v["finding_id"] == found.id and v["attributes"][0]["path"] == "ingress"
    assert v["attributes"][0]["live"]["from_port"] == 22
