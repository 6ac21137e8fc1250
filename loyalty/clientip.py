"""The client's address, as every per-address limit of the project counts it.

One function so that the admin sign-in lock-out (django-axes, ``AXES_CLIENT_IP_CALLABLE``)
and the other limits agree on who the client is. Without a trusted proxy in front, the
address is the peer's (``REMOTE_ADDR``); a header a client can write is never believed.
"""

from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None
