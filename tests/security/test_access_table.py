"""The access table: every URL of the portal, seven actors, the answer each must get.

The test walks the project's resolver (through every include), so a new URL without a row in
TABLE fails (« add it to the access table »), and a row whose URL is gone fails too. Each URL is
opened, without following redirects, by seven actors around one dossier D:

- anonymous;
- applicant A, member (legal representative) of the lead structure of D, an awarded dossier in the
  Gers (département 32, région Occitanie) with its grant, agreement, tranches, an attachment, the
  receipt of its submission, its award letter, a yearly report, an amendment, a termination
  document, an expert opinion asked (still open, with a file) and an invitation;
- applicant B, with a structure and a dossier of their own;
- an instructor in scope (Occitanie, and assigned to D);
- an instructor out of scope (Île-de-France, région 11);
- a programme admin;
- an expert, asked for their opinion on D (the request open): they see D only through their own
  space (« Mes demandes d'avis »), and lose it once the request is given or cancelled
  (test_the_expert_loses_dossier_d_once_the_request_is_given).

Expectations: an HTTP code, LOGIN (a 302 to the login page) or REDIRECT (a 302 anywhere else: an
action done, or refused with a message). Rows made with POST(...) are POST-only views: their GET
must answer 405 (or the same refusal as the POST), and the POST, sent without valid data, must
answer as the row says. Whenever an actor is refused (LOGIN, 403, 404), the test also checks
that the request wrote nothing, and, for a GET row, that a POST to the same address is refused
the same way (or 405).

Where an observed answer is not what a secure portal must give, the row keeps the secure answer:
that test fails until the view is fixed.
"""

import hashlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.core.files.base import ContentFile
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.views import static

from accounts.models import User
from allocation.services import scenario_compute_request
from api.services import api_token_create
from applications.models import Application, Member, StatusChange
from applications.services import access_accept, access_invite
from applications.services.committee import committee_pdf_request
from applications.services.exports import dossier_export_build, dossier_export_create
from applications.services.labels import application_labels_set, label_create
from applications.services.messaging import FileUpload
from applications.services.review import message_post, opinion_give, opinion_request
from applications.services.saved_views import saved_view_create
from fabriques.models import Region
from fabriques.services import instructor_scope_set
from grants.export_jobs import export_job_build, export_job_create
from grants.models import Agreement, Amendment, CommitteeItem, CommitteeSession, Grant, Report, Tranche
from grants.services import application_award
from grants.services.committees import committee_create, committee_members_set
from grants.services.exports import pdf_summary_request
from grants.services.open_data import open_data_publish_all
from grants.services.payments import tranche_request
from grants.services.reports import report_upload
from notifications.models import Document, Notification, Status
from tests.factories import (
    PDF_BYTES,
    UserFactory,
    applicant,
    close_response,
    complete_application,
    in_review_application,
    instructor,
    programme_admin,
)

pytestmark = pytest.mark.django_db

ACTORS = ("anonymous", "applicant_a", "applicant_b", "instructor_in", "instructor_out", "admin", "expert")

LOGIN = "login"  # a 302 to the login page
REDIRECT = "redirect"  # a 302 anywhere else
REFUSALS = (LOGIN, 401, 403, 404)

IBAN = "FR76 3000 6000 0112 3456 7890 189"


# --- the table ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    method: str
    codes: tuple[Any, ...]
    # The read API's rows: each logged-in actor calls with a bearer token issued to them (and no
    # session), anonymous with none.
    token: bool = False

    def __post_init__(self) -> None:
        assert len(self.codes) == len(ACTORS), f"{self.codes}: one expectation per actor {ACTORS}"


def GET(*codes: Any) -> Row:  # named as the HTTP verb: the table reads GET(...)
    return Row("GET", codes)


def POST(*codes: Any) -> Row:
    return Row("POST", codes)


def API_GET(*codes: Any) -> Row:
    return Row("GET", codes, token=True)


EVERYONE_200 = GET(200, 200, 200, 200, 200, 200, 200)
APPLICANTS_ONLY = GET(LOGIN, 200, 200, 403, 403, 403, 403)
# A's dossier in the applicant's space: B gets a 404 (scoped queryset), other roles a 403.
A_DOSSIER_PAGE = GET(LOGIN, 200, 404, 403, 403, 403, 403)
# A's dossier's files, open to whoever sees the dossier: the beneficiary and its territory's team.
A_DOSSIER_FILE = GET(LOGIN, 200, 404, 200, 404, 200, 404)
REVIEW_PAGE = GET(LOGIN, 403, 403, 200, 404, 200, 403)
ADMIN_ONLY = GET(LOGIN, 403, 403, 403, 403, 200, 403)
# Logged-in users are sent on to the home page of their role.
ANONYMOUS_ONLY = GET(200, REDIRECT, REDIRECT, REDIRECT, REDIRECT, REDIRECT, REDIRECT)

