"""Production: every secret comes from the environment and the process refuses to start without.

`python manage.py check --deploy --fail-level WARNING` passes with these settings.
"""

from typing import cast

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import DATABASES, LOGGING, MEDIA_STORAGE, env

DEBUG = False

# No default: a missing secret must stop the process, never fall back to a known value.
SECRET_KEY = env.str("DJANGO_SECRET_KEY")
if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be at least 50 random characters.")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
if not env.str("DATABASE_URL", default=""):
    raise ImproperlyConfigured("DATABASE_URL must be set in production.")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    raise ImproperlyConfigured("Production runs on PostgreSQL, not SQLite.")
if DATABASES.get("replica", {}).get("ENGINE") == "django.db.backends.sqlite3":
    raise ImproperlyConfigured("DATABASE_REPLICA_URL must be a PostgreSQL standby, not SQLite.")
for _alias in DATABASES:  # "default", and "replica" when DATABASE_REPLICA_URL is set
    DATABASES[_alias]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES[_alias]["CONN_HEALTH_CHECKS"] = True
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL")
if not env.str("EMAIL_URL", default=""):
    raise ImproperlyConfigured("EMAIL_URL must be set in production.")
# ProConnect switched on without its client would fail every agent's login at the provider.
if env.bool("PROCONNECT_ENABLED", default=False) and not (
    env.str("PROCONNECT_CLIENT_ID", default="") and env.str("PROCONNECT_CLIENT_SECRET", default="")
):
    raise ImproperlyConfigured("PROCONNECT_ENABLED needs PROCONNECT_CLIENT_ID and PROCONNECT_CLIENT_SECRET.")

# The SIRET look-up asks the State's public API (no key); SIRENE_API_URL= (empty) turns it off.
SIRENE_API_URL = env.str("SIRENE_API_URL", default="https://recherche-entreprises.api.gouv.fr").rstrip("/")

# One JSON object per line for the log collector, unless LOG_FORMAT asks for text.
_handlers = cast(dict[str, dict[str, object]], LOGGING["handlers"])
_handlers["console"]["formatter"] = "text" if env.str("LOG_FORMAT", default="json") == "text" else "json"

# HTTPS everywhere, behind a proxy that terminates TLS and sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# Health checks and the metrics' scrape come from inside the deployment's network, in plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^healthz/live$", r"^healthz/ready$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
# nosniff, Referrer-Policy, Cross-Origin-Opener-Policy, X-Frame-Options and the
# Content-Security-Policy come from base.py: every environment sends them.
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# The __Host- prefix binds the cookies to this exact host over HTTPS: browsers accept such a
# cookie only with Secure, Path=/ and no Domain (SESSION/CSRF_COOKIE_DOMAIN stay None).
SESSION_COOKIE_NAME = "__Host-sessionid"
CSRF_COOKIE_NAME = "__Host-csrftoken"
CSRF_COOKIE_HTTPONLY = True

# Media: the file system under MEDIA_ROOT, or the S3 bucket of AWS_STORAGE_BUCKET_NAME (base.py).
# Static files are always in the image, served by WhiteNoise.
STORAGES = {
    "default": MEDIA_STORAGE,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
