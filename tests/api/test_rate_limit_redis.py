"""The rate limit counted in Redis, as deployed: one count shared by every process."""

import os
from typing import Any

import pytest

from api.ratelimit import rate_limit_hit

pytestmark = pytest.mark.redis


def test_the_count_is_shared_through_redis(settings: Any) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ.get("CELERY_BROKER_URL", ""),
            "KEY_PREFIX": "api-rate-test",
        },
    }
    from django.core.cache import caches

    redis = caches["default"]
    assert type(redis).__name__ == "RedisCache"
    key = f"test-{os.getpid()}"
    assert rate_limit_hit(key, limit=2, now=600.0) is None
    assert rate_limit_hit(key, limit=2, now=601.0) is None
    # What another process would read: the same key in Redis.
    assert redis.get(f"api-rate:{key}:10") == 2
    assert rate_limit_hit(key, limit=2, now=602.0) == 58
    redis.delete(f"api-rate:{key}:10")
