"""A Telegram Bot API stand-in for the contract tests, run as one more "container" of the contract pod
(tests/contract/messaging_pod.py), on the pod's private loopback network:

    python fake_telegram.py RECORD.jsonl ADDRESS:PORT UPDATES.json

It serves `<base_url><token>/<method>` as python-telegram-bot calls it (the gateway's adapter builds
its Application with `.base_url(extra.base_url)`, plugins/platforms/telegram/adapter.py line 3426;
PTB 22 posts the parameters form-encoded, nested values as JSON). Each request is appended to
RECORD.jsonl (method name, token, parameters). `getUpdates` hands out the updates of UPDATES.json
from `offset` on (the file is read on every call, so a test can append updates while the pod runs),
or an empty list after a short wait; `sendMessage` and
`editMessageText` echo a Message back; every other method answers `true`. Standard library only.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BOT = {"id": 7012345678, "is_bot": True, "first_name": "Hermes", "username": "hermes_contract_bot",
       "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}
DEADLINE_SECONDS = 600
_lock = threading.Lock()
_message_ids = iter(range(1000, 100000))


def _parameters(handler: BaseHTTPRequestHandler) -> dict:
    length = int(handler.headers.get("Content-Length") or 0)
    body = handler.rfile.read(length).decode() if length else ""
    if "json" in (handler.headers.get("Content-Type") or ""):
        return json.loads(body or "{}")
    query = urllib.parse.urlparse(handler.path).query
    return {k: v[-1] for k, v in urllib.parse.parse_qs("&".join(p for p in (body, query) if p)).items()}


def serve(record: str, address: str, updates_file: str) -> None:

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _answer(self, result) -> None:
            data = json.dumps({"ok": True, "result": result}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802
            self.do_POST()

        def do_POST(self):  # noqa: N802
            path = urllib.parse.urlparse(self.path).path
            token, _, method = path.rpartition("/")
            token = token.rsplit("/bot", 1)[-1]
            params = _parameters(self)
            with _lock, open(record, "a") as out:
                out.write(json.dumps({"method": method, "token": token, "params": params}) + "\n")
            if method == "getMe":
                return self._answer(BOT)
            if method == "getUpdates":
                offset = int(params.get("offset") or 0)
                with open(updates_file) as f:
                    due = [u for u in json.load(f) if u["update_id"] >= offset]
                if not due:
                    time.sleep(min(float(params.get("timeout") or 0), 1.0))
                return self._answer(due)
            if method in ("sendMessage", "editMessageText"):
                chat_id = params.get("chat_id")
                return self._answer({"message_id": next(_message_ids), "date": int(time.time()),
                                     "chat": {"id": int(chat_id), "type": "private"}, "from": BOT,
                                     "text": params.get("text", "")})
            return self._answer(True)

    host, port = address.rsplit(":", 1)
    server = ThreadingHTTPServer((host, int(port)), Handler)
    with open(record, "a") as out:
        out.write(json.dumps({"listening": address}) + "\n")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    time.sleep(DEADLINE_SECONDS)
    server.shutdown()


def main(argv: list[str]) -> int:
    record, address, updates_file = argv
    serve(record, address, updates_file)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
