"""Settings shared by every environment.

Every value that differs between machines is read here, once, from the environment (or from a
`.env` file at the project root). Each variable is listed in docs/settings.md and .env.example.
Business figures (envelope, bounds, targets) are data of a call, never settings.
"""

from datetime import timedelta
from pathlib import Path

import django_stubs_ext
import environ
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF
from django.utils.translation import gettext_lazy as _

from core.client_address import ipware_settings

# `admin.ModelAdmin[Call]`, `forms.ModelForm[Application]`… : the type arguments mypy (strict)
# asks for, accepted at run time too.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
_env_file = BASE_DIR / ".env"
if _env_file.is_file():
    env.read_env(str(_env_file))

# --- Core ---------------------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "django_htmx",
    "dsfr",
    "axes",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    # The project's apps, in the order of their dependencies.
    "core",
    "accounts",
    "fabriques",
    "applications",
    "grants",
    "allocation",
    "retention",
    "notifications",
    # The read API (django-ninja) and its tokens: on top of every business app.
    "api",
]

MIDDLEWARE = [
    # First: the request id and the log context, then the request's count and duration (metrics).
    "config.observability.middleware.RequestContextMiddleware",
    "config.observability.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Early, so that every page gets the header, those of the middleware below included.
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Query strings reach the views without NUL characters, which PostgreSQL refuses in text.
    "config.middleware.StripNullCharactersFromQueryMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Logged-in pages: Cache-Control: private, no-store (config/middleware.py).
    "config.middleware.PrivatePagesNotStoredMiddleware",
    # request.user.is_verified(): whether this session gave its second factor.
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After authentication (it needs the user) and messages (it leaves one on the login page).
    "accounts.middleware.StaffIdleTimeoutMiddleware",
    # Instructors and admins give a TOTP code after their password (accounts/two_factor.py).
    "accounts.middleware.TwoFactorRequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Axes last, so that it sees the outcome of authentication.
    "axes.middleware.AxesMiddleware",
]

# --- Theme --------------------------------------------------------------------------------------
# The DSFR is reserved to the State and its operators: any other operator sets PORTAL_THEME to
# "neutral" (or adds a folder under templates/themes/). See docs/architecture.md.
PORTAL_THEME = env.str("PORTAL_THEME", default="dsfr")
SERVICE_NAME = _("Fabriques de territoires")

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "config.context_processors.portal",
                # CSP_NONCE: the nonce of this response's Content-Security-Policy, for <script> tags.
                "csp.context_processors.nonce",
            ],
        },
    },
]

CRISPY_ALLOWED_TEMPLATE_PACKS = ["dsfr_crispy"]
CRISPY_TEMPLATE_PACK = "dsfr_crispy"
CRISPY_FAIL_SILENTLY = False

# --- Database -----------------------------------------------------------------------------------
# Absent: an SQLite file inside the project (the embedded default of `make demo`).
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite serialises writers; waiting a little is better than "database is locked", and
    # taking the write lock when a transaction begins (IMMEDIATE) makes two simultaneous awards
    # wait for each other, as SELECT ... FOR UPDATE does on PostgreSQL.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"

# Optional read replica (a PostgreSQL hot standby of the same database) for the budget reports:
# config.db_routers sends reads there only inside `reading_from_replica()`, and every write,
# every other read and every migration to "default". Tests mirror it onto the test database.
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = environ.Env.db_url_config(DATABASE_REPLICA_URL)
    DATABASES["replica"]["ATOMIC_REQUESTS"] = False
    DATABASES["replica"]["CONN_MAX_AGE"] = DATABASES["default"]["CONN_MAX_AGE"]
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["config.db_routers.ReplicaRouter"]

# --- Accounts -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:home"
LOGOUT_REDIRECT_URL = "core:home"

