"""A fixed-window rate limit per token (or per address for the public endpoints).

Counted in the default cache: Redis when the deployment gives one (CACHE_URL, or the broker's
Redis), so every process and machine share the count; each process's memory otherwise (`make
demo`), where the limit holds per process. One window a minute: `add` starts it with its expiry,
`incr` is atomic in Redis, so two processes never both take the last call of a window.
"""

import time

from django.conf import settings
from django.core.cache import cache

WINDOW_SECONDS = 60


def rate_limit_hit(key: str, *, limit: int | None = None, now: float | None = None) -> int | None:
    """Count one call under `key`; None if allowed, else the seconds to wait (Retry-After)."""
    limit = settings.API_RATE_LIMIT_PER_MINUTE if limit is None else limit
    now = time.time() if now is None else now
    window = int(now // WINDOW_SECONDS)
    cache_key = f"api-rate:{key}:{window}"
    cache.add(cache_key, 0, timeout=WINDOW_SECONDS + 5)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr: the window just turned
        cache.add(cache_key, 1, timeout=WINDOW_SECONDS + 5)
        count = 1
    if count <= limit:
        return None
    return max(1, int((window + 1) * WINDOW_SECONDS - now + 0.999))
