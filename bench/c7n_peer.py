"""Peer comparison (benchmark 6): Cloud Custodian in CloudTrail event mode, same events, same endpoint.

c7n 0.9.53 (the newest release) pins ``boto3==1.43.103`` while Driftwarden pins 1.44.5, so it does
not install alongside the pinned stack: it lives in its own virtualenv, ``.venv/c7n`` (created on
first use with ``pip install c7n==0.9.53``; ``make clean`` removes it with .venv). Its child runs
there and imports only c7n and the standard library (never chalicelib).

What runs on each side, per event (an ``AuthorizeSecurityGroupIngress`` on the target group):

- Custodian: the policy's ``push(event)``, which is what its Lambda handler does: ids from the
  event (``requestParameters.groupId``), DescribeSecurityGroups, the ``ingress`` filter
  (port 22 open to 0.0.0.0/0), and its per-run bookkeeping (output directory, resources.json).
- Driftwarden: ``Pipeline.process_event`` with the persisted index of the 100-resource estate:
  lookup, DescribeSecurityGroups, the declared-vs-live diff, severity and revert plan.

They answer different questions (a rule about the live object vs. drift from the declaration) and
both make exactly one AWS call per event here; the figure is the per-event cost of each engine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import ACCOUNT, REGION, ROOT, child, emit, summary

C7N_VERSION = "0.9.53"
VENV = ROOT / ".venv" / "c7n"
EVENTS = 150
POLICY = {
    "name": "sg-world-ssh",
    "resource": "aws.security-group",
    "mode": {
        "type": "cloudtrail",
        "events": [
            {
                "source": "ec2.amazonaws.com",
                "event": "AuthorizeSecurityGroupIngress",
                "ids": "requestParameters.groupId",
            }
        ],
    },
    "filters": [{"type": "ingress", "Ports": [22], "Cidr": {"value": "0.0.0.0/0"}}],
}


def ensure_venv() -> tuple[Path | None, str]:
    """The c7n interpreter, or None and why not."""
    python = VENV / "bin" / "python"
    probe = [str(python), "-c", "import c7n.version; print(c7n.version.version)"]
    if python.exists():
        found = subprocess.run(probe, capture_output=True, text=True)
        if found.returncode == 0 and found.stdout.strip() == C7N_VERSION:
            return python, f"c7n {C7N_VERSION} in {VENV.relative_to(ROOT)}"
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", str(VENV)], check=True, capture_output=True, timeout=300
        )
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", f"c7n=={C7N_VERSION}"],
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        return None, f"could not install c7n=={C7N_VERSION} into {VENV}: {str(detail).strip()[-500:]}"
    return python, f"c7n {C7N_VERSION} installed into {VENV.relative_to(ROOT)}"


def _events(gid: str, n: int) -> list[dict[str, Any]]:
    from bench.latency import OPEN
    from tests.harness.events import sg_rule_event

    return [sg_rule_event("AuthorizeSecurityGroupIngress", gid, OPEN, account=ACCOUNT) for _ in range(n)]


def run(gid: str) -> dict[str, Any]:
    python, how = ensure_venv()
    events_file = Path(tempfile.mkdtemp(prefix="dw-c7n-")) / "events.json"
    events_file.write_text(json.dumps(_events(gid, EVENTS + 1)))
    out: dict[str, Any] = {"c7n": how, "events": EVENTS}
    out["driftwarden"] = child("c7n_peer", "driftwarden", str(events_file))
    if python is None:
        out["custodian"] = {"failed": how}
        return out
    try:
        out["custodian"] = child("c7n_peer", "custodian", str(events_file), python=str(python))
    except RuntimeError as exc:
        out["custodian"] = {"failed": str(exc)[-1500:]}
    return out


# --- children ----------------------------------------------------------------------------------------
def child_driftwarden(events_file: str) -> dict[str, Any]:
    from bench.latency import _index
    from chalicelib.aws import ClientFactory
    from chalicelib.pipeline import Pipeline
    from chalicelib.resources.registry import default_registry

    events = json.loads(Path(events_file).read_text())
    factory = ClientFactory(default_region=REGION)
    pipeline = Pipeline(default_registry(), _index(100, True, factory), factory.context)
    t0 = time.perf_counter()
    first = pipeline.process_event(events[0])
    first_s = time.perf_counter() - t0
    times = []
    for event in events[1:]:
        t0 = time.perf_counter()
        findings = pipeline.process_event(event)
        times.append(time.perf_counter() - t0)
    return {
        "first_event": first_s,
        "per_event": summary(times),
        "status": first[0].status.value,
        "last_status": findings[0].status.value,
        "aws_calls": factory.calls,
    }


def child_custodian(events_file: str) -> dict[str, Any]:
    import logging

    logging.disable(logging.CRITICAL)
    t_import = time.perf_counter()
    from c7n.config import Config
    from c7n.policy import Policy
    from c7n.resources import load_resources

    load_resources(("aws.security-group",))
    import_s = time.perf_counter() - t_import
    calls: dict[str, int] = {}

    import boto3

    def count(model: Any, **_: Any) -> None:
        name = f"{model.service_model.service_id}:{model.name}"
        calls[name] = calls.get(name, 0) + 1

    boto3.DEFAULT_SESSION = None
    original = boto3.session.Session.__init__

    def counting_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.events.register("before-call.*.*", count)

    boto3.session.Session.__init__ = counting_init  # type: ignore[method-assign]
    out_dir = tempfile.mkdtemp(prefix="c7n-out-")
    options = Config.empty(
        region=REGION,
        regions=[REGION],
        account_id=ACCOUNT,
        output_dir=out_dir,
        log_group=None,
        metrics_enabled=False,
        cache="",
        dryrun=False,
    )
    policy = Policy(POLICY, options)
    policy.validate()
    events = json.loads(Path(events_file).read_text())
    t0 = time.perf_counter()
    first = policy.push(events[0], None)
    first_s = time.perf_counter() - t0
    times, matched = [], 0
    for event in events[1:]:
        t0 = time.perf_counter()
        found = policy.push(event, None)
        times.append(time.perf_counter() - t0)
        matched += bool(found)
    import c7n.version

    return {
        "version": c7n.version.version,
        "import_seconds": import_s,
        "first_event": first_s,
        "per_event": summary(times),
        "first_matched": len(first or []),
        "matched": matched,
        "aws_calls": calls,
        "boto3": boto3.__version__,
        "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
    }


if __name__ == "__main__":
    if sys.argv[1] == "driftwarden":
        emit(child_driftwarden(sys.argv[2]))
    elif sys.argv[1] == "custodian":
        emit(child_custodian(sys.argv[2]))
