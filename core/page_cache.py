"""Pages kept per user until the data they show changes.

A busy page (the instructor list, a dossier, the homes, the dashboards) costs far more than its
rows: forms, counts, badges, the to-do. Most requests for it are the same person reloading it while
nothing has changed. `cached_page` keeps the HTML a view returned, under a key made of:

- the data version (core.models): it moves with every write transaction to a table, at commit;
  a page is read under the version taken BEFORE its data, so it can only be newer than its key,
  never older, and a write anywhere means the next request builds the page again. Anywhere but
  in what no kept page shows and what every login or API call writes (`UNTRACKED_TABLES`, and a
  login's `last_login`): those would otherwise rebuild every page at each login or API call;
- the user, whether this session gave its second factor, and a digest of the browser's CSRF
  secret (the forms of the page carry tokens made from it: another browser of the same user gets
  a page of its own, and a page is never one user's to another);
- the view, the address with its query string, the language and the day (the « en retard » badges
  and the to-do move with the date).

The entry lives `PAGE_CACHE_SECONDS` at most (a minute): badges that turn with the hour (a dossier
becoming overdue at the instruction delay's exact time) lag by no more than that.

What is never kept: anything but a GET answered 200 in HTML, a request with messages waiting to be
shown (the page would show them), an htmx request, a response that sets a cookie or carries headers
of its own. The response's CSP nonce is stored as a mark and replaced by the new request's nonce.
The access checks of the view's decorators run before the cache is read: put `cached_page` under
them. The view's own checks (a scoped queryset) read data: a change of rights is a write, so it
moves the version too.

The store is each process's memory (`CACHES["pages"]`, LocMemCache): no network round trip, and a
new release starts empty.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.cache import caches
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.utils import timezone, translation

NONCE_MARK = "\x00nonce\x00"
# Headers a plain rendered page carries; a response with any other is not kept.
PLAIN_HEADERS = frozenset({"content-type", "x-frame-options", "vary", "content-length"})
# Tables whose writes no kept page shows, and that change at every request, login or API call:
# the sessions, the login attempts and second factors, the audit log (read only by the admin's and
# the personal data export, never kept), the read API's tokens and its log of calls (a client
# polling the API would otherwise rebuild every kept page at each call).
UNTRACKED_TABLES = frozenset(
    {
        "django_session",
        "django_migrations",
        "core_datachange",
        "core_datageneration",
        "accounts_auditevent",
        "api_apicall",
        "api_apitoken",
    }
)
UNTRACKED_PREFIXES = ("axes_", "otp_")
# Columns whose own update moves no version: a login stamps `last_login`, which no page shows.
UNTRACKED_COLUMNS = {"accounts_user": frozenset({"last_login"})}

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION core_data_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO core_datachange (txid) VALUES (txid_current()) ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
"""


def tracked_tables(table_names: list[str]) -> list[str]:
    return sorted(
        name
        for name in table_names
        if name not in UNTRACKED_TABLES and not name.startswith(UNTRACKED_PREFIXES)
    )


def install_data_triggers(using: str = "default", **kwargs: Any) -> list[str]:
    """(Re)create the data-version trigger on every tracked table; run after each `migrate`.

    Idempotent, and run after every migration so that a new table is tracked without anyone
    having to remember it (tests/core/test_page_cache.py checks every table has it)."""
    from django.db import connections

    conn = connections[using]
    with conn.cursor() as cursor:
        names = conn.introspection.table_names(cursor)
        tables = tracked_tables(names)
        untracked = sorted(set(names) - set(tables))
        if conn.vendor == "postgresql":
            cursor.execute(PG_FUNCTION)
            for table in untracked:  # a table untracked since: its trigger goes
                cursor.execute(f'DROP TRIGGER IF EXISTS core_data_changed ON "{table}"')
            for table in tables:
                cursor.execute(
                    # Table names from the database's own catalogue, not from input.
                    "CREATE OR REPLACE TRIGGER core_data_changed "
                    f'AFTER INSERT OR {_update_of(conn, cursor, table)} OR DELETE OR TRUNCATE ON "{table}" '  # noqa: S608
                    "FOR EACH STATEMENT EXECUTE FUNCTION core_data_changed()"
                )
        elif conn.vendor == "sqlite":
            for table in untracked:
                for event in ("insert", "update", "delete"):
                    cursor.execute(f'DROP TRIGGER IF EXISTS "core_data_changed_{table}_{event}"')
            for table in tables:
                for event in ("INSERT", "UPDATE", "DELETE"):
                    name = f"core_data_changed_{table}_{event.lower()}"
                    when = event
                    if event == "UPDATE" and table in UNTRACKED_COLUMNS:
                        when = _update_of(conn, cursor, table)
                        cursor.execute(f'DROP TRIGGER IF EXISTS "{name}"')  # made before the column rule
                    cursor.execute(
                        f'CREATE TRIGGER IF NOT EXISTS "{name}" '  # noqa: S608
                        f'AFTER {when} ON "{table}" BEGIN '
                        "UPDATE core_datageneration SET changes = changes + 1 WHERE id = 1; END"
                    )
    return tables


