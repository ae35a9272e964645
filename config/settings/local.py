"""A developer's machine and `make demo`: debug on, SQLite and in-process tasks by default."""

from .base import *  # noqa: F403
from .base import CELERY_BROKER_URL, INSTALLED_APPS, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="local-only-insecure-key-never-used-in-production")

# The demo and volume data and their commands (seed_demo, demo_code, seed_bulk): never in production.
INSTALLED_APPS = [*INSTALLED_APPS, "devtools"]

# `make demo` promises no other service: without a broker, Celery runs each task in this process
# when it is sent (after the transaction commits). This is a setting, not a branch: the tasks and
# services take the same path as on a worker (docs/architecture.md, « Tasks in process »).
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