#        anonymous, applicant A, applicant B, instructor in, instructor out, admin, expert
TABLE: dict[str, Row] = {
    # Project-wide pages: public.
    "core:home": EVERYONE_200,
    "core:legal-notice": EVERYONE_200,
    "core:personal-data": EVERYONE_200,
    "core:accessibility": EVERYONE_200,
    "healthz": EVERYONE_200,
    "healthz-live": EVERYONE_200,
    "healthz-ready": EVERYONE_200,
    # Neither a token nor an allowed network (both empty here): a 404 for everyone, even the admin
    # (tests/config/test_metrics.py opens it with them).
    "metrics": GET(404, 404, 404, 404, 404, 404, 404),
    # Accounts.
    "accounts:login": ANONYMOUS_ONLY,
    "accounts:logout": POST(
        REDIRECT, REDIRECT, REDIRECT, REDIRECT, REDIRECT, REDIRECT, REDIRECT
    ),  # to core:home
    "accounts:sign-up": ANONYMOUS_ONLY,
    "accounts:sign-up-done": EVERYONE_200,
    # A wrong token on an unconfirmed account: the « invalid link » page, for everyone.
    "accounts:confirm-email": GET(400, 400, 400, 400, 400, 400, 400),
    "accounts:home": GET(LOGIN, REDIRECT, REDIRECT, REDIRECT, REDIRECT, REDIRECT, REDIRECT),
    "accounts:password-reset": EVERYONE_200,
    "accounts:password-reset-done": EVERYONE_200,
    # A wrong token: Django's page says the link is invalid (200, no form).
    "accounts:password-reset-confirm": EVERYONE_200,
    "accounts:password-reset-complete": EVERYONE_200,
    # Every logged-in actor here has given the second factor (instructors, admin) or owes none.
    "accounts:security": GET(LOGIN, 200, 200, 200, 200, 200, 200),
    "accounts:two-factor-verify": GET(
        LOGIN, REDIRECT, REDIRECT, REDIRECT, REDIRECT, REDIRECT, REDIRECT
    ),  # to next
    "accounts:two-factor-setup": GET(LOGIN, 200, 200, 200, 200, 200, 200),
    # Without codes just created in the session: to the security page.
    "accounts:two-factor-backup-codes": GET(
        LOGIN, REDIRECT, REDIRECT, REDIRECT, REDIRECT, REDIRECT, REDIRECT
    ),
    "accounts:two-factor-backup-codes-new": POST(
        LOGIN, REDIRECT, REDIRECT, REDIRECT, REDIRECT, REDIRECT, REDIRECT
    ),
    # ProConnect (accounts/proconnect.py), off in these tests as by default: 404 for everyone.
    # Switched on, tests/accounts/test_proconnect.py checks each address by actor.
    "accounts:proconnect-login": GET(404, 404, 404, 404, 404, 404, 404),
    "accounts:proconnect-callback": GET(404, 404, 404, 404, 404, 404, 404),
    "accounts:proconnect-logout": POST(404, 404, 404, 404, 404, 404, 404),
    "accounts:proconnect-logged-out": GET(404, 404, 404, 404, 404, 404, 404),
    # Structures (the applicant's space).
    "fabriques:organisation-list": APPLICANTS_ONLY,
    "fabriques:organisation-create": APPLICANTS_ONLY,
    "fabriques:organisation-detail": A_DOSSIER_PAGE,  # D's lead structure
    # The applicant's space.
    "applications:applicant-home": APPLICANTS_ONLY,
    "applications:dossier-list": APPLICANTS_ONLY,
    "applications:dossier-create": APPLICANTS_ONLY,
    "applications:dossier-detail": A_DOSSIER_PAGE,
    "applications:dossier-project": A_DOSSIER_PAGE,
    "applications:dossier-places": A_DOSSIER_PAGE,
    "applications:dossier-budget": A_DOSSIER_PAGE,
    "applications:dossier-submit": POST(LOGIN, REDIRECT, 404, 403, 403, 403, 403),  # refused: already decided
    "applications:dossier-withdraw": A_DOSSIER_PAGE,
    "applications:dossier-access": A_DOSSIER_PAGE,
    # An invitation to D already accepted by another account: refused to anyone else.
    "applications:access-accept": GET(LOGIN, 404, 404, 404, 404, 404, 404),
    "applications:dossier-consortium": A_DOSSIER_PAGE,
    # D is decided: A's consortium changes are refused (page with the alert, or a redirect).
    "applications:member-add": POST(LOGIN, 200, 404, 403, 403, 403, 403),
    "applications:member-remove": POST(LOGIN, REDIRECT, 404, 403, 403, 403, 403),
    "applications:member-update": POST(LOGIN, REDIRECT, 404, 403, 403, 403, 403),
    "applications:dossier-documents": A_DOSSIER_PAGE,
    "applications:attachment-download": A_DOSSIER_FILE,
    "applications:attachment-remove": POST(LOGIN, REDIRECT, 404, 403, 403, 403, 403),
    "applications:issued-document": A_DOSSIER_FILE,  # D's award letter
    "applications:dossier-messages": A_DOSSIER_PAGE,
    # A file of D's thread: whoever sees D (its applicants, its territory's instruction, admins).
    "applications:message-file": A_DOSSIER_FILE,
    # The instruction space.
    "applications:instructor-home": GET(LOGIN, 403, 403, 200, 200, 200, 403),
    # Saved views (« Mes vues »): W is the in-scope instructor's; anyone else's id is a 404.
    "applications:saved-view-list": GET(LOGIN, 403, 403, 200, 200, 200, 403),
    "applications:saved-view-create": POST(LOGIN, 403, 403, 200, 200, 200, 403),  # no name: the form's error
    "applications:saved-view-open": GET(LOGIN, 403, 403, REDIRECT, 404, 404, 403),
    "applications:saved-view-rename": GET(LOGIN, 403, 403, 200, 404, 404, 403),
    "applications:saved-view-delete": POST(LOGIN, 403, 403, 200, 404, 404, 403),  # the recap
    # « Écrire aux porteurs » of the list as filtered (always within the instructor's scope).
    "applications:broadcast-compose": GET(LOGIN, 403, 403, 200, 200, 200, 403),
    "applications:review-detail": REVIEW_PAGE,
    # The list's export: each in their own scope (an empty file out of D's territory).
    "applications:workspace-export": GET(LOGIN, 403, 403, 200, 200, 200, 403),
    # Posted without filters: the first tab's export, built in the background (its page).
    "applications:workspace-export-start": POST(LOGIN, 403, 403, REDIRECT, REDIRECT, REDIRECT, 403),
    # The admin's own background export: no one else's, even in the instruction.
    "applications:export-job": GET(LOGIN, 403, 403, 404, 404, 200, 403),
    "applications:export-job-status": GET(LOGIN, 403, 403, 404, 404, 200, 403),
    "applications:export-job-download": GET(LOGIN, 403, 403, 404, 404, 200, 403),
    # D's files as one ZIP: the staff who review D.
    "applications:review-archive": REVIEW_PAGE,
    # D's committee PDF shows every scoring: to those who see the others' scores (the admin; D's
    # instructor has handed in nothing: the refusal as a message, and a 404 on the admin's PDF).
    "applications:review-committee": POST(LOGIN, 403, 403, REDIRECT, 404, REDIRECT, 403),
    "applications:review-committee-document": GET(LOGIN, 403, 403, 404, 404, 200, 403),
    "applications:review-committee-status": GET(LOGIN, 403, 403, 404, 404, 200, 403),
    "applications:review-committee-download": GET(LOGIN, 403, 403, 404, 404, 200, 403),
    # The instruction's actions, posted without valid data: the page with the form's errors, or a
    # redirect with the service's refusal as a message.
    "applications:review-assign": POST(LOGIN, 403, 403, REDIRECT, 404, REDIRECT, 403),
    "applications:review-conflict": POST(LOGIN, 403, 403, 200, 404, 404, 403),  # the admin is not assigned
    # No box ticked: the page with the error (as a message: D is decided); the admin is not assigned.
    "applications:review-attest": POST(LOGIN, 403, 403, 200, 404, 404, 403),
    # D is no longer in review: the instructor's scores are refused with a message.
    "applications:review-scores": POST(LOGIN, 403, 403, REDIRECT, 404, 404, 403),  # the admin is not assigned
    "applications:review-eligibility": POST(LOGIN, 403, 403, 200, 404, 200, 403),
    "applications:review-opinion-request": POST(LOGIN, 403, 403, 200, 404, 200, 403),
    "applications:review-annotate": POST(LOGIN, 403, 403, 200, 404, 200, 403),
    "applications:review-message": POST(LOGIN, 403, 403, 200, 404, 200, 403),
    "applications:review-corrections": POST(LOGIN, 403, 403, 200, 404, 200, 403),
    # Moving a dossier to another département is the admins' (form, recap, confirmation).
    "applications:review-territory": ADMIN_ONLY,
    # D's labels, posted with none ticked: D's label is taken off (the instruction in scope, admins).
    "applications:review-labels": POST(LOGIN, 403, 403, REDIRECT, 404, REDIRECT, 403),
    # A call's labels: the programme admins' (posted empty: the form's errors; deleting: the recap).
    "applications:label-list": ADMIN_ONLY,
    "applications:label-update": ADMIN_ONLY,
    "applications:label-delete": POST(LOGIN, 403, 403, 403, 403, 200, 403),
    # The consulted service's page, by the token of its e-mail: no account.
    # The invitation's link: its expert is led in (their account has no password yet: to choosing
    # one, as anyone holding the e-mail would be); anyone else logged in gets a 404.
    "applications:opinion-give": GET(REDIRECT, 404, 404, 404, 404, 404, REDIRECT),
    # The expert's space: the expert and the instruction's accounts (who may be asked too);
    # the request and D's files only to the expert it was asked of, while it is open.
    "applications:expert-home": GET(LOGIN, 403, 403, 200, 200, 200, 200),
    "applications:expert-request": GET(LOGIN, 403, 403, 404, 404, 404, 200),
    "applications:expert-attachment": GET(LOGIN, 403, 403, 404, 404, 404, 200),
    # A file of the request: D's instruction and its expert (confidential: never D's applicants).
    "applications:opinion-file": GET(LOGIN, 404, 404, 200, 404, 200, 200),
    # Relancer / Annuler (no reason given: refused with a message) by D's instruction.
    "applications:review-opinion-remind": POST(LOGIN, 403, 403, REDIRECT, 404, REDIRECT, 403),
    "applications:review-opinion-cancel": POST(LOGIN, 403, 403, REDIRECT, 404, REDIRECT, 403),
    # Decisions.
    "grants:review-decide": POST(LOGIN, 403, 403, REDIRECT, 404, REDIRECT, 403),  # no decision chosen
    # Reopening is the admins' (the service's PermissionDenied); the admin gave no reason.
    "grants:review-reopen": POST(LOGIN, 403, 403, 403, 404, 200, 403),
    "grants:review-bulk": GET(LOGIN, 403, 403, 200, 200, 200, 403),  # each sees their own territory
    # Steering.
    "grants:admin-home": ADMIN_ONLY,
    "grants:dashboard": ADMIN_ONLY,
    # The envelope delegated to régions and départements: set by programme admins only.
    "grants:sub-envelopes": ADMIN_ONLY,
    # A call's processing times: the whole call for admins, each instructor's territory for them.
    "grants:processing-times": GET(LOGIN, 403, 403, 200, 200, 200, 403),
    "grants:public-summary": EVERYONE_200,
    # Committee sessions: programme admins; the in-scope instructor is invited to the session S, the
    # other sees no session (a 404 on S, an empty list). Every write is the admins'.
    "grants:committee-list": GET(LOGIN, 403, 403, 200, 200, 200, 403),
    "grants:committee-detail": GET(LOGIN, 403, 403, 200, 404, 200, 403),
    "grants:committee-move": POST(LOGIN, 403, 403, 403, 403, REDIRECT, 403),  # no step chosen
    "grants:committee-members": POST(LOGIN, 403, 403, 403, 403, 200, 403),  # no member: the form's error
    "grants:committee-attendance": POST(LOGIN, 403, 403, 403, 403, REDIRECT, 403),  # refused: in preparation
    "grants:committee-agenda-build": POST(LOGIN, 403, 403, 403, 403, REDIRECT, 403),  # refused: no dossier
    "grants:committee-agenda-add": POST(
        LOGIN, 403, 403, 403, 403, 200, 403
    ),  # no reference: the form's error
    "grants:committee-item": GET(LOGIN, 403, 403, 200, 404, 200, 403),
    "grants:committee-apply": POST(LOGIN, 403, 403, 403, 403, REDIRECT, 403),  # refused: not in session
    "grants:committee-minutes": GET(LOGIN, 403, 403, 200, 404, 200, 403),
    # Exports (admins), and the public laureates.
    "grants:export-index": ADMIN_ONLY,
    "grants:export-open-data": ADMIN_ONLY,
    "grants:export-csv": ADMIN_ONLY,
    "grants:export-xlsx-start": POST(LOGIN, 403, 403, 403, 403, REDIRECT, 403),
    "grants:export-pdf-start": POST(LOGIN, 403, 403, 403, 403, REDIRECT, 403),
    "grants:export-job": ADMIN_ONLY,  # the admin's own job
    "grants:export-job-status": ADMIN_ONLY,
    "grants:export-job-download": ADMIN_ONLY,
    "grants:export-pdf": ADMIN_ONLY,
    "grants:export-pdf-status": ADMIN_ONLY,
    "grants:export-pdf-download": ADMIN_ONLY,
    "grants:export-laureates": EVERYONE_200,
    # The open data: the page, each call's published files, the payments' schema; public.
    "grants:open-data": EVERYONE_200,
    "grants:open-data-payments-schema": EVERYONE_200,
    "grants:open-data-subsidies-csv": EVERYONE_200,
    "grants:open-data-subsidies-json": EVERYONE_200,
    "grants:open-data-payments-csv": EVERYONE_200,
    "grants:open-data-payments-json": EVERYONE_200,
    "grants:open-data-scheme-json": EVERYONE_200,
    # The beneficiary's grant page and its forms (no valid data: the page with the form's errors).
    "grants:tranche-grant": A_DOSSIER_PAGE,
    "grants:tranche-request": POST(LOGIN, 200, 404, 403, 403, 403, 403),
    "grants:tranche-request-pdf": A_DOSSIER_FILE,
    "grants:report-upload": POST(LOGIN, 200, 404, 403, 403, 403, 403),
    "grants:report-download": A_DOSSIER_FILE,
    # The instruction's grant page and its actions.
    "grants:tranche-manage": REVIEW_PAGE,
    # Validates D's requested tranche (the instructor), then refuses it as already validated.
    "grants:tranche-validate": POST(LOGIN, 403, 403, REDIRECT, 404, REDIRECT, 403),
    "grants:tranche-pay": POST(LOGIN, 403, 403, 403, 403, 200, 403),
    "grants:tranche-cancel": POST(LOGIN, 403, 403, 403, 403, 200, 403),
    "grants:tranche-schedule": POST(LOGIN, 403, 403, 403, 403, 200, 403),
    "grants:report-review": POST(LOGIN, 403, 403, 200, 404, 200, 403),
    # Agreements: whoever sees the dossier sees its agreement; the programme's actions are admins'.
    "grants:agreement-list": GET(LOGIN, 200, 200, 200, 200, 200, 200),  # each sees their own
    "grants:agreement-detail": A_DOSSIER_FILE,
    "grants:agreement-download": A_DOSSIER_FILE,
    # Posted without the box ticked / without a file: the page with the form's error.
    "grants:agreement-accept": POST(LOGIN, 200, 404, 200, 404, 200, 404),
    "grants:agreement-signed-copy": POST(LOGIN, 200, 404, 200, 404, 200, 404),
    "grants:agreement-signed-copy-download": A_DOSSIER_FILE,
    "grants:agreement-termination-download": A_DOSSIER_FILE,
    "grants:agreement-amendment-download": A_DOSSIER_FILE,
    "grants:agreement-activate": POST(LOGIN, 403, 403, 403, 403, 200, 403),  # no commitment number
    "grants:agreement-complete": POST(LOGIN, 403, 403, 403, 403, REDIRECT, 403),  # refused: not active
    "grants:agreement-terminate": ADMIN_ONLY,
    "grants:agreement-amend": ADMIN_ONLY,
    # The notification centre: everyone's own; a notification of A's (a message of D's thread)
    # opens for A only (marked read, then its link), a 404 for anyone else.
    "notifications:centre": GET(LOGIN, 200, 200, 200, 200, 200, 200),
    "notifications:open": GET(LOGIN, REDIRECT, 404, 404, 404, 404, 404),
    "notifications:mark-all-read": POST(LOGIN, REDIRECT, REDIRECT, REDIRECT, REDIRECT, REDIRECT, REDIRECT),
    "accounts:notification-preferences": GET(LOGIN, 200, 200, 200, 200, 200, 200),
    # « Mon compte » : each person downloads their own data (the zip holds nobody else's).
    "retention:personal-data-download": POST(LOGIN, 200, 200, 200, 200, 200, 200),
    # Allocation scenarios: the programme admins' (the two forms, a scenario, its comparison).
    "allocation:scenario-list": ADMIN_ONLY,
    "allocation:scenario-compute": ADMIN_ONLY,
    "allocation:scenario-build": ADMIN_ONLY,
    "allocation:scenario-detail": ADMIN_ONLY,
    "allocation:scenario-compare": ADMIN_ONLY,
    # Its dossiers onto a committee session's agenda (a recap first; the scenario of the table failed).
    "allocation:scenario-agenda": ADMIN_ONLY,
    # The read API (api/v1.py): its root is no page; the schema, its documentation page, the calls
    # and the laureates are public; the rest answers with a token what its user sees in the portal
    # (JSON 401 without one; an expert's role reads no dossier there: 403).
    "api:api-root": GET(404, 404, 404, 404, 404, 404, 404),
    "api:openapi-json": EVERYONE_200,
    "api:openapi-view": EVERYONE_200,
    "api:call-list": API_GET(200, 200, 200, 200, 200, 200, 200),
    "api:call-detail": API_GET(200, 200, 200, 200, 200, 200, 200),
    "api:laureate-list": API_GET(200, 200, 200, 200, 200, 200, 200),
    "api:dossier-list": API_GET(401, 200, 200, 200, 200, 200, 403),
    "api:dossier-detail": API_GET(401, 200, 404, 200, 404, 200, 403),
    "api:grant-list": API_GET(401, 200, 200, 200, 200, 200, 403),
    "api:tranche-list": API_GET(401, 200, 200, 200, 200, 200, 403),
    "api:payment-list": API_GET(401, 200, 200, 200, 200, 200, 403),
    # The tokens' page (programme admins); the admin's revocation goes back to it.
    "api-tokens:token-list": ADMIN_ONLY,
    "api-tokens:token-revoke": POST(LOGIN, 403, 403, 403, 403, REDIRECT, 403),
}

