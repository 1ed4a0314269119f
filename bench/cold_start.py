"""Cold start (benchmark 4): ``import app`` in a fresh process, and the first event in a fresh process.

- ``import``: wall time of ``import app`` (the Lambda's init phase before our code runs), measured
  inside a fresh interpreter; also the whole process, interpreter start included.
- ``first_event MODE``: a fresh process imports app and invokes ``on_cloudtrail`` once through
  ``chalice.test.Client`` against the moto server, on the 10,000-resource estate the latency bench
  wrote: with the persisted index (``persisted``) or reading every state (``legacy``). Afterwards it
  records whether the HCL grammar was built or even imported on that path.

The persisted index reaches the handler through ``DRIFTWARDEN_INDEX_URL``. Until wiring reads it,
this child builds ``wiring.state_index`` the way the requested wiring change would (see
docs/SCALING.md); nothing else of wiring is replaced.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from typing import Any

T_START = time.perf_counter()

IMPORT_RUNS = 5
SIZE = 10_000


def child_import() -> dict[str, Any]:
    t0 = time.perf_counter()
    import app  # noqa: F401

    seconds = time.perf_counter() - t0
    from chalicelib.state import hcl

    return {
        "import_seconds": seconds,
        "hcl_built": hcl.parser_origin() is not None,
        "lark_imported": "lark" in sys.modules,
        "hcl2_imported": "hcl2" in sys.modules,
        "boto3_imported": "boto3" in sys.modules,
        "modules": len(sys.modules),
    }


def _install_index_wiring() -> str:
    """Mirror the requested wiring change when wiring does not read DRIFTWARDEN_INDEX_URL yet."""
    import functools

    from chalicelib import wiring

    if hasattr(wiring.settings(), "index_url"):
        return "wiring"
    url = os.environ.get("DRIFTWARDEN_INDEX_URL")
    if not url:
        return "none"

    @functools.cache
    def state_index() -> Any:
        from chalicelib.state.index import StateIndex

        cfg = wiring.settings()
        return StateIndex(
            wiring.registry(),
            list(cfg.state),
            s3=lambda: wiring.clients().client("s3"),
            ttl_seconds=cfg.state_ttl,
            account_overrides=cfg.state_accounts,
            index_url=url,
        )

    wiring.state_index = state_index  # type: ignore[assignment]
    wiring.pipeline.cache_clear()
    return "bench"


def child_first_event(mode: str, gid: str) -> dict[str, Any]:
    from bench.latency import OPEN, index_url, locations

    store = tempfile.mkdtemp(prefix="dw-bench-")
    os.environ.update(
        {
            "DRIFTWARDEN_STATE": locations(SIZE),
            "DRIFTWARDEN_STORE_DIR": store,
            "DRIFTWARDEN_AUDIT_FILE": os.path.join(store, "audit.jsonl"),
        }
    )
    if mode == "persisted":
        os.environ["DRIFTWARDEN_INDEX_URL"] = index_url(SIZE)
    from tests.harness.events import sg_rule_event

    event = sg_rule_event("AuthorizeSecurityGroupIngress", gid, OPEN)
    t0 = time.perf_counter()
    from chalice.test import Client

    from app import app

    t_import = time.perf_counter() - t0
    wiring_from = _install_index_wiring()
    t1 = time.perf_counter()
    with Client(app, stage_name="dev") as client:
        payload = client.lambda_.invoke("on_cloudtrail", event).payload
    t_event = time.perf_counter() - t1
    from chalicelib import wiring
    from chalicelib.state import hcl

    index = wiring.state_index()
    statuses = payload.get("summary") if isinstance(payload, dict) else None
    return {
        "import_seconds": t_import,
        "first_event_seconds": t_event,
        "since_process_start": time.perf_counter() - T_START,
        "statuses": statuses,
        "state_reads": index.reads,
        "shard_reads": index.shard_reads,
        "index_from": wiring_from,
        "hcl_built": hcl.parser_origin() is not None,
        "lark_imported": "lark" in sys.modules,
        "hcl2_imported": "hcl2" in sys.modules,
    }


def run(gid: str) -> dict[str, Any]:
    import statistics

    from bench.common import child

    imports = [child("cold_start", "import") for _ in range(IMPORT_RUNS)]
    values = [r["import_seconds"] for r in imports]
    process = [r["process_seconds"] for r in imports]
    out: dict[str, Any] = {
        "import": {
            "runs": len(values),
            "median": statistics.median(values),
            "min": min(values),
            "max": max(values),
            "process_median": statistics.median(process),
            "hcl_built": any(r["hcl_built"] for r in imports),
            "lark_imported": any(r["lark_imported"] for r in imports),
        },
    }
    for mode in ("persisted", "legacy"):
        runs = [child("cold_start", "first_event", mode, gid) for _ in range(3)]
        out[mode] = {
            **runs[len(runs) // 2],
            "import_median": statistics.median(r["import_seconds"] for r in runs),
            "import_runs": [r["import_seconds"] for r in runs],
            "first_event_median": statistics.median(r["first_event_seconds"] for r in runs),
            "first_event_runs": [r["first_event_seconds"] for r in runs],
            "hcl_built": any(r["hcl_built"] for r in runs),
            "lark_imported": any(r["lark_imported"] for r in runs),
        }
    return out


if __name__ == "__main__":
    from bench.common import emit

    if sys.argv[1] == "import":
        emit(child_import())
    elif sys.argv[1] == "first_event":
        emit(child_first_event(sys.argv[2], sys.argv[3]))
