"""AWS clients for one (account, region): built lazily, cached, adaptive retries.

boto3 honours ``AWS_ENDPOINT_URL``, so the same code runs against moto or a real account.
Multi-account role assumption plugs in here (``role_template`` with ``{account}``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

__all__ = ["AwsContext", "ClientFactory"]

RETRY_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 8}, user_agent_appid="driftwarden")


@dataclass
class ClientFactory:
    session_factory: Callable[[], boto3.session.Session] = boto3.session.Session
    default_region: str | None = None
    role_template: str | None = None
    session_name: str = "driftwarden"
    _home_account: str | None = None
    _session: boto3.session.Session | None = None
    _clients: dict[tuple[str, str | None, str | None], Any] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)  # "service:Operation" → count (botocore hook)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def session(self) -> boto3.session.Session:
        if self._session is None:
            self._session = self.session_factory()
        return self._session

    def client(self, service: str, region: str | None = None, account: str | None = None) -> Any:
        region = region or self.default_region or self.session.region_name or "us-east-1"
        key = (service, region, account if self.role_template else None)
        with self._lock:
            if key not in self._clients:
                client = self._make(service, region, account)
                client.meta.events.register("before-call.*.*", self._count)
                self._clients[key] = client
            return self._clients[key]

    def _count(self, model: Any, **_: Any) -> None:
        name = f"{model.service_model.service_id}:{model.name}"
        self.calls[name] = self.calls.get(name, 0) + 1

    def total_calls(self) -> int:
        return sum(self.calls.values())

    def home_account(self) -> str | None:
        """The account Driftwarden runs in (no role is assumed to read it)."""
        if self._home_account is None and self.role_template:
            sts = self.session.client("sts", config=RETRY_CONFIG)
            self._home_account = sts.get_caller_identity()["Account"]
        return self._home_account

    def _make(self, service: str, region: str, account: str | None) -> Any:
        if self.role_template and account and account != self.home_account():
            sts = self.session.client("sts", region_name=region, config=RETRY_CONFIG)
            creds = sts.assume_role(RoleArn=self.role_template.format(account=account),
                                    RoleSessionName=self.session_name)["Credentials"]
            return self.session.client(service, region_name=region, config=RETRY_CONFIG,
                                       aws_access_key_id=creds["AccessKeyId"],
                                       aws_secret_access_key=creds["SecretAccessKey"],
                                       aws_session_token=creds["SessionToken"])
        return self.session.client(service, region_name=region, config=RETRY_CONFIG)

    def context(self, account: str | None, region: str | None) -> AwsContext:
        return AwsContext(self, account, region or self.default_region or self.session.region_name or "us-east-1")


@dataclass
class AwsContext:
    """What a plugin receives: ``client(service)`` bound to the event's account and region."""

    factory: ClientFactory
    account: str | None
    region: str

    def client(self, service: str) -> Any:
        return self.factory.client(service, self.region, self.account)
