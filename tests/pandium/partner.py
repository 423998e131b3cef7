"""The partner system's side, for tests: signed webhook triggers as Pandium hands them over, and a receiver.

- ``signed_trigger`` writes a request body to a file and returns the trigger object Pandium passes in
  ``PAN_CTX_RUN_TRIGGERS`` (``{"id", "source", "mode", "payload": {"file"}, "headers"}``), with Standard
  Webhooks headers made by the ``standardwebhooks`` package from ``SECRET``;
- ``Receiver`` is a local HTTP server that accepts events only with a valid sink signature and records them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from standardwebhooks import Webhook

from fortnox_connector.runtime.sinks import verify_signature
from fortnox_connector.secrets import Secret

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the partner's Standard Webhooks secret (test value)
SINK_SECRET = "sink-signing-secret-for-tests-0123456789"


def payment(doc: int, amount: str, key: str | None = None, **extra: Any) -> dict[str, Any]:
    """A ``register_payment`` instruction for invoice ``doc`` (SEK, the tenant's default mode of payment)."""
    data: dict[str, Any] = {
        "invoice": {"document_number": str(doc)},
        "amount": amount,
        "currency": "SEK",
        "payment_date": "2026-03-01",
        **extra,
    }
    if key is not None:
        data["idempotency_key"] = key
    return {"action": "register_payment", "input": data}


def signed_trigger(
    folder: Path,
    trigger_id: str,
    body: object,
    *,
    message_id: str | None = None,
    secret: str = SECRET,
    at: datetime | None = None,
    tamper: bool = False,
) -> dict[str, Any]:
    """A webhook trigger whose payload file holds ``body`` (JSON unless bytes), signed with ``secret``."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    msg_id = message_id or f"msg_{trigger_id}"
    sent = (at or datetime.now(UTC)).astimezone(UTC)  # the library reads the wall time as UTC
    signature = Webhook(secret).sign(msg_id, sent, raw.decode())
    path = folder / f"{trigger_id}.json"
    path.write_bytes(raw + b" " if tamper else raw)
    return {
        "id": trigger_id,
        "source": "webhook",
        "mode": "webhook",
        "payload": {"file": str(path)},
        "headers": {
            "Webhook-Id": msg_id,
            "Webhook-Timestamp": str(int(sent.timestamp())),
            "Webhook-Signature": signature,
            "Content-Type": "application/json",
        },
    }


def unsigned_trigger(folder: Path, trigger_id: str, body: object) -> dict[str, Any]:
    path = folder / f"{trigger_id}.json"
    path.write_bytes(json.dumps(body).encode())
    return {"id": trigger_id, "source": "webhook", "mode": "webhook", "payload": {"file": str(path)}}


CRON = {"id": "cron-1", "source": "cron", "mode": "normal"}


def webhook_env(env: Mapping[str, str], *triggers: Mapping[str, Any], **extra: str) -> dict[str, str]:
    return {
        **env,
        "PAN_CTX_RUN_MODE": "webhook",
        "PAN_CTX_RUN_TRIGGERS": json.dumps(list(triggers)),
        "PAN_SEC_INBOUND_WEBHOOK_SECRET": SECRET,
        "PAN_CFG_DEFAULT_MODE_OF_PAYMENT": "BG",
        "PAN_CFG_DEFAULT_MODE_OF_PAYMENT_ACCOUNT": "1930",
        **extra,
    }


class Receiver:
    """Accepts POSTed events that carry a valid signature (401 otherwise); ``events`` in arrival order."""

    def __init__(self, secret: str = SINK_SECRET, port: int = 0) -> None:
        self.secret = Secret(secret)
        self.events: list[dict[str, Any]] = []
        self.rejected = 0
        self.batches = 0  # accepted requests
        self.accepting = True
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                ok = verify_signature(receiver.secret, dict(self.headers.items()), body)
                with receiver._lock:
                    status = 204 if ok and receiver.accepting else 503 if ok else 401
                    if status == 204:
                        doc = json.loads(body)
                        receiver.batches += 1
                        receiver.events.extend(doc.get("events", [doc]))
                    elif status == 401:
                        receiver.rejected += 1
                self.send_response(status)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the test reads what arrived, not the access log."""

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/fortnox-events"

    @contextmanager
    def running(self) -> Iterator[Receiver]:
        thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            thread.join()

    def refuse_from_now(self) -> None:
        """Answer 503 to every later request (the receiver is overloaded)."""
        with self._lock:
            self.accepting = False

    def close(self) -> None:
        self._server.server_close()

    def dedup_keys(self) -> list[str]:
        with self._lock:
            return [str(e["dedup_key"]) for e in self.events]
