"""docs/settings.md and docs/operations.md say the cache holds nothing the portal needs: keep it true."""

from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
APPS = (
    "accounts",
    "allocation",
    "api",
    "applications",
    "config",
    "core",
    "fabriques",
    "grants",
    "notifications",
)
# The modules that keep in the cache what costs only time to lose: each is read again from its
# source when the cache is emptied, and nothing is refused or sent twice for it.
DISPOSABLE = {
    # The pages kept until the data moves (rebuilt on a miss).
    "core/page_cache.py",
    # The directory's answers, a day per SIRET (asked again on a miss).
    "fabriques/sirene.py",
    # The read API's counts per token and minute (a count lost lets a few more calls through).
    "api/ratelimit.py",
}


def test_failed_logins_are_counted_in_the_database_and_no_module_uses_the_cache():
    handler = getattr(settings, "AXES_HANDLER", "axes.handlers.database.AxesDatabaseHandler")
    assert handler == "axes.handlers.database.AxesDatabaseHandler"
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.db"
    users = [
        str(path.relative_to(ROOT))
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if any(use in path.read_text() for use in ("from django.core.cache", "cache.set(", "cache.get("))
        and str(path.relative_to(ROOT)) not in DISPOSABLE
    ]
    assert users == []
    docs = " ".join((ROOT / "docs" / "settings.md").read_text().split())
    assert "Nothing the portal needs is kept there" in docs
