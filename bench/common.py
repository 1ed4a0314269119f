"""Shared bench helpers: the machine, an embedded moto server, child processes, percentiles, RSS.

Every measured scenario runs in a child process (``python -m bench.<module> <scenario> ...``) so a
cold start is a real cold start and peak RSS belongs to that scenario alone. Children talk to the
one moto server the parent started on 127.0.0.1 (``AWS_ENDPOINT_URL``) and print one JSON line.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REGION = "us-east-1"
ACCOUNT = "123456789012"

BASE_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "CRITICAL",
    "POWERTOOLS_SERVICE_NAME": "driftwarden",
    "PYTHONDONTWRITEBYTECODE": "1",
}


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        found = re.search(r"model name\s*:\s*(.+)", f.read())
        cpu = found.group(1).strip() if found else cpu
    ram = "?"
    with contextlib.suppress(OSError), open("/proc/meminfo") as f:
        found = re.search(r"MemTotal:\s*(\d+) kB", f.read())
        ram = f"{int(found.group(1)) / 1024 / 1024:.1f} GiB" if found else ram
    load = f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "?"
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram": ram,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "load": load,
    }


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on a free loopback port for the duration; yields its URL."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def use_endpoint(endpoint: str) -> None:
    """Point this process (boto3 and children) at the moto server."""
    os.environ.update(BASE_ENV)
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(var, None)


def child(
    module: str,
    *args: str,
    env: dict[str, str] | None = None,
    python: str | None = None,
    timeout: float = 600,
) -> dict[str, Any]:
    """Run ``python -m bench.<module> args...`` in a fresh interpreter; parse its last stdout line."""
    cmd = [python or sys.executable, "-m", f"bench.{module}", *args]
    full_env = {**os.environ, **BASE_ENV, **(env or {})}
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    out: dict[str, Any] = json.loads(lines[-1])
    out.setdefault("process_seconds", time.perf_counter() - started)
    return out


def emit(result: dict[str, Any]) -> None:
    """A child's result: one JSON line on stdout (the parent reads the last one)."""
    sys.stdout.write(json.dumps(result, default=str) + "\n")
    sys.stdout.flush()


def peak_rss_mb() -> float:
    """Peak RSS of this process's address space (VmHWM). Why not ru_maxrss: Linux carries it across
    fork+exec, so a child would report its parent's peak."""
    with contextlib.suppress(OSError), open("/proc/self/status") as f:
        found = re.search(r"VmHWM:\s*(\d+) kB", f.read())
        if found:
            return int(found.group(1)) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pct(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": pct(values, 50),
        "p99": pct(values, 99),
        "mean": statistics.fmean(values),
        "min": min(values),
        "max": max(values),
    }


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"
