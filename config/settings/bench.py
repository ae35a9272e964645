"""`make bench`: production-like settings on loopback (see bench/run.py and docs/benchmarks.md).

DEBUG off, PostgreSQL and Redis from DATABASE_URL and CELERY_BROKER_URL (the harness points
DATABASE_URL at a database of its own), persistent connections as in production, real password
hashing. What differs from production, and why:

- plain HTTP on 127.0.0.1: no HTTPS redirect, no HSTS, cookies without Secure nor the `__Host-`
  prefix (a client on loopback would never send them back);
- a fixed secret key (the database is created and dropped by the harness);
- e-mails are dropped (the dummy backend): the e-mail tasks still run, once the pdf queue has
  rendered the PDF they carry;
- MD5 is accepted after the real hashers, so that the harness can create thousands of users fast;
- static files from their folders (no collectstatic): pages are measured, not their assets;
- ROOT_URLCONF adds `/bench/bare/`, the baseline of the HTTP benchmarks;
- the devtools app (demo and bulk data) is installed;
- queues of their own (`bench-pdf`, `bench-default`...), routed as in production: a worker of another
  checkout on the same Redis never takes the benchmark's messages.
"""

from .base import *  # noqa: F403
from .base import CELERY_TASK_DEFAULT_QUEUE, CELERY_TASK_ROUTES, DATABASES, INSTALLED_APPS

DEBUG = False
SECRET_KEY = "bench-only-key-5c1f0e2a9b7d4c3e8f6a1b2c3d4e5f60718293a4b5c6d7e8f9-not-a-secret"  # noqa: S105
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "bench.urls"
# The demo and bulk data the benchmarks measure on (devtools.demo, devtools.bulk).
INSTALLED_APPS = [*INSTALLED_APPS, "devtools"]

DATABASES["default"]["CONN_MAX_AGE"] = 60
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# The production routes, each queue renamed "bench-<queue>".
CELERY_TASK_DEFAULT_QUEUE = f"bench-{CELERY_TASK_DEFAULT_QUEUE}"
CELERY_TASK_ROUTES = {
    task: {**route, "queue": f"bench-{route['queue']}"} for task, route in CELERY_TASK_ROUTES.items()
}

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "django.contrib.auth.hashers.MD5PasswordHasher",
]

SESSION_COOKIE_NAME = "sessionid"
CSRF_COOKIE_NAME = "csrftoken"
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False

EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"

WHITENOISE_USE_FINDERS = True
