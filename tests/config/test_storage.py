"""Media storage: files under MEDIA_ROOT by default, an S3-compatible bucket when one is named.

The settings are read once, at start-up: each case runs in a fresh Python with the production
settings and only the variables it sets. Nothing reaches the network: the backend is only
instantiated, and a signed URL is computed locally by boto3.
"""

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
S3_VARIABLES = {
    "AWS_STORAGE_BUCKET_NAME": "fabriques-media",
    "AWS_S3_ENDPOINT_URL": "https://s3.fr-par.example.org",
    "AWS_S3_REGION_NAME": "fr-par",
    "AWS_ACCESS_KEY_ID": "SCWEXAMPLEACCESSKEY",
    "AWS_SECRET_ACCESS_KEY": "example-secret-key-not-a-real-one",
    "AWS_LOCATION": "",
}

DESCRIBE = """
import json
import django

django.setup()
from django.conf import settings
from django.core.files.storage import default_storage, storages
from notifications.models import Document

storage = storages["default"]
field_storage = Document._meta.get_field("file").storage
description = {
    "backend": settings.STORAGES["default"]["BACKEND"],
    "class": f"{type(storage).__module__}.{type(storage).__qualname__}",
    "default_storage": f"{default_storage.__class__.__module__}.{default_storage.__class__.__qualname__}",
    "field_storage": f"{field_storage.__class__.__module__}.{field_storage.__class__.__qualname__}",
    "staticfiles": settings.STORAGES["staticfiles"]["BACKEND"],
}
if description["class"] == "storages.backends.s3.S3Storage":
    description.update(
        bucket=storage.bucket_name,
        endpoint=storage.endpoint_url,
        region=storage.region_name,
        access_key=storage.access_key,
        acl=storage.default_acl,
        querystring_auth=storage.querystring_auth,
        expire=storage.querystring_expire,
        overwrite=storage.file_overwrite,
    )
    if storage.access_key:  # signed locally; without keys boto3 would go looking for some
        description["url"] = storage.url("documents/2026/11/lettre.pdf")
print(json.dumps(description))
"""


def _config_variables() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "config").rglob("*.py"):
        names.update(re.findall(r"""\(\s*["']([A-Z][A-Z0-9_]*)["']""", path.read_text(encoding="utf-8")))
    return names


def describe_storage(**values: str) -> dict[str, Any]:
    """The media storage that production settings build from these variables (and no others)."""
    dotenv = ROOT / ".env"
    if dotenv.is_file() and "AWS_" in dotenv.read_text(encoding="utf-8"):
        pytest.skip(f"{dotenv} sets AWS_ variables, which this test needs to control")
    environment = {k: v for k, v in os.environ.items() if k not in _config_variables()}
    environment.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DJANGO_ALLOWED_HOSTS="fabriques.example.gouv.fr",
        DATABASE_URL="postgres://u:p@127.0.0.1:5432/x",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
        EMAIL_URL="smtp+tls://u:p@smtp.example.org:587",
        # Whatever happens, boto3 must not ask an instance metadata service for credentials.
        AWS_EC2_METADATA_DISABLED="true",
        **values,
    )
    result = subprocess.run(
        [sys.executable, "-c", DESCRIBE],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    description: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return description


def test_without_a_bucket_media_are_files_under_media_root() -> None:
    description = describe_storage()
    filesystem = "django.core.files.storage.filesystem.FileSystemStorage"
    assert description["backend"] == "django.core.files.storage.FileSystemStorage"
    assert (
        description["class"] == description["default_storage"] == description["field_storage"] == filesystem
    )
    assert description["staticfiles"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"


def test_an_empty_bucket_name_keeps_the_file_system() -> None:
    # .env.example ships the variables empty: the compose deployment keeps its media volume.
    empty = {name: "" for name in S3_VARIABLES}
    assert describe_storage(**empty)["backend"] == "django.core.files.storage.FileSystemStorage"


def test_with_a_bucket_media_go_to_s3_private_signed_and_never_overwritten() -> None:
    description = describe_storage(**S3_VARIABLES)

    s3 = "storages.backends.s3.S3Storage"
    assert description["backend"] == s3
    assert description["class"] == description["default_storage"] == description["field_storage"] == s3
    assert description["staticfiles"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    assert description["bucket"] == "fabriques-media"
    assert description["endpoint"] == "https://s3.fr-par.example.org"
    assert description["region"] == "fr-par"
    assert description["access_key"] == "SCWEXAMPLEACCESSKEY"
    assert description["acl"] == "private"
    assert description["querystring_auth"] is True
    assert description["overwrite"] is False
    assert description["expire"] == 300
    # A URL, if one is ever made, is signed and short-lived (computed locally, no request sent).
    url = description["url"]
    assert url.startswith("https://s3.fr-par.example.org/fabriques-media/documents/2026/11/lettre.pdf?")
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=300" in url
    assert "example-secret-key-not-a-real-one" not in url


def test_without_keys_boto3_finds_its_own_credentials() -> None:
    # An instance role or a mounted profile: the settings pass no key rather than an empty one.
    values = {**S3_VARIABLES, "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_S3_ENDPOINT_URL": ""}
    description = describe_storage(**values)
    assert description["class"] == "storages.backends.s3.S3Storage"
    assert description["endpoint"] is None
    assert description["access_key"] is None