AUTHENTICATION_BACKENDS = [
    # Axes first: it refuses a locked-out client before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24  # one day, also the validity of e-mail confirmation links

# Failed logins: a cool-off, never a permanent lock (a locked-out applicant on closing day
# cannot wait for an administrator).
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"
AXES_USERNAME_FORM_FIELD = "username"
# Failures are counted per normalised address (stripped, lower-cased), the form the login
# compares: « Someone@Example.org » must not get attempts of its own once « someone@… » is locked.
AXES_USERNAME_CALLABLE = "accounts.views.lockout_username"
# Behind N reverse proxies the client's address is the last entry X-Forwarded-For holds but the
# N - 1 proxies' own (core/client_address.py); with no proxy that header is the client's own word
# and is ignored. The read API's public rate limit reads the address the same way.
AXES_IPWARE_PROXY_COUNT, AXES_IPWARE_META_PRECEDENCE_ORDER = ipware_settings(
    env.int("AXES_PROXY_COUNT", default=0)
)

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 60 * 60 * 12
# Instructors and programme admins are logged out after this long without a request
# (accounts.middleware.StaffIdleTimeoutMiddleware); applicants keep SESSION_COOKIE_AGE alone.
STAFF_SESSION_IDLE_SECONDS = env.int("STAFF_SESSION_IDLE_SECONDS", default=60 * 60)

# Two-factor authentication (accounts/two_factor.py): the name authenticator applications show,
# and django-otp's throttling of wrong codes (1 s, then doubled after each failure).
OTP_TOTP_ISSUER = "Fabriques de territoires"
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 1

# --- Security headers ---------------------------------------------------------------------------
# Sent in every environment; HTTPS-only ones (HSTS, secure cookies, redirect) are in production.py.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp): no inline script or style, no eval. Each <script> tag
# carries the response's nonce (`nonce="{{ CSP_NONCE }}"`); styles come only from stylesheets
# (the DSFR's scripts set element.style through the CSSOM, which CSP allows). PDF templates are
# rendered by WeasyPrint and never served as pages, so their inline styles do not matter here.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [SELF],
        "object-src": [NONE],
    },
}

# ProConnect, the State's identity federation for its agents (accounts/proconnect.py): OpenID
# Connect, authorisation code flow with PKCE, nonce and state, ID token signed RS256 and checked
# against the provider's keys (JWKS). Off unless PROCONNECT_ENABLED and a client id are set; only
# active instructors and programme admins may use it. The endpoints default to ProConnect's paths
# under the issuer; each may be set on its own (another provider, the tests' local one).
PROCONNECT_ENABLED = env.bool("PROCONNECT_ENABLED", default=False)
PROCONNECT_ISSUER = env.str("PROCONNECT_ISSUER", default="https://proconnect.gouv.fr/api/v2").rstrip("/")
OIDC_RP_CLIENT_ID = env.str("PROCONNECT_CLIENT_ID", default="")
OIDC_RP_CLIENT_SECRET = env.str("PROCONNECT_CLIENT_SECRET", default="")
OIDC_OP_AUTHORIZATION_ENDPOINT = env.str(
    "PROCONNECT_AUTHORIZATION_ENDPOINT", default=f"{PROCONNECT_ISSUER}/authorize"
)
OIDC_OP_TOKEN_ENDPOINT = env.str("PROCONNECT_TOKEN_ENDPOINT", default=f"{PROCONNECT_ISSUER}/token")
OIDC_OP_USER_ENDPOINT = env.str("PROCONNECT_USERINFO_ENDPOINT", default=f"{PROCONNECT_ISSUER}/userinfo")
OIDC_OP_JWKS_ENDPOINT = env.str("PROCONNECT_JWKS_ENDPOINT", default=f"{PROCONNECT_ISSUER}/jwks")
PROCONNECT_LOGOUT_ENDPOINT = env.str("PROCONNECT_LOGOUT_ENDPOINT", default=f"{PROCONNECT_ISSUER}/session/end")
# Whom an agent refused by the portal is told to write to (the programme admins).
PROGRAMME_CONTACT_EMAIL = env.str("PROGRAMME_CONTACT_EMAIL", default="")
OIDC_RP_SCOPES = "openid email given_name usual_name"
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_USE_PKCE = True
OIDC_PKCE_CODE_CHALLENGE_METHOD = "S256"
OIDC_USE_NONCE = True
# Agents are never created from ProConnect: their accounts exist, with their role and territory.
OIDC_CREATE_USER = False
# The ID token is kept for the logout at the provider (`id_token_hint`).
OIDC_STORE_ID_TOKEN = True
OIDC_TIMEOUT = env.int("PROCONNECT_TIMEOUT_SECONDS", default=10)
OIDC_AUTHENTICATION_CALLBACK_URL = "accounts:proconnect-callback"
# The ID token's `acr` (level of assurance) and `amr` (methods, two factors or not), kept in the
# login's audit row. ProConnect refuses any parameter of the authorisation request it does not
# list (`acr_values` included): the claims are asked through `claims`.
OIDC_AUTH_REQUEST_EXTRA_PARAMS = {
    "claims": '{"id_token":{"acr":{"essential":true},"amr":{"essential":true}}}'
}
AUTHENTICATION_BACKENDS = [*AUTHENTICATION_BACKENDS, "accounts.proconnect.ProConnectBackend"]
# django-otp's middleware, taught that a ProConnect session has given its second factor.
MIDDLEWARE = [
    "accounts.proconnect.ProConnectOTPMiddleware" if name == "django_otp.middleware.OTPMiddleware" else name
    for name in MIDDLEWARE
]
# The login button and the logout form lead to the provider (through the portal's redirects,
# which CSP's form-action also governs).
if PROCONNECT_ENABLED:
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"] = [
        SELF,
        # scheme://host[:port] of each endpoint
        *sorted(
            {
                "/".join(url.split("/", 3)[:3])
                for url in (OIDC_OP_AUTHORIZATION_ENDPOINT, PROCONNECT_LOGOUT_ENDPOINT)
            }
        ),
    ]


