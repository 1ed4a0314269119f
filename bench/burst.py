"""Burst (benchmark 5): 1,000 CloudTrail events through ``on_cloudtrail`` (chalice.test.Client).

Realistic bursts on a bounded set of resources: a console user (or a script) opens one port after
another on 20 managed security groups, 50 changes each, interleaved. Each change is made on the
moto server first, then its event is delivered, so every event judges a new live state (a new
drift, a new finding). Findings, idempotency keys and the audit trail go to DynamoDB on the moto
server; Slack is the local stand-in. The notifier posts at most one message per second per
channel (``DRIFTWARDEN_SLACK_MIN_INTERVAL``) and a burst on one resource updates its open message
in place (``DRIFTWARDEN_GROUP_WINDOW``).

Checks: every drift finding is in the table, every finding was notified (a post or an in-place
update), and the gaps between posts on the channel.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import tempfile
import time
from typing import Any

from bench.common import ACCOUNT, REGION, emit, summary

EVENTS = 1000
GROUPS = 20
CHANNEL = "C0DRIFTBURST"
STATE_BUCKET = "bench-burst-states"
MIN_INTERVAL = 1.0
GROUP_WINDOW = 300.0


def _tables(ddb: Any) -> None:
    for table in ("burst-findings", "burst-idempotency"):
        ddb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    ddb.create_table(
        TableName="burst-audit",
        KeySchema=[
            {"AttributeName": "chain", "KeyType": "HASH"},
            {"AttributeName": "seq", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "chain", "AttributeType": "S"},
            {"AttributeName": "seq", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def measure(events: int = EVENTS, groups: int = GROUPS) -> dict[str, Any]:
    import boto3

    from bench.estate import security_group, sg_rule
    from tests.harness.events import sg_rule_event
    from tests.harness.slack_standin import SlackStandIn
    from tests.harness.tfstate import StateBuilder

    session = boto3.session.Session(region_name=REGION)
    ec2, s3, ddb = session.client("ec2"), session.client("s3"), session.client("dynamodb")
    _tables(ddb)
    s3.create_bucket(Bucket=STATE_BUCKET)
    vpc = ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
    state = StateBuilder()
    gids = []
    for g in range(groups):
        gid = ec2.create_security_group(GroupName=f"burst-{g}", Description="burst tier", VpcId=vpc)[
            "GroupId"
        ]
        ec2.authorize_security_group_ingress(
            GroupId=gid,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 443,
                    "ToPort": 443,
                    "IpRanges": [{"CidrIp": "10.60.0.0/16"}],
                }
            ],
        )
        attrs = security_group(gid, f"burst-{g}", vpc, [sg_rule("tcp", 443, ["10.60.0.0/16"])], "burst")
        state.add(
            "aws_security_group", "burst", attrs | {"description": "burst tier", "egress": []}, index_key=g
        )
        gids.append(gid)
    s3.put_object(Bucket=STATE_BUCKET, Key="burst/terraform.tfstate", Body=json.dumps(state.doc()).encode())

    slack = SlackStandIn().start()
    store = tempfile.mkdtemp(prefix="dw-burst-")
    os.environ.update(
        {
            "DRIFTWARDEN_STATE": f"s3://{STATE_BUCKET}/burst/",
            "DRIFTWARDEN_TABLE": "burst-findings",
            "DRIFTWARDEN_IDEMPOTENCY_TABLE": "burst-idempotency",
            "DRIFTWARDEN_AUDIT_TABLE": "burst-audit",
            "DRIFTWARDEN_STORE_DIR": store,
            "SLACK_BOT_TOKEN": slack.token,
            "SLACK_CHANNEL": CHANNEL,
            "SLACK_API_URL": slack.url,
            "SLACK_SIGNING_SECRET": "bench",
            "DRIFTWARDEN_SLACK_MIN_INTERVAL": str(MIN_INTERVAL),
            "DRIFTWARDEN_GROUP_WINDOW": str(GROUP_WINDOW),
        }
    )
    from chalice.test import Client

    from app import app
    from chalicelib import wiring

    wiring.reset()
    calls: dict[str, int] = {}
    op_seconds: dict[str, list[float]] = {}  # per operation, per event window (first/last 100)
    window = {"name": "first"}

    def before(model: Any, context: dict[str, Any], **_: Any) -> None:
        name = f"{model.service_model.service_id}:{model.name}"
        calls[name] = calls.get(name, 0) + 1
        context["bench_t0"] = time.perf_counter()

    def after(model: Any, context: dict[str, Any], **_: Any) -> None:
        if "bench_t0" in context and window["name"]:
            key = f"{window['name']}|{model.service_model.service_id}:{model.name}"
            op_seconds.setdefault(key, []).append(time.perf_counter() - context["bench_t0"])

    wiring.clients().session.events.register("before-call.*.*", before)  # every client the app makes
    wiring.clients().session.events.register("after-call.*.*", after)
    latencies, results, during = [], [], []
    started = time.perf_counter()
    try:
        with Client(app, stage_name="dev") as client:
            for j in range(events):
                window["name"] = "first" if j < 100 else ("last" if j >= events - 100 else "")
                gid, port = gids[j % groups], 1024 + j // groups
                perm = [
                    {
                        "IpProtocol": "tcp",
                        "FromPort": port,
                        "ToPort": port,
                        "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                    }
                ]
                ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=perm)
                event = sg_rule_event("AuthorizeSecurityGroupIngress", gid, perm, account=ACCOUNT)
                before_calls = len(slack.calls)
                t0 = time.perf_counter()
                results.append(client.lambda_.invoke("on_cloudtrail", event).payload)
                latencies.append(time.perf_counter() - t0)
                during.append([c["method"] for c in slack.calls[before_calls:]])
        wall = time.perf_counter() - started
    finally:
        slack.stop()
    findings = [f for r in results for f in r.get("findings", [])]
    drift = [f for f in findings if f.get("status") == "drift"]
    stored = _stored_findings(ddb)
    posts = [c for c in slack.calls if c["method"] == "chat.postMessage"]
    updates = [c for c in slack.calls if c["method"] == "chat.update"]
    times = sorted(c["at"] for c in posts if c["payload"].get("channel") == CHANNEL)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    return {
        "events": events,
        "groups": groups,
        "wall_seconds": wall,
        "per_event": summary(latencies),
        "findings": len(findings),
        "drift": len(drift),
        "statuses": _count(f.get("status") for f in findings),
        "stored": len(stored),
        "stored_drift_ids_match": {f["id"] for f in drift} <= stored,
        "notified": sum(1 for f in drift if f.get("notified")),
        "not_notified": [f for f in drift if not f.get("notified")][:3],
        "posts": len(posts),
        "updates": len(updates),
        "slack_errors": len(slack.calls) - len(posts) - len(updates),
        "min_post_gap": min(gaps) if gaps else None,
        "max_posts_in_1s": _max_in_window(times, 1.0),
        "messages": len(slack.messages),
        "aws_calls_per_event": {
            k: round(v / events, 2) for k, v in sorted(calls.items(), key=lambda kv: -kv[1])
        },
        "op_ms_first_last_100": _op_windows(op_seconds),
        "slowest": sorted(((j, sec, during[j]) for j, sec in enumerate(latencies)), key=lambda t: -t[1])[:5],
        "p50_first_100": summary(latencies[:100])["p50"],
        "p50_last_100": summary(latencies[-100:])["p50"],
    }


def _op_windows(op_seconds: dict[str, list[float]]) -> dict[str, list[float | None]]:
    """Mean milliseconds per call of each operation in the first and the last 100 events (None: no call)."""
    out: dict[str, list[float | None]] = {}
    for key, values in op_seconds.items():
        which, op = key.split("|", 1)
        pair = out.setdefault(op, [None, None])
        pair[0 if which == "first" else 1] = round(1000 * sum(values) / len(values), 1)
    return dict(sorted(out.items(), key=lambda kv: -(kv[1][1] or 0)))


def _stored_findings(ddb: Any) -> set[str]:
    ids: set[str] = set()
    for page in ddb.get_paginator("scan").paginate(TableName="burst-findings"):
        for item in page["Items"]:
            if item.get("kind", {}).get("S") == "finding":
                ids.add(item["id"]["S"])
    return ids


def _count(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[str(v)] = out.get(str(v), 0) + 1
    return out


def _max_in_window(times: list[float], window: float) -> int:
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else EVENTS
    emit(measure(n))