# Namespaces that are not the project's own pages. Only "admin" is mounted today; the others are
# listed so that mounting them later does not silently add untested pages.
SKIPPED_NAMESPACES = {
    "admin": "the Django admin site (settings.ADMIN_URL): staff only, its own permission checks",
    "dsfr": "django-dsfr's example pages, if ever included",
    "djdt": "django-debug-toolbar, development only",
}
# Static and media files are served by whitenoise, not by a URL pattern; a pattern serving them
# with django.views.static.serve would be skipped.
SKIPPED_VIEWS = (static.serve,)


# --- the walk ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pattern:
    name: str
    route: str
    kwargs: tuple[str, ...]


def walk(
    resolver: URLResolver, prefix: str = "", namespace: str = "", kwargs: tuple[str, ...] = ()
) -> Iterator[Pattern | str]:
    """Every pattern under `resolver`, with its full route and namespaced name; yields the name of
    each skipped namespace as a plain string."""
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        names = kwargs + tuple(entry.pattern.regex.groupindex)
        if isinstance(entry, URLResolver):
            if entry.namespace in SKIPPED_NAMESPACES:
                yield entry.namespace
                continue
            inner = ":".join(part for part in (namespace, entry.namespace) if part)
            yield from walk(entry, route, inner, names)
        elif isinstance(entry, URLPattern):
            if getattr(entry.callback, "__wrapped__", entry.callback) in SKIPPED_VIEWS:
                continue
            if entry.name is None:
                name = f"<unnamed> {route}"
            else:
                name = f"{namespace}:{entry.name}" if namespace else entry.name
            yield Pattern(name=name, route=route, kwargs=names)


