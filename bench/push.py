"""Web push delivery throughput against a push service on this machine.

    python -m bench.push [--members 1000]

Builds ``loyalty_bench_push`` with N members who accepted push, each with one browser
subscribed at a local push service (a threading HTTP server in its own process, answering
201 like a real one, keep-alive), writes one "points granted" push per member through
``notification_enqueue`` (the after-commit hand-off switched off), then times
``notifications_deliver(batch_size=1000)`` until no pending row is left: each message is
encrypted for its browser (RFC 8291) and POSTed with a VAPID token, one request at a time
per run, as a Celery worker does; also reports the sender's own CPU time and its SQL
queries per push (figures that the machine's load disturbs less). One message is
decrypted at the end to check the payload.
Writes bench/results/push.json.
"""

import argparse
import base64
import json
import multiprocessing
import os
import platform
import resource
import sys
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bench.scratch import scratch_url, server_sql

RESULTS = Path(__file__).parent / "results"
DB = "loyalty_bench_push"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _serve(port: Any, count: Any, sample: Any) -> None:
    """The push service: counts requests and keeps the first body (to decrypt later)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with count.get_lock():
                count.value += 1
                if count.value == 1:
                    sample.put(body)
            self.send_response(201)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port.value = server.server_address[1]
    server.serve_forever()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=1000)
    args = parser.parse_args()

    port = multiprocessing.Value("i", 0)
    count = multiprocessing.Value("i", 0)
    sample: Any = multiprocessing.Queue()
    service = multiprocessing.Process(target=_serve, args=(port, count, sample), daemon=True)
    service.start()
    while not port.value:
        time.sleep(0.01)

    from notifications.management.commands.generate_vapid_keys import vapid_keys_new

    public, private = vapid_keys_new()
    url = scratch_url(DB)
    os.environ.update(
        DATABASE_URL=url,
        DEBUG="false",  # DEBUG keeps every query in memory
        VAPID_PUBLIC_KEY=public,
        VAPID_PRIVATE_KEY=private,
        PUSH_ENDPOINT_HOSTS="127.0.0.1",
        PUSH_ALLOW_PRIVATE_HOSTS="true",  # the push service runs on this machine
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    server_sql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    server_sql(f"CREATE DATABASE {DB}")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Count
    from django.test.utils import CaptureQueriesContext

    from loyalty.models import Member
    from loyalty.services.merchants import merchant_create
    from notifications.models import Notification, PushSubscription
    from notifications.services import notification_enqueue, outbox

    call_command("migrate", verbosity=0)
    program = merchant_create(slug="bench", name="Bench", currency="EUR").program
    browser = ec.generate_private_key(ec.SECP256R1())
    p256dh = _b64(
        browser.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )
    auth = os.urandom(16)
    members = Member.objects.bulk_create(
        Member(program=program, external_id=f"m-{n}", consent_push=True, balance=100)
        for n in range(args.members)
    )
    PushSubscription.objects.bulk_create(
        PushSubscription(
            member=member,
            endpoint=f"http://127.0.0.1:{port.value}/push/{member.pk}",
            p256dh=p256dh,
            auth=_b64(auth),
        )
        for member in members
    )
    outbox._hand_off = lambda ids: None  # time writing and delivering apart

    t0 = time.perf_counter()
    for member in members:
        notification_enqueue(
            member=member, event="points_granted", occasion="bench", context={"points": 50}
        )
    write_seconds = time.perf_counter() - t0

    sent = calls = 0
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        while Notification.objects.filter(status=Notification.Status.PENDING).exists():
            sent += outbox.notifications_deliver(batch_size=1000)
            calls += 1
    deliver_seconds = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu_seconds = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)

    import http_ece

    payload = json.loads(
        http_ece.decrypt(sample.get(timeout=5), private_key=browser, auth_secret=auth)
    )
    statuses = dict(Notification.objects.values_list("status").annotate(n=Count("id")))
    service.terminate()
    report = {
        "benchmark": "push",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "members": args.members,
        "push_service": "local threading HTTP server, separate process, 201",
        "write_seconds": round(write_seconds, 2),
        "pushes_sent": sent,
        "requests_received": count.value,
        "deliver_calls": calls,
        "deliver_seconds": round(deliver_seconds, 2),
        "pushes_per_second": round(sent / deliver_seconds) if deliver_seconds else None,
        "ms_per_push": round(1000 * deliver_seconds / sent, 2) if sent else None,
        "sender_cpu_ms_per_push": round(1000 * cpu_seconds / sent, 2) if sent else None,
        "queries_per_push": round(len(queries) / sent, 2) if sent else None,
        "load_average": os.getloadavg()[0],
        "outbox_statuses": statuses,
        "sample_payload": payload,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "push.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"rows written: {args.members} in {write_seconds:.1f} s")
    print(
        f"pushes sent: {sent} in {deliver_seconds:.1f} s ({report['pushes_per_second']}/s, "
        f"{report['ms_per_push']} ms each, {calls} deliver calls)"
    )
    print(
        f"sender CPU {report['sender_cpu_ms_per_push']} ms and {report['queries_per_push']} "
        f"queries per push; load average {report['load_average']:.1f}"
    )
    print(f"push service received: {count.value}; outbox: {statuses}")
    print(f"sample payload: {payload}")
    ok = sent == count.value == args.members and statuses == {"sent": args.members}
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
