"""A real OpenID Connect provider (django-oidc-provider), run as a project of its own for the
ProConnect tests (tests/browser/test_proconnect.py): the stand-in for ProConnect, which cannot be
reached from the test machines.

It has its own SQLite database (OIDC_PROVIDER_DB, in a temporary directory), its own session
cookie (the portal's live server runs on another host name, but cookies ignore ports), a login
page for its users, and a consent page (French) after it.
"""

import os

SECRET_KEY = "oidc-provider-for-tests-only-not-a-secret"  # noqa: S105
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
# The issuer of the ID tokens: SITE_URL + /openid.
SITE_URL = os.environ["OIDC_PROVIDER_SITE_URL"]
ROOT_URLCONF = "tests.oidc_provider.urls"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "oidc_provider",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [os.path.join(os.path.dirname(__file__), "templates")],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["OIDC_PROVIDER_DB"]}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SESSION_COOKIE_NAME = "provider_sessionid"
CSRF_COOKIE_NAME = "provider_csrftoken"
LOGIN_URL = "/login/"
USE_TZ = True
OIDC_USERINFO = "tests.oidc_provider.userinfo.userinfo"
# As ProConnect's: the code lives briefly.
OIDC_CODE_EXPIRE = 60