def project_patterns() -> dict[str, list[Pattern]]:
    found: dict[str, list[Pattern]] = {}
    for item in walk(get_resolver()):
        if isinstance(item, Pattern):
            found.setdefault(item.name, []).append(item)
    return found


def skipped_namespaces() -> set[str]:
    return {item for item in walk(get_resolver()) if isinstance(item, str)}


PATTERNS = project_patterns()


# --- the world: dossier D and the six actors ---------------------------------------------------


def produced(document: Document) -> Document:
    """Give a pending document its PDF, as the document task would (without WeasyPrint)."""
    document.file.save(f"document-{document.pk}.pdf", ContentFile(PDF_BYTES), save=False)
    document.sha256 = hashlib.sha256(PDF_BYTES).hexdigest()
    document.size = len(PDF_BYTES)
    document.status = Status.DONE
    document.rendered_at = timezone.now()
    document.save()
    return document


def pdf_document(key: str, kind: str) -> Document:
    document = Document.objects.create(
        key=key, kind=kind, template_name="pdf/test.html", filename=f"{kind}.pdf"
    )
    return produced(document)


class World:
    def __init__(self) -> None:
        application, reviewer = in_review_application()
        self.applicant_a: User = application.created_by
        self.instructor_in: User = reviewer
        self.admin: User = programme_admin()
        self.instructor_out: User = instructor()
        instructor_scope_set(
            instructor=self.instructor_out, regions=[Region.objects.get(code="11")], actor=None
        )
        self.applicant_b: User = applicant()
        self.dossier_b = complete_application(applicant_user=self.applicant_b)

        # Asked while D is in review.
        # Asked while D is in review, still open: the expert's account is created by the request.
        self.opinion = opinion_request(
            application=application,
            email="ddt@gers.gouv.fr",
            organisation_name="DDT du Gers",
            question="Quel est votre avis sur ce projet ?",
            files=[FileUpload(file=io.BytesIO(PDF_BYTES), name="note-de-cadrage.pdf")],
            actor=reviewer,
        )
        self.expert: User = self.opinion.expert
        self.opinion_file = self.opinion.request_files.get()
        self.grant: Grant = application_award(
            application=application, amount=Decimal("150000"), actor=reviewer
        )
        application.refresh_from_db()
        self.application: Application = application
        assert application.departement_id == "32" and application.status == Application.Status.AWARDED

        # The agreement, signed, with its signed copy.
        agreement = Agreement.objects.get(grant=self.grant)
        agreement.status = Agreement.Status.SIGNED
        agreement.signed_at = timezone.now()
        agreement.commitment_number = "2103987654"
        agreement.signed_copy.save("signee.pdf", ContentFile(PDF_BYTES), save=False)
        agreement.signed_copy_sha256 = hashlib.sha256(PDF_BYTES).hexdigest()
        agreement.save()
        self.agreement = agreement

        # The first tranche requested (its payment request), a yearly report.
        tranche_request(tranche=self.tranche(1), iban=IBAN, actor=self.applicant_a)
        self.report: Report = report_upload(
            grant=self.grant,
            year_index=1,
            kind="activity",
            file=io.BytesIO(PDF_BYTES),
            filename="rapport-activite-1.pdf",
            actor=self.applicant_a,
        )
        self.amendment = Amendment.objects.create(
            grant=self.grant,
            number=1,
            previous_amount=self.grant.amount,
            new_amount=self.grant.amount,
            yearly=[str(t.amount) for t in self.grant.tranches.order_by("year_index")],
            reason="Avenant de test.",
            decided_by=self.admin,
            document=pdf_document(f"amendment:{self.grant.pk}:1", "amendment"),
        )
        # The termination decision's document, looked up by its key (the agreement stays signed).
        pdf_document(f"agreement:{agreement.pk}:termination", "termination")

        # An invitation to D, already accepted by the person it was sent to.
        access = access_invite(
            application=application, email="invitee@exemple.fr", permission="view", actor=self.applicant_a
        )
        access_accept(token=access.token, user=applicant(email="invitee@exemple.fr"))
        self.access_token = access.token

        # Every document asked so far (receipt, letter, agreement, payment request) is produced.
        for document in Document.objects.filter(status=Status.PENDING):
            produced(document)

        # A label of D's call, on D.
        self.label = label_create(
            call=application.call, name="Comité de mars", colour="pink-tuile", actor=self.admin
        )
        application_labels_set(application=application, labels=[self.label], actor=reviewer)
        # A saved view of the in-scope instructor's list.
        self.saved_view = saved_view_create(name="Mes dossiers", query="assigned=me", actor=reviewer)

        self.lead_member: Member = application.members.select_related("organisation").get(is_lead=True)
        self.attachment = application.attachments.order_by("pk").first()
        # A message of D's thread with a file.
        self.message_file = message_post(
            application=application,
            body="Le compte rendu du comité.",
            files=[FileUpload(file=io.BytesIO(PDF_BYTES), name="compte-rendu.pdf")],
            actor=reviewer,
        ).files.get()
        self.letter_change: StatusChange = application.status_changes.get(
            to_status=Application.Status.AWARDED, document__isnull=False
        )
        self.unconfirmed: User = UserFactory(unconfirmed=True)

    def tranche(self, year: int) -> Tranche:
        return Tranche.objects.get(grant=self.grant, year_index=year)

    def user(self, actor: str) -> User | None:
        return None if actor == "anonymous" else getattr(self, actor)

    # Built only for the URLs that need them.

    @cached_property
    def xlsx_job_id(self) -> str:
        job = export_job_create(call=self.application.call, actor=self.admin)
        export_job_build(job_id=job.pk)
        return str(job.pk)

    @cached_property
    def dossier_export_id(self) -> str:
        job = dossier_export_create(
            file_format="csv", query="tab=decides", statuses=["awarded"], actor=self.admin
        )
        dossier_export_build(job_id=job.pk)
        return str(job.pk)

    @cached_property
    def committee_pdf(self) -> Document:
        return produced(committee_pdf_request(application=self.application, actor=self.admin))

    @cached_property
    def committee_session(self) -> CommitteeSession:
        """Session S of D's call, in preparation, with the in-scope instructor invited, D on its
        agenda (put there directly: D is decided already) and its minutes produced."""
        session = committee_create(
            call=self.application.call,
            wave=None,
            title="Comité de sélection de mars",
            starts_at=timezone.now(),
            place="Paris",
            actor=self.admin,
        )
        committee_members_set(session=session, users=[self.admin, self.instructor_in], actor=self.admin)
        CommitteeItem.objects.create(
            session=session,
            application=self.application,
            rank=1,
            score=Decimal("80"),
            asked=Decimal("150000"),
            proposed=Decimal("150000"),
            proposed_yearly=["50000.00", "50000.00", "50000.00"],
        )
        session.minutes = pdf_document(f"committee:{session.pk}:minutes", "committee-minutes")
        session.save(update_fields=["minutes"])
        return session

    @cached_property
    def scenario_id(self) -> str:
        scenario = scenario_compute_request(
            call=self.application.call,
            wave=None,
            name="Couverture d'abord",
            order=["coverage", "priority", "score"],
            min_score=None,
            target=None,
            reducible=False,
            actor=self.admin,
        )
        return str(scenario.pk)

    @cached_property
    def open_data_id(self) -> str:
        """The call's open-data files, published (every one valid), under its stable identifier."""
        call = self.application.call
        assert open_data_publish_all(actor=None, calls=[call]) == {"published": 5, "refused": 0}
        return str(call.open_data_id)

    @cached_property
    def api_token(self) -> Any:
        """A token of applicant A's, for the page that revokes it."""
        return api_token_create(user=self.applicant_a, name="Tableur", days=30, actor=self.admin).token

    def api_client(self, actor: str) -> Client:
        """A client that calls the read API with a token of the actor's (none for anonymous)."""
        user = self.user(actor)
        if user is None:
            return Client()
        secret = api_token_create(user=user, name="Accès", days=30, actor=None).secret
        return Client(headers={"Authorization": f"Bearer {secret}"})

    @cached_property
    def pdf_summary(self) -> Document:
        return produced(pdf_summary_request(call=self.application.call, actor=self.admin))


