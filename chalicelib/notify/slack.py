"""The Slack client wrapper: slack_sdk against ``SLACK_API_URL``; 429 (honouring Retry-After), 5xx and
connection errors retried; at most one message per ``min_interval`` seconds per channel."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from chalicelib.errors import SlackError
from chalicelib.models import Finding
from chalicelib.notify.blocks import alert_blocks, alert_text

__all__ = ["SlackNotifier", "make_web_client"]

log = logging.getLogger(__name__)


def make_web_client(token: str | None, base_url: str, *, max_retries: int = 3) -> WebClient:
    client = WebClient(token=token, base_url=base_url, timeout=10)
    client.retry_handlers.extend([
        RateLimitErrorRetryHandler(max_retry_count=max_retries),
        ServerErrorRetryHandler(max_retry_count=max_retries),
        ConnectionErrorRetryHandler(max_retry_count=max_retries),
    ])
    return client


@dataclass
class SlackNotifier:
    client: WebClient
    channel: str
    min_interval: float = 1.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _last: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def post_alert(self, finding: Finding, channel: str | None = None, note: str | None = None) -> dict[str, Any]:
        resp = self._post(channel or self.channel, text=alert_text(finding), blocks=alert_blocks(finding, note=note))
        return {"channel": resp["channel"], "ts": resp["ts"]}

    def update(self, ref: dict[str, Any], blocks: list[dict[str, Any]], text: str) -> None:
        self._call("chat_update", channel=ref["channel"], ts=ref["ts"], blocks=blocks, text=text)

    def thread(self, ref: dict[str, Any], text: str) -> None:
        self._post(ref["channel"], text=text, thread_ts=ref["ts"])

    def say(self, text: str, channel: str | None = None) -> None:
        self._post(channel or self.channel, text=text)

    def ephemeral(self, channel: str, user: str, text: str) -> None:
        self._call("chat_postEphemeral", channel=channel, user=user, text=text)

    def _post(self, channel: str, **kwargs: Any) -> Any:
        with self._lock:
            wait = self._last.get(channel, -1e9) + self.min_interval - self.clock()
            if wait > 0:
                self.sleep(wait)
            try:
                return self._call("chat_postMessage", channel=channel, **kwargs)
            finally:
                self._last[channel] = self.clock()

    def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, method)(**kwargs)
        except SlackApiError as exc:
            raise SlackError(f"slack {method} failed: {exc.response.get('error')}") from exc
        except SlackClientError as exc:
            raise SlackError(f"slack {method} failed: {exc}") from exc
        except OSError as exc:
            raise SlackError(f"slack {method} unreachable: {exc}") from exc
