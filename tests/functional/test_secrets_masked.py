"""Secrets never leave Driftwarden: not in finding JSON, not in Slack blocks, not in log lines.

Two planted secrets, on moto: a Lambda environment variable (always sensitive) and an SNS HTTPS
endpoint carrying a token, sensitive only because the state's ``sensitive_attributes`` says so.
Each is changed by hand, judged, rendered for Slack and offered for revert, while every log
record (root and ``chalicelib`` loggers, at DEBUG for ours) and stdout/stderr are captured.
"""

from __future__ import annotations

import io
import json
import logging
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.models import Finding, RemediationStatus, Status
from chalicelib.notify.blocks import alert_blocks, alert_text
from tests.conftest import make_pipeline
from tests.functional.test_lambda import TRUST, function_attributes
from tests.functional.test_sqs_sns import default_topic_policy, subscription_attributes, topic_attributes
from tests.harness.events import ACCOUNT, cloudtrail_event
from tests.harness.tfstate import StateBuilder

LAMBDA_SECRET = "sk_live_PLANTED_lambda_0123456789"
LAMBDA_SECRET_NEW = "sk_live_PLANTED_replacement_9876543210"
ENDPOINT_TOKEN = "T0KEN-PLANTED-in-endpoint-abcdef"
ENDPOINT = f"https://hooks.example.com/services/{ENDPOINT_TOKEN}"


@pytest.fixture
def captured_logs() -> Iterator[list[logging.LogRecord]]:
    records: list[logging.LogRecord] = []

    class Grab(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Grab(level=logging.DEBUG)
    ours, root = logging.getLogger("chalicelib"), logging.getLogger()
    saved = (ours.level, root.level)
    ours.addHandler(handler)
    root.addHandler(handler)
    ours.setLevel(logging.DEBUG)
    root.setLevel(logging.INFO)
    yield records
    ours.removeHandler(handler)
    root.removeHandler(handler)
    ours.setLevel(saved[0])
    root.setLevel(saved[1])


def everything_shown(finding: Finding, records: list[logging.LogRecord], streams: Any) -> str:
    out = streams.readouterr()
    logged = [r.getMessage() + " " + repr({k: v for k, v in r.__dict__.items() if k not in ("args", "msg")})
              for r in records]
    return "\n".join([
        json.dumps(finding.to_dict(), default=str), json.dumps(finding.to_record(), default=str),
        json.dumps(alert_blocks(finding), default=str), alert_text(finding), *logged, out.out, out.err,
    ])


def test_lambda_environment_secret_is_compared_but_never_shown(aws, captured_logs, capfd):
    iam, lam, s3 = aws.client("iam"), aws.client("lambda"), aws.client("s3")
    role = iam.create_role(RoleName="billing", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("index.py", "def handler(e, c):\n    return 1\n")
    lam.create_function(FunctionName="billing", Runtime="python3.12", Role=role, Handler="index.handler",
                        Code={"ZipFile": buf.getvalue()},
                        Environment={"Variables": {"STRIPE_KEY": LAMBDA_SECRET, "STAGE": "prod"}})
    s3.create_bucket(Bucket="tfstate")
    # the state marks the variable sensitive, as Terraform does when it comes from a sensitive variable
    StateBuilder().add("aws_lambda_function", "billing", function_attributes(
        lam.get_function(FunctionName="billing")["Configuration"], tags={}, tags_all={}),
        sensitive=[[{"type": "get_attr", "value": "environment"}, {"type": "index", "value": {"value": 0,
                    "type": "number"}}, {"type": "get_attr", "value": "variables"},
                    {"type": "index", "value": {"value": "STRIPE_KEY", "type": "string"}}]]).put(
        s3, "tfstate", "prod/billing.tfstate")
    pipeline = make_pipeline(aws, "s3://tfstate/prod/")
    capfd.readouterr()
    lam.update_function_configuration(FunctionName="billing", Environment={"Variables": {
        "STRIPE_KEY": LAMBDA_SECRET_NEW, "STAGE": "prod"}})
    [finding] = pipeline.process_event(cloudtrail_event(
        "UpdateFunctionConfiguration20150331v2", "lambda.amazonaws.com",
        {"functionName": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:billing", "environment": {}}))
    assert finding.status is Status.DRIFT, finding.reason
    [change] = finding.changes
    assert change.path == "environment.STRIPE_KEY" and change.sensitive
    assert change.to_dict() == {"path": "environment.STRIPE_KEY", "declared": "********", "live": "********"}
    assert pipeline.revert(finding).status is RemediationStatus.REFUSED
    shown = everything_shown(finding, captured_logs, capfd)
    assert "environment.STRIPE_KEY" in shown  # the finding is really there...
    assert LAMBDA_SECRET not in shown and LAMBDA_SECRET_NEW not in shown  # ...its values are not


def test_state_sensitive_subscription_endpoint_is_never_shown(aws, captured_logs, capfd):
    sns, s3 = aws.client("sns"), aws.client("s3")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    policy = json.dumps(default_topic_policy(topic))
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=policy)
    sub = sns.subscribe(TopicArn=topic, Protocol="https", Endpoint=ENDPOINT, ReturnSubscriptionArn=True)
    s3.create_bucket(Bucket="tfstate")
    state = StateBuilder()
    state.add("aws_sns_topic", "alerts", topic_attributes(topic, policy, kms_master_key_id="",
                                                          display_name="",
                                                          tags_all={}))
    state.add("aws_sns_topic_subscription", "webhook",
              subscription_attributes(topic, sub["SubscriptionArn"], "https", ENDPOINT),
              sensitive=[[{"type": "get_attr", "value": "endpoint"}]])
    state.put(s3, "tfstate", "prod/alerts.tfstate")
    pipeline = make_pipeline(aws, "s3://tfstate/prod/")
    capfd.readouterr()
    sns.set_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"],
                                    AttributeName="RawMessageDelivery",
                                    AttributeValue="true")
    [changed] = pipeline.process_event(cloudtrail_event("SetSubscriptionAttributes", "sns.amazonaws.com", {
        "subscriptionArn": sub["SubscriptionArn"], "attributeName": "RawMessageDelivery",
        "attributeValue": "true"}))
    assert changed.status is Status.DRIFT
    [change] = changed.changes
    assert change.sensitive and change.path.startswith("subscriptions.https:#")
    sns.unsubscribe(SubscriptionArn=sub["SubscriptionArn"])
    [removed] = pipeline.process_event(cloudtrail_event("Unsubscribe", "sns.amazonaws.com", {
        "subscriptionArn": sub["SubscriptionArn"]}))
    assert [c.to_dict()["declared"] for c in removed.changes] == ["********"]
    assert pipeline.revert(removed).status is RemediationStatus.REFUSED  # the plan would carry the endpoint
    for finding in (changed, removed):
        shown = everything_shown(finding, captured_logs, capfd)
        assert "subscriptions.https:#" in shown
        assert ENDPOINT_TOKEN not in shown and "hooks.example.com" not in shown