# How to fill each URL keyword, by its name; (URL name, keyword) for names that mean different
# things in different URLs (tokens).
KWARGS: dict[str, Callable[[World], Any]] = {
    "reference": lambda w: w.application.reference,
    "pk": lambda w: w.lead_member.organisation_id,  # fabriques:organisation-detail
    "member_id": lambda w: w.lead_member.pk,
    "attachment_id": lambda w: w.attachment.pk,
    "change_id": lambda w: w.letter_change.pk,
    "year": lambda w: 1,
    "kind": lambda w: "activity",
    "report_id": lambda w: w.report.pk,
    "number": lambda w: w.agreement.number,
    "amendment_number": lambda w: w.amendment.number,
    "slug": lambda w: w.application.call.slug,
    "rows": lambda w: "tranches",
    "job_id": lambda w: w.xlsx_job_id,
    "document_id": lambda w: w.pdf_summary.pk,
    "label_id": lambda w: w.label.pk,
    "file_format": lambda w: "csv",
    "export_id": lambda w: w.dossier_export_id,
    "view_id": lambda w: w.saved_view.pk,
    "file_id": lambda w: w.message_file.pk,
    "notification_id": lambda w: Notification.objects.filter(recipient=w.applicant_a).earliest("pk").pk,
    "opinion_id": lambda w: w.opinion.pk,
    "session_id": lambda w: w.committee_session.pk,
    "item_id": lambda w: w.committee_session.items.get().pk,
    "scenario_id": lambda w: w.scenario_id,
    "open_data_id": lambda w: w.open_data_id,
    "token_id": lambda w: w.api_token.pk,
}
KWARGS_BY_URL: dict[tuple[str, str], Callable[[World], Any]] = {
    ("accounts:confirm-email", "uidb64"): lambda w: urlsafe_base64_encode(force_bytes(w.unconfirmed.pk)),
    ("accounts:confirm-email", "token"): lambda w: "ce-jeton-est-faux",
    ("accounts:password-reset-confirm", "uidb64"): lambda w: urlsafe_base64_encode(
        force_bytes(w.applicant_a.pk)
    ),
    ("accounts:password-reset-confirm", "token"): lambda w: "ce-jeton-est-faux",
    ("applications:access-accept", "token"): lambda w: w.access_token,
    ("applications:opinion-give", "token"): lambda w: w.opinion.token,
    ("applications:opinion-file", "file_id"): lambda w: w.opinion_file.pk,
    ("applications:review-committee-document", "document_id"): lambda w: w.committee_pdf.pk,
    ("applications:review-committee-status", "document_id"): lambda w: w.committee_pdf.pk,
    ("applications:review-committee-download", "document_id"): lambda w: w.committee_pdf.pk,
}


