"""Powertools EMF: findings by status and severity, and decision latency; JSON logs with correlation id."""

from __future__ import annotations

import json

from chalicelib.models import Action, Actor, Finding, Severity, Status
from chalicelib.observability import emit_finding, metrics

FINDING = Finding("evt-1", "AuthorizeSecurityGroupIngress", "ec2.amazonaws.com", None, "123456789012", "us-east-1",
                  Actor(None, None, None, False), Status.DRIFT, None, (), Severity.CRITICAL, Action.ALERT, "x")


def test_findings_metric_has_status_and_severity_dimensions(monkeypatch, capsys):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    emit_finding(FINDING, latency_ms=12.5)
    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    directive = line["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "Driftwarden"
    assert {"status", "severity"} <= set(directive["Dimensions"][0])
    assert line["status"] == "drift" and line["severity"] == "critical" and line["Findings"] == [1.0]
    flushed = metrics.serialize_metric_set()
    assert flushed["DecisionLatency"] == [12.5]
    metrics.clear_metrics()


def test_disabled_metrics_print_nothing(monkeypatch, capsys):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    emit_finding(FINDING, latency_ms=1.0)
    assert capsys.readouterr().out == ""
