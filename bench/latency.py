"""Per-event decision latency vs estate size, overhead vs the floor, and memory (benchmarks 1 and 2).

Parent (``run``): for each size writes a realistic estate to the moto server (one real, live
security group in it: the target), then runs children:

- ``build SIZE``: the first build of the persisted index (``StateIndex.refresh``): time, reads, RSS.
- ``events SIZE persisted``: a fresh process judging events about the target group with the
  persisted index: first event, warm events interleaved with the floor (the bare
  DescribeSecurityGroups the decision needs), cold lookups (a new index per event: manifest,
  listing, one shard) interleaved with their floor (the same GETs and LISTs, bare), peak RSS.
- ``events SIZE legacy``: the same first event and warm events without a persisted index (every
  state is read on the first event): the baseline the persisted form is measured against.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from bench.common import ACCOUNT, REGION, child, emit, peak_rss_mb, summary

SIZES = (100, 10_000, 100_000)
STATE_BUCKET = "bench-states"
INDEX_BUCKET = "bench-index"
WARM_EVENTS = 150
COLD_EVENTS = 20
OPEN = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]


def prefix(size: int) -> str:
    return f"n{size}/"


def locations(size: int) -> str:
    return f"s3://{STATE_BUCKET}/{prefix(size)}"


def index_url(size: int) -> str:
    return f"s3://{INDEX_BUCKET}/{prefix(size)}"


# --- parent ------------------------------------------------------------------------------------------
def provision(sizes: tuple[int, ...] = SIZES) -> dict[str, Any]:
    """The live target group (drifted: port 22 open to the world) and one estate per size."""
    import boto3

    from bench.estate import security_group, sg_rule, write_estate

    session = boto3.session.Session(region_name=REGION)
    ec2, s3 = session.client("ec2"), session.client("s3")
    for bucket in (STATE_BUCKET, INDEX_BUCKET):
        s3.create_bucket(Bucket=bucket)
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    gid = ec2.create_security_group(GroupName="payments-web", Description="payments-web tier", VpcId=vpc)[
        "GroupId"
    ]
    declared = [sg_rule("tcp", 443, ["0.0.0.0/0"], "https"), sg_rule("tcp", 8080, ["10.30.0.0/16"], "app")]
    ec2.authorize_security_group_ingress(
        GroupId=gid,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "https"}],
            },
            {
                "IpProtocol": "tcp",
                "FromPort": 8080,
                "ToPort": 8080,
                "IpRanges": [{"CidrIp": "10.30.0.0/16", "Description": "app"}],
            },
        ],
    )
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=OPEN)  # the drift every event reports
    attrs = security_group(gid, "payments-web", vpc, declared, "payments")
    attrs["description"] = "payments-web tier"
    estates = {}
    for size in sizes:
        started = time.perf_counter()
        estates[size] = write_estate(
            s3, STATE_BUCKET, prefix(size), size, target=("aws_security_group", attrs)
        )
        estates[size]["write_seconds"] = time.perf_counter() - started
        del estates[size]["keys"]
    return {"group_id": gid, "estates": estates}


def run(sizes: tuple[int, ...] = SIZES) -> dict[str, Any]:
    setup = provision(sizes)
    gid = setup["group_id"]
    out: dict[str, Any] = {"group_id": gid, "sizes": {}}
    for size in sizes:
        row: dict[str, Any] = {"estate": setup["estates"][size]}
        row["build"] = child("latency", "build", str(size))
        row["persisted"] = child("latency", "events", str(size), "persisted", gid)
        row["legacy"] = child("latency", "events", str(size), "legacy", gid)
        out["sizes"][size] = row
    return out


# --- children ----------------------------------------------------------------------------------------
def _index(size: int, persisted: bool, factory: Any) -> Any:
    from chalicelib.resources.registry import default_registry
    from chalicelib.state.index import StateIndex
    from chalicelib.state.locations import parse_locations

    return StateIndex(
        default_registry(),
        parse_locations(locations(size)),
        s3=lambda: factory.client("s3"),
        index_url=index_url(size) if persisted else None,
        ttl_seconds=3600,
    )


def child_build(size: int) -> dict[str, Any]:
    from chalicelib.aws import ClientFactory

    factory = ClientFactory(default_region=REGION)
    index = _index(size, True, factory)
    started = time.perf_counter()
    index.refresh()
    seconds = time.perf_counter() - started
    manifest = index._manifest
    assert manifest is not None and not index.errors, index.errors
    return {
        "seconds": seconds,
        "reads": index.reads,
        "shards": manifest.shards,
        "records": len(index),
        "puts": index.store.puts if index.store else 0,
        "peak_rss_mb": peak_rss_mb(),
    }


def child_events(size: int, mode: str, gid: str) -> dict[str, Any]:
    t_process = time.perf_counter()
    from chalicelib.aws import ClientFactory
    from chalicelib.models import Status
    from chalicelib.pipeline import Pipeline
    from chalicelib.resources.registry import default_registry
    from tests.harness.events import sg_rule_event

    registry = default_registry()
    factory = ClientFactory(default_region=REGION)
    persisted = mode == "persisted"
    events = [
        sg_rule_event("AuthorizeSecurityGroupIngress", gid, OPEN, account=ACCOUNT)
        for _ in range(WARM_EVENTS + 1)
    ]
    pipeline = Pipeline(registry, _index(size, persisted, factory), factory.context)
    t0 = time.perf_counter()
    first = pipeline.process_event(events[0])
    first_event = time.perf_counter() - t0
    assert [f.status for f in first] == [Status.DRIFT], [f.reason for f in first]
    result: dict[str, Any] = {
        "first_event": first_event,
        "first_event_since_start": time.perf_counter() - t_process,
        "reads_first_event": pipeline.index.reads,
    }
    ec2 = factory.client("ec2", REGION, ACCOUNT)
    warm, floor = [], []
    n_warm = WARM_EVENTS if persisted else 30
    for event in events[1 : n_warm + 1]:  # interleaved so load on the machine hits both alike
        t0 = time.perf_counter()
        findings = pipeline.process_event(event)
        warm.append(time.perf_counter() - t0)
        assert findings[0].status is Status.DRIFT
        t0 = time.perf_counter()
        ec2.describe_security_groups(GroupIds=[gid])
        floor.append(time.perf_counter() - t0)
    result["warm"], result["warm_floor"] = summary(warm), summary(floor)
    if persisted:
        result.update(_cold_lookups(size, gid, registry, factory, events[1 : COLD_EVENTS + 1]))
    result["reads_total"] = pipeline.index.reads
    result["shard_reads"] = pipeline.index.shard_reads
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def _cold_lookups(
    size: int, gid: str, registry: Any, factory: Any, events: list[dict[str, Any]]
) -> dict[str, Any]:
    """A new index per event (what a fresh container does after import) vs the bare calls it makes."""
    from chalicelib.pipeline import Pipeline
    from chalicelib.state.persist import shard_of

    s3, ec2 = factory.client("s3", REGION), factory.client("ec2", REGION, ACCOUNT)
    probe = _index(size, True, factory)
    probe.ensure_fresh()
    assert probe._manifest is not None
    shard_key = probe.store.shard_key(
        probe._manifest.layout, shard_of("ec2:security-group", gid, probe._manifest.shards)
    )
    cold, floor, reads = [], [], 0
    for event in events:
        t0 = time.perf_counter()
        pipeline = Pipeline(registry, _index(size, True, factory), factory.context)
        pipeline.process_event(event)
        cold.append(time.perf_counter() - t0)
        reads += pipeline.index.reads
        t0 = time.perf_counter()
        s3.get_object(Bucket=INDEX_BUCKET, Key=f"{prefix(size)}manifest.json.gz")["Body"].read()
        for list_prefix in (prefix(size), "env:/"):
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=STATE_BUCKET, Prefix=list_prefix):
                page.get("Contents")
        s3.get_object(Bucket=INDEX_BUCKET, Key=shard_key)["Body"].read()
        ec2.describe_security_groups(GroupIds=[gid])
        floor.append(time.perf_counter() - t0)
    return {"cold": summary(cold), "cold_floor": summary(floor), "cold_state_reads": reads}


def main(argv: list[str]) -> None:
    if argv[0] == "build":
        emit(child_build(int(argv[1])))
    elif argv[0] == "events":
        emit(child_events(int(argv[1]), argv[2], argv[3]))
    else:
        raise SystemExit(f"unknown scenario {argv[0]!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
