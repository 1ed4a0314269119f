"""Lazy, cached construction of every service from the environment (the composition root's helpers).

Nothing here runs at import: importing app.py never touches AWS or reads the environment.
``reset()`` drops every cached object (tests, or a config change in a long-lived process).
"""

from __future__ import annotations

import functools
from typing import Any

from slack_sdk.signature import SignatureVerifier

from chalicelib.actions.slack_actions import SlackActions
from chalicelib.actions.store import DynamoFindingStore, FileFindingStore, FindingStore
from chalicelib.aws import ClientFactory
from chalicelib.config import Settings
from chalicelib.notify.slack import SlackNotifier, make_web_client
from chalicelib.pipeline import Pipeline
from chalicelib.resources.registry import Registry, default_registry
from chalicelib.state.index import StateIndex

__all__ = ["clients", "notifier", "pipeline", "registry", "reset", "settings", "slack_actions", "state_index",
           "store"]


@functools.cache
def settings() -> Settings:
    return Settings.from_env()


def registry() -> Registry:
    return default_registry()


@functools.cache
def clients() -> ClientFactory:
    cfg = settings()
    return ClientFactory(default_region=cfg.region, role_template=cfg.member_role)


@functools.cache
def state_index() -> StateIndex:
    cfg = settings()
    return StateIndex(registry(), list(cfg.state), s3=lambda: clients().client("s3"), ttl_seconds=cfg.state_ttl,
                      account_overrides=cfg.state_accounts)


@functools.cache
def pipeline() -> Pipeline:
    cfg = settings()
    return Pipeline(registry(), state_index(), clients().context, cfg.iac_principals, cfg.self_principals)


@functools.cache
def store() -> FindingStore:
    cfg = settings()
    if cfg.table:
        table: Any = clients().session.resource("dynamodb", region_name=cfg.region).Table(cfg.table)
        return DynamoFindingStore(table)
    return FileFindingStore(cfg.store_dir)


@functools.cache
def notifier() -> SlackNotifier | None:
    cfg = settings()
    if not cfg.slack_token or not cfg.slack_channel:
        return None
    return SlackNotifier(make_web_client(cfg.slack_token, cfg.slack_api_url), cfg.slack_channel)


@functools.cache
def slack_actions() -> SlackActions:
    secret = settings().slack_signing_secret
    # With no secret configured every request fails verification: 401, never "allow all".
    verifier = SignatureVerifier(secret or "\x00unset")
    return SlackActions(verifier, store(), pipeline, notifier)


def reset() -> None:
    for fn in (settings, clients, state_index, pipeline, store, notifier, slack_actions):
        fn.cache_clear()
