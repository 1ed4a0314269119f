"""A local stand-in for the Slack Web API (dev-only; never packaged).

Serves ``POST /api/<method>`` on 127.0.0.1 for the methods Driftwarden calls, records every call,
and can be told to fail the next N calls with 429 (Retry-After) or 5xx to test retries.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


class SlackStandIn:
    def __init__(self, token: str = "xoxb-standin") -> None:
        self.token = token
        self.calls: list[dict[str, Any]] = []
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.ephemeral: list[dict[str, Any]] = []
        self.usergroups: dict[str, list[str]] = {}
        self.emails: dict[str, str] = {}
        self._failures: list[tuple[int, str | None]] = []
        self._ts = 1700000000.000100
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- control -----------------------------------------------------------------------------------
    def fail_next(self, count: int, status: int = 429, retry_after: str | None = "0") -> None:
        with self._lock:
            self._failures.extend([(status, retry_after)] * count)

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/api/"

    def start(self) -> SlackStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.do_POST()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                path, _, query = self.path.partition("?")
                raw = raw or query
                method = path.rsplit("/", 1)[-1]
                status, headers, body = standin._handle(method, raw, dict(self.headers))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                data = json.dumps(body).encode()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> SlackStandIn:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # --- behaviour ---------------------------------------------------------------------------------
    def _handle(self, method: str, raw: str, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        if raw.startswith("{"):
            payload = json.loads(raw)
        else:
            payload = {k: v[0] for k, v in parse_qs(raw).items()}
            for key in ("blocks",):
                if isinstance(payload.get(key), str):
                    payload[key] = json.loads(payload[key])
        with self._lock:
            self.calls.append({"method": method, "payload": payload, "at": time.time()})
            if self._failures:
                status, retry_after = self._failures.pop(0)
                extra = {"Retry-After": retry_after} if (status == 429 and retry_after is not None) else {}
                return status, extra, {"ok": False, "error": "ratelimited" if status == 429 else "internal_error"}
        auth = headers.get("Authorization") or headers.get("authorization") or ""
        if auth != f"Bearer {self.token}":
            return 200, {}, {"ok": False, "error": "invalid_auth"}
        with self._lock:
            if method == "chat.postMessage":
                self._ts += 1
                ts = f"{self._ts:.6f}"
                channel = payload.get("channel", "C0")
                self.messages[(channel, ts)] = {"text": payload.get("text"), "blocks": payload.get("blocks"),
                                                "updates": 0}
                return 200, {}, {"ok": True, "channel": channel, "ts": ts, "message": payload}
            if method == "chat.update":
                mkey = (str(payload.get("channel")), str(payload.get("ts")))
                if mkey not in self.messages:
                    return 200, {}, {"ok": False, "error": "message_not_found"}
                msg = self.messages[mkey]
                msg.update(text=payload.get("text"), blocks=payload.get("blocks"), updates=msg["updates"] + 1)
                return 200, {}, {"ok": True, "channel": mkey[0], "ts": mkey[1]}
            if method == "chat.postEphemeral":
                self.ephemeral.append(payload)
                return 200, {}, {"ok": True, "message_ts": f"{time.time():.6f}"}
            if method == "usergroups.users.list":
                group = payload.get("usergroup")
                if group not in self.usergroups:
                    return 200, {}, {"ok": False, "error": "no_such_subteam"}
                return 200, {}, {"ok": True, "users": self.usergroups[group]}
            if method == "users.info":
                user = payload.get("user")
                if user not in self.emails:
                    return 200, {}, {"ok": False, "error": "user_not_found"}
                return 200, {}, {"ok": True, "user": {"id": user, "profile": {"email": self.emails[user]}}}
            if method == "auth.test":
                return 200, {}, {"ok": True, "user_id": "UDRIFTWARDEN"}
        return 200, {}, {"ok": False, "error": "unknown_method"}

    def posts(self) -> list[dict[str, Any]]:
        return [c for c in self.calls if c["method"] == "chat.postMessage"]


def blocks_text(blocks: list[dict[str, Any]] | None) -> str:
    """A terminal rendering of Block Kit blocks (for the demo and for assertions)."""
    out: list[str] = []
    for block in blocks or []:
        t = block.get("type")
        if t == "header":
            out.append(f"== {block['text']['text']} ==")
        elif t == "section":
            if block.get("text"):
                out.append(block["text"]["text"])
            for field in block.get("fields") or []:
                out.append(field["text"].replace("\n", ": ", 1))
        elif t == "context":
            out.extend(e.get("text", "") for e in block.get("elements", []))
        elif t == "actions":
            out.append("  ".join(f"[ {e['text']['text']} ]" for e in block.get("elements", [])))
    return "\n".join(out)
