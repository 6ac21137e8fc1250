"""A real push service on 127.0.0.1 for the tests, and browsers that can read its messages.

The service is a threading HTTP server that records every request (method, path,
headers, body) and answers each endpoint with the status the test chose (201 by
default), and a ``Location`` header when the test chose one (a redirect).
A ``Browser`` holds the private key and auth secret a real browser keeps, so a
test can decrypt what the server received (RFC 8291) exactly as the browser would.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    method: str = "POST"


@dataclass
class PushService:
    server: ThreadingHTTPServer
    requests: list[Received] = field(default_factory=list)
    # Status per path (e.g. "/push/b1": 410); others get 201.
    statuses: dict[str, int] = field(default_factory=dict)
    # Location header per path (with a 3xx status in ``statuses``).
    locations: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def received(self, path: str) -> list[Received]:
        with self.lock:
            return [request for request in self.requests if request.path == path]


def push_service_start() -> PushService:
    service: PushService

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like a real push service

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            with service.lock:
                headers = {name.lower(): value for name, value in self.headers.items()}
                service.requests.append(Received(self.path, headers, body, self.command))
                status = service.statuses.get(self.path, 201)
                location = service.locations.get(self.path)
            answer = b"" if status < 300 else b"push service says no"
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        # A client that follows a redirect may come back with any method.
        do_GET = do_PUT = do_DELETE = do_POST

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    service = PushService(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return service


class Browser:
    """What a browser keeps of its push subscription: the key pair and auth secret."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)

    @property
    def path(self) -> str:
        return "/" + self.endpoint.split("/", 3)[3]

    def subscription(self) -> dict:
        """The browser's PushSubscription.toJSON()."""
        public = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64(public), "auth": b64(self.auth)},
        }

    def decrypt(self, body: bytes) -> dict:
        plain = http_ece.decrypt(
            body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"
        )
        return json.loads(plain)
