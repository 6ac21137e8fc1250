"""Make a VAPID key pair for web push and print it as lines for .env.

The private key signs every push request (RFC 8292); browsers subscribe with the
public key, so changing the keys later orphans every subscription: generate
them once per deployment and keep them with the other secrets.
"""

import base64
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def vapid_keys_new() -> tuple[str, str]:
    """A new P-256 key pair: (public key as the uncompressed point, private key as the raw
    32-byte number), both urlsafe base64 without padding, as browsers and pywebpush take them."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    private = key.private_numbers().private_value.to_bytes(32, "big")
    return _b64(public), _b64(private)


class Command(BaseCommand):
    help = "Print a new VAPID key pair for web push, as lines to paste into .env."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--subject",
            default="",
            help="Contact for push services: mailto:you@example.com or https://... "
            "(default: mailto: DEFAULT_FROM_EMAIL).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        public, private = vapid_keys_new()
        subject = options["subject"] or f"mailto:{settings.DEFAULT_FROM_EMAIL}"
        if settings.VAPID_PRIVATE_KEY:
            self.stderr.write(
                "VAPID keys are already configured; replacing them makes every browser "
                "subscribe again."
            )
        self.stdout.write(f"VAPID_PUBLIC_KEY={public}")
        self.stdout.write(f"VAPID_PRIVATE_KEY={private}")
        self.stdout.write(f"VAPID_SUBJECT={subject}")
