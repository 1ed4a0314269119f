"""Configuration, read once from the environment. Every variable is documented in README.md."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from chalicelib.errors import ConfigError
from chalicelib.state.locations import StateLocation, parse_locations

__all__ = ["Settings"]

SLACK_DEFAULT_API = "https://slack.com/api/"


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None


@dataclass(frozen=True)
class Settings:
    state: tuple[StateLocation, ...] = ()
    iac_principals: tuple[str, ...] = ()
    self_principals: tuple[str, ...] = ()
    table: str | None = None
    store_dir: str = ".driftwarden/findings"
    state_ttl: float = 60.0
    region: str | None = None
    slack_token: str | None = None
    slack_signing_secret: str | None = None
    slack_channel: str | None = None
    slack_api_url: str = SLACK_DEFAULT_API
    member_role: str | None = None
    state_accounts: tuple[tuple[str, str], ...] = ()
    queue_url: str | None = None
    idempotency_table: str | None = None
    approvers: str | None = None
    four_eyes: bool = False
    finding_ttl_hours: float = 72.0
    revert_cap_per_hour: int = 3
    group_window_seconds: float = 300.0
    auto_revert: bool = False
    slack_min_interval: float = 1.0
    source: str | None = None
    policy: str | None = None
    defer_queue_url: str | None = None
    terraform_recheck_seconds: int = 120
    slack_secret_arn: str | None = None
    index_url: str | None = None
    index_cache_shards: int = 32

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        api = env.get("SLACK_API_URL") or SLACK_DEFAULT_API
        return cls(
            state=tuple(parse_locations(env.get("DRIFTWARDEN_STATE"))),
            iac_principals=_csv(env.get("DRIFTWARDEN_IAC_PRINCIPALS")),
            self_principals=_csv(env.get("DRIFTWARDEN_SELF_PRINCIPALS")),
            table=env.get("DRIFTWARDEN_TABLE") or None,
            store_dir=env.get("DRIFTWARDEN_STORE_DIR") or ".driftwarden/findings",
            state_ttl=_float(env, "DRIFTWARDEN_STATE_TTL", 60.0),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
            slack_token=env.get("SLACK_BOT_TOKEN") or None,
            slack_signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
            slack_channel=env.get("SLACK_CHANNEL") or None,
            slack_api_url=api if api.endswith("/") else api + "/",
            member_role=_member_role(env.get("DRIFTWARDEN_MEMBER_ROLE")),
            state_accounts=_pairs("DRIFTWARDEN_STATE_ACCOUNTS", env.get("DRIFTWARDEN_STATE_ACCOUNTS")),
            queue_url=env.get("DRIFTWARDEN_QUEUE_URL") or None,
            idempotency_table=env.get("DRIFTWARDEN_IDEMPOTENCY_TABLE") or None,
            approvers=env.get("DRIFTWARDEN_APPROVERS") or None,
            four_eyes=_bool(env, "DRIFTWARDEN_FOUR_EYES"),
            finding_ttl_hours=_float(env, "DRIFTWARDEN_FINDING_TTL_HOURS", 72.0),
            revert_cap_per_hour=int(_float(env, "DRIFTWARDEN_REVERT_CAP", 3)),
            group_window_seconds=_float(env, "DRIFTWARDEN_GROUP_WINDOW", 300.0),
            auto_revert=_bool(env, "DRIFTWARDEN_AUTO_REVERT"),
            slack_min_interval=_float(env, "DRIFTWARDEN_SLACK_MIN_INTERVAL", 1.0),
            source=env.get("DRIFTWARDEN_SOURCE") or None,
            policy=env.get("DRIFTWARDEN_POLICY") or None,
            defer_queue_url=env.get("DRIFTWARDEN_DEFER_QUEUE_URL") or None,
            terraform_recheck_seconds=int(_float(env, "DRIFTWARDEN_TERRAFORM_RECHECK_SECONDS", 120)),
            slack_secret_arn=env.get("DRIFTWARDEN_SLACK_SECRET_ARN") or None,
            index_url=env.get("DRIFTWARDEN_INDEX_URL") or None,
            index_cache_shards=int(_float(env, "DRIFTWARDEN_INDEX_CACHE_SHARDS", 32)),
        )


def _bool(env: Mapping[str, str], name: str) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name}={raw!r} is not a boolean (true/false)")


def _member_role(value: str | None) -> str | None:
    if not value:
        return None
    if "{account}" not in value:
        raise ConfigError(f"DRIFTWARDEN_MEMBER_ROLE={value!r} must contain {{account}}")
    return value


def _pairs(name: str, value: str | None) -> tuple[tuple[str, str], ...]:
    """``s3://bucket/prefix/=111122223333,...``: state location prefix → account id."""
    out = []
    for item in _csv(value):
        location, sep, account = item.rpartition("=")
        if not sep or not location or not (account.isdigit() and len(account) == 12):
            raise ConfigError(f"{name}: {item!r} is not LOCATION=ACCOUNT_ID (12 digits)")
        out.append((location, account))
    return tuple(out)