# --- Internationalisation -----------------------------------------------------------------------
LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", "Français")]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True
LOCALE_PATHS = [BASE_DIR / "locale"]
# A form posted without a valid CSRF token gets a French page (templates/403_csrf.html).
CSRF_FAILURE_VIEW = "config.views.csrf_failure"
USE_THOUSAND_SEPARATOR = True

# --- Static and media ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
# Files served at the root of the site by WhiteNoise, without a view: /favicon.ico, which
# browsers ask for by themselves (on pages that link no icon, the admin's, downloads).
WHITENOISE_ROOT = BASE_DIR / "static" / "root"
# Uploaded and generated files live outside the static root and are served only through views
# that check permissions.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
MEDIA_URL = "/media/"
# Media on an S3-compatible object storage (django-storages) when a bucket is named, so that web
# replicas and workers on several hosts share them; otherwise files under MEDIA_ROOT. The bucket
# stays private: objects are written with a private ACL, never overwritten (a second file with the
# same name gets a suffix), and any URL is signed and short-lived. The views stream files through
# the storage API (open/read) and check permissions first, as with the file system.
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    MEDIA_STORAGE: dict[str, object] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            # Empty: Amazon S3 itself; otherwise the provider's address (https://s3.fr-par...).
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            # Empty: boto3's own chain (instance role, ~/.aws) finds the credentials.
            "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
            "location": env.str("AWS_LOCATION", default=""),
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": 300,
            "file_overwrite": False,
            # A file read back (a download, an attachment) spills to a temporary file past 5 MiB.
            "max_memory_size": 5 * 1024 * 1024,
        },
    }
else:
    MEDIA_STORAGE = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": MEDIA_STORAGE,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
FILE_UPLOAD_PERMISSIONS = 0o640
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# The instructors' dossier exports (applications.exports): up to this many rows the file is served
# at once; beyond, it is built in the background (a DossierExport row) and downloaded when ready.
DOSSIER_EXPORT_MAX_ROWS_AT_ONCE = env.int("DOSSIER_EXPORT_MAX_ROWS_AT_ONCE", default=2000)

# --- Backups (core/backups.py, `make backup`, docs/operations.md « Sauvegarde et restauration ») ---
# Where `manage.py backup` writes its dated directories (dump, media, manifest).
BACKUP_DIR = env.path("BACKUP_DIR", default=BASE_DIR / "backups")
# Folder of pg_dump and pg_restore; empty: /usr/lib/postgresql/<server's major>/bin, then the PATH.
POSTGRES_BIN_DIR = env.str("POSTGRES_BIN_DIR", default="")

