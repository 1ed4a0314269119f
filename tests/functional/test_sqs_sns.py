"""SQS queues and SNS topics (policies, encryption, subscriptions) end to end on moto."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.models import RemediationStatus, Severity, Status
from tests.conftest import make_pipeline
from tests.harness.events import ACCOUNT, cloudtrail_event
from tests.harness.tfstate import StateBuilder

SQS = "sqs.amazonaws.com"
SNS = "sns.amazonaws.com"
REGION = "us-east-1"
BUCKET_ARN = "arn:aws:s3:::orders-uploads"


# --- SQS -------------------------------------------------------------------------------------------------
def queue_attributes(url: str, **overrides: Any) -> dict[str, Any]:
    """An ``aws_sqs_queue`` state entry (cf. the corpus grupo57 state)."""
    name = url.rsplit("/", 1)[-1]
    attrs = {
        "arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}", "content_based_deduplication": False,
        "deduplication_scope": "", "delay_seconds": 0, "fifo_queue": False, "fifo_throughput_limit": "",
        "id": url, "kms_data_key_reuse_period_seconds": 300, "kms_master_key_id": "",
        "max_message_size": 262144,
        "message_retention_seconds": 86400, "name": name, "name_prefix": "", "policy": "",
        "receive_wait_time_seconds": 0, "redrive_allow_policy": "", "redrive_policy": "",
        "sqs_managed_sse_enabled": True, "tags": {"team": "orders"}, "tags_all": {"team": "orders"},
        "url": url,
        "visibility_timeout_seconds": 300,
    }
    attrs.update(overrides)
    return attrs


S3_ONLY = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "SQS:SendMessage",
    "Resource": f"arn:aws:sqs:{REGION}:{ACCOUNT}:uploads",
    "Condition": {"ArnEquals": {"aws:SourceArn": BUCKET_ARN}}}]}


@pytest.fixture
def queues(aws):
    """``orders`` (no policy, DLQ redrive) and ``uploads`` (policy in an ``aws_sqs_queue_policy``)."""
    sqs, s3 = aws.client("sqs"), aws.client("s3")
    sqs.create_queue(QueueName="orders-dlq")
    redrive = json.dumps({"deadLetterTargetArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders-dlq",
                          "maxReceiveCount": 5})
    attributes = {"VisibilityTimeout": "300", "MessageRetentionPeriod": "86400",
                  "MaximumMessageSize": "262144"}
    orders = sqs.create_queue(QueueName="orders", Attributes={**attributes, "RedrivePolicy": redrive},
                              tags={"team": "orders"})["QueueUrl"]
    uploads = sqs.create_queue(QueueName="uploads", Attributes={**attributes, "Policy": json.dumps(S3_ONLY)},
                               tags={"team": "orders"})["QueueUrl"]
    s3.create_bucket(Bucket="tfstate")
    state = StateBuilder()
    # the provider stores maxReceiveCount as a string in redrive_policy: still the same policy
    state.add("aws_sqs_queue", "orders", queue_attributes(orders, redrive_policy=json.dumps(
        {"maxReceiveCount": "5", "deadLetterTargetArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders-dlq"})))
    state.add("aws_sqs_queue", "uploads", queue_attributes(uploads))
    # Terraform's jsonencode sorts keys and keeps single values as they were written
    state.add("aws_sqs_queue_policy", "uploads", {"id": uploads,
                                                  "policy": json.dumps(S3_ONLY, sort_keys=True),
                                                  "queue_url": uploads})
    state.put(s3, "tfstate", "prod/queues.tfstate")
    return make_pipeline(aws, "s3://tfstate/prod/"), sqs, orders, uploads


def set_attributes_event(url: str, attributes: dict[str, Any]) -> dict[str, Any]:
    return cloudtrail_event("SetQueueAttributes", SQS, {"attributes": attributes, "queueUrl": url})


def test_public_policy_on_a_queue_without_one_is_critical_and_removed(queues):
    """Shape of corpus sqs-SetQueueAttributes-streamalert-1: ``Principal: "*"``, no condition."""
    pipeline, sqs, orders, _ = queues
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "SQS:SendMessage", "Sid": "Sid1562723107715",
        "Resource": f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders"}]})
    sqs.set_queue_attributes(QueueUrl=orders, Attributes={"Policy": policy})
    ev = set_attributes_event(orders, {"Policy": policy})
    [finding] = pipeline.process_event(ev)
    assert finding.status is Status.DRIFT and finding.severity is Severity.CRITICAL
    assert [(c.path, c.declared, c.rule) for c in finding.changes] == [("policy", None,
                                                                        "sqs-policy-grants-public")]
    [call] = finding.plan
    assert call.params == {"QueueUrl": orders, "Attributes": {"Policy": ""}}
    assert pipeline.revert(finding).status is RemediationStatus.REVERTED
    assert "Policy" not in sqs.get_queue_attributes(QueueUrl=orders, AttributeNames=["All"])["Attributes"]
    assert pipeline.process_event(ev)[0].status is Status.IN_SYNC


def test_declared_policy_reformatted_is_in_sync_changed_is_high_and_restored(queues):
    pipeline, sqs, _, uploads = queues
    reformatted = {"Statement": [{**S3_ONLY["Statement"][0], "Action": ["SQS:SendMessage"]}],
                   "Version": "2012-10-17"}
    sqs.set_queue_attributes(QueueUrl=uploads, Attributes={"Policy": json.dumps(reformatted, indent=4)})
    ev = set_attributes_event(uploads, {"Policy": json.dumps(reformatted)})
    assert pipeline.process_event(ev)[0].status is Status.IN_SYNC
    widened = {"Version": "2012-10-17", "Statement": [{**S3_ONLY["Statement"][0], "Condition": {
        "ArnLike": {"aws:SourceArn": "arn:aws:s3:::*"}}}]}
    sqs.set_queue_attributes(QueueUrl=uploads, Attributes={"Policy": json.dumps(widened)})
    [finding] = pipeline.process_event(ev)
    assert [(c.path, c.severity) for c in finding.changes] == [("policy", Severity.HIGH)]
    assert finding.resource.address == "aws_sqs_queue.uploads"
    assert pipeline.revert(finding).status is RemediationStatus.REVERTED
    assert pipeline.process_event(ev)[0].status is Status.IN_SYNC


def test_timeouts_and_redrive_are_medium_and_revert(queues):
    pipeline, sqs, orders, _ = queues
    sqs.set_queue_attributes(QueueUrl=orders, Attributes={"VisibilityTimeout": "5", "RedrivePolicy": ""})
    ev = set_attributes_event(orders, {"VisibilityTimeout": "5", "RedrivePolicy": ""})
    [finding] = pipeline.process_event(ev)
    got = {c.path: (c.declared, c.live, c.severity) for c in finding.changes}
    assert got["visibility_timeout_seconds"] == (300, 5, Severity.MEDIUM)
    assert got["redrive_policy"][1] is None and got["redrive_policy"][2] is Severity.MEDIUM
    assert json.loads(got["redrive_policy"][0])["maxReceiveCount"] == 5
    assert pipeline.revert(finding).status is RemediationStatus.REVERTED
    assert pipeline.process_event(ev)[0].status is Status.IN_SYNC


def test_kms_key_swapped_in_is_high_and_reverts(queues):
    pipeline, sqs, orders, _ = queues
    sqs.set_queue_attributes(QueueUrl=orders, Attributes={"KmsMasterKeyId": "alias/someone-elses-key"})
    ev = set_attributes_event(orders, {"KmsMasterKeyId": "alias/someone-elses-key"})
    [finding] = pipeline.process_event(ev)
    assert [(c.path, c.declared, c.live, c.severity, c.rule) for c in finding.changes] == [
        ("kms_master_key_id", None, "alias/someone-elses-key", Severity.HIGH, "sqs-encryption-changed")]
    assert pipeline.revert(finding).status is RemediationStatus.REVERTED
    assert pipeline.process_event(ev)[0].status is Status.IN_SYNC


def test_tags_legacy_url_delete_and_unmanaged_queue(queues):
    pipeline, sqs, orders, _ = queues
    sqs.tag_queue(QueueUrl=orders, Tags={"team": "intruder"})
    legacy = orders.replace(f"https://sqs.{REGION}.amazonaws.com", "https://queue.amazonaws.com")
    [finding] = pipeline.process_event(cloudtrail_event("TagQueue", SQS, {"queueUrl": legacy,
                                                                          "tags": {"team": "intruder"}}))
    assert finding.resource.id == orders
    assert [(c.path, c.live, c.severity) for c in finding.changes] == [("tags.team", "intruder",
                                                                        Severity.LOW)]
    assert pipeline.revert(finding).status is RemediationStatus.REVERTED
    scratch = sqs.create_queue(QueueName="scratch")["QueueUrl"]
    [created] = pipeline.process_event(cloudtrail_event("CreateQueue", SQS, {"queueName": "scratch"},
                                                        {"queueUrl": scratch}))
    assert created.status is Status.UNMANAGED
    sqs.delete_queue(QueueUrl=orders)
    [deleted] = pipeline.process_event(cloudtrail_event("DeleteQueue", SQS, {"queueUrl": orders}))
    assert deleted.status is Status.DELETED and deleted.resource.address == "aws_sqs_queue.orders"


# --- SNS -------------------------------------------------------------------------------------------------
def default_topic_policy(arn: str) -> dict[str, Any]:
    return {"Version": "2008-10-17", "Id": "__default_policy_ID", "Statement": [{
        "Sid": "__default_statement_ID", "Effect": "Allow", "Principal": {"AWS": "*"},
        "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
                   "SNS:RemovePermission",
                   "SNS:DeleteTopic", "SNS:Subscribe", "SNS:ListSubscriptionsByTopic", "SNS:Publish"],
        "Resource": arn, "Condition": {"StringEquals": {"AWS:SourceOwner": ACCOUNT}}}]}


def topic_attributes(arn: str, policy: str, **overrides: Any) -> dict[str, Any]:
    """An ``aws_sns_topic`` state entry (cf. the corpus atimonin state)."""
    attrs = {
        "application_failure_feedback_role_arn": "", "application_success_feedback_role_arn": "",
        "application_success_feedback_sample_rate": None, "arn": arn, "content_based_deduplication": False,
        "delivery_policy": "", "display_name": "Order events", "fifo_topic": False, "id": arn,
        "kms_master_key_id": "alias/aws/sns", "name": arn.rsplit(":", 1)[-1], "name_prefix": "",
        "owner": ACCOUNT,
        "policy": policy, "signature_version": 0, "tags": None, "tags_all": {"team": "orders"},
        "tracing_config": "",
    }
    attrs.update(overrides)
    return attrs


def subscription_attributes(topic: str, arn: str, protocol: str, endpoint: str,
                            **overrides: Any) -> dict[str, Any]:
    attrs = {"arn": arn, "confirmation_timeout_in_minutes": 1, "confirmation_was_authenticated": True,
             "delivery_policy": "", "endpoint": endpoint, "endpoint_auto_confirms": False,
             "filter_policy": "",
             "filter_policy_scope": "", "id": arn, "owner_id": ACCOUNT, "pending_confirmation": False,
             "protocol": protocol, "raw_message_delivery": False, "redrive_policy": "", "replay_policy": "",
             "subscription_role_arn": "", "topic_arn": topic}
    attrs.update(overrides)
    return attrs


@pytest.fixture
def topic(aws):
    """A managed encrypted topic with the default policy and one declared SQS subscription."""
    sns, sqs, s3 = aws.client("sns"), aws.client("sqs"), aws.client("s3")
    arn = sns.create_topic(Name="orders-events", Attributes={"DisplayName": "Order events",
                                                             "KmsMasterKeyId": "alias/aws/sns"},
                           Tags=[{"Key": "team", "Value": "orders"}])["TopicArn"]
    policy = json.dumps(default_topic_policy(arn))
    sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=policy)
    sqs.create_queue(QueueName="orders-fanout")
    queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders-fanout"
    sub = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn, ReturnSubscriptionArn=True)
    s3.create_bucket(Bucket="tfstate")
    state = StateBuilder()
    state.add("aws_sns_topic", "events", topic_attributes(arn, policy))
    state.add("aws_sns_topic_subscription", "fanout", subscription_attributes(
        arn, sub["SubscriptionArn"], "sqs", queue_arn))
    state.put(s3, "tfstate", "prod/topics.tfstate")
    return make_pipeline(aws, "s3://tfstate/prod/"), sns, arn, queue_arn


def topic_event(name: str, request: dict[str, Any], response: dict[str, Any] | None = None) -> dict[str, Any]:
    return cloudtrail_event(name, SNS, request, response)


def test_topic_policy_opened_to_everyone_is_critical_and_restored(topic):
    pipeline, sns, arn, _ = topic
    public = default_topic_policy(arn)
    del public["Statement"][0]["Condition"]
    sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy",
                             AttributeValue=json.dumps(public, indent=2))
    ev = topic_event("SetTopicAttributes", {"attributeName": "Policy", "topicArn": arn,
                                            "attributeValue": json.dumps(public, indent=2)})
    [finding] = pipeline.process_event(ev)
    assert [(c.path, c.severity, c.rule) for c in finding.changes] == [
        ("policy", Severity.CRITICAL, "sns-policy-grants-public")]
    assert pipeline.revert(finding).status is RemediationStatus.REVERTED
    assert pipeline.process_event(ev)[0].status is Status.IN_SYNC


def test_reformatted_default_policy_is_in_sync(topic):
    """Shape of corpus sns-SetTopicAttributes-streamalert-1: the same policy, pretty-printed."""
    pipeline, sns, arn, _ = topic
    doc = default_topic_policy(arn)
    doc["Statement"][0]["Action"] = list(reversed(doc["Statement"][0]["Action"]))
    sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=json.dumps(doc, indent=2))
    [finding] = pipeline.process_event(topic_event("SetTopicAttributes", {"attributeName": "Policy",
                                                                          "topicArn": arn}))
    assert finding.status is Status.IN_SYNC, finding.reason


def test_encryption_removed_is_high_and_reverts(topic):
    pipeline, sns, arn, _ = topic
    sns.set_topic_attributes(TopicArn=arn, AttributeName="KmsMasterKeyId", AttributeValue="")
    ev = topic_event("SetTopicAttributes", {"attributeName": "KmsMasterKeyId", "topicArn": arn,
                                            "attributeValue": ""})
    [finding] = pipeline.process_event(ev)
    assert [(c.path, c.declared, c.live, c.severity) for c in finding.changes] == [
        ("kms_master_key_id", "alias/aws/sns", None, Severity.HIGH)]
    assert pipeline.revert(finding).status is RemediationStatus.REVERTED
    assert pipeline.process_event(ev)[0].status is Status.IN_SYNC


def test_hand_made_email_subscription_on_managed_topic_is_high_drift_never_deleted(topic):
    pipeline, sns, arn, _ = topic
    sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="exfil@example.net")
    ev = topic_event("Subscribe", {"topicArn": arn, "protocol": "email", "endpoint": "exfil@example.net"},
                     {"subscriptionArn": "pending confirmation"})
    [finding] = pipeline.process_event(ev)
    assert finding.status is Status.DRIFT and finding.resource.address == "aws_sns_topic.events"
    assert [(c.path, c.declared, c.live, c.severity, c.rule) for c in finding.changes] == [
        ("subscriptions.email:exfil@example.net", None, {"protocol": "email",
                                                         "endpoint": "exfil@example.net"},
         Severity.HIGH, "sns-subscription-added-outside-terraform")]
    assert finding.plan == ()  # removing it would delete a subscription
    assert pipeline.revert(finding).status is RemediationStatus.REFUSED


def test_declared_subscription_removed_is_resubscribed_and_attribute_drift_restored(topic):
    pipeline, sns, arn, queue_arn = topic
    [sub] = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    sns.set_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"],
                                    AttributeName="RawMessageDelivery",
                                    AttributeValue="true")
    ev = topic_event("SetSubscriptionAttributes", {"subscriptionArn": sub["SubscriptionArn"],
                                                   "attributeName": "RawMessageDelivery",
                                                   "attributeValue": "true"})
    [changed] = pipeline.process_event(ev)
    assert [(c.path, c.declared, c.live) for c in changed.changes] == [
        (f"subscriptions.sqs:{queue_arn}.raw_message_delivery", False, True)]
    assert [c.operation for c in changed.plan] == ["SetSubscriptionAttributes"]
    assert pipeline.revert(changed).status is RemediationStatus.REVERTED
    sns.unsubscribe(SubscriptionArn=sub["SubscriptionArn"])
    ev = topic_event("Unsubscribe", {"subscriptionArn": sub["SubscriptionArn"]})
    [removed] = pipeline.process_event(ev)
    assert removed.resource.id == arn
    assert [(c.path, c.live, c.severity, c.rule) for c in removed.changes] == [
        (f"subscriptions.sqs:{queue_arn}", None, Severity.MEDIUM, "sns-subscription-removed")]
    [call] = removed.plan
    assert call.operation == "Subscribe" and call.params["Endpoint"] == queue_arn
    assert pipeline.revert(removed).status is RemediationStatus.REVERTED
    assert pipeline.process_event(ev)[0].status is Status.IN_SYNC


def test_separate_topic_policy_wins_and_unmanaged_topic_subscribe(topic, aws):
    pipeline, sns, _, _ = topic
    other = sns.create_topic(Name="scratch")["TopicArn"]
    [unmanaged] = pipeline.process_event(topic_event("Subscribe", {"topicArn": other, "protocol": "email",
                                                                   "endpoint": "a@example.net"}))
    assert unmanaged.status is Status.UNMANAGED
    # a topic whose policy lives in aws_sns_topic_policy: the topic's own (stale) policy attribute loses
    s3 = aws.client("s3")
    restricted = default_topic_policy(other)
    restricted["Statement"][0]["Action"] = ["SNS:Publish"]
    sns.set_topic_attributes(TopicArn=other, AttributeName="Policy", AttributeValue=json.dumps(restricted))
    state = StateBuilder()
    state.add("aws_sns_topic", "scratch", topic_attributes(other, json.dumps(default_topic_policy(other)),
                                                           kms_master_key_id="", display_name="",
                                                           tags_all={}))
    state.add("aws_sns_topic_policy", "scratch", {"arn": other, "id": other, "owner": ACCOUNT,
                                                  "policy": json.dumps(restricted)})
    state.put(s3, "tfstate", "prod/scratch.tfstate")
    pipeline.index.refresh()
    ev = topic_event("SetTopicAttributes", {"attributeName": "Policy", "topicArn": other})
    assert pipeline.process_event(ev)[0].status is Status.IN_SYNC


def test_delete_topic_is_deleted(topic):
    pipeline, sns, arn, _ = topic
    sns.delete_topic(TopicArn=arn)
    [finding] = pipeline.process_event(topic_event("DeleteTopic", {"topicArn": arn}))
    assert finding.status is Status.DELETED