# --- what the database holds, to see that a refused request wrote nothing ----------------------


def footprint() -> dict[str, Any]:
    """Row counts of every model of the project's apps, and the states that actions change."""
    prints: dict[str, Any] = {}
    for label in ("accounts", "fabriques", "applications", "grants", "allocation", "notifications"):
        for model in apps.get_app_config(label).get_models():
            prints[model._meta.label] = model._default_manager.count()
    prints["states"] = (
        list(Application.objects.order_by("pk").values_list("pk", "status", "updated_at")),
        list(Grant.objects.order_by("pk").values_list("pk", "status", "amount")),
        list(Tranche.objects.order_by("pk").values_list("pk", "status", "amount", "due_date")),
        list(Agreement.objects.order_by("pk").values_list("pk", "status", "signed_copy", "accepted_by")),
        list(Report.objects.order_by("pk").values_list("pk", "status")),
        list(Member.objects.order_by("pk").values_list("pk", "role", "share_percent")),
        list(User.objects.order_by("pk").values_list("pk", "is_active", "email_confirmed_at")),
    )
    return prints


# --- the checks --------------------------------------------------------------------------------


LOGIN_URL = resolve_url(settings.LOGIN_URL)


def describe(response: Any) -> str:
    if response.status_code in (301, 302, 303, 307, 308):
        return f"{response.status_code} → {response['Location']}"
    return str(response.status_code)


