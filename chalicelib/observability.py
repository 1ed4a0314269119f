"""Powertools Logger and Metrics, and the one adapter from Chalice handlers to them.

Chalice event handlers receive one event object; Powertools decorators expect
``(event, context)``. ``lambda_entry`` bridges the two, once, here.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from chalicelib.models import Finding

__all__ = ["emit_finding", "lambda_entry", "logger", "metrics"]

class _Stderr:
    """Writes to whatever ``sys.stderr`` is now (not the one at import), so redirection works."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


logger = Logger(service="driftwarden", logger_handler=logging.StreamHandler(_Stderr()))
metrics = Metrics(namespace="Driftwarden", service="driftwarden")
T = TypeVar("T")

# chalicelib modules log through the stdlib; route them into Powertools' structured JSON handler.
_pkg_logger = logging.getLogger("chalicelib")
_pkg_logger.handlers = [logger.registered_handler]
_pkg_logger.setLevel(logger.initial_log_level)
_pkg_logger.propagate = False


def lambda_entry(fn: Callable[[dict[str, Any], Any], T]) -> Callable[[Any], T]:
    """Wrap ``fn(event_dict, context)`` as a Chalice event handler with Powertools context."""

    @functools.wraps(fn)
    def handler(event: Any) -> T:
        raw = event.to_dict() if hasattr(event, "to_dict") else event
        context = getattr(event, "context", None)
        inner = metrics.log_metrics(logger.inject_lambda_context(fn, clear_state=True))
        return inner(raw, context)

    return handler


def emit_finding(finding: Finding, latency_ms: float | None = None) -> None:
    """EMF: one count per finding by status and severity, and decision latency."""
    if is_metrics_disabled():
        return
    with single_metric(name="Findings", unit=MetricUnit.Count, value=1, namespace="Driftwarden",
                       default_dimensions={"status": finding.status.value, "severity": finding.severity.value}) as m:
        m.add_dimension(name="service", value="driftwarden")
    if latency_ms is not None:
        metrics.add_metric(name="DecisionLatency", unit=MetricUnit.Milliseconds, value=latency_ms)