# --- E-mail -------------------------------------------------------------------------------------
# Absent: e-mails are printed on the console. In production, e.g. smtp+tls://user:pass@host:587
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str(
    "DEFAULT_FROM_EMAIL", default="Fabriques de territoires <ne-pas-repondre@fabriques.local>"
)
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)

# --- Cache ---------------------------------------------------------------------------------------
# Nothing the portal needs lives in the cache: failed logins are counted in the database (axes'
# database handler), a background export's progress is on its ExportJob row, sessions are in the
# database. The cache is still shared (Redis, the broker's by default) so that any later use
# holds across processes; absent, each process keeps its own memory cache (`make demo`).
CACHE_URL = env.str("CACHE_URL", default=env.str("CELERY_BROKER_URL", default=""))
if CACHE_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# The pages kept per user until the data they show changes (core/page_cache.py): in each process's
# memory, since a page is read at every request (no network round trip) and a release starts empty.
CACHES["pages"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "pages",
    "OPTIONS": {"MAX_ENTRIES": env.int("PAGE_CACHE_ENTRIES", default=2000)},
}
PAGE_CACHE = env.bool("PAGE_CACHE", default=True)
# How long a kept page may live at most: badges that turn with the hour lag by no more.
PAGE_CACHE_SECONDS = env.int("PAGE_CACHE_SECONDS", default=60)

# --- SIRET look-up (API « Recherche d'entreprises », fabriques/sirene.py) -----------------------
# Off when the URL is empty (the default: `make demo` and the tests never reach the internet);
# production turns it on with the public address. The API takes 7 requests a second (its
# documentation); the limit is shared by every process through Redis (SIRENE_RATE_LIMIT_URL).
SIRENE_API_URL = env.str("SIRENE_API_URL", default="").rstrip("/")
SIRENE_API_TIMEOUT = env.float("SIRENE_API_TIMEOUT", default=3.0)
SIRENE_API_RETRIES = env.int("SIRENE_API_RETRIES", default=2)
SIRENE_API_BACKOFF = env.float("SIRENE_API_BACKOFF", default=0.5)
SIRENE_API_RATE = env.int("SIRENE_API_RATE", default=7)
SIRENE_CACHE_SECONDS = env.int("SIRENE_CACHE_SECONDS", default=24 * 60 * 60)
SIRENE_RATE_LIMIT_URL = env.str("SIRENE_RATE_LIMIT_URL", default=CACHE_URL)

