"""The test suite: fast hashing, in-memory e-mail, tasks held until a test drains the queues."""

from .base import *  # noqa: F403
from .base import CELERY_BROKER_URL, INSTALLED_APPS, env

DEBUG = False
SECRET_KEY = "test-only-key-0123456789abcdefghijklmnopqrstuvwxyz-not-a-secret"  # noqa: S105
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]

# The demo and volume data, their commands and the builders tests/factories.py shares with bench/.
INSTALLED_APPS = [*INSTALLED_APPS, "devtools"]

# Tasks are never run when sent: tests/conftest.py holds what is sent to the broker and the test
# drains the queues as a worker would (`task_queues.drain()`). The integration tests marked
# `redis`/`worker` send to the real broker and start real workers. Without a broker, anything
# sent around the fixture lands in memory, where nothing runs it.
CELERY_BROKER_URL = CELERY_BROKER_URL or "memory://"

MEDIA_ROOT = env.path("MEDIA_ROOT", default="/tmp/fabriques-test-media")  # noqa: S108
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Static files come from the finders: no collectstatic before the tests.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True

# Each test process keeps its own cache: clearing it between tests must never flush the Redis
# database the integration tests use as their broker.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "pages": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "pages"},
}
# Pages are built at each request in the tests, whose writes share one transaction (on PostgreSQL,
# one transaction id: the data version would not move between them); tests/core/test_page_cache.py
# turns the cache on where it is the subject.
PAGE_CACHE = False

# The SIRET look-up stays off (no internet in the tests): tests/fabriques/test_sirene*.py point it
# at a local server replaying recorded answers. Its rate limit is kept in each process unless a
# test asks for Redis.
SIRENE_API_URL = ""
SIRENE_RATE_LIMIT_URL = ""
