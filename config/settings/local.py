"""A developer's machine and `make demo`: debug on, SQLite and in-process tasks by default."""

from .base import *  # noqa: F403
from .base import INSTALLED_APPS, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="local-only-insecure-key-never-used-in-production")

# The demo and volume data and their commands (seed_demo, demo_code, seed_bulk): never in production.
INSTALLED_APPS = [*INSTALLED_APPS, "devtools"]
