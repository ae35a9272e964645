"""Error tracking through the Sentry SDK (Sentry, GlitchTip or any compatible service).

Off unless SENTRY_DSN is set (config/settings/base.py). Nothing personal leaves: the SDK sends no
personal data (send_default_pii left off), no request bodies and no local variables, and
`scrub_event` then goes over every string of the event (messages, exception values, breadcrumbs,
request, contexts) and removes IBANs, e-mail addresses, the acting user's names and the names of
the files uploaded in the request, and the values of keys that name such data. The request id is
a tag, so an error leads to the log lines of its request.
"""

import re
from typing import Any

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.integrations.logging import LoggingIntegration

from core import log_context

FILTERED = "[Filtered]"

# An IBAN, written in one block or in groups of four (FR76 3000 6000 0112 3456 7890 189).
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ \u00a0]?[A-Z0-9]{4}){2,7}(?:[ \u00a0]?[A-Z0-9]{1,4})?\b")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# Keys whose value is personal whatever it looks like (request data, extra, contexts, local names).
_SENSITIVE_KEY = re.compile(
    r"iban|bic|e-?mail|first_?name|last_?name|full_?name|username|prenom|nom_|^nom$|filename|file_name|"
    r"password|passwd|secret|token|authorization|cookie|session|csrf|phone|telephone|address|adresse",
    re.IGNORECASE,
)
# What the SDK itself writes under keys that look sensitive but are not (its own settings).
_SAFE_KEYS = frozenset({"sentry.sdk", "session_id"})


def _known_strings() -> list[str]:
    """The personal strings of the request being handled: its user's names and its files' names."""
    return [value for value in _request_strings() if len(value) >= 3]


def _request_strings() -> list[str]:
    from config.observability.middleware import current_request

    request = current_request()
    if request is None:
        return []
    strings: list[str] = []
    user = getattr(request, "_cached_user", None)
    if user is not None and getattr(user, "is_authenticated", False):
        strings += [user.first_name, user.last_name, user.get_full_name(), user.email]
    # Only files already read by the view: reading the body here could fail or be slow.
    files = getattr(request, "_files", None)
    if files is not None:
        for uploaded in files.values():
            name = uploaded.name or ""
            strings += [name, name.rsplit("/", 1)[-1], name.rsplit(".", 1)[0]]
    return [s for s in strings if s]


def _scrub_string(value: str, known: list[str]) -> str:
    value = _IBAN.sub(FILTERED, value)
    value = _EMAIL.sub(FILTERED, value)
    for secret in known:
        value = re.sub(re.escape(secret), FILTERED, value, flags=re.IGNORECASE)
    return value


def _scrub(value: Any, known: list[str]) -> Any:
    if isinstance(value, str):
        return _scrub_string(value, known)
    if isinstance(value, dict):
        return {
            key: (
                FILTERED
                if isinstance(key, str) and key not in _SAFE_KEYS and _SENSITIVE_KEY.search(key) and item
                else _scrub(item, known)
            )
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_scrub(item, known) for item in value]
    return value


def scrub_event(event: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """`before_send` (and `before_send_transaction`): the event as it may leave."""
    known = sorted(set(_known_strings()), key=len, reverse=True)
    # The user is named by id only (never the e-mail, the name or the address).
    user = event.get("user") or {}
    user_id = user.get("id") or log_context.user_id_var.get()
    event["user"] = {"id": str(user_id)} if user_id else {}
    request = event.get("request")
    if isinstance(request, dict):
        request.pop("data", None)
        request.pop("cookies", None)
        request.pop("env", None)
    scrubbed: dict[str, Any] = _scrub(event, known)
    scrubbed["user"] = event["user"]
    tags = scrubbed.setdefault("tags", {})
    request_id = log_context.current_request_id()
    if request_id and isinstance(tags, dict):
        tags["request_id"] = request_id
    for name in ("reference", "task"):
        value = getattr(log_context, f"{name}_var").get()
        if value and isinstance(tags, dict):
            tags[name] = value
    return scrubbed


def scrub_breadcrumb(crumb: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    result: dict[str, Any] = _scrub(crumb, sorted(set(_known_strings()), key=len, reverse=True))
    return result


def sentry_init(*, dsn: str, environment: str, release: str, traces_sample_rate: float) -> None:
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or None,
        integrations=[DjangoIntegration(), CeleryIntegration(), LoggingIntegration()],
        # send_default_pii stays at its default, off (naming it at all is deprecated in 2.76):
        # no user e-mail, IP address, cookies or SQL parameters. No request bodies, no local variables.
        include_local_variables=False,
        max_request_body_size="never",
        before_send=scrub_event,  # type: ignore[arg-type]
        before_send_transaction=scrub_event,  # type: ignore[arg-type]
        before_breadcrumb=scrub_breadcrumb,
        traces_sample_rate=traces_sample_rate,
    )
