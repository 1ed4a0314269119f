"""Approve and Revert a security team would sign off on (issue 6), through app.py, moto and the
Slack stand-in: queue, first-click-wins, approvers, four-eyes, compare-and-set, caps, delivery,
idempotency, expiry, grouping, auto-revert and the audit trail."""

from __future__ import annotations

import json

import pytest
from chalice.test import Client

from chalicelib import wiring
from chalicelib.audit import FileAuditLog
from chalicelib.models import Action
from tests.harness.events import role_identity, sg_rule_event
from tests.harness.slack_sign import block_action_body, sign
from tests.harness.slack_standin import SlackStandIn
from tests.harness.tfstate import StateBuilder, sg_attributes

SECRET = "wf-secret"
SSH = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
RDP = [{"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]


class World:
    def __init__(self, aws, env, slack, tmp_path, **extra):
        self.aws, self.slack, self.tmp = aws, slack, tmp_path
        self.ec2, s3, ddb, sqs = aws.client("ec2"), aws.client("s3"), aws.client("dynamodb"), aws.client("sqs")
        vpc = self.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        self.gid = self.ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
        group = self.ec2.describe_security_groups(GroupIds=[self.gid])["SecurityGroups"][0]
        s3.create_bucket(Bucket="wf-state")
        StateBuilder().add("aws_security_group", "web", sg_attributes(group, ingress=[], egress=[])).put(
            s3, "wf-state", "app.tfstate")
        for name in ("findings", "idem"):
            ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                             AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                             BillingMode="PAY_PER_REQUEST")
        self.queue = sqs.create_queue(QueueName="driftwarden-decisions")["QueueUrl"]
        self.sqs = sqs
        settings = dict(DRIFTWARDEN_STATE="s3://wf-state/app.tfstate", DRIFTWARDEN_TABLE="findings",
                        DRIFTWARDEN_QUEUE_URL=self.queue, DRIFTWARDEN_IDEMPOTENCY_TABLE="idem",
                        DRIFTWARDEN_SELF_PRINCIPALS="arn:aws:iam::*:role/driftwarden-*",
                        DRIFTWARDEN_SLACK_MIN_INTERVAL="0",
                        SLACK_BOT_TOKEN=slack.token, SLACK_SIGNING_SECRET=SECRET, SLACK_CHANNEL="C1",
                        SLACK_API_URL=slack.url)
        settings.update(extra)
        env(**settings)
        from app import app

        self.client = Client(app)

    def drift(self, perms=SSH, **kw) -> str:
        self.ec2.authorize_security_group_ingress(GroupId=self.gid, IpPermissions=perms)
        return self.invoke(sg_rule_event("AuthorizeSecurityGroupIngress", self.gid, perms, **kw))

    def invoke(self, event) -> str | None:
        findings = self.client.lambda_.invoke("on_cloudtrail", event).payload["findings"]
        return findings[0]["id"] if findings else None

    def click(self, finding_id, action="driftwarden_revert", user="U0ALICE"):
        body = block_action_body(finding_id, action, user=user, channel="C1")
        return self.client.http.post("/slack/actions", headers=sign(SECRET, body), body=body)

    def run_worker(self) -> list[dict]:
        msgs = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10).get("Messages", [])
        if not msgs:
            return []
        event = {"Records": [{"body": m["Body"], "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"],
                              "eventSource": "aws:sqs", "attributes": {}, "messageAttributes": {}} for m in msgs]}
        for m in msgs:
            self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=m["ReceiptHandle"])
        return self.client.lambda_.invoke("on_decision", event).payload["results"]

    def sweep(self) -> dict:
        event = self.client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event",
                                                     detail={}, resources=[])
        return self.client.lambda_.invoke("on_sweep", event).payload

    def ssh_open(self) -> bool:
        perms = self.ec2.describe_security_groups(GroupIds=[self.gid])["SecurityGroups"][0]["IpPermissions"]
        return any(p.get("FromPort") == 22 for p in perms)

    def updates(self) -> list[dict]:
        return [c["payload"] for c in self.slack.calls if c["method"] == "chat.update"]

    def audit_events(self) -> list[str]:
        return [r.event for r in FileAuditLog(self.tmp / "audit.jsonl").iter()]