# --- Celery -------------------------------------------------------------------------------------
# Redis and separate worker processes. Only the local settings (`make demo`) run tasks in process
# when no broker is given; the code takes the same path either way (docs/architecture.md).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# A task is acknowledged only once done, and given back to the queue if its worker dies, so a
# crash never loses work; tasks are idempotent so that a redelivery does nothing twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes every database connection before and after each task unless this is
# set: a new PostgreSQL connection per task (about 9 ms, a tenth of a letter's rendering). Workers
# keep theirs instead, under Django's own rule for requests (CONN_MAX_AGE, CONN_HEALTH_CHECKS, closed
# after an error), applied around each task by config.celery; the fixup still recycles it every
# 1 000 tasks (docs/performance.md « Worker pool »).
CELERY_DB_REUSE_MAX = 1000
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=120)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=180)
# Redis redelivers unacknowledged messages after this delay: it must exceed the longest task.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}
# One queue per kind of work, each consumed by its own workers (docker-compose.yml,
# docs/operations.md): a burst of PDFs never delays the e-mails, a long export never holds the
# sweep. Every other task (the sweep, the daily beat tasks) goes to the default queue.
# QUEUE_PREFIX names them apart when several deployments (or test runs) share one Redis: with
# "staging-", the workers consume `staging-pdf`, and nothing of another deployment reaches them.
QUEUE_PREFIX = env.str("QUEUE_PREFIX", default="")
CELERY_TASK_DEFAULT_QUEUE = f"{QUEUE_PREFIX}default"
CELERY_TASK_ROUTES = {
    # WeasyPrint: CPU and memory, a fraction of a second to a few seconds per document.
    "notifications.tasks.document_render_task": {"queue": f"{QUEUE_PREFIX}pdf"},
    # SMTP: network-bound; waits for its attachments to be rendered by the pdf queue.
    "notifications.tasks.email_send_task": {"queue": f"{QUEUE_PREFIX}email"},
    # Budget workbooks: minutes of reading, allowed up to 16 minutes (its own time limits).
    "grants.tasks_exports.budget_report_build_task": {"queue": f"{QUEUE_PREFIX}reports"},
    # The instructors' long dossier exports (CSV, XLSX): the same kind of work, the same queue.
    "applications.tasks.dossier_export_build_task": {"queue": f"{QUEUE_PREFIX}reports"},
    # A large allocation scenario: seconds to a minute of solver, CPU-bound like the exports.
    "allocation.tasks.scenario_compute_task": {"queue": f"{QUEUE_PREFIX}reports"},
    # The monthly retention run: minutes of deletions on a large base, then it hands over.
    "retention.tasks.retention_apply_task": {"queue": f"{QUEUE_PREFIX}reports"},
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redis's transport with the fix that keeps a worker alive through a broker outage (config/broker.py).
if CELERY_BROKER_URL.split("://", 1)[0] in {"redis", "rediss"}:
    CELERY_BROKER_TRANSPORT = "config.broker:Transport"
CELERY_TIMEZONE = TIME_ZONE
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Logging, error tracking, metrics (config/observability/, docs/operations.md) ------------------
LOG_LEVEL = env.str("DJANGO_LOG_LEVEL", default="INFO")
# "text": readable lines on a developer's console; "json": one JSON object per line, for a log
# collector (production's default). Both carry the request id, the user's id and the reference.
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "core.log_context.LogContextFilter"}},
    "formatters": {
        "text": {
            "format": "%(asctime)s %(levelname)s %(name)s "
            "[req=%(request_id)s user=%(user_id)s ref=%(reference)s task=%(task_id)s] %(message)s"
        },
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s "
            "%(request_id)s %(user_id)s %(reference)s %(task)s %(task_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "text",
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "axes": {"level": "WARNING"},
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

# Error tracking (Sentry or a compatible service): off unless a DSN is given. Personal data is
# scrubbed before anything leaves (config/observability/sentry.py).
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    from config.observability.sentry import sentry_init

    sentry_init(
        dsn=SENTRY_DSN,
        environment=env.str("SENTRY_ENVIRONMENT", default="production"),
        release=env.str("SENTRY_RELEASE", default=""),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )

# /metrics answers a bearer token or a client of these networks (CIDR), a 404 to anyone else;
# both empty (the default), nobody reads it. Several gunicorn workers: PROMETHEUS_MULTIPROC_DIR.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=[])

# --- Periodic tasks (celery beat) ---------------------------------------------------------------
CELERY_BEAT_SCHEDULE = {
    # The page cache's log of write transactions, emptied once it grows (core.page_cache).
    "data-changes-prune": {
        "task": "core.tasks.data_changes_prune_task",
        "schedule": timedelta(minutes=5),
    },
    "notifications-sweep": {
        "task": "notifications.tasks.notifications_sweep_task",
        "schedule": timedelta(minutes=5),
    },
    # Budget workbooks asked for while the broker was down, or whose worker died.
    "grants-export-jobs-sweep": {
        "task": "grants.tasks_exports.export_jobs_sweep_task",
        "schedule": timedelta(minutes=5),
    },
    # The instructors' dossier exports asked for while the broker was down, or whose worker died.
    "applications-dossier-exports-sweep": {
        "task": "applications.tasks.dossier_exports_sweep_task",
        "schedule": timedelta(minutes=5),
    },
    # Allocation scenarios asked for while the broker was down, or whose worker died.
    "allocation-scenarios-sweep": {
        "task": "allocation.tasks.scenarios_sweep_task",
        "schedule": timedelta(minutes=5),
    },
    # The envelope's daily snapshot, and the alert when commitments pass the call's threshold.
    "envelope-daily": {
        "task": "grants.tasks_envelope.envelope_daily_task",
        "schedule": crontab(hour=6, minute=30),
    },
    # The call's counters recounted from its grants and tranches; the admins are told of any drift.
    "envelope-check": {
        "task": "grants.tasks_envelope.envelope_check_task",
        "schedule": crontab(hour=6, minute=45),
    },
    # Tranches past their 60-day deadline (to admins) and yearly reports due (to beneficiaries).
    "grants-tranches-reminders": {
        "task": "grants.tasks.tranches_reminders_task",
        "schedule": crontab(hour=7, minute=0),
    },
    # Corrections soon due (to applicants) and overdue (to instructors), once per request.
    "corrections-deadlines": {
        "task": "applications.tasks.corrections_deadlines_task",
        "schedule": crontab(hour=7, minute=10),
    },
    # Drafts whose wave closes soon (to applicants), once per draft and wave.
    "drafts-reminders": {
        "task": "applications.tasks.drafts_reminders_task",
        "schedule": crontab(hour=7, minute=20),
    },
    # Expert opinions soon due and overdue (to the expert; overdue, to the instructor who asked),
    # once per request.
    "opinions-reminders": {
        "task": "applications.tasks.opinions_reminders_task",
        "schedule": crontab(hour=7, minute=25),
    },
    # Dossiers past their instruction delay (to instructors) and payments past their deadline (to
    # admins) in the notification centre, once each.
    "overdue-notifications": {
        "task": "grants.tasks.overdue_notifications_task",
        "schedule": crontab(hour=7, minute=30),
    },
    # The open-data files of every published call, rebuilt and validated before they replace the
    # served ones (grants.services.open_data).
    "open-data-publish": {
        "task": "grants.tasks.open_data_publish_task",
        "schedule": crontab(hour=5, minute=30),
    },
    # The daily digest of the notifications, after the day's overdue ones: one e-mail per person.
    # Structures flagged « à vérifier » (the API was down when they were registered) looked up again.
    "organisations-siret-recheck": {
        "task": "fabriques.tasks.organisations_siret_recheck_task",
        "schedule": crontab(minute=20),
    },
    "notifications-digests": {
        "task": "notifications.tasks.digests_send_task",
        "schedule": crontab(hour=7, minute=45),
    },
    # The retention table (retention.rules): what has passed its time, anonymised or deleted.
    "retention-apply": {
        "task": "retention.tasks.retention_apply_task",
        "schedule": crontab(day_of_month="1", hour=3, minute=30),
    },
}

# Retention (retention.rules, docs/operations.md « Durées de conservation »): the figures no text
# fixes. Refused, closed, withdrawn dossiers and abandoned drafts: their files kept this many years
# after the decision (the time of appeals and of a new application in a later wave, with margin).
RETENTION_REFUSED_DOSSIER_YEARS = env.int("RETENTION_REFUSED_DOSSIER_YEARS", default=5)
# Accounts with no login for this many years are warned, then deactivated after the notice.
RETENTION_INACTIVE_ACCOUNT_YEARS = env.int("RETENTION_INACTIVE_ACCOUNT_YEARS", default=3)
RETENTION_INACTIVITY_NOTICE_DAYS = env.int("RETENTION_INACTIVITY_NOTICE_DAYS", default=30)
# No CELERY_IMPORTS: autodiscovery imports each app's `tasks` module or package, and
# grants/tasks/__init__.py imports every module of its package.

# The technical admin site lives at an address set per deployment.
ADMIN_URL = env.str("DJANGO_ADMIN_URL", default="admin/")

# --- Read API (api/, django-ninja) ---------------------------------------------------------------
# Calls allowed per token and minute, counted in the default cache (Redis when CACHE_URL or the
# broker is set, so the count holds across processes; each process's memory otherwise).
API_RATE_LIMIT_PER_MINUTE = env.int("API_RATE_LIMIT_PER_MINUTE", default=120)
# The most rows of a page, whatever a client asks (50 when it asks nothing).
API_MAX_PAGE_SIZE = env.int("API_MAX_PAGE_SIZE", default=200)
# The log of calls (api.ApiCall) keeps this many days; a beat task prunes older rows.
API_CALL_RETENTION_DAYS = env.int("API_CALL_RETENTION_DAYS", default=90)
# The longest life a programme admin may give a token, in days.
API_TOKEN_MAX_DAYS = env.int("API_TOKEN_MAX_DAYS", default=365)
CELERY_BEAT_SCHEDULE["api-calls-prune"] = {
    "task": "api.tasks.api_calls_prune_task",
    "schedule": crontab(hour=3, minute=40),
}
