"""Lazy, cached construction of every service from the environment (the composition root's helpers).

Nothing here runs at import: importing app.py never touches AWS or reads the environment.
``reset()`` drops every cached object (tests, or a config change in a long-lived process).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

from slack_sdk.signature import SignatureVerifier

from chalicelib.actions.approvers import ApproverPolicy, SlackDirectory
from chalicelib.actions.slack_actions import SlackActions
from chalicelib.actions.store import FindingStore, dynamo_store, file_store
from chalicelib.actions.workflow import Workflow
from chalicelib.audit import AuditLog, audit_log_from_env
from chalicelib.aws import ClientFactory
from chalicelib.config import Settings
from chalicelib.drift.policy import PolicyStore
from chalicelib.errors import ConfigError
from chalicelib.notify.slack import SlackNotifier, make_web_client
from chalicelib.pipeline import Pipeline
from chalicelib.resources.registry import Registry, default_registry
from chalicelib.state.index import StateIndex
from chalicelib.state.source import SourceIndex, parse_source_mapping

__all__ = ["audit", "clients", "notifier", "pipeline", "registry", "reset", "settings", "slack_actions",
           "state_index", "store", "workflow"]


@functools.cache
def settings() -> Settings:
    return Settings.from_env()


def registry() -> Registry:
    return default_registry()


@functools.cache
def clients() -> ClientFactory:
    cfg = settings()
    return ClientFactory(default_region=cfg.region, role_template=cfg.member_role)


def _table(name: str) -> Any:
    return clients().session.resource("dynamodb", region_name=settings().region).Table(name)


@functools.cache
def state_index() -> StateIndex:
    cfg = settings()
    return StateIndex(registry(), list(cfg.state), s3=lambda: clients().client("s3"), ttl_seconds=cfg.state_ttl,
                      account_overrides=cfg.state_accounts, index_url=cfg.index_url,
                      cache_shards=cfg.index_cache_shards)


@functools.cache
def source_index() -> SourceIndex | None:
    cfg = settings()
    if not cfg.source:
        return None
    return SourceIndex(parse_source_mapping(cfg.source), s3=lambda: clients().client("s3"),
                       ttl_seconds=cfg.state_ttl)


@functools.cache
def policy_store() -> PolicyStore:
    cfg = settings()
    return PolicyStore(cfg.policy, s3=lambda: clients().client("s3"), ttl_seconds=cfg.state_ttl)


def _defer(raw: Mapping[str, Any], serials: dict[str, int]) -> None:
    cfg = settings()
    assert cfg.defer_queue_url
    clients().client("sqs").send_message(
        QueueUrl=cfg.defer_queue_url, DelaySeconds=min(max(cfg.terraform_recheck_seconds, 0), 900),
        MessageBody=json.dumps({"event": raw, "serials": serials}, default=str))


@functools.cache
def pipeline() -> Pipeline:
    cfg = settings()
    return Pipeline(registry(), state_index(), clients().context, cfg.iac_principals, cfg.self_principals,
                    source=source_index(), policy=policy_store().get if cfg.policy else None,
                    defer=_defer if cfg.defer_queue_url else None)


@functools.cache
def store() -> FindingStore:
    cfg = settings()
    return dynamo_store(_table(cfg.table)) if cfg.table else file_store(cfg.store_dir)


@functools.cache
def audit() -> AuditLog:
    return audit_log_from_env(table_factory=_table)


@functools.cache
def slack_secrets() -> tuple[str | None, str | None]:
    """(bot token, signing secret): from the environment, else from the Secrets Manager secret named by
    ``DRIFTWARDEN_SLACK_SECRET_ARN`` (JSON with SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET), read once."""
    cfg = settings()
    token, signing = cfg.slack_token, cfg.slack_signing_secret
    if (token and signing) or not cfg.slack_secret_arn:
        return token, signing
    raw = clients().client("secretsmanager").get_secret_value(SecretId=cfg.slack_secret_arn)["SecretString"]
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError:
        raise ConfigError(f"{cfg.slack_secret_arn}: the Slack secret must be JSON with SLACK_BOT_TOKEN and "
                          "SLACK_SIGNING_SECRET") from None
    return token or doc.get("SLACK_BOT_TOKEN"), signing or doc.get("SLACK_SIGNING_SECRET")


@functools.cache
def notifier() -> SlackNotifier | None:
    cfg = settings()
    token = slack_secrets()[0]
    if not token or not cfg.slack_channel:
        return None
    return SlackNotifier(make_web_client(token, cfg.slack_api_url), cfg.slack_channel,
                         min_interval=cfg.slack_min_interval)


@functools.cache
def workflow() -> Workflow:
    cfg = settings()
    return Workflow(store(), pipeline, notifier, audit, auto_revert=cfg.auto_revert,
                    enqueue=_enqueue if cfg.queue_url else None,
                    revert_cap_per_hour=cfg.revert_cap_per_hour, group_window_seconds=cfg.group_window_seconds,
                    finding_ttl_hours=cfg.finding_ttl_hours)


@functools.cache
def idempotency() -> tuple[Any, Any] | None:
    """Powertools idempotency (DynamoDB persistence) for CloudTrail events, when configured."""
    table = settings().idempotency_table
    if not table:
        return None
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

    persistence = DynamoDBPersistenceLayer(table_name=table, boto3_session=clients().session)
    return persistence, IdempotencyConfig(event_key_jmespath="detail.eventID || id", expires_after_seconds=86400)


def _directory() -> SlackDirectory | None:
    n = notifier()
    return SlackDirectory(n.client) if n else None


def _enqueue(message: dict[str, Any]) -> None:
    queue_url = settings().queue_url
    assert queue_url
    clients().client("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps(message))


@functools.cache
def slack_actions() -> SlackActions:
    cfg = settings()
    # With no secret configured every request fails verification: 401, never "allow all".
    verifier = SignatureVerifier(slack_secrets()[1] or "\x00unset")
    return SlackActions(verifier, store(), workflow, notifier, ApproverPolicy.parse(cfg.approvers, cfg.four_eyes),
                        enqueue=_enqueue if cfg.queue_url else None, directory=_directory)


def reset() -> None:
    for fn in (settings, clients, state_index, pipeline, store, audit, notifier, workflow, slack_actions,
               idempotency, source_index, policy_store, slack_secrets):
        fn.cache_clear()
