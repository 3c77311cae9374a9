"""A local stand-in for WeChat's server APIs on 127.0.0.1 (port 0): the access token, media downloads and
customer-service messages, with tokens that can be revoked to test the refresh."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class FakeWeChat:
    def __init__(self, *, app_id="wx-test-app", secret="wx-test-secret", expires_in=7200):
        self.app_id, self.secret, self.expires_in = app_id, secret, expires_in
        self.media: dict[str, tuple[bytes, str]] = {}  # media_id → (content, content type)
        self.valid_tokens: set[str] = set()
        self.token_requests = 0
        self.requests: list[tuple[str, str, dict]] = []  # (method, path, query)
        self.sent: list[dict] = []  # customer-service messages accepted
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status, body: bytes, content_type="application/json"):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _json(self, document, status=200):
                self._answer(status, json.dumps(document).encode())

            def _token_ok(self, query) -> bool:
                return (query.get("access_token") or [""])[0] in fake.valid_tokens

            def do_GET(self):  # noqa: N802 - http.server's name
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                with fake.lock:
                    fake.requests.append(("GET", url.path, query))
                if url.path == "/cgi-bin/token":
                    if (query.get("appid") != [fake.app_id] or query.get("secret") != [fake.secret]
                            or query.get("grant_type") != ["client_credential"]):
                        return self._json({"errcode": 40125, "errmsg": "invalid appsecret"})
                    with fake.lock:
                        fake.token_requests += 1
                        token = f"TOKEN-{fake.token_requests}"
                        fake.valid_tokens.add(token)
                    return self._json({"access_token": token, "expires_in": fake.expires_in})
                if url.path == "/cgi-bin/media/get":
                    if not self._token_ok(query):
                        return self._json({"errcode": 40001, "errmsg": "invalid credential"})
                    media_id = (query.get("media_id") or [""])[0]
                    if media_id not in fake.media:
                        return self._answer(200, b'{"errcode":40007,"errmsg":"invalid media_id"}', "text/plain")
                    content, content_type = fake.media[media_id]
                    return self._answer(200, content, content_type)
                return self._json({"errcode": 404}, status=404)

            def do_POST(self):  # noqa: N802
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                with fake.lock:
                    fake.requests.append(("POST", url.path, query))
                if url.path == "/cgi-bin/message/custom/send":
                    if not self._token_ok(query):
                        return self._json({"errcode": 42001, "errmsg": "access_token expired"})
                    with fake.lock:
                        fake.sent.append(body)
                    return self._json({"errcode": 0, "errmsg": "ok"})
                return self._json({"errcode": 404}, status=404)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # (shutdown() waits for the loop to look again: every 20 ms rather than the default 0.5 s)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def revoke_tokens(self):
        with self.lock:
            self.valid_tokens.clear()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