def _update_of(conn: Any, cursor: Any, table: str) -> str:
    """`UPDATE`, or `UPDATE OF <every column but the untracked ones>` for a table that has some:
    the trigger then ignores an UPDATE that sets only those (Django's `update_last_login` sets
    `last_login` alone). The columns are read from the catalogue at each install (after each
    migrate), so a column added later is tracked."""
    skipped = UNTRACKED_COLUMNS.get(table)
    if not skipped:
        return "UPDATE"
    columns = [
        column.name
        for column in conn.introspection.get_table_description(cursor, table)
        if column.name not in skipped
    ]
    return "UPDATE OF " + ", ".join(conn.ops.quote_name(column) for column in columns)


def tables_without_trigger() -> list[str]:
    """Tracked tables lacking the trigger (empty when every write moves the version)."""
    with connection.cursor() as cursor:
        tables = tracked_tables(connection.introspection.table_names(cursor))
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE t.tgname = 'core_data_changed'"
            )
        else:
            cursor.execute(
                "SELECT tbl_name FROM sqlite_master "
                "WHERE type = 'trigger' AND name LIKE 'core_data_changed_%'"
            )
        have = {row[0] for row in cursor.fetchall()}
    return [table for table in tables if table not in have]


def data_version() -> str | None:
    """The version of the data, read in one statement; None when it cannot be read."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT (SELECT generation FROM core_datageneration WHERE id = 1), "
                "(SELECT count(*) FROM core_datachange)"
            )
        elif connection.vendor == "sqlite":
            cursor.execute("SELECT generation, changes FROM core_datageneration WHERE id = 1")
        else:
            return None
        row = cursor.fetchone()
    if row is None or row[0] is None:
        return None
    return f"{row[0]}.{row[1]}"


def data_changes_prune(*, above: int = 5000) -> int:
    """Empty `DataChange` once it holds more than `above` rows; returns the rows removed.

    The generation moves in the same transaction, so the version after is one never seen before
    (every kept page is built again once)."""
    from django.db import transaction
    from django.db.models import F

    from core.models import DataChange, DataGeneration

    if connection.vendor != "postgresql" or DataChange.objects.count() <= above:
        return 0
    with transaction.atomic():
        removed, _ = DataChange.objects.all().delete()
        DataGeneration.objects.filter(pk=1).update(generation=F("generation") + 1)
    return removed


def _csrf_digest(request: HttpRequest) -> str:
    secret = request.META.get("CSRF_COOKIE") or ""
    return hashlib.sha256(secret.encode()).hexdigest()[:16] if secret else ""


def page_key(request: HttpRequest, version: str) -> str | None:
    user = request.user
    if not user.is_authenticated:
        return None
    csrf = _csrf_digest(request)
    if not csrf:  # the page would set a new CSRF cookie: build it
        return None
    verified = getattr(user, "is_verified", lambda: False)()
    match = request.resolver_match
    parts = [
        version,
        str(user.pk),
        "v" if verified else "-",
        csrf,
        match.view_name if match else "",
        request.get_full_path(),
        translation.get_language() or "",
        timezone.localdate().isoformat(),
    ]
    return "page:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _keepable(request: HttpRequest, response: HttpResponse) -> bool:
    return (
        response.status_code == 200
        and not response.streaming
        and response.get("Content-Type", "").startswith("text/html")
        and not response.cookies
        and all(header.lower() in PLAIN_HEADERS for header in response.headers)
    )


def cached_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Keep the view's page per user until the data version moves (see the module's docstring)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if (
            not settings.PAGE_CACHE
            or request.method != "GET"
            or request.headers.get("HX-Request")
            or len(messages.get_messages(request))
        ):
            return view(request, *args, **kwargs)
        version = data_version()
        key = page_key(request, version) if version is not None else None
        if key is None:
            return view(request, *args, **kwargs)
        store = caches["pages"]
        kept = store.get(key)
        if kept is not None:
            body, content_type = kept
            if NONCE_MARK in body:
                body = body.replace(NONCE_MARK, str(request.csp_nonce))  # type: ignore[attr-defined]
            get_token(request)  # the CSRF cookie's life is renewed as a built page renews it
            return HttpResponse(body, content_type=content_type)
        response = view(request, *args, **kwargs)
        if _keepable(request, response):
            body = response.content.decode(response.charset)
            nonce = getattr(request, "_csp_nonce", None)
            if isinstance(nonce, str) and nonce:
                body = body.replace(nonce, NONCE_MARK)
            store.set(key, (body, response["Content-Type"]), settings.PAGE_CACHE_SECONDS)
        return response

    return wrapped
