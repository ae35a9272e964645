"""`make demo` end to end: a fresh SQLite database, the demo data, a real server, real logins.

The demo accounts are read from README.md, so the README and the demo data cannot drift apart.
"""

import http.cookiejar
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from contextlib import closing
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def readme_demo_accounts() -> list[tuple[str, str, str]]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| ([^|]+?) \| `([^`]+@[^`]+)` \| `([^`]+)` \|$", readme, flags=re.MULTILINE)
    return [(role.strip(), email, password) for role, email, password in rows]


def readme_demo_keys() -> dict[str, str]:
    """The authenticator key README.md publishes for each demo instructor and admin."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return dict(re.findall(r"^\| `([^`]+@[^`]+)` \| `([A-Z2-7]{32})` \|$", readme, flags=re.MULTILINE))


def current_code(base32_key: str) -> str:
    """What an authenticator application holding this key shows now."""
    from base64 import b32decode

    from django_otp.oath import totp

    return f"{totp(b32decode(base32_key)):06d}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )


class Browser:
    """Just enough of a browser: cookies, and the CSRF token of the last form."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> tuple[int, str, str]:
        with self.opener.open(self.base + path, timeout=30) as response:
            return response.status, response.geturl(), response.read().decode()

    def post_form(self, path: str, data: dict[str, str]) -> tuple[int, str, str]:
        _, _, page = self.get(path)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token, page[:500]
        body = urllib.parse.urlencode({"csrfmiddlewaretoken": token.group(1), **data}).encode()
        request = urllib.request.Request(self.base + path, data=body, headers={"Referer": self.base + path})
        with self.opener.open(request, timeout=30) as response:
            return response.status, response.geturl(), response.read().decode()


LANDING = {
    "Porteur de projet": ("/mon-espace/", "Mon espace porteur"),
    "Instructeur (région Occitanie)": ("/instruction/", "Occitanie"),
    "Administrateur du programme": ("/pilotage/", "Pilotage du programme"),
}


def test_readme_lists_the_three_demo_accounts():
    accounts = readme_demo_accounts()
    assert [role for role, _, _ in accounts] == list(LANDING)


def test_demo_setup_runs_twice_and_serves_home_and_a_logged_in_page_per_account(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL"}},
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "DJANGO_DEBUG": "true",
    }
    for _ in range(2):  # `make demo` may be run again on the same database
        _manage(env, "migrate", "--noinput")
        seeded = _manage(env, "seed_demo")
        assert "Données de démonstration prêtes." in seeded.stdout

    # No broker: the local settings run each task in process when it is sent, through the same
    # code as a worker's. Every letter and e-mail the demo data asked for is rendered and sent.
    with closing(sqlite3.connect(tmp_path / "demo.sqlite3")) as db:
        documents = dict(db.execute("SELECT status, COUNT(*) FROM notifications_document GROUP BY status"))
        emails = dict(db.execute("SELECT status, COUNT(*) FROM notifications_outgoingemail GROUP BY status"))
        # The call's three demo labels, created once however often the demo is seeded, on two dossiers.
        labels = db.execute("SELECT COUNT(*) FROM applications_label").fetchone()[0]
        links = db.execute("SELECT COUNT(*) FROM applications_applicationlabel").fetchone()[0]
    assert (labels, links) == (3, 3)
    assert set(documents) == {"done"} and set(emails) == {"done"}, (documents, emails)
    pdfs = list((tmp_path / "media" / "documents").rglob("*.pdf"))  # not the uploaded attachments
    assert len(pdfs) == documents["done"] and all(pdf.read_bytes().startswith(b"%PDF") for pdf in pdfs)

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _, page = Browser(base).get("/")
                break
            except OSError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline, "the demo server did not start"
                time.sleep(0.3)
        assert status == 200
        assert "Fabriques de territoires" in page

        keys = readme_demo_keys()
        assert set(keys) == {
            email for role, email, _ in readme_demo_accounts() if role != "Porteur de projet"
        }
        printed = _manage(env, "demo_code").stdout
        for email in keys:
            assert re.search(rf"^\d{{6}}  {re.escape(email)}$", printed, flags=re.MULTILINE), printed
        for role, email, password in readme_demo_accounts():
            browser = Browser(base)
            status, url, page = browser.post_form(
                "/compte/connexion/", {"username": email, "password": password}
            )
            landing_path, marker = LANDING[role]
            assert status == 200
            if email in keys:
                # The second step: the code of the authenticator holding the README's key.
                assert "/compte/double-authentification/" in url, (role, url)
                status, url, page = browser.post_form(
                    url.removeprefix(base), {"code": current_code(keys[email])}
                )
                assert status == 200
            assert url == base + landing_path, (role, url)
            assert marker in page
            assert "Se déconnecter" in page
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        if server.stdout:
            server.stdout.close()
