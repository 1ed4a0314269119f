"""app.py through chalice.test.Client: the CloudTrail handler alerts Slack, and /slack/actions is safe."""

from __future__ import annotations

import time

import pytest
from chalice.test import Client

from tests.harness.events import sg_rule_event
from tests.harness.slack_sign import block_action_body, sign
from tests.harness.slack_standin import SlackStandIn
from tests.harness.tfstate import StateBuilder, sg_attributes

SECRET = "test-signing-secret"
WORLD_SSH = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]


@pytest.fixture
def slack():
    with SlackStandIn() as standin:
        yield standin


@pytest.fixture
def deployed(aws, env, slack):
    """A managed group with an undeclared world-open SSH rule, an alert already posted."""
    ec2, s3, ddb = aws.client("ec2"), aws.client("s3"), aws.client("dynamodb")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    gid = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    group = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]
    s3.create_bucket(Bucket="state")
    StateBuilder().add("aws_security_group", "web", sg_attributes(group, ingress=[], egress=[])).put(
        s3, "state", "app.tfstate")
    ddb.create_table(TableName="findings", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    env(DRIFTWARDEN_STATE="s3://state/app.tfstate", DRIFTWARDEN_TABLE="findings", SLACK_BOT_TOKEN=slack.token,
        SLACK_SIGNING_SECRET=SECRET, SLACK_CHANNEL="C1", SLACK_API_URL=slack.url)
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=WORLD_SSH)
    from app import app

    event = sg_rule_event("AuthorizeSecurityGroupIngress", gid, WORLD_SSH)
    with Client(app) as client:
        result = client.lambda_.invoke("on_cloudtrail", event)
        [finding] = result.payload["findings"]
        client.redeliver = lambda: client.lambda_.invoke("on_cloudtrail", event)
        yield client, ec2, gid, finding["id"]


def _ssh_open(ec2, gid) -> bool:
    perms = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]["IpPermissions"]
    return any(p.get("FromPort") == 22 for p in perms)


def test_cloudtrail_handler_posts_one_alert_with_buttons(deployed, slack):
    _, _, _, finding_id = deployed
    [post] = slack.posts()
    actions = next(b for b in post["payload"]["blocks"] if b["type"] == "actions")
    assert {e["action_id"]: e["value"] for e in actions["elements"]} == {
        "driftwarden_approve": finding_id, "driftwarden_revert": finding_id}


@pytest.mark.parametrize("case", ["unsigned", "stale", "tampered", "wrong-secret"])
def test_bad_slack_requests_get_401_and_change_nothing(deployed, slack, case):
    client, ec2, gid, finding_id = deployed
    body = block_action_body(finding_id, "driftwarden_revert")
    headers = {"unsigned": {"Content-Type": "application/x-www-form-urlencoded"},
               "stale": sign(SECRET, body, int(time.time()) - 6 * 60),
               "tampered": sign(SECRET, body),
               "wrong-secret": sign("not-the-secret", body)}[case]
    sent = body.replace("driftwarden_revert", "driftwarden_approve") if case == "tampered" else body
    resp = client.http.post("/slack/actions", headers=headers, body=sent)
    assert resp.status_code == 401
    assert _ssh_open(ec2, gid)
    assert all(c["method"] != "chat.update" for c in slack.calls)


def test_signed_revert_click_reverts_and_updates_message(deployed, slack):
    client, ec2, gid, finding_id = deployed
    body = block_action_body(finding_id, "driftwarden_revert")
    resp = client.http.post("/slack/actions", headers=sign(SECRET, body), body=body)
    assert resp.status_code == 200
    assert not _ssh_open(ec2, gid)
    [update] = [c for c in slack.calls if c["method"] == "chat.update"]
    assert "reverted" in update["payload"]["text"]
    assert not any(b["type"] == "actions" for b in update["payload"]["blocks"]), "buttons are gone"


def test_second_click_gets_ephemeral_and_does_nothing(deployed, slack):
    client, ec2, gid, finding_id = deployed
    body = block_action_body(finding_id, "driftwarden_approve", user="U1")
    assert client.http.post("/slack/actions", headers=sign(SECRET, body), body=body).status_code == 200
    body2 = block_action_body(finding_id, "driftwarden_revert", user="U2")
    assert client.http.post("/slack/actions", headers=sign(SECRET, body2), body=body2).status_code == 200
    assert _ssh_open(ec2, gid), "the approve won; the later revert did nothing"
    assert "approve by <@U1>" in slack.ephemeral[-1]["text"]
    assert len([c for c in slack.calls if c["method"] == "chat.update"]) == 1


def test_redelivered_event_does_not_alert_twice(deployed, slack):
    client, _, _, finding_id = deployed
    again = client.redeliver().payload["findings"]
    assert again == [{"id": finding_id, "status": "drift", "notified": False, "duplicate": True}]
    assert len(slack.posts()) == 1


def test_logs_are_json_with_the_cloudtrail_event_id_as_correlation_id(aws, env, slack, capfd):
    ec2, s3 = aws.client("ec2"), aws.client("s3")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    gid = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    group = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]
    s3.create_bucket(Bucket="state")
    StateBuilder().add("aws_security_group", "web", sg_attributes(group, ingress=[], egress=[])).put(
        s3, "state", "app.tfstate")
    env(DRIFTWARDEN_STATE="s3://state/app.tfstate")
    event = sg_rule_event("AuthorizeSecurityGroupIngress", gid, WORLD_SSH,
                          event_id="0f1e2d3c-aaaa-bbbb-cccc-1234567890ab")
    from app import app

    with Client(app) as client:
        client.lambda_.invoke("on_cloudtrail", event)
    import json

    logs = [json.loads(x) for x in capfd.readouterr().err.splitlines() if x.startswith("{")]
    finding_logs = [x for x in logs if x.get("message") == "finding"]
    assert finding_logs, logs
    assert finding_logs[0]["correlation_id"] == "0f1e2d3c-aaaa-bbbb-cccc-1234567890ab"
    assert finding_logs[0]["function_name"] == "on_cloudtrail" and finding_logs[0]["status"] == "in_sync"


def test_state_change_event_rereads_only_that_state(aws, env):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="many-states")
    for name in ("a", "b", "c"):
        StateBuilder().put(s3, "many-states", f"teams/{name}.tfstate")
    env(DRIFTWARDEN_STATE="s3://many-states/teams/")
    from app import app
    from chalicelib import wiring

    wiring.state_index().refresh()
    before = wiring.state_index().reads
    assert before == 3
    StateBuilder(serial=2).put(s3, "many-states", "teams/b.tfstate")
    etag = s3.head_object(Bucket="many-states", Key="teams/b.tfstate")["ETag"].strip('"')
    event = {"version": "0", "id": "e1", "detail-type": "Object Created", "source": "aws.s3",
             "account": "123456789012", "time": "2026-11-21T10:00:00Z", "region": "us-east-1",
             "resources": ["arn:aws:s3:::many-states"],
             "detail": {"version": "0", "bucket": {"name": "many-states"},
                        "object": {"key": "teams/b.tfstate", "etag": etag, "size": 10}}}
    with Client(app) as client:
        result = client.lambda_.invoke("on_state_change", event).payload
    assert result["reread"] is True and result["states"] == 3 and result["errors"] == 0
    assert wiring.state_index().reads == before + 1, "only the changed state was read again"
    assert wiring.state_index().doc("s3://many-states/teams/b.tfstate").serial == 2
