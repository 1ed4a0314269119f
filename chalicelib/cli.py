"""The ``driftwarden`` command: the same pipeline as the Lambda handlers, from a terminal.

    driftwarden replay EVENT.json [...] [--revert]   one JSON finding per line
    driftwarden scan [--format json|table]            judge every managed object now
    driftwarden coverage [--json | --markdown]        the registry's coverage table
    driftwarden demo                                  the end-to-end demo (needs the source checkout)

Configuration comes from the environment (README.md lists every variable).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chalicelib.models import Finding, Status

__all__ = ["coverage_rows", "main"]


def _load_json(path: str) -> Any:
    text = sys.stdin.read() if path == "-" else Path(path).read_text()
    return json.loads(text)


def cmd_replay(args: argparse.Namespace) -> int:
    from chalicelib import wiring

    pipeline = wiring.pipeline()
    deferred: list[tuple[Any, dict[str, int]]] = []
    if args.terraform_recheck is not None:
        pipeline.defer = lambda raw, serials: deferred.append((raw, serials))
    worst = 0
    for path in args.events:
        try:
            payload = _load_json(path)
        except (OSError, json.JSONDecodeError) as exc:
            print(json.dumps({"status": "error", "reason": f"{path}: cannot read event file: {exc}"}), flush=True)
            worst = 1
            continue
        for finding in pipeline.process_payload(payload):
            if args.revert and finding.status is Status.DRIFT:
                finding = finding.with_(remediation=pipeline.revert(finding))
            print(json.dumps(finding.to_dict(), default=str), flush=True)
    if deferred:
        time.sleep(args.terraform_recheck)
        pipeline.index.refresh()
        for raw, serials in deferred:
            for finding in pipeline.process_event(raw, recheck=serials):
                print(json.dumps(finding.to_dict(), default=str), flush=True)
    return worst


def cmd_policy_check(args: argparse.Namespace) -> int:
    from chalicelib.drift.policy import check_policy_file

    worst = 0
    for path in args.files:
        errors = check_policy_file(path)
        for err in errors:
            print(err)
        if errors:
            worst = 1
        else:
            print(f"{path}: ok")
    return worst


def cmd_scan(args: argparse.Namespace) -> int:
    from chalicelib import wiring
    from chalicelib.triggers.scan import scan

    def progress(i: int, n: int) -> None:
        if sys.stderr.isatty():
            print(f"\rscanned {i}/{n}", end="", file=sys.stderr, flush=True)

    if args.state:
        os.environ["DRIFTWARDEN_STATE"] = ",".join(args.state)
        wiring.reset()
    shard, shards = _shard(args.shard)
    findings = scan(wiring.pipeline(), progress, shard=shard, shards=shards)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    _print_findings(findings, args.format)
    calls = wiring.clients().total_calls()
    print(f"scanned {len(findings)} object(s) with {calls} AWS API call(s)", file=sys.stderr)
    drift = any(f.status in (Status.DRIFT, Status.DELETED) for f in findings)
    return 2 if (args.detailed_exitcode and drift) else 0


def _shard(value: str | None) -> tuple[int, int]:
    if not value:
        return 0, 1
    try:
        i, n = (int(x) for x in value.split("/", 1))
    except ValueError:
        raise SystemExit(f"--shard must be I/N (e.g. 0/4), got {value!r}") from None
    if not 0 <= i < n:
        raise SystemExit(f"--shard {value}: need 0 <= I < N")
    return i, n


def _print_findings(findings: list[Finding], fmt: str) -> None:
    if fmt == "json":
        for f in findings:
            print(json.dumps(f.to_dict(), default=str))
        return
    print(f"{'STATUS':<12} {'SEVERITY':<9} {'RESOURCE':<60} REASON")
    for f in findings:
        where = (f.resource.address or f.resource.id) if f.resource else "-"
        print(f"{f.status.value:<12} {f.severity.value:<9} {where:<60} {f.reason}")


def coverage_rows() -> list[dict[str, Any]]:
    from chalicelib.resources.registry import default_registry

    rows = []
    for plugin in default_registry():
        rows.append({
            "type": plugin.type,
            "object_kind": plugin.object_kind,
            "owner": plugin.owner,
            "events": sorted({f"{e.source.split('.')[0]}:{e.name}" for e in plugin.events}),
            "compared": sorted(plugin.compared),
            "revertible": plugin.revertible() if plugin.owner else plugin_owner_revertible(plugin.object_kind),
            "not_revertible": plugin.not_revertible,
        })
    return rows


def plugin_owner_revertible(kind: str) -> bool:
    from chalicelib.resources.registry import default_registry

    return default_registry().owner(kind).revertible()


def coverage_markdown(rows: list[dict[str, Any]]) -> str:
    events = {e for r in rows for e in r["events"]}
    lines = [
        "# Coverage",
        "",
        "Generated from the plugin registry by `make coverage-doc` (`driftwarden coverage --markdown`).",
        "A test fails when this file is stale.",
        "",
        f"**{len(rows)} Terraform types, {len(events)} distinct CloudTrail events.**",
        "",
        "| Terraform type | Compared attributes | Events | Revertible |",
        "|---|---|---|---|",
    ]
    for r in rows:
        rev = "yes" if r["revertible"] else f"no: {r['not_revertible'] or 'no revert plan'}"
        lines.append(f"| `{r['type']}` | {', '.join(r['compared'])} | {', '.join(r['events'])} | {rev} |")
    return "\n".join(lines) + "\n"


def cmd_coverage(args: argparse.Namespace) -> int:
    rows = coverage_rows()
    if args.json:
        events = sorted({e for r in rows for e in r["events"]})
        print(json.dumps({"types": rows, "type_count": len(rows), "event_count": len(events)}, indent=1))
    elif args.markdown:
        sys.stdout.write(coverage_markdown(rows))
    else:
        for r in rows:
            print(f"{r['type']:<48} {'revert' if r['revertible'] else '-':<7} {', '.join(r['compared'])}")
            print(f"{'':<48} events: {', '.join(r['events'])}")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from chalicelib import wiring
    from chalicelib.audit import run_audit_cli

    return run_audit_cli(wiring.audit(), resource=args.resource, since=args.since, verify=args.verify,
                         fmt=args.format)


def cmd_gate(args: argparse.Namespace) -> int:
    from chalicelib import wiring
    from chalicelib.gate import run_gate

    return run_gate(args.plan, wiring.store(), wiring.audit(), allow=args.allow or (), reason=args.reason,
                    fmt=args.format, ci_identity=args.ci_identity, state=args.state, registry=wiring.registry())


def cmd_iam_policy(args: argparse.Namespace) -> int:
    from chalicelib import wiring
    from chalicelib.iam_policy import policy_document

    print(json.dumps(policy_document(args.role, wiring.registry()), indent=2))
    return 0


def cmd_redrive(args: argparse.Namespace) -> int:
    """Re-run CloudTrail events parked in a dead-letter queue, deleting each one only once handled."""
    from chalicelib import wiring
    from chalicelib.handlers import process_event

    sqs = wiring.clients().client("sqs")
    handled = 0
    while True:
        msgs = sqs.receive_message(QueueUrl=args.queue, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not msgs:
            break
        for msg in msgs:
            try:
                event = json.loads(msg["Body"])
            except json.JSONDecodeError:
                reason = f"message {msg['MessageId']} is not JSON; left in the queue"
                print(json.dumps({"status": "error", "reason": reason}))
                continue
            result = process_event(event)
            print(json.dumps(result, default=str))
            sqs.delete_message(QueueUrl=args.queue, ReceiptHandle=msg["ReceiptHandle"])
            handled += 1
        if args.once:
            break
    print(f"redrove {handled} event(s)", file=sys.stderr)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    root = Path(__file__).resolve().parents[1]
    if not (root / "tests" / "harness" / "demo.py").exists():
        print("driftwarden demo needs the source checkout (its environment is dev-only code in tests/harness)",
              file=sys.stderr)
        return 2
    sys.path.insert(0, str(root))
    from tests.harness.demo import run

    return run()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="driftwarden", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("replay", help="run CloudTrail events through the pipeline")
    p.add_argument("events", nargs="+", help="files: EventBridge event, record, list, or CloudTrail log file")
    p.add_argument("--revert", action="store_true", help="apply the revert plan of each drift finding")
    p.add_argument("--terraform-recheck", type=float, metavar="SECONDS",
                   help="re-check events made by a Terraform agent outside the IaC principals after SECONDS")
    p.set_defaults(fn=cmd_replay)
    p = sub.add_parser("scan", help="judge every managed object of a covered type")
    p.add_argument("--format", choices=["json", "table"], default="table")
    p.add_argument("--detailed-exitcode", action="store_true", help="exit 2 when drift is found")
    p.add_argument("--state", action="append", help="state location(s) to scan instead of DRIFTWARDEN_STATE")
    p.add_argument("--shard", help="scan only shard I of N (I/N), for concurrent invocations")
    p.set_defaults(fn=cmd_scan)
    p = sub.add_parser("coverage", help="what the registry covers")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--json", action="store_true")
    g.add_argument("--markdown", action="store_true")
    p.set_defaults(fn=cmd_coverage)
    p = sub.add_parser("audit", help="print the audit trail; --verify checks its hash chain")
    p.add_argument("--resource", help="only records about this resource address (or id)")
    p.add_argument("--since", help="only records at or after this ISO time (or 24h, 7d)")
    p.add_argument("--verify", action="store_true", help="check the chain; exit 1 if tampered")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(fn=cmd_audit)
    p = sub.add_parser("gate", help="fail a terraform plan that would overwrite open or uncodified accepted drift")
    p.add_argument("plan", help="terraform show -json output (- for stdin)")
    p.add_argument("--allow", action="append", help="finding id to let through (needs --reason; audited)")
    p.add_argument("--reason", help="why the override is safe")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--ci-identity", help="who runs the gate (default: from CI environment variables)")
    p.add_argument("--state", help="the state URL this plan was made from")
    p.set_defaults(fn=cmd_gate)
    p = sub.add_parser("policy", help="policy file tools")
    psub = p.add_subparsers(dest="policy_command", required=True)
    pc = psub.add_parser("check", help="validate policy file(s); errors carry file:line")
    pc.add_argument("files", nargs="+")
    pc.set_defaults(fn=cmd_policy_check)
    p = sub.add_parser("iam-policy", help="the least-privilege IAM policy generated from the registry")
    p.add_argument("--role", choices=["detector", "remediator"], required=True)
    p.set_defaults(fn=cmd_iam_policy)
    p = sub.add_parser("redrive", help="re-run CloudTrail events from a dead-letter queue")
    p.add_argument("--queue", required=True, help="the DLQ URL")
    p.add_argument("--once", action="store_true", help="one receive batch only")
    p.set_defaults(fn=cmd_redrive)
    p = sub.add_parser("demo", help="end-to-end demo on an embedded AWS and a local Slack stand-in")
    p.set_defaults(fn=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.fn(args))