@pytest.fixture
def slack():
    with SlackStandIn() as standin:
        yield standin


@pytest.fixture
def world(aws, env, slack, tmp_path):
    return World(aws, env, slack, tmp_path)


def test_double_click_gives_exactly_one_revert(world):
    fid = world.drift()
    assert world.click(fid).status_code == 200
    assert world.click(fid, user="U0BOB").status_code == 200
    assert world.ssh_open(), "the route only records and enqueues"
    assert world.run_worker() == [{"outcome": "reverted",
                                   "reason": "restored the declared value (1 call(s)); verified in sync"}]
    assert not world.ssh_open()
    assert world.run_worker() == [], "the second click enqueued nothing"
    assert "Already decided: revert by <@U0ALICE>" in world.slack.ephemeral[-1]["text"]
    [update] = world.updates()
    assert "reverted" in update["text"] and "<@U0ALICE>" in json.dumps(update["blocks"])
    assert world.audit_events() == ["detected", "notified", "reverted"]


def test_route_does_no_aws_work_beyond_decision_write_and_enqueue(world):
    fid = world.drift()
    calls: list[str] = []
    factory = wiring.clients()
    before = dict(factory.calls)
    import botocore.client

    original = botocore.client.BaseClient._make_api_call

    def spy(self, operation_name, api_params):
        calls.append(f"{self.meta.service_model.service_name}:{operation_name}")
        return original(self, operation_name, api_params)

    botocore.client.BaseClient._make_api_call = spy
    try:
        assert world.click(fid).status_code == 200
    finally:
        botocore.client.BaseClient._make_api_call = original
    assert sorted(set(calls)) == ["dynamodb:GetItem", "dynamodb:UpdateItem", "sqs:SendMessage"], calls
    assert calls.count("dynamodb:UpdateItem") == 1 and calls.count("sqs:SendMessage") == 1
    assert factory.calls.get("EC2:DescribeSecurityGroups") == before.get("EC2:DescribeSecurityGroups")


def test_unauthorized_user_is_refused_with_an_ephemeral(aws, env, slack, tmp_path):
    world = World(aws, env, slack, tmp_path, DRIFTWARDEN_APPROVERS="U0LEAD;critical=S0SECURITY")
    slack.usergroups["S0SECURITY"] = ["U0SEC"]
    fid = world.drift()
    assert world.click(fid, user="U0LEAD").status_code == 200, "critical needs the security group, not the default"
    assert "not an approver for critical drift" in slack.ephemeral[-1]["text"]
    assert world.run_worker() == [] and world.ssh_open()
    assert wiring.store().get(fid).state == "open", "a refused click changes nothing"


def test_user_group_approver_is_accepted(aws, env, slack, tmp_path):
    world = World(aws, env, slack, tmp_path, DRIFTWARDEN_APPROVERS="U0LEAD;critical=S0SECURITY")
    slack.usergroups["S0SECURITY"] = ["U0SEC"]
    fid = world.drift()
    assert world.click(fid, user="U0SEC").status_code == 200
    assert [r["outcome"] for r in world.run_worker()] == ["reverted"]


def test_four_eyes_refuses_the_person_who_made_the_change(aws, env, slack, tmp_path):
    world = World(aws, env, slack, tmp_path, DRIFTWARDEN_FOUR_EYES="true")
    slack.emails.update({"U0ALICE": "alice@example.com", "U0BOB": "bob@example.com"})
    fid = world.drift()  # made by alice@example.com through Identity Center
    world.click(fid, user="U0ALICE")
    assert "Four-eyes rule: you made this change" in slack.ephemeral[-1]["text"]
    assert world.run_worker() == []
    world.click(fid, user="U0BOB")
    assert [r["outcome"] for r in world.run_worker()] == ["reverted"]