def matches(response: Any, expected: Any) -> bool:
    code = response.status_code
    if expected == LOGIN:
        return code == 302 and response["Location"].startswith(LOGIN_URL)
    if expected == REDIRECT:
        return code == 302 and not response["Location"].startswith(LOGIN_URL)
    return code == expected


def send(client: Client, method: str, url: str) -> Any:
    response = client.post(url, {}) if method == "POST" else client.get(url)
    if response.streaming:
        close_response(response)
    return response


def client_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def url_for(name: str, pattern: Pattern, world: World) -> str:
    kwargs = {}
    for key in pattern.kwargs:
        fill = KWARGS_BY_URL.get((name, key)) or KWARGS.get(key)
        if fill is None:
            pytest.fail(
                f"{name} ({pattern.route}): no value for its keyword « {key} ». Add it to KWARGS "
                f"(or KWARGS_BY_URL) in the access table, tests/security/test_access_table.py.",
                pytrace=False,
            )
        kwargs[key] = fill(world)
    return reverse(name, kwargs=kwargs)


def check_actor(name: str, row: Row, actor: str, expected: Any, url: str, world: World) -> list[str]:
    problems: list[str] = []
    client = world.api_client(actor) if row.token else client_for(world.user(actor))

    if row.method == "POST":
        # A POST-only view: a GET never opens it.
        response = send(client, "GET", url)
        allowed = [405] + ([expected] if expected in REFUSALS else [])
        if not any(matches(response, code) for code in allowed):
            problems.append(f"{name}, {actor}, GET: got {describe(response)}, expected 405")

    before = footprint() if expected in REFUSALS else None
    response = send(client, row.method, url)
    if not matches(response, expected):
        problems.append(f"{name}, {actor}, {row.method}: got {describe(response)}, expected {expected}")
    if before is not None and footprint() != before:
        problems.append(f"{name}, {actor}, {row.method}: refused, yet the database changed")

    if row.method == "GET" and expected in REFUSALS:
        # Refused on GET: a POST to the same address is refused the same way (or not allowed).
        before = footprint()
        response = send(client, "POST", url)
        if not (matches(response, expected) or response.status_code == 405):
            problems.append(f"{name}, {actor}, POST: got {describe(response)}, expected {expected} or 405")
        if footprint() != before:
            problems.append(f"{name}, {actor}, POST: refused, yet the database changed")
    return problems


