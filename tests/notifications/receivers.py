"""Real HTTP servers on 127.0.0.1 that receive webhooks in tests: ``Receiver`` records what it
is sent and answers ``status``; ``VerifyingReceiver`` also checks each signature with the
secret it was given, as an integrator's receiver does."""

import hashlib
import hmac
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer


class Receiver:
    """Records each request and answers ``status`` with "ok"."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.status: int | None = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status, answer = receiver.respond(self.path, dict(self.headers), body)
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def respond(self, path: str, headers: dict, body: bytes) -> tuple[int, bytes]:
        self.requests.append({"path": path, "headers": headers, "body": body})
        return self.status or 200, b"ok"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class VerifyingReceiver(Receiver):
    """Answers 200 "verified" or 401 "bad signature" (or ``status`` / ``answer`` when set)."""

    def __init__(self) -> None:
        super().__init__()
        self.secret = ""
        self.status = None
        self.answer = b""

    def respond(self, path: str, headers: dict, body: bytes) -> tuple[int, bytes]:
        signed = headers["X-Loyalty-Timestamp"].encode() + b"." + body
        mac = hmac.new(self.secret.encode(), signed, hashlib.sha256).hexdigest()
        verified = hmac.compare_digest("sha256=" + mac, headers["X-Loyalty-Signature"])
        self.requests.append({"headers": headers, "body": body, "verified": verified})
        status = self.status or (200 if verified else 401)
        return status, self.answer or (b"verified" if verified else b"bad signature")
