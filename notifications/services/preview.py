"""How often a staff user may ask for the template preview.

Each preview compiles and renders every part a staff user types (the sandbox bounds one
render: ``notifications.sandbox``); this bounds how many per user and window
(``NOTIFICATIONS_PREVIEW_LIMIT`` per ``NOTIFICATIONS_PREVIEW_WINDOW_SECONDS``). Fixed
windows counted in the cache: Redis in production, where INCR is atomic, so every web
process counts together. With the cache unreachable the preview is not refused: it is a
staff tool, and each render stays bounded.
"""

from __future__ import annotations

import logging
import math
import time

from django.conf import settings
from django.core.cache import cache

from notifications.errors import PreviewRateLimited

logger = logging.getLogger(__name__)

KEY_PREFIX = "notifications-preview"


def preview_rate_check(*, user_id: int) -> None:
    """Count one preview for the user; raise ``PreviewRateLimited`` past the limit."""
    window = max(settings.NOTIFICATIONS_PREVIEW_WINDOW_SECONDS, 1)
    now = time.time()
    key = f"{KEY_PREFIX}:{user_id}:{int(now // window)}"
    try:
        cache.add(key, 0, timeout=window + 5)
        try:
            count = cache.incr(key)
        except ValueError:  # the key went away between add and incr (evicted, flushed)
            cache.add(key, 1, timeout=window + 5)
            count = 1
    except Exception:
        logger.warning("template preview not counted: the cache is unreachable", exc_info=True)
        return
    if count > settings.NOTIFICATIONS_PREVIEW_LIMIT:
        # Rounded up: a retry after this many seconds is in the next window.
        raise PreviewRateLimited(retry_after=max(1, math.ceil(window - now % window)))