def test_revert_refused_when_live_changed_again_before_the_worker(world):
    fid = world.drift()
    world.click(fid)
    world.ec2.authorize_security_group_ingress(GroupId=world.gid, IpPermissions=RDP)
    [result] = world.run_worker()
    assert result["outcome"] == "refused" and "changed again" in result["reason"]
    assert world.ssh_open(), "refused means untouched"
    assert "refused" in world.updates()[-1]["text"]
    assert world.audit_events()[-1] == "refused"


def test_approve_accepts_and_suppresses_the_same_drift(world):
    fid = world.drift()
    world.click(fid, action="driftwarden_approve")
    assert [r["outcome"] for r in world.run_worker()] == ["approved"]
    posts_before = len(world.slack.posts())
    again = world.invoke(sg_rule_event("CreateTags", world.gid, []) | {})  # any event re-judging the group
    assert again is not None
    assert len(world.slack.posts()) == posts_before, "accepted drift is suppressed until it changes"
    world.ec2.authorize_security_group_ingress(GroupId=world.gid, IpPermissions=RDP)
    world.invoke(sg_rule_event("AuthorizeSecurityGroupIngress", world.gid, RDP))
    assert len(world.slack.posts()) == posts_before + 1, "a changed drift alerts again"


def test_own_role_events_produce_no_findings(world):
    world.ec2.authorize_security_group_ingress(GroupId=world.gid, IpPermissions=SSH)
    event = sg_rule_event("RevokeSecurityGroupIngress", world.gid, SSH, console=False,
                          identity=role_identity("driftwarden-remediator", "driftwarden-f123"))
    world.invoke(event)
    assert world.slack.posts() == []
    assert wiring.store().all() == []


def test_slack_429_and_500_are_retried_and_posted(world):
    world.slack.fail_next(1, status=429, retry_after="0")
    world.slack.fail_next(1, status=500)
    world.drift()
    assert len(world.slack.posts()) == 3, "two failures, then the post that succeeded"
    assert all(s.slack for s in wiring.store().all())


def test_post_that_still_fails_is_retried_by_the_sweep(world):
    world.slack.fail_next(4, status=500)  # the first attempt and its three retries
    fid = world.drift()
    assert not wiring.store().get(fid).slack, "stored before Slack; not posted"
    result = world.sweep()
    assert result == {"expired": 0, "posted": 1}
    assert wiring.store().get(fid).slack
    assert world.sweep() == {"expired": 0, "posted": 0}


def test_revert_war_stops_at_the_cap(aws, env, slack, tmp_path):
    world = World(aws, env, slack, tmp_path, DRIFTWARDEN_REVERT_CAP="2")
    outcomes = []
    for _ in range(3):  # another automation keeps re-opening the port
        fid = world.drift()
        world.click(fid)
        outcomes += [r["outcome"] for r in world.run_worker()]
    assert outcomes == ["reverted", "reverted", "refused"]
    assert world.ssh_open(), "the third revert did not run"
    assert any("Revert war suspected" in (p["payload"].get("text") or "") for p in slack.posts())
    assert "escalated" in world.audit_events()


def test_redelivered_event_yields_no_second_finding_or_alert(world):
    world.ec2.authorize_security_group_ingress(GroupId=world.gid, IpPermissions=SSH)
    event = sg_rule_event("AuthorizeSecurityGroupIngress", world.gid, SSH)
    first = world.client.lambda_.invoke("on_cloudtrail", event).payload
    second = world.client.lambda_.invoke("on_cloudtrail", event).payload
    assert first == second, "Powertools idempotency returns the stored response"
    assert len(world.slack.posts()) == 1 and len(wiring.store().all()) == 1
    idem = world.aws.client("dynamodb").scan(TableName="idem")["Items"]
    assert len(idem) == 1