@pytest.mark.parametrize("name", sorted(set(PATTERNS) | set(TABLE)))
def test_access_table(name: str) -> None:
    if name not in PATTERNS:
        pytest.fail(
            f"The access table has a row for « {name} », but no URL has that name any more: "
            f"remove it from TABLE in tests/security/test_access_table.py.",
            pytrace=False,
        )
    patterns = PATTERNS[name]
    if len(patterns) > 1:
        pytest.fail(
            f"« {name} » names {len(patterns)} patterns ({', '.join(p.route for p in patterns)}): "
            f"give each its own name and add it to the access table.",
            pytrace=False,
        )
    if name not in TABLE:
        pytest.fail(
            f"« {name} » ({patterns[0].route}) is not in the access table: add it to TABLE in "
            f"tests/security/test_access_table.py with the answer each actor {ACTORS} must get.",
            pytrace=False,
        )
    row = TABLE[name]
    world = World()
    url = url_for(name, patterns[0], world)
    problems = [
        problem
        for actor, expected in zip(ACTORS, row.codes, strict=True)
        for problem in check_actor(name, row, actor, expected, url, world)
    ]
    assert not problems, f"{url}\n" + "\n".join(problems)


# --- lists: dossier D shows only to those who may open it ---------------------------------------


@dataclass(frozen=True)
class Listing:
    """A page listing things: what of D it shows (`markers`), to whom it must and must not."""

    markers: Callable[[World], tuple[str, ...]]
    shown_to: tuple[str, ...]
    hidden_from: tuple[str, ...]
    query: str = ""
    token: bool = False  # the read API, called with a token of each actor's


def _reference(w: World) -> tuple[str, ...]:
    return (w.application.reference,)


def _lead(w: World) -> tuple[str, ...]:
    organisation = w.lead_member.organisation
    return (organisation.siret, organisation.siret_display, organisation.name + "<")


LISTINGS: dict[str, Listing] = {
    "applications:applicant-home": Listing(_reference, ("applicant_a",), ("applicant_b",)),
    "applications:dossier-list": Listing(_reference, ("applicant_a",), ("applicant_b",)),
    "fabriques:organisation-list": Listing(_lead, ("applicant_a",), ("applicant_b",)),
    "applications:instructor-home": Listing(
        _reference, ("instructor_in", "admin"), ("instructor_out",), query="?tab=decides"
    ),
    "grants:agreement-list": Listing(
        lambda w: (w.agreement.number,),
        ("applicant_a", "instructor_in", "admin"),
        ("applicant_b", "instructor_out", "expert"),
    ),
    # The expert's requests: only their own (the instruction's accounts have none here).
    "applications:expert-home": Listing(
        _reference, ("expert",), ("instructor_in", "instructor_out", "admin")
    ),
    # The read API's lists: a token sees what its user sees in the portal.
    "api:dossier-list": Listing(
        _reference, ("applicant_a", "instructor_in", "admin"), ("applicant_b", "instructor_out"), token=True
    ),
    "api:grant-list": Listing(
        _reference, ("applicant_a", "instructor_in", "admin"), ("applicant_b", "instructor_out"), token=True
    ),
    "api:tranche-list": Listing(
        _reference, ("applicant_a", "instructor_in", "admin"), ("applicant_b", "instructor_out"), token=True
    ),
    # The public summary shows amounts by territory: no dossier, no structure.
    "grants:public-summary": Listing(lambda w: (*_reference(w), *_lead(w)), (), ACTORS),
    # The open-data page lists calls and files: no dossier, no structure.
    "grants:open-data": Listing(lambda w: (*_reference(w), *_lead(w)), (), ACTORS),
}


@pytest.mark.parametrize("name", sorted(LISTINGS))
def test_lists_show_dossier_d_only_to_those_who_may_open_it(name: str) -> None:
    listing = LISTINGS[name]
    world = World()
    url = url_for(name, PATTERNS[name][0], world) + listing.query
    markers = listing.markers(world)
    problems = []
    for actor in (*listing.shown_to, *listing.hidden_from):
        client = world.api_client(actor) if listing.token else client_for(world.user(actor))
        response = client.get(url)
        assert response.status_code == 200, f"{name}, {actor}: {describe(response)}"
        seen = [marker for marker in markers if marker in response.content.decode()]
        if actor in listing.shown_to and not seen:
            problems.append(f"{name}, {actor}: D is missing from the list (the check would prove nothing)")
        if actor in listing.hidden_from and seen:
            problems.append(f"{name}, {actor}: shows {seen}, which belongs to D")
    assert not problems, f"{url}\n" + "\n".join(problems)


def test_the_expert_loses_dossier_d_once_the_request_is_given() -> None:
    """While open, the expert opens the request, D's files and the request's; once they have given
    their opinion, every one of those addresses is a 404 to them, and their list keeps the request
    without a link to it."""
    world = World()
    client = client_for(world.expert)
    urls = {
        name: url_for(name, PATTERNS[name][0], world)
        for name in (
            "applications:expert-request",
            "applications:expert-attachment",
            "applications:opinion-file",
        )
    }
    entry = url_for("applications:opinion-give", PATTERNS["applications:opinion-give"][0], world)
    for name, url in urls.items():
        assert send(client, "GET", url).status_code == 200, name
    opinion_give(opinion=world.opinion, verdict="favourable", comment="", actor=world.expert)
    for name, url in urls.items():
        assert send(client, "GET", url).status_code == 404, name
    assert client.get(entry).status_code == 404
    home = client.get(reverse("applications:expert-home")).content.decode()
    assert world.application.reference in home
    assert urls["applications:expert-request"] not in home
    # Every dossier address of D stays closed to them, as before.
    for name in (
        "applications:dossier-detail",
        "applications:review-detail",
        "applications:attachment-download",
    ):
        assert send(client, "GET", url_for(name, PATTERNS[name][0], world)).status_code in (403, 404), name


def test_the_walk_sees_the_whole_project_and_skips_only_the_listed_namespaces():
    assert skipped_namespaces() == {"admin"}, "a skipped namespace appeared or went away: review the list"
    assert len(PATTERNS) == len(TABLE) > 80
    assert {name.split(":")[0] for name in PATTERNS if ":" in name} == {
        "core",
        "accounts",
        "fabriques",
        "applications",
        "grants",
        "notifications",
        "allocation",
        "api",
        "api-tokens",
        "retention",
    }
