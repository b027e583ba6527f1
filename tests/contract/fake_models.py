"""Model provider stand-ins for the contract tests: what Hermes' gateway calls when it answers a chat.

Run as a process of the contract pod's network namespace (tests/contract/pod.py adds it as one more
"container" of the runner spec), so it shares the pod's private loopback-only network and never
listens anywhere else:

    python fake_models.py RECORD.jsonl ADDRESS:PORT [ADDRESS:PORT ...]

Every address serves every route below; each request is appended to RECORD.jsonl (method, path,
headers, body) and, once bound, each address writes {"listening": "ADDRESS:PORT"}. The loop is
bounded: it stops after MAX_REQUESTS requests or DEADLINE_SECONDS, whichever comes first.

  - OpenAI-compatible (`custom`, and `openrouter` through OPENROUTER_BASE_URL): GET .../models,
    POST .../chat/completions (JSON or server-sent events when `stream` is true).
  - Bedrock runtime: POST /model/<id>/converse and /converse-stream (the Converse API boto3 calls
    for non-Claude models, through AWS_ENDPOINT_URL_BEDROCK_RUNTIME), and /model/<id>/invoke and
    /invoke-with-response-stream (Anthropic's Messages API, which Hermes sends Claude models through
    the anthropic SDK's AnthropicBedrock client, through ANTHROPIC_BEDROCK_BASE_URL). Streams use
    the AWS event stream framing.
  - STS (IRSA through AWS_ENDPOINT_URL_STS): POST / Action=AssumeRoleWithWebIdentity.
  - The EKS Pod Identity agent: GET /v1/credentials (checks the Authorization token).

The model's behaviour: a user message containing "remember:" gets a `memory` tool call that saves
the rest of the line (the agent runs the tool, then asks again); anything else gets REPLY.
Standard library only.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

REPLY = "pong from the fake model"
MAX_REQUESTS = 200
DEADLINE_SECONDS = 600
# What the stubs hand out. The access key id is what a SigV4 Authorization header must name.
ACCESS_KEY_IRSA = "ASIAFAKEIRSA00000001"
ACCESS_KEY_POD_IDENTITY = "ASIAFAKEPODID0000001"
POD_IDENTITY_TOKEN = "eks-pod-identity-token-for-the-contract-test"
WEB_IDENTITY_TOKEN = "irsa-projected-token-for-the-contract-test"
# The EKS Pod Identity agent's address (AWS_CONTAINER_CREDENTIALS_FULL_URI on EKS); botocore accepts
# only loopback or this link-local host for a full URI (botocore/utils.py ContainerMetadataFetcher).
POD_IDENTITY_AGENT_IP = "169.254.170.23"

_lock = threading.Lock()
_served = 0


def _record(path: str, entry: dict) -> None:
    with _lock, open(path, "a") as out:
        out.write(json.dumps(entry) + "\n")


def _memory_request(messages: list) -> str | None:
    """The text to remember, if the last user turn asks for it and no tool has answered yet."""
    if not messages or messages[-1].get("role") not in ("user",):
        return None
    content = messages[-1].get("content")
    text = content if isinstance(content, str) else " ".join(
        part.get("text", "") for part in content or [] if isinstance(part, dict))
    marker = text.lower().find("remember:")
    return text[marker + len("remember:"):].strip() if marker >= 0 else None


def _anthropic_message(model: str) -> dict:
    return {"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": REPLY}], "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 5}}


def _event(event_type: str, payload: dict) -> bytes:
    """One AWS event stream message (application/vnd.amazon.eventstream)."""
    headers = b""
    for name, value in ((":event-type", event_type), (":content-type", "application/json"),
                        (":message-type", "event")):
        headers += bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(value)) + value.encode()
    body = json.dumps(payload).encode()
    total = 12 + len(headers) + len(body) + 4
    prelude = struct.pack(">II", total, len(headers))
    prelude += struct.pack(">I", binascii.crc32(prelude))
    message = prelude + headers + body
    return message + struct.pack(">I", binascii.crc32(message))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection: a single-threaded server never stalls
    record_path = ""

    def log_message(self, *args):
        pass

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, payload: dict, status: int = 200) -> None:
        self._send(status, json.dumps(payload).encode())

    def _handle(self, method: str) -> None:
        global _served
        with _lock:
            _served += 1
        raw = self._body() if method == "POST" else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        _record(self.record_path, {"at": round(time.time(), 3), "server": "%s:%d" % self.server.server_address,
                                   "method": method, "path": self.path, "headers": dict(self.headers.items()),
                                   "body": body})
        path = urllib.parse.urlsplit(self.path).path
        if method == "GET" and path.endswith("/models"):
            return self._json({"object": "list", "data": []})
        if method == "POST" and path.endswith("/chat/completions"):
            return self._chat_completion(body)
        if method == "POST" and path.startswith("/model/") and path.endswith("/converse"):
            return self._converse(body)
        if method == "POST" and path.startswith("/model/") and path.endswith("/converse-stream"):
            return self._converse_stream(body)
        if method == "POST" and path.startswith("/model/") and path.endswith("/invoke"):
            return self._json(_anthropic_message(urllib.parse.unquote(path.split("/")[2])))
        if method == "POST" and path.startswith("/model/") and path.endswith("/invoke-with-response-stream"):
            return self._anthropic_stream(urllib.parse.unquote(path.split("/")[2]))
        if method == "POST" and path == "/" and isinstance(body, str) and "AssumeRoleWithWebIdentity" in body:
            return self._assume_role_with_web_identity(body)
        if method == "GET" and path == "/v1/credentials":
            return self._pod_identity_credentials()
        self._json({"error": {"message": f"the fake model server has no route {method} {path}"}}, 404)

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    # --- OpenAI-compatible -------------------------------------------------------------------------
    def _chat_completion(self, body: dict) -> None:
        remember = _memory_request(body.get("messages", []))
        model = body.get("model", "")
        if remember is not None:
            message = {"role": "assistant", "content": None, "tool_calls": [{
                "id": "call_memory_1", "type": "function",
                "function": {"name": "memory", "arguments": json.dumps(
                    {"action": "add", "target": "memory", "content": remember})}}]}
            finish = "tool_calls"
        else:
            message, finish = {"role": "assistant", "content": REPLY}, "stop"
        usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        if not body.get("stream"):
            return self._json({"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                               "model": model, "usage": usage,
                               "choices": [{"index": 0, "message": message, "finish_reason": finish}]})
        delta = dict(message)
        if "tool_calls" in delta:
            delta["tool_calls"] = [{**delta["tool_calls"][0], "index": 0}]
        chunks = [
            {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
            {"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]},
            {"choices": [], "usage": usage},
        ]
        stream = b"".join(
            b"data: " + json.dumps({"id": "chatcmpl-fake", "object": "chat.completion.chunk",
                                    "created": int(time.time()), "model": model, **chunk}).encode() + b"\n\n"
            for chunk in chunks) + b"data: [DONE]\n\n"
        self._send(200, stream, "text/event-stream")

    # --- Bedrock runtime ---------------------------------------------------------------------------
    def _converse(self, body: dict) -> None:
        self._json({"output": {"message": {"role": "assistant", "content": [{"text": REPLY}]}},
                    "stopReason": "end_turn",
                    "usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15},
                    "metrics": {"latencyMs": 1}})

    def _converse_stream(self, body: dict) -> None:
        events = b"".join([
            _event("messageStart", {"role": "assistant"}),
            _event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": REPLY}}),
            _event("contentBlockStop", {"contentBlockIndex": 0}),
            _event("messageStop", {"stopReason": "end_turn"}),
            _event("metadata", {"usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15},
                                "metrics": {"latencyMs": 1}}),
        ])
        self._send(200, events, "application/vnd.amazon.eventstream")

    def _anthropic_stream(self, model: str) -> None:
        message = _anthropic_message(model)
        events = [
            {"type": "message_start", "message": {**message, "content": [], "stop_reason": None,
                                                  "usage": {"input_tokens": 10, "output_tokens": 0}}},
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": REPLY}},
            {"type": "content_block_stop", "index": 0},
            {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
             "usage": {"output_tokens": 5}},
            {"type": "message_stop"},
        ]
        body = b"".join(_event("chunk", {"bytes": base64.b64encode(json.dumps(e).encode()).decode()})
                        for e in events)
        self._send(200, body, "application/vnd.amazon.eventstream")

    # --- credentials the way EKS delivers them -----------------------------------------------------
    def _assume_role_with_web_identity(self, body: str) -> None:
        form = urllib.parse.parse_qs(body)
        if form.get("WebIdentityToken") != [WEB_IDENTITY_TOKEN]:
            return self._send(403, b"<ErrorResponse><Error><Code>InvalidIdentityToken</Code></Error></ErrorResponse>",
                              "text/xml")
        expiration = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        xml = (
            '<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            "<AssumeRoleWithWebIdentityResult><Credentials>"
            f"<AccessKeyId>{ACCESS_KEY_IRSA}</AccessKeyId><SecretAccessKey>irsa-secret</SecretAccessKey>"
            f"<SessionToken>irsa-session-token</SessionToken><Expiration>{expiration}</Expiration>"
            "</Credentials><AssumedRoleUser><AssumedRoleId>AROAFAKE:hermes</AssumedRoleId>"
            f"<Arn>{form.get('RoleArn', [''])[0]}</Arn></AssumedRoleUser>"
            "</AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata>"
            "</AssumeRoleWithWebIdentityResponse>"
        )
        self._send(200, xml.encode(), "text/xml")

    def _pod_identity_credentials(self) -> None:
        if self.headers.get("Authorization") != POD_IDENTITY_TOKEN:
            return self._json({"message": "bad token"}, 401)
        expiration = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        self._json({"AccessKeyId": ACCESS_KEY_POD_IDENTITY, "SecretAccessKey": "pod-identity-secret",
                    "Token": "pod-identity-session-token", "Expiration": expiration,
                    "AccountId": "123456789012"})


def _only_loopback_here() -> bool:
    """True inside a network namespace whose only interface is loopback (the contract pod's)."""
    return [name for _, name in socket.if_nameindex()] == ["lo"]


def serve(record_path: str, address: str) -> None:
    host, port = address.rsplit(":", 1)
    ip = ipaddress.ip_address(host)
    if not ip.is_loopback:
        # Only the Pod Identity agent's link-local address, and only in a loopback-only namespace.
        if host != POD_IDENTITY_AGENT_IP or not _only_loopback_here():
            raise SystemExit(f"refusing to listen on {address}: loopback only "
                             f"(or {POD_IDENTITY_AGENT_IP} in a private namespace)")
        subprocess.run(["ip", "addr", "replace", f"{POD_IDENTITY_AGENT_IP}/32", "dev", "lo"], check=True)
    handler = type("RecordingHandler", (Handler,), {"record_path": record_path})
    server = HTTPServer((host, int(port)), handler)
    server.timeout = 1
    _record(record_path, {"listening": address})
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline and _served < MAX_REQUESTS:
        server.handle_request()
    server.server_close()


def main(argv: list[str]) -> int:
    record_path, addresses = argv[0], argv[1:]
    def run(address: str) -> None:
        try:
            serve(record_path, address)
        except BaseException as error:  # a stub that cannot start says why, in the record
            _record(record_path, {"failed": address, "error": repr(error)})

    threads = [threading.Thread(target=run, args=(a,), daemon=True) for a in addresses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