def test_expiry_sweep_marks_old_findings_and_buttons_answer_expired(aws, env, slack, tmp_path):
    world = World(aws, env, slack, tmp_path, DRIFTWARDEN_FINDING_TTL_HOURS="0")
    fid = world.drift()
    assert world.sweep()["expired"] == 1
    assert "expired" in world.updates()[-1]["text"]
    world.click(fid)
    assert "expired" in slack.ephemeral[-1]["text"] and world.run_worker() == []
    assert world.audit_events()[-1] == "expired"


def test_burst_on_one_resource_is_one_message_updated_in_place(world):
    world.drift(SSH)
    world.drift(RDP)
    world.drift([{"IpProtocol": "tcp", "FromPort": 23, "ToPort": 23, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    assert len(world.slack.posts()) == 1
    assert len(world.updates()) == 2
    states = sorted(s.state for s in wiring.store().all())
    assert states == ["open", "superseded", "superseded"]
    newest = next(s for s in wiring.store().all() if s.state == "open")
    assert len(newest.finding.changes) == 3, "the newest finding judges the whole group"


def test_policy_revert_is_automatic_and_says_which_rule(aws, env, slack, tmp_path):
    """Without a decision queue (single process), auto-revert runs inline."""
    World(aws, env, slack, tmp_path, DRIFTWARDEN_AUTO_REVERT="true", DRIFTWARDEN_QUEUE_URL="")
    ec2 = aws.client("ec2")
    gid = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["web"]}])["SecurityGroups"][0][
        "GroupId"]
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=SSH)
    [finding] = wiring.pipeline().process_event(sg_rule_event("AuthorizeSecurityGroupIngress", gid, SSH))
    finding = finding.with_(action=Action.REVERT, extra={"policy_rule": "auto-revert-world-ingress"})
    result = wiring.workflow().detected(finding)
    assert result["outcome"] == "reverted"
    perms = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]["IpPermissions"]
    assert not any(p.get("FromPort") == 22 for p in perms)
    [post] = slack.posts()
    assert "auto-revert-world-ingress" in json.dumps(post["payload"]["blocks"])
    events = [r.event for r in FileAuditLog(tmp_path / "audit.jsonl").iter()]
    assert events == ["detected", "auto-reverted", "notified"]


def test_audit_trail_of_a_revert_verifies_and_detects_tampering(world):
    fid = world.drift()
    world.click(fid)
    world.run_worker()
    log = FileAuditLog(world.tmp / "audit.jsonl")
    assert log.verify() == []
    lines = (world.tmp / "audit.jsonl").read_text().splitlines()
    rec = json.loads(lines[-1])
    rec["slack_user"] = "U0MALLORY"
    lines[-1] = json.dumps(rec)
    (world.tmp / "audit.jsonl").write_text("\n".join(lines) + "\n")
    assert log.verify(), "an edited record breaks the chain"


def test_auto_revert_goes_through_the_decision_queue(aws, env, slack, tmp_path):
    """With a queue, only the worker (remediator role) reverts; the decision is recorded first."""
    world = World(aws, env, slack, tmp_path, DRIFTWARDEN_AUTO_REVERT="true")
    world.ec2.authorize_security_group_ingress(GroupId=world.gid, IpPermissions=SSH)
    [finding] = wiring.pipeline().process_event(sg_rule_event("AuthorizeSecurityGroupIngress", world.gid, SSH))
    finding = finding.with_(action=Action.REVERT, extra={"policy_rule": "auto-revert-world-ingress"})
    assert wiring.workflow().detected(finding)["outcome"] == "auto-revert queued"
    assert world.ssh_open(), "nothing reverted inline"
    assert world.click(finding.id).status_code == 200
    assert "Already decided: revert by <@driftwarden:auto>" in slack.ephemeral[-1]["text"]
    assert [r["outcome"] for r in world.run_worker()] == ["reverted"]
    assert not world.ssh_open()
    assert world.audit_events() == ["detected", "auto-reverted", "notified"]
