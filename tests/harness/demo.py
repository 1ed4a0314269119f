"""`make demo`: a console edit to a security group becomes a Slack alert, and Revert undoes it.

Everything runs locally: a moto server on 127.0.0.1 (a free port) is the AWS account, a local
stand-in serves the Slack Web API, and the Lambda handlers run through ``chalice.test.Client``.
Dev-only code: it lives outside ``chalicelib`` and is never packaged.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
SIGNING_SECRET = "demo-signing-secret"
CHANNEL = "C0DRIFTDEMO"
WORLD_SSH = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]


def _say(step: str, detail: str = "") -> None:
    print(f"\n\033[1m▶ {step}\033[0m")
    if detail:
        print(textwrap.indent(detail, "  "))


def _rules(ec2: Any, gid: str) -> str:
    group = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]
    lines = []
    for p in group["IpPermissions"]:
        port = "all" if p["IpProtocol"] == "-1" else f"{p.get('FromPort')}-{p.get('ToPort')}"
        for r in p.get("IpRanges", []):
            lines.append(f"ingress {p['IpProtocol']:<4} {port:<11} {r['CidrIp']}")
    return "\n".join(sorted(lines))


def provision(session: Any) -> dict[str, Any]:
    """A small realistic stack, and its Terraform state (v4, the provider's attribute names)."""
    from tests.harness.tfstate import StateBuilder, sg_attributes, sg_rule_block

    ec2, s3, ddb = session.client("ec2"), session.client("s3"), session.client("dynamodb")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]
    gid = ec2.create_security_group(GroupName="web", Description="web tier", VpcId=vpc["VpcId"])["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
         "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "https"}]},
        {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "IpRanges": [{"CidrIp": "10.20.0.0/16"}]},
    ])
    ec2.create_tags(Resources=[gid], Tags=[{"Key": "team", "Value": "platform"}])
    group = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]
    s3.create_bucket(Bucket="acme-tfstate")
    s3.create_bucket(Bucket="acme-web-assets")
    for table in ("driftwarden-findings", "driftwarden-idempotency"):
        ddb.create_table(TableName=table, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")
    ddb.create_table(TableName="driftwarden-audit",
                     KeySchema=[{"AttributeName": "chain", "KeyType": "HASH"},
                                {"AttributeName": "seq", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "chain", "AttributeType": "S"},
                                           {"AttributeName": "seq", "AttributeType": "N"}],
                     BillingMode="PAY_PER_REQUEST")
    queue = session.client("sqs").create_queue(QueueName="driftwarden-decisions")["QueueUrl"]
    state = StateBuilder(serial=7)
    state.add("aws_vpc", "main", {"id": vpc["VpcId"], "cidr_block": "10.20.0.0/16", "enable_dns_support": True,
                                  "enable_dns_hostnames": True, "tags": {"Name": "main"},
                                  "tags_all": {"Name": "main", "team": "platform"},
                                  "arn": f"arn:aws:ec2:{REGION}:123456789012:vpc/{vpc['VpcId']}"},
              module="module.network")
    state.add("aws_security_group", "web",
              sg_attributes(group, ingress=[sg_rule_block("tcp", 443, 443, ["0.0.0.0/0"], "https")], egress=[],
                            default_tags={"team": "platform"}),
              module="module.network")
    state.add("aws_vpc_security_group_ingress_rule", "app", {
        "id": "sgr-0a1b2c3d4e5f60718",
        "arn": f"arn:aws:ec2:{REGION}:123456789012:security-group-rule/sgr-0a1b2c3d4e5f60718",
        "security_group_id": gid, "security_group_rule_id": "sgr-0a1b2c3d4e5f60718", "ip_protocol": "tcp",
        "from_port": 8080, "to_port": 8080, "cidr_ipv4": "10.20.0.0/16", "cidr_ipv6": None,
        "prefix_list_id": None, "referenced_security_group_id": None, "description": None, "tags": None,
        "tags_all": {"team": "platform"}}, module="module.network")
    state.add("aws_s3_bucket", "assets", {"id": "acme-web-assets", "bucket": "acme-web-assets",
                                          "arn": "arn:aws:s3:::acme-web-assets", "tags": None,
                                          "tags_all": {"team": "platform"}, "force_destroy": False})
    state.put(s3, "acme-tfstate", "prod/network/terraform.tfstate")
    return {"group_id": gid, "vpc_id": vpc["VpcId"], "queue_url": queue,
            "state_url": "s3://acme-tfstate/prod/network/terraform.tfstate"}


def run() -> int:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    started = time.monotonic()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    from tests.harness.slack_standin import SlackStandIn, blocks_text

    slack = SlackStandIn().start()
    try:
        os.environ.update({
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo", "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "DRIFTWARDEN_STATE": "s3://acme-tfstate/prod/",
            "DRIFTWARDEN_IAC_PRINCIPALS": "arn:aws:iam::*:role/terraform-*",
            "DRIFTWARDEN_TABLE": "driftwarden-findings",
            "DRIFTWARDEN_AUDIT_TABLE": "driftwarden-audit",
            "DRIFTWARDEN_IDEMPOTENCY_TABLE": "driftwarden-idempotency",
            "DRIFTWARDEN_SELF_PRINCIPALS": "arn:aws:iam::*:role/driftwarden-*",
            "SLACK_BOT_TOKEN": slack.token, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_CHANNEL": CHANNEL,
            "SLACK_API_URL": slack.url,
            "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "ERROR",
        })
        import boto3

        session = boto3.session.Session(region_name=REGION)
        ec2 = session.client("ec2")
        _say(f"Embedded AWS: moto server on http://{host}:{port}; Slack stand-in on {slack.url}")
        stack = provision(session)
        gid = stack["group_id"]
        os.environ["DRIFTWARDEN_QUEUE_URL"] = stack["queue_url"]
        _say("Provisioned a VPC, security group and bucket; wrote their Terraform state",
             f"{stack['state_url']}\nlive rules of {gid}:\n{textwrap.indent(_rules(ec2, gid), '  ')}")

        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=WORLD_SSH)
        from tests.harness.events import sg_rule_event

        event = sg_rule_event("AuthorizeSecurityGroupIngress", gid, WORLD_SSH)
        _say("A console user opens port 22 to the world (boto3, as the console would)",
             f"event {event['detail']['eventID']} by {event['detail']['userIdentity']['arn']}\n"
             f"userAgent: {event['detail']['userAgent'][:60]}...")

        from chalice.test import Client

        from app import app
        from chalicelib import wiring

        wiring.reset()
        with Client(app, stage_name="dev", project_dir=str(ROOT)) as client:
            result = client.lambda_.invoke("on_cloudtrail", event).payload
            _say("on_cloudtrail (Lambda handler via chalice.test.Client) returned",
                 json.dumps(result, indent=1))
            posts = slack.posts()
            if len(posts) != 1:
                print(f"expected one Slack alert, got {len(posts)}", file=sys.stderr)
                return 1
            post = posts[0]["payload"]
            _say("Slack received this alert", blocks_text(post["blocks"]))
            finding_id = next(e["value"] for b in post["blocks"] if b["type"] == "actions" for e in b["elements"]
                              if e["action_id"] == "driftwarden_revert")
            ts = next(iter(slack.messages))[1]

            from tests.harness.slack_sign import block_action_body, sign

            body = block_action_body(finding_id, "driftwarden_revert", user="U0ALICE", channel=CHANNEL,
                                     message_ts=ts)
            forged = client.http.post("/slack/actions", headers=sign("wrong-secret", body), body=body)
            _say("A forged click (wrong signing secret) is refused", f"HTTP {forged.status_code}")
            resp = client.http.post("/slack/actions", headers=sign(SIGNING_SECRET, body), body=body)
            sqs = session.client("sqs")
            queued = sqs.receive_message(QueueUrl=stack["queue_url"], MaxNumberOfMessages=10)["Messages"]
            _say("Alice presses Revert (correctly signed request to /slack/actions)",
                 f"HTTP {resp.status_code}: decision recorded (conditional write) and queued: {queued[0]['Body']}")
            again = client.http.post("/slack/actions", headers=sign(SIGNING_SECRET, body), body=body)
            reply = slack.ephemeral[-1]["text"] if slack.ephemeral else "-"
            _say("Bob double-clicks: refused, nothing else happens",
                 f"HTTP {again.status_code}; ephemeral reply: {reply}")
            sqs_event = {"Records": [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"],
                                      "body": m["Body"], "attributes": {}, "messageAttributes": {},
                                      "eventSource": "aws:sqs"} for m in queued]}
            worker = client.lambda_.invoke("on_decision", sqs_event).payload
            _say("on_decision (SQS worker) re-reads, checks nothing moved, reverts, verifies",
                 json.dumps(worker["results"], indent=1))

        rules = _rules(ec2, gid)
        _say("Live rules now", rules)
        message = slack.messages[(CHANNEL, ts)]
        _say("The Slack message was updated in place", blocks_text(message["blocks"]).split("\n")[-2:][0] + "\n" +
             blocks_text(message["blocks"]).split("\n")[-1])
        import io

        from chalicelib import wiring as _wiring
        from chalicelib.audit import run_audit_cli

        trail, verified = io.StringIO(), io.StringIO()
        run_audit_cli(_wiring.audit(), out=trail)
        audit_ok = run_audit_cli(_wiring.audit(), verify=True, out=verified) == 0
        _say("driftwarden audit: the trail of this drift", trail.getvalue().rstrip())
        _say("driftwarden audit --verify", verified.getvalue().rstrip())
        ok = audit_ok and " 22-22 " not in rules and forged.status_code == 401 and message["updates"] == 1
        _say(f"Demo {'passed' if ok else 'FAILED'} in {time.monotonic() - started:.1f}s")
        return 0 if ok else 1
    finally:
        slack.stop()
        server.stop()
