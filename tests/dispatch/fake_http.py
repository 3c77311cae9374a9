"""A local stand-in for the WeChat / SMS gateways: an HTTP server on 127.0.0.1 (port 0) in a thread that records
every request and de-duplicates by the ``X-Gridloop-Message-Id`` header, as a real receiver must."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeReceiver:
    def __init__(self, *, fail_first: int = 0, fail_status: int = 503, stall_from: int = 0):
        self.fail_first = fail_first
        self.stall_from = stall_from  # requests from this number on (1-based) wait for ``release`` before answering
        self.fail_status = fail_status
        self.requests: list[tuple[str, str, dict]] = []  # (path, message id, JSON body) of every request
        self.delivered: dict[str, dict] = {}  # message id → first JSON body accepted
        self.duplicates = 0
        self.release = threading.Event()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                message_id = self.headers.get("X-Gridloop-Message-Id", "")
                with receiver.lock:
                    receiver.requests.append((self.path, message_id, body))
                    number = len(receiver.requests)
                    failing = number <= receiver.fail_first
                    if not failing:
                        if message_id in receiver.delivered:
                            receiver.duplicates += 1
                        else:
                            receiver.delivered[message_id] = body
                if receiver.stall_from and number >= receiver.stall_from:
                    receiver.release.wait(60)  # recorded, but the answer comes late (or to a dead client)
                status = receiver.fail_status if failing else 200
                answer = json.dumps({"errcode": 0 if status == 200 else 1}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # (shutdown() waits for the loop to look again: every 20 ms rather than the default 0.5 s)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
