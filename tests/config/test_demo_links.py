"""The links of the demo e-mails point at the server `make demo` really started, and land on the console."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import mail
from django.urls import reverse

from tests.factories import applicant

ROOT = Path(__file__).resolve().parents[2]

needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _make_dry_run(*args: str) -> str:
    env = {key: value for key, value in os.environ.items() if key not in {"SITE_URL", "HOST", "PORT"}}
    done = subprocess.run(
        ["make", "-n", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return next(line for line in done.stdout.splitlines() if "runserver" in line)


@needs_make
@pytest.mark.parametrize(
    ("args", "site_url", "address"),
    [
        (["demo"], "http://127.0.0.1:8000", "127.0.0.1:8000"),
        (["demo", "PORT=8101"], "http://127.0.0.1:8101", "127.0.0.1:8101"),
        (["serve", "HOST=localhost", "PORT=9000"], "http://localhost:9000", "localhost:9000"),
        (
            ["demo", "PORT=8101", "SITE_URL=https://demo.example.org"],
            "https://demo.example.org",
            "127.0.0.1:8101",
        ),
    ],
)
def test_make_passes_the_address_it_serves_on_to_the_links(args, site_url, address):
    line = _make_dry_run(*args)
    assert f"SITE_URL={site_url} " in line, line
    assert line.endswith(f"manage.py runserver {address}"), line


def _local_settings(**environ: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SITE_URL", "EMAIL_URL"))}
    env.update(environ, DJANGO_SETTINGS_MODULE="config.settings.local")
    code = (
        "import django, json; from django.conf import settings; django.setup(); "
        "print(json.dumps({'site_url': settings.SITE_URL, 'email': settings.EMAIL_BACKEND}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_demo_settings_read_site_url_and_print_e_mails_on_the_console():
    if (ROOT / ".env").exists():
        pytest.skip("a .env file would decide these values")
    seen = _local_settings(SITE_URL="http://127.0.0.1:8101/")
    assert seen == {
        "site_url": "http://127.0.0.1:8101",
        "email": "django.core.mail.backends.console.EmailBackend",
    }


@pytest.mark.django_db
def test_confirmation_and_reset_links_start_with_site_url(
    client, settings, django_capture_on_commit_callbacks, task_queues
):
    settings.SITE_URL = "http://127.0.0.1:8101"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("accounts:sign-up"),
            {
                "first_name": "Claire",
                "last_name": "Darmaillacq",
                "email": "claire@exemple.fr",
                "password1": "Tiers-lieux-du-Gers-2026",
                "password2": "Tiers-lieux-du-Gers-2026",
            },
        )
        # The Host header of the request does not decide where the reset link points.
        client.post(
            reverse("accounts:password-reset"), {"email": applicant().email}, headers={"host": "localhost"}
        )
    task_queues.drain()
    assert len(mail.outbox) == 2
    for message in mail.outbox:
        links = re.findall(r"https?://\S+", message.body)
        assert links, message.body
        assert all(link.startswith("http://127.0.0.1:8101/compte/") for link in links), links
