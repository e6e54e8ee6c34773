"""A small OpenAI-compatible chat server on 127.0.0.1 for the serving tests (no tests here).

It answers ``{"tags": [...]}`` with the words of the caption (so answers are known in advance and
the same on every run) and misbehaves on request, keyed by markers in the caption:

- ``@500``: the first two requests for that caption get HTTP 500;
- ``@always500``: every request gets HTTP 503;
- ``@timeout``: the first request hangs for ``hang`` seconds (longer than the client's timeout);
- ``@slow``: every answer takes ``slow`` seconds (under the client's timeout);
- ``@garbled``: the first reply body is cut-off JSON (a broken proxy or server);
- ``@prose``: a greedy request (temperature 0) gets prose instead of JSON; a sampled one is fine;
- ``@toolong``: HTTP 400, as a server says for a prompt over the context length.

``delay`` slows every answer (for the kill test). It records requests per caption and the
largest number of requests it had in flight at once.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL = "fake-qwen"


def caption_of(prompt: str) -> str:
    return prompt.split("Description: ", 1)[1].split("\n", 1)[0]


def expected_tags(caption: str) -> list[str]:
    return [w for w in re.findall(r"[a-z]+", caption.lower())]


class FakeLLM(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, hang: float = 2.0, slow: float = 0.2, delay: float = 0.0):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hang, self.slow, self.delay = hang, slow, delay
        self.lock = threading.Lock()
        self.requests: Counter = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: FakeLLM

    def log_message(self, *args):  # quiet
        pass

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
            pass

    def _json(self, status: int, obj) -> None:
        self._send(status, json.dumps(obj).encode())

    def do_GET(self):
        if self.path == "/v1/models":
            self._json(200, {"object": "list", "data": [{"id": MODEL, "object": "model"}]})
        else:
            self._json(404, {"error": {"message": "not found"}})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path != "/v1/chat/completions":
            return self._json(404, {"error": {"message": f"no route {self.path}"}})
        if body["model"] != MODEL:
            return self._json(404, {"error": {"message": f"The model `{body['model']}` does not exist."}})
        srv = self.server
        caption = caption_of(body["messages"][0]["content"])
        with srv.lock:
            srv.requests[caption] += 1
            n = srv.requests[caption]
            srv.in_flight += 1
            srv.max_in_flight = max(srv.max_in_flight, srv.in_flight)
        try:
            time.sleep(srv.delay + (srv.slow if "@slow" in caption else 0))
            if "@always500" in caption:
                return self._json(503, {"error": {"message": "overloaded"}})
            if "@500" in caption and n <= 2:
                return self._json(500, {"error": {"message": "internal error"}})
            if "@toolong" in caption:
                return self._json(400, {"error": {"message": "prompt is longer than the context"}})
            if "@timeout" in caption and n == 1:
                time.sleep(srv.hang)
            if "@garbled" in caption and n == 1:
                return self._send(200, b'{"id": "x", "choices": [{"message": {"content": "{\\"ta')
            if "@prose" in caption and body.get("temperature", 1.0) == 0:
                content = "Sure! The tags would be: " + ", ".join(expected_tags(caption))
            else:
                content = json.dumps({"tags": expected_tags(caption)})
            self._json(200, {"id": "chatcmpl-1", "object": "chat.completion", "model": MODEL,
                             "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                          "finish_reason": "stop"}]})
        finally:
            with srv.lock:
                srv.in_flight -= 1


if __name__ == "__main__":  # a server for trying the CLI by hand
    with FakeLLM() as server:
        print(server.url, flush=True)
        server.thread.join()
