"""docs/settings.md and docs/operations.md say the cache holds nothing the portal needs: keep it true."""

from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
APPS = ("accounts", "applications", "config", "fabriques", "grants", "notifications")


def test_failed_logins_are_counted_in_the_database_and_no_module_uses_the_cache():
    handler = getattr(settings, "AXES_HANDLER", "axes.handlers.database.AxesDatabaseHandler")
    assert handler == "axes.handlers.database.AxesDatabaseHandler"
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.db"
    users = [
        str(path.relative_to(ROOT))
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if any(use in path.read_text() for use in ("from django.core.cache", "cache.set(", "cache.get("))
    ]
    assert users == []
    docs = " ".join((ROOT / "docs" / "settings.md").read_text().split())
    assert "Nothing the portal needs is kept there" in docs
