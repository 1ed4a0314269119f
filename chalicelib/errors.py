"""Typed errors. botocore's ClientError never escapes a plugin: it becomes one of these."""

from __future__ import annotations


class DriftwardenError(Exception):
    """Base class for every error Driftwarden raises on purpose."""


class ConfigError(DriftwardenError):
    """The environment or a configuration file is invalid."""


class StateError(DriftwardenError):
    """A Terraform state could not be read or parsed. Always names the file."""

    def __init__(self, url: str, message: str) -> None:
        super().__init__(f"{url}: {message}")
        self.url = url


class EventError(DriftwardenError):
    """A CloudTrail/EventBridge event is malformed."""


class LiveReadError(DriftwardenError):
    """The live resource could not be read (throttled, access denied, ...). Retry; never drift."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class RegistryError(DriftwardenError):
    """The plugin registry is inconsistent (duplicate type, ambiguous event claim)."""


class RemediationError(DriftwardenError):
    """A revert plan could not be executed."""


class SlackError(DriftwardenError):
    """Slack could not be reached or refused a call."""
