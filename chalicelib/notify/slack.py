"""The Slack client wrapper: slack_sdk against ``SLACK_API_URL``, 429 and 5xx retried."""

from __future__ import annotations

import logging
from dataclasses import dataclass
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

    def post_alert(self, finding: Finding) -> dict[str, Any]:
        resp = self._call("chat_postMessage", channel=self.channel, text=alert_text(finding),
                          blocks=alert_blocks(finding))
        return {"channel": resp["channel"], "ts": resp["ts"]}

    def update(self, ref: dict[str, Any], blocks: list[dict[str, Any]], text: str) -> None:
        self._call("chat_update", channel=ref["channel"], ts=ref["ts"], blocks=blocks, text=text)

    def ephemeral(self, channel: str, user: str, text: str) -> None:
        self._call("chat_postEphemeral", channel=channel, user=user, text=text)

    def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, method)(**kwargs)
        except SlackApiError as exc:
            raise SlackError(f"slack {method} failed: {exc.response.get('error')}") from exc
        except SlackClientError as exc:
            raise SlackError(f"slack {method} failed: {exc}") from exc
        except OSError as exc:
            raise SlackError(f"slack {method} unreachable: {exc}") from exc
