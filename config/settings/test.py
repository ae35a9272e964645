"""The test suite: fast hashing, in-memory e-mail, tasks in process unless a test asks a worker."""

from .base import *  # noqa: F403
from .base import INSTALLED_APPS, env

DEBUG = False
SECRET_KEY = "test-only-key-0123456789abcdefghijklmnopqrstuvwxyz-not-a-secret"  # noqa: S105
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]

# The demo and volume data, their commands and the builders tests/factories.py shares with bench/.
INSTALLED_APPS = [*INSTALLED_APPS, "devtools"]

# Every test runs tasks in process; the integration tests start a real worker and send to the
# broker explicitly.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True

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
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
